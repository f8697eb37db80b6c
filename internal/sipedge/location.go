package sipedge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trunkline/trunkline/internal/model"
)

// BindingStore is the persistence the location service journals to; store.Store
// implements it.
type BindingStore interface {
	SaveBindings(ctx context.Context, sets []model.AORBindings) error
	ListBindings(ctx context.Context) ([]model.Binding, error)
	DeleteExpiredBindings(ctx context.Context, now time.Time) (int, error)
}

var (
	// ErrOutOfOrder: a REGISTER carried the Call-ID of an existing binding with a CSeq
	// not higher than the stored one (RFC 3261 §10.3 steps 6–7); nothing was changed.
	ErrOutOfOrder = errors.New("sipedge: location: register out of order")
	// ErrTooManyContacts: the update would leave more bindings than allowed; nothing
	// was changed.
	ErrTooManyContacts = errors.New("sipedge: location: too many contacts")
)

// Location is the location service (RFC 3261 §10): the bindings of every address of
// record, in memory, and journaled to a BindingStore so that a restart keeps them.
//
// Memory is the truth; the store is written behind it. A change marks its AOR
// dirty, and Flush (every FlushInterval from Run, and once more at shutdown)
// writes the current bindings of every dirty AOR in one transaction. Why not write
// each change before answering, as Trunkline did first: one REGISTER refresh is one
// row, and a transaction per REGISTER (even group-committed) cost 30 % of the CPU
// of a registration storm (docs/benchmarks.md, P1); a flush writes a thousand rows
// for the price of one commit, and an AOR refreshed twice in an interval is written
// once. What it costs: after kill -9 or a power cut, changes of the last interval
// are lost, so a phone that registered in that window is unreachable until its
// next refresh (Kamailio's usrloc db_mode 2 makes the same trade with 60 s). A
// graceful stop loses nothing (the app flushes after the SIP edge closed).
//
// Lookups take a read lock on the AOR map and load one pointer; writers to one AOR
// are serialised by that AOR's own mutex. New starts nothing; Run sweeps expired
// bindings and flushes.
type Location struct {
	st    BindingStore
	log   *slog.Logger
	now   func() time.Time // tests replace it
	sweep time.Duration    // Run's sweep interval; tests replace it
	// FlushInterval is how often Run writes changed AORs to the store: the most a
	// crash can lose. Set it before Run; NewLocation sets 500 ms.
	FlushInterval time.Duration

	mu   sync.RWMutex
	aors map[string]*locAOR

	dirtyMu sync.Mutex
	// dirty holds the AORs changed since the last Flush took them; true if a
	// binding was removed (the store's set must be replaced, not merged into).
	dirty   map[string]bool
	flushMu sync.Mutex // one Flush at a time, so writes reach the store in order
}

// locAOR is one address of record.
type locAOR struct {
	mu   sync.Mutex // held by writers across the store write and the publish
	dead bool       // removed from Location.aors; writers look the AOR up again
	// list is the bindings, ordered for Lookup (q high first, then newest); replaced,
	// never modified, so readers need no lock.
	list atomic.Pointer[[]model.Binding]
	// last identifies the request that made list what it is (under mu), so that a
	// retransmission of it can be answered without applying it again (Repeat).
	last locLast
}

type locLast struct {
	callID      string
	cseq        uint32
	fingerprint uint64
}

// NewLocation returns an empty location service over st. log may be nil.
func NewLocation(st BindingStore, log *slog.Logger) *Location {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Location{st: st, log: log, now: time.Now, sweep: 15 * time.Second, FlushInterval: 500 * time.Millisecond,
		aors: make(map[string]*locAOR), dirty: make(map[string]bool)}
}

