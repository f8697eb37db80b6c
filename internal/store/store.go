// Package store defines Trunkline's persistence. Backends (store/sqlite; later
// store/postgres) implement Store and pass the conformance suite in storetest.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/trunkline/trunkline/internal/model"
)

var (
	// ErrNotFound: no such object.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: an object with that key exists already.
	ErrConflict = errors.New("store: already exists")
	// ErrReference: the write would break a reference between objects: deleting
	// a trunk an inbound rule names, or a rule naming a missing trunk.
	ErrReference = errors.New("store: broken reference")
)

// ConflictError is the ErrConflict of a batch write; Key names the object that
// exists already (for CreateExtensions, the extension number), so that callers
// can point at the offending entry.
type ConflictError struct {
	Key string
	Err error // the backend's error; it wraps ErrConflict
}

func (e *ConflictError) Error() string { return e.Err.Error() }

// Unwrap makes errors.Is(err, ErrConflict) hold, whatever Err wraps.
func (e *ConflictError) Unwrap() []error { return []error{ErrConflict, e.Err} }

// CDRQuery pages through CDRs newest first.
type CDRQuery struct {
	Limit    int   // 0 = 50; capped at 1000
	BeforeID int64 // 0 = from the newest; else only CDRs with ID < BeforeID
}

// Store is every persistent thing. All methods are safe for concurrent use.
type Store interface {
	CreateExtension(ctx context.Context, e *model.Extension) error // ErrConflict
	// CreateExtensions creates every extension of es in one transaction, all or
	// nothing, and sets their CreatedAt and UpdatedAt as CreateExtension does (one
	// time for the whole batch). A number that exists already, or appears twice in
	// es, fails the batch with a *ConflictError naming it (errors.Is ErrConflict)
	// and nothing is written. An empty es writes nothing and succeeds.
	CreateExtensions(ctx context.Context, es []*model.Extension) error
	GetExtension(ctx context.Context, number string) (model.Extension, error)
	ListExtensions(ctx context.Context) ([]model.Extension, error) // ordered by number
	UpdateExtension(ctx context.Context, e *model.Extension) error // ErrNotFound
	DeleteExtension(ctx context.Context, number string) error      // ErrNotFound

	// Bindings: the registrar's location service persists through these so that a
	// restart keeps registrations. Key: (AOR, Contact).
	// SaveBindings writes the bindings of each AOR in sets in one transaction:
	// a set marked Removed replaces the AOR's stored ones, any other is merged in.
	SaveBindings(ctx context.Context, sets []model.AORBindings) error
	ListBindings(ctx context.Context) ([]model.Binding, error)
	DeleteExpiredBindings(ctx context.Context, now time.Time) (int, error)

	// CDRs are append-only. InsertCDR sets c.ID.
	InsertCDR(ctx context.Context, c *model.CDR) error
	ListCDRs(ctx context.Context, q CDRQuery) ([]model.CDR, error)

	// --- Trunks (issue "SIP trunks") ---
	// A trunk is stored with its DIDs; a DID number belongs to at most one trunk
	// (numbers compare without their leading "+": "+4930123" and "4930123" are
	// the same DID), so a DID already owned by another trunk fails Create/Update
	// with ErrConflict (as does a duplicate name on Create) and nothing is written. Update replaces
	// the DIDs as a whole. DIDs come back ordered by number. Create and Update set
	// CreatedAt/UpdatedAt as for extensions.
	CreateTrunk(ctx context.Context, t *model.Trunk) error // ErrConflict
	GetTrunk(ctx context.Context, name string) (model.Trunk, error)
	ListTrunks(ctx context.Context) ([]model.Trunk, error) // ordered by name
	UpdateTrunk(ctx context.Context, t *model.Trunk) error // ErrNotFound, ErrConflict
	DeleteTrunk(ctx context.Context, name string) error    // ErrNotFound, ErrReference
	// --- end trunks ---

	// --- Routing (issue "Call routing") ---
	// Rules are addressed by ID (set by Create) and have unique names (ErrConflict).
	// Lists come ordered by priority, then ID: the order routing tries them. An
	// inbound rule's trunk must exist (ErrReference); outbound routes name trunks
	// inside JSON and are not checked here. Create and Update set
	// CreatedAt/UpdatedAt as for extensions.
	CreateInboundRule(ctx context.Context, r *model.InboundRule) error // ErrConflict, ErrReference
	GetInboundRule(ctx context.Context, id int64) (model.InboundRule, error)
	ListInboundRules(ctx context.Context) ([]model.InboundRule, error)
	UpdateInboundRule(ctx context.Context, r *model.InboundRule) error // ErrNotFound, ErrConflict, ErrReference
	DeleteInboundRule(ctx context.Context, id int64) error             // ErrNotFound

	CreateOutboundRule(ctx context.Context, r *model.OutboundRule) error // ErrConflict
	GetOutboundRule(ctx context.Context, id int64) (model.OutboundRule, error)
	ListOutboundRules(ctx context.Context) ([]model.OutboundRule, error)
	UpdateOutboundRule(ctx context.Context, r *model.OutboundRule) error // ErrNotFound, ErrConflict
	DeleteOutboundRule(ctx context.Context, id int64) error              // ErrNotFound

	// Ring groups are addressed by name; lists are ordered by name.
	CreateRingGroup(ctx context.Context, g *model.RingGroup) error // ErrConflict
	GetRingGroup(ctx context.Context, name string) (model.RingGroup, error)
	ListRingGroups(ctx context.Context) ([]model.RingGroup, error)
	UpdateRingGroup(ctx context.Context, g *model.RingGroup) error // ErrNotFound
	DeleteRingGroup(ctx context.Context, name string) error        // ErrNotFound

	// GetDialPlan returns the stored dial plan; never set = the zero DialPlan and
	// no error. PutDialPlan replaces it and sets p.UpdatedAt.
	GetDialPlan(ctx context.Context) (model.DialPlan, error)
	PutDialPlan(ctx context.Context, p *model.DialPlan) error
	// --- end routing ---

	Close() error
}
