// Package routing decides where calls go. It is pure: it reads an immutable Snapshot
// of the telephony configuration and never does SIP or I/O, so every decision can be
// table-tested. Call control asks it; the app swaps in a new Snapshot after every
// admin change (calls in progress keep the one they started with).
package routing

import (
	"sync/atomic"

	"github.com/trunkline/trunkline/internal/model"
)

// Snapshot is the telephony configuration at one moment. Never modified after
// NewSnapshot returns.
type Snapshot struct {
	extensions map[string]model.Extension
}

// NewSnapshot indexes the configuration.
func NewSnapshot(exts []model.Extension) *Snapshot {
	s := &Snapshot{extensions: make(map[string]model.Extension, len(exts))}
	for _, e := range exts {
		s.extensions[e.Number] = e
	}
	return s
}

// Extension returns an enabled extension by number.
func (s *Snapshot) Extension(number string) (model.Extension, bool) {
	e, ok := s.extensions[number]
	if !ok || e.Disabled {
		return model.Extension{}, false
	}
	return e, true
}

// Table holds the current Snapshot; readers never block writers.
type Table struct {
	cur atomic.Pointer[Snapshot]
}

// NewTable starts with an empty snapshot.
func NewTable() *Table {
	t := &Table{}
	t.cur.Store(NewSnapshot(nil))
	return t
}

// Load returns the current snapshot.
func (t *Table) Load() *Snapshot { return t.cur.Load() }

// Store swaps in a new snapshot.
func (t *Table) Store(s *Snapshot) { t.cur.Store(s) }

// Extension looks up in the current snapshot (sipedge.Directory, call.Directory).
func (t *Table) Extension(number string) (model.Extension, bool) { return t.Load().Extension(number) }