// Load replaces the in-memory bindings with the unexpired ones in the store and
// deletes the expired ones there. Call it once at start, before serving.
func (l *Location) Load(ctx context.Context) error {
	all, err := l.st.ListBindings(ctx)
	if err != nil {
		return fmt.Errorf("sipedge: location: load: %w", err)
	}
	now := l.now()
	grouped := make(map[string][]model.Binding)
	n := 0
	for _, b := range all {
		if b.Expires.After(now) {
			grouped[b.AOR] = append(grouped[b.AOR], b)
			n++
		}
	}
	aors := make(map[string]*locAOR, len(grouped))
	for aor, list := range grouped {
		e := &locAOR{}
		locSort(list)
		e.list.Store(&list)
		aors[aor] = e
	}
	l.mu.Lock()
	l.aors = aors
	l.mu.Unlock()
	if len(all) > n {
		if _, err := l.st.DeleteExpiredBindings(ctx, now); err != nil {
			return fmt.Errorf("sipedge: location: load: %w", err)
		}
	}
	l.log.Info("bindings loaded", "bindings", n, "aors", len(aors), "expired", len(all)-n)
	return nil
}

// Run flushes changes to the store every FlushInterval and removes expired bindings
// from memory and the store periodically until ctx is done; then it flushes once
// more and returns nil. Changes made after Run returned (the SIP edge may still be
// answering) need one more Flush.
func (l *Location) Run(ctx context.Context) error {
	sweep := time.NewTicker(l.sweep)
	defer sweep.Stop()
	flush := time.NewTicker(l.FlushInterval)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := l.Flush(fctx); err != nil {
				l.log.Error("flush bindings at stop", "error", err)
			}
			return nil
		case <-flush.C:
			if err := l.Flush(ctx); err != nil {
				l.log.Warn("flush bindings; retrying at the next interval", "error", err)
			}
		case <-sweep.C:
			l.Sweep(ctx)
		}
	}
}

// Flush writes the bindings of every AOR changed since the last Flush to the store,
// in one transaction. If that fails, the AORs stay dirty for the next Flush.
func (l *Location) Flush(ctx context.Context) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.dirtyMu.Lock()
	if len(l.dirty) == 0 {
		l.dirtyMu.Unlock()
		return nil
	}
	dirty := l.dirty
	l.dirty = make(map[string]bool, len(dirty))
	l.dirtyMu.Unlock()

	// The current bindings, read after the AORs were taken: a change from now on
	// marks its AOR dirty again and is written by the next Flush.
	sets := make([]model.AORBindings, 0, len(dirty))
	l.mu.RLock()
	for aor, removed := range dirty {
		set := model.AORBindings{AOR: aor, Removed: removed}
		if e := l.aors[aor]; e != nil {
			set.Bindings = *locLoad(e)
		}
		sets = append(sets, set)
	}
	l.mu.RUnlock()
	if err := l.st.SaveBindings(ctx, sets); err != nil {
		for aor, removed := range dirty {
			l.markDirty(aor, removed)
		}
		return fmt.Errorf("sipedge: location: flush %d AORs: %w", len(sets), err)
	}
	return nil
}

// Unsaved is the number of AORs changed since the last successful Flush took them.
func (l *Location) Unsaved() int {
	l.dirtyMu.Lock()
	defer l.dirtyMu.Unlock()
	return len(l.dirty)
}

// markDirty records that aor changed and must be written by the next Flush;
// removed says a binding of it went away.
func (l *Location) markDirty(aor string, removed bool) {
	l.dirtyMu.Lock()
	l.dirty[aor] = l.dirty[aor] || removed
	l.dirtyMu.Unlock()
}

