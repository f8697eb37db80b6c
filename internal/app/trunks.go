package app

import (
	"github.com/trunkline/trunkline/internal/model"
	"time"

	"net/netip"

	"github.com/trunkline/trunkline/internal/routing"
	"github.com/trunkline/trunkline/internal/trunk"
)

// trunkRuntime adapts the trunk manager to what call control and the SIP edge ask.
type trunkRuntime struct {
	m     *trunk.Manager
	table *routing.Table
}

func (r trunkRuntime) Target(name string) (string, string, string, bool) {
	t, ok := r.m.Target(name)
	return t.Addr, t.Transport, t.OutboundProxy, ok
}

func (r trunkRuntime) Usable(name string) bool { return r.m.Usable(name) }
func (r trunkRuntime) Acquire(name string) bool {
	return r.m.Acquire(name)
}
func (r trunkRuntime) Release(name string) { r.m.Release(name) }

func (r trunkRuntime) MarkDown(name string, d time.Duration, reason string) {
	r.m.MarkDown(name, d, reason)
}

func (r trunkRuntime) ContactUser(name string) string {
	t, ok := r.table.Load().Trunk(name)
	if !ok {
		return ""
	}
	return trunk.ContactUser(t)
}

func (r trunkRuntime) IdentifyContactUser(user string) (string, bool) {
	return r.m.IdentifyContactUser(user)
}

func (r trunkRuntime) IdentifySource(ip netip.Addr) (string, bool) { return r.m.IdentifySource(ip) }

func (r trunkRuntime) TrunkOfUser(user string) (string, bool) {
	return routing.Accounts{Table: r.table}.TrunkOfUser(user)
}

// trunkStatus is the trunk runtime as the routing dry run shows it.
type trunkStatus struct{ m *trunk.Manager }

func (t trunkStatus) Usable(name string) bool { return t.m.Usable(name) }
func (t trunkStatus) State(name string) (model.TrunkState, bool) {
	return t.m.State(name)
}
