package app

import (
	"github.com/trunkline/trunkline/internal/routing"
	"github.com/trunkline/trunkline/internal/trunk"
)

// trunkRuntime adapts the trunk manager to what call control (call.TrunkRuntime) and
// the SIP edge (sipedge.TrunkIdentifier) ask. Usable, Acquire, Release, MarkDown,
// IdentifyContactUser and IdentifySource are the manager's own; Target is reshaped so
// that call control does not import the trunk package's types.
type trunkRuntime struct {
	*trunk.Manager
	table *routing.Table
}

// Target returns the resolved address, transport and outbound proxy of a trunk.
func (r trunkRuntime) Target(name string) (string, string, string, bool) {
	t, ok := r.Manager.Target(name)
	return t.Addr, t.Transport, t.OutboundProxy, ok
}

// ContactUser is the user of the trunk's registration Contact.
func (r trunkRuntime) ContactUser(name string) string {
	t, ok := r.table.Load().Trunk(name)
	if !ok {
		return ""
	}
	return trunk.ContactUser(t)
}

// TrunkOfUser names the accept_register trunk that issued user.
func (r trunkRuntime) TrunkOfUser(user string) (string, bool) {
	return routing.Accounts{Table: r.table}.TrunkOfUser(user)
}