// Sweep removes expired bindings once (Run calls it; exported for tests and tools).
func (l *Location) Sweep(ctx context.Context) {
	now := l.now()
	l.mu.RLock()
	entries := make([]*locAOR, 0, len(l.aors))
	names := make([]string, 0, len(l.aors))
	for aor, e := range l.aors {
		entries = append(entries, e)
		names = append(names, aor)
	}
	l.mu.RUnlock()
	var empty []string
	for i, e := range entries {
		e.mu.Lock()
		cur := *locLoad(e)
		n := len(cur)
		if locExpired(cur, now) { // copy only lists that lose a binding (the sweep visits every AOR)
			live := locLive(cur, now)
			e.list.Store(&live)
			n = len(live)
		}
		e.mu.Unlock()
		if n == 0 {
			empty = append(empty, names[i])
		}
	}
	if len(empty) > 0 {
		l.mu.Lock()
		for _, aor := range empty {
			e := l.aors[aor]
			if e == nil || !e.mu.TryLock() {
				continue // a writer is busy with it: not empty for long
			}
			if len(*locLoad(e)) == 0 {
				e.dead = true
				delete(l.aors, aor)
			}
			e.mu.Unlock()
		}
		l.mu.Unlock()
	}
	if n, err := l.st.DeleteExpiredBindings(ctx, now); err != nil {
		l.log.Warn("delete expired bindings", "error", err)
	} else if n > 0 {
		l.log.Debug("expired bindings deleted", "count", n)
	}
}

// Lookup returns the unexpired bindings of aor, highest q first, then newest.
func (l *Location) Lookup(aor string) []model.Binding {
	l.mu.RLock()
	e := l.aors[aor]
	l.mu.RUnlock()
	if e == nil {
		return nil
	}
	return locLive(*locLoad(e), l.now())
}

// Bindings returns every unexpired binding, by AOR, then as Lookup orders them.
func (l *Location) Bindings() []model.Binding {
	now := l.now()
	l.mu.RLock()
	aors := make([]string, 0, len(l.aors))
	for aor := range l.aors {
		aors = append(aors, aor)
	}
	slices.Sort(aors)
	var out []model.Binding
	for _, aor := range aors {
		for _, b := range *locLoad(l.aors[aor]) {
			if b.Expires.After(now) {
				out = append(out, b)
			}
		}
	}
	l.mu.RUnlock()
	return out
}

// Registration is the change one REGISTER asks for (RFC 3261 §10.3 steps 6–7).
type Registration struct {
	AOR       string
	CallID    string
	CSeq      uint32
	Source    string // "ip:port" the REGISTER came from
	Transport string // "udp", "tcp" or "tls"
	UserAgent string
	// Wildcard removes every binding of AOR (Contact: * with Expires: 0).
	Wildcard bool
	Contacts []ContactUpdate
	// MaxContacts bounds the bindings AOR may have after the update; 0 = no bound.
	MaxContacts int
	// Fingerprint identifies the request's credentials (a keyed hash of its
	// Authorization header field); 0 = none. See Repeat.
	Fingerprint uint64
}

// ContactUpdate is one Contact of a REGISTER.
type ContactUpdate struct {
	Contact string        // the Contact URI
	Expires time.Duration // granted lifetime; 0 removes the binding
	Q       float64       // 0..1; the registrar stores 1 when the contact has no q
}

// Register applies r atomically for its AOR and returns the AOR's bindings afterwards.
// The update is refused as a whole with ErrOutOfOrder if any affected binding has the
// request's Call-ID and a CSeq not lower than the request's (RFC 3261 §10.3 step 7;
// for Contact: * every binding is affected, step 6), and with ErrTooManyContacts if
// it would leave more than r.MaxContacts. A change is visible at once and reaches
// the store with the next Flush.
func (l *Location) Register(r Registration) ([]model.Binding, error) {
	e := l.lockAOR(r.AOR)
	defer e.mu.Unlock()
	now := l.now()
	next := locLive(*locLoad(e), now)

	stale := func(b *model.Binding) bool { return b.CallID == r.CallID && r.CSeq <= b.CSeq }
	if r.Wildcard {
		for i := range next {
			if stale(&next[i]) {
				return next, ErrOutOfOrder
			}
		}
		empty := []model.Binding{}
		e.list.Store(&empty)
		e.last = locLast{r.CallID, r.CSeq, r.Fingerprint}
		l.markDirty(r.AOR, true)
		return nil, nil
	}

	added := 0
	for _, c := range r.Contacts {
		i := locIndex(next, c.Contact)
		if i >= 0 && stale(&next[i]) {
			return next, ErrOutOfOrder
		}
		if i < 0 && c.Expires > 0 {
			added++
		}
	}
	if r.MaxContacts > 0 && len(next)+added > r.MaxContacts {
		return next, ErrTooManyContacts
	}

	removed := len(next) < len(*locLoad(e)) // expired ones dropped
	for _, c := range r.Contacts {
		i := locIndex(next, c.Contact)
		if c.Expires <= 0 {
			if i >= 0 {
				next = slices.Delete(next, i, i+1)
				removed = true
			}
			continue
		}
		b := model.Binding{
			AOR: r.AOR, Contact: c.Contact, Source: r.Source, Transport: r.Transport,
			Expires: now.Add(c.Expires), CallID: r.CallID, CSeq: r.CSeq,
			UserAgent: r.UserAgent, Q: c.Q, UpdatedAt: now,
		}
		if i >= 0 {
			next[i] = b
		} else {
			next = append(next, b)
		}
	}
	locSort(next)
	e.list.Store(&next)
	e.last = locLast{r.CallID, r.CSeq, r.Fingerprint}
	l.markDirty(r.AOR, removed)
	return slices.Clone(next), nil
}

// Repeat reports whether a REGISTER with this Call-ID, CSeq and credentials
// fingerprint is the one that last changed aor's bindings (a retransmission: its
// response was lost or is late), and if so returns the current bindings. Only the
// request itself can carry the same fingerprint, and answering it changes
// nothing, so it needs no new authentication (its nonce count is already used).
func (l *Location) Repeat(aor, callID string, cseq uint32, fingerprint uint64) ([]model.Binding, bool) {
	if fingerprint == 0 {
		return nil, false
	}
	l.mu.RLock()
	e := l.aors[aor]
	l.mu.RUnlock()
	if e == nil {
		return nil, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.last != (locLast{callID, cseq, fingerprint}) {
		return nil, false
	}
	return locLive(*locLoad(e), l.now()), true
}

// Remove deletes every binding of aor (an extension was deleted or disabled).
func (l *Location) Remove(aor string) {
	e := l.lockAOR(aor)
	defer e.mu.Unlock()
	empty := []model.Binding{}
	e.list.Store(&empty)
	l.markDirty(aor, true)
}

// lockAOR returns aor's entry, created if needed, with its mutex held.
func (l *Location) lockAOR(aor string) *locAOR {
	for {
		l.mu.RLock()
		e := l.aors[aor]
		l.mu.RUnlock()
		if e == nil {
			l.mu.Lock()
			if e = l.aors[aor]; e == nil {
				e = &locAOR{}
				l.aors[aor] = e
			}
			l.mu.Unlock()
		}
		e.mu.Lock()
		if !e.dead {
			return e
		}
		e.mu.Unlock()
	}
}

var locNone = []model.Binding{}

func locLoad(e *locAOR) *[]model.Binding {
	if p := e.list.Load(); p != nil {
		return p
	}
	return &locNone
}

// locExpired reports whether list holds a binding that expired at or before now.
func locExpired(list []model.Binding, now time.Time) bool {
	for i := range list {
		if !list[i].Expires.After(now) {
			return true
		}
	}
	return false
}

// locLive returns a fresh slice of the bindings in list that expire after now.
func locLive(list []model.Binding, now time.Time) []model.Binding {
	out := make([]model.Binding, 0, len(list))
	for _, b := range list {
		if b.Expires.After(now) {
			out = append(out, b)
		}
	}
	return out
}

// locIndex finds contact in list. Contacts are compared as the registrar normalises
// them (sipgo's serialisation of the URI), not with the full RFC 3261 §19.1.4 rules.
func locIndex(list []model.Binding, contact string) int {
	for i := range list {
		if list[i].Contact == contact {
			return i
		}
	}
	return -1
}

// locSort orders bindings for Lookup: q high first, then most recently updated, then
// by contact so that the order is stable.
func locSort(list []model.Binding) {
	slices.SortFunc(list, func(a, b model.Binding) int {
		if c := cmp.Compare(b.Q, a.Q); c != 0 {
			return c
		}
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Contact, b.Contact)
	})
}
