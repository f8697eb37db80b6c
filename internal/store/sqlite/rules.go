package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

// Routing rules live in the tables of 0001_init.sql with the settings column of
// 0003_routing.sql: the fields routing filters on are columns, the structured rest
// is JSON (see the JSON shapes below).

// inboundMatch, inboundSettings: the JSON columns of inbound_rules.
type inboundMatch struct {
	DID        string `json:"did,omitempty"`
	CallerMask string `json:"caller_mask,omitempty"`
}

type inboundSettings struct {
	Schedule   *model.Schedule    `json:"schedule,omitempty"`
	AfterHours *model.Destination `json:"after_hours,omitempty"`
}

// outboundSettings: the settings column of outbound_rules.
type outboundSettings struct {
	Emergency  bool   `json:"emergency,omitempty"`
	Strategy   string `json:"strategy,omitempty"`
	Permission string `json:"permission,omitempty"`
}

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// nullTrunk stores "" (any trunk) as NULL, which the foreign key allows.
func nullTrunk(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const inboundColumns = `id, priority, name, trunk, match, destination, settings, enabled, created_at, updated_at`

func inboundArgs(r *model.InboundRule) ([]any, error) {
	m, err := jsonText(inboundMatch{DID: r.DID, CallerMask: r.CallerMask})
	if err != nil {
		return nil, err
	}
	d, err := jsonText(r.Destination)
	if err != nil {
		return nil, err
	}
	st, err := jsonText(inboundSettings{Schedule: r.Schedule, AfterHours: r.AfterHours})
	if err != nil {
		return nil, err
	}
	return []any{r.Priority, r.Name, nullTrunk(r.Trunk), m, d, st, boolInt(r.Enabled)}, nil
}

// CreateInboundRule inserts r, setting r.ID, r.CreatedAt and r.UpdatedAt.
func (s *Store) CreateInboundRule(ctx context.Context, r *model.InboundRule) error {
	op := "create inbound rule " + r.Name
	args, err := inboundArgs(r)
	if err != nil {
		return fmt.Errorf("sqlite: %s: encode: %w", op, err)
	}
	ts := now()
	if err := s.db.QueryRowContext(ctx, `INSERT INTO inbound_rules
		(priority, name, trunk, match, destination, settings, enabled, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		append(args, toNanos(ts), toNanos(ts))...).Scan(&r.ID); err != nil {
		return mapErr(op, err)
	}
	r.CreatedAt, r.UpdatedAt = ts, ts
	return nil
}

// GetInboundRule returns the rule with that ID, or store.ErrNotFound.
func (s *Store) GetInboundRule(ctx context.Context, id int64) (model.InboundRule, error) {
	r, err := scanInbound(s.db.QueryRowContext(ctx, `SELECT `+inboundColumns+` FROM inbound_rules WHERE id = ?`, id))
	if err != nil {
		return model.InboundRule{}, mapErr("get inbound rule "+strconv.FormatInt(id, 10), err)
	}
	return r, nil
}

// ListInboundRules returns every inbound rule by priority, then ID.
func (s *Store) ListInboundRules(ctx context.Context) ([]model.InboundRule, error) {
	return list(ctx, s.db, "list inbound rules",
		`SELECT `+inboundColumns+` FROM inbound_rules ORDER BY priority, id`, scanInbound)
}

// UpdateInboundRule replaces the rule r.ID, keeping its CreatedAt.
func (s *Store) UpdateInboundRule(ctx context.Context, r *model.InboundRule) error {
	op := "update inbound rule " + strconv.FormatInt(r.ID, 10)
	args, err := inboundArgs(r)
	if err != nil {
		return fmt.Errorf("sqlite: %s: encode: %w", op, err)
	}
	ts := now()
	var created int64
	if err := s.db.QueryRowContext(ctx, `UPDATE inbound_rules SET priority = ?, name = ?, trunk = ?, match = ?,
		destination = ?, settings = ?, enabled = ?, updated_at = ? WHERE id = ? RETURNING created_at`,
		append(args, toNanos(ts), r.ID)...).Scan(&created); err != nil {
		return mapErr(op, err)
	}
	r.CreatedAt, r.UpdatedAt = fromNanos(created), ts
	return nil
}

// DeleteInboundRule removes the rule, or returns store.ErrNotFound.
func (s *Store) DeleteInboundRule(ctx context.Context, id int64) error {
	return deleteRow(ctx, s.db, "inbound rule", `DELETE FROM inbound_rules WHERE id = ?`, id)
}

func scanInbound(sc scanner) (model.InboundRule, error) {
	var r model.InboundRule
	var trunk sql.NullString
	var match, dest, settings string
	var enabled, created, updated int64
	if err := sc.Scan(&r.ID, &r.Priority, &r.Name, &trunk, &match, &dest, &settings, &enabled, &created, &updated); err != nil {
		return r, err
	}
	var m inboundMatch
	var st inboundSettings
	for _, j := range []struct {
		text string
		v    any
	}{{match, &m}, {dest, &r.Destination}, {settings, &st}} {
		if err := json.Unmarshal([]byte(j.text), j.v); err != nil {
			return r, fmt.Errorf("inbound rule %d: decode: %w", r.ID, err)
		}
	}
	r.Trunk, r.DID, r.CallerMask = trunk.String, m.DID, m.CallerMask
	r.Schedule, r.AfterHours, r.Enabled = st.Schedule, st.AfterHours, enabled != 0
	r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
	return r, nil
}

const outboundColumns = `id, priority, name, match, routes, settings, enabled, created_at, updated_at`

func outboundArgs(r *model.OutboundRule) ([]any, error) {
	m, err := jsonText(r.Match)
	if err != nil {
		return nil, err
	}
	routes := r.Routes
	if routes == nil {
		routes = []model.OutboundRoute{}
	}
	rt, err := jsonText(routes)
	if err != nil {
		return nil, err
	}
	st, err := jsonText(outboundSettings{Emergency: r.Emergency, Strategy: r.Strategy, Permission: r.Permission})
	if err != nil {
		return nil, err
	}
	return []any{r.Priority, r.Name, m, rt, st, boolInt(r.Enabled)}, nil
}

// CreateOutboundRule inserts r, setting r.ID, r.CreatedAt and r.UpdatedAt.
func (s *Store) CreateOutboundRule(ctx context.Context, r *model.OutboundRule) error {
	op := "create outbound rule " + r.Name
	args, err := outboundArgs(r)
	if err != nil {
		return fmt.Errorf("sqlite: %s: encode: %w", op, err)
	}
	ts := now()
	if err := s.db.QueryRowContext(ctx, `INSERT INTO outbound_rules
		(priority, name, match, routes, settings, enabled, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		append(args, toNanos(ts), toNanos(ts))...).Scan(&r.ID); err != nil {
		return mapErr(op, err)
	}
	r.CreatedAt, r.UpdatedAt = ts, ts
	return nil
}

// GetOutboundRule returns the rule with that ID, or store.ErrNotFound.
func (s *Store) GetOutboundRule(ctx context.Context, id int64) (model.OutboundRule, error) {
	r, err := scanOutbound(s.db.QueryRowContext(ctx, `SELECT `+outboundColumns+` FROM outbound_rules WHERE id = ?`, id))
	if err != nil {
		return model.OutboundRule{}, mapErr("get outbound rule "+strconv.FormatInt(id, 10), err)
	}
	return r, nil
}

// ListOutboundRules returns every outbound rule by priority, then ID.
func (s *Store) ListOutboundRules(ctx context.Context) ([]model.OutboundRule, error) {
	return list(ctx, s.db, "list outbound rules",
		`SELECT `+outboundColumns+` FROM outbound_rules ORDER BY priority, id`, scanOutbound)
}

// UpdateOutboundRule replaces the rule r.ID, keeping its CreatedAt.
func (s *Store) UpdateOutboundRule(ctx context.Context, r *model.OutboundRule) error {
	op := "update outbound rule " + strconv.FormatInt(r.ID, 10)
	args, err := outboundArgs(r)
	if err != nil {
		return fmt.Errorf("sqlite: %s: encode: %w", op, err)
	}
	ts := now()
	var created int64
	if err := s.db.QueryRowContext(ctx, `UPDATE outbound_rules SET priority = ?, name = ?, match = ?, routes = ?,
		settings = ?, enabled = ?, updated_at = ? WHERE id = ? RETURNING created_at`,
		append(args, toNanos(ts), r.ID)...).Scan(&created); err != nil {
		return mapErr(op, err)
	}
	r.CreatedAt, r.UpdatedAt = fromNanos(created), ts
	return nil
}

// DeleteOutboundRule removes the rule, or returns store.ErrNotFound.
func (s *Store) DeleteOutboundRule(ctx context.Context, id int64) error {
	return deleteRow(ctx, s.db, "outbound rule", `DELETE FROM outbound_rules WHERE id = ?`, id)
}

func scanOutbound(sc scanner) (model.OutboundRule, error) {
	var r model.OutboundRule
	var match, routes, settings string
	var enabled, created, updated int64
	if err := sc.Scan(&r.ID, &r.Priority, &r.Name, &match, &routes, &settings, &enabled, &created, &updated); err != nil {
		return r, err
	}
	var st outboundSettings
	for _, j := range []struct {
		text string
		v    any
	}{{match, &r.Match}, {routes, &r.Routes}, {settings, &st}} {
		if err := json.Unmarshal([]byte(j.text), j.v); err != nil {
			return r, fmt.Errorf("outbound rule %d: decode: %w", r.ID, err)
		}
	}
	r.Emergency, r.Strategy, r.Permission, r.Enabled = st.Emergency, st.Strategy, st.Permission, enabled != 0
	r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
	return r, nil
}

const ringGroupColumns = `name, strategy, members, timeout, enabled, created_at, updated_at`

// CreateRingGroup inserts g and sets its timestamps; store.ErrConflict if the
// name exists.
func (s *Store) CreateRingGroup(ctx context.Context, g *model.RingGroup) error {
	op := "create ring group " + g.Name
	members, err := jsonText(nonNil(g.Members))
	if err != nil {
		return fmt.Errorf("sqlite: %s: encode: %w", op, err)
	}
	ts := now()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO ring_groups (`+ringGroupColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		g.Name, g.Strategy, members, g.MemberTimeout, boolInt(g.Enabled), toNanos(ts), toNanos(ts)); err != nil {
		return mapErr(op, err)
	}
	g.CreatedAt, g.UpdatedAt = ts, ts
	return nil
}

// GetRingGroup returns the ring group with that name, or store.ErrNotFound.
func (s *Store) GetRingGroup(ctx context.Context, name string) (model.RingGroup, error) {
	g, err := scanRingGroup(s.db.QueryRowContext(ctx, `SELECT `+ringGroupColumns+` FROM ring_groups WHERE name = ?`, name))
	if err != nil {
		return model.RingGroup{}, mapErr("get ring group "+name, err)
	}
	return g, nil
}

// ListRingGroups returns every ring group ordered by name.
func (s *Store) ListRingGroups(ctx context.Context) ([]model.RingGroup, error) {
	return list(ctx, s.db, "list ring groups", `SELECT `+ringGroupColumns+` FROM ring_groups ORDER BY name`, scanRingGroup)
}

// UpdateRingGroup replaces the ring group g.Name, keeping its CreatedAt.
func (s *Store) UpdateRingGroup(ctx context.Context, g *model.RingGroup) error {
	op := "update ring group " + g.Name
	members, err := jsonText(nonNil(g.Members))
	if err != nil {
		return fmt.Errorf("sqlite: %s: encode: %w", op, err)
	}
	ts := now()
	var created int64
	if err := s.db.QueryRowContext(ctx, `UPDATE ring_groups SET strategy = ?, members = ?, timeout = ?, enabled = ?,
		updated_at = ? WHERE name = ? RETURNING created_at`,
		g.Strategy, members, g.MemberTimeout, boolInt(g.Enabled), toNanos(ts), g.Name).Scan(&created); err != nil {
		return mapErr(op, err)
	}
	g.CreatedAt, g.UpdatedAt = fromNanos(created), ts
	return nil
}

// DeleteRingGroup removes the ring group, or returns store.ErrNotFound.
func (s *Store) DeleteRingGroup(ctx context.Context, name string) error {
	return deleteRow(ctx, s.db, "ring group", `DELETE FROM ring_groups WHERE name = ?`, name)
}

func scanRingGroup(sc scanner) (model.RingGroup, error) {
	var g model.RingGroup
	var members string
	var enabled, created, updated int64
	if err := sc.Scan(&g.Name, &g.Strategy, &members, &g.MemberTimeout, &enabled, &created, &updated); err != nil {
		return g, err
	}
	if err := json.Unmarshal([]byte(members), &g.Members); err != nil {
		return g, fmt.Errorf("ring group %s: decode members: %w", g.Name, err)
	}
	g.Enabled = enabled != 0
	g.CreatedAt, g.UpdatedAt = fromNanos(created), fromNanos(updated)
	return g, nil
}

// dialPlanKey is the settings row of the dial plan.
const dialPlanKey = "dialplan"

// GetDialPlan returns the stored dial plan, or the zero DialPlan if none was put.
func (s *Store) GetDialPlan(ctx context.Context) (model.DialPlan, error) {
	var value string
	var updated int64
	err := s.db.QueryRowContext(ctx, `SELECT value, updated_at FROM settings WHERE key = ?`, dialPlanKey).Scan(&value, &updated)
	if err == sql.ErrNoRows {
		return model.DialPlan{}, nil
	} else if err != nil {
		return model.DialPlan{}, mapErr("get dial plan", err)
	}
	var p model.DialPlan
	if err := json.Unmarshal([]byte(value), &p); err != nil {
		return model.DialPlan{}, fmt.Errorf("sqlite: get dial plan: decode: %w", err)
	}
	p.UpdatedAt = fromNanos(updated)
	return p, nil
}

// PutDialPlan stores p (replacing any previous one) and sets p.UpdatedAt.
func (s *Store) PutDialPlan(ctx context.Context, p *model.DialPlan) error {
	c := *p
	c.UpdatedAt = time.Time{}
	value, err := jsonText(c)
	if err != nil {
		return fmt.Errorf("sqlite: put dial plan: encode: %w", err)
	}
	ts := now()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		dialPlanKey, value, toNanos(ts)); err != nil {
		return mapErr("put dial plan", err)
	}
	p.UpdatedAt = ts
	return nil
}

// list runs a query and scans every row.
func list[T any](ctx context.Context, db *sql.DB, op, query string, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// deleteRow runs a DELETE of one row by key; no row is store.ErrNotFound.
func deleteRow(ctx context.Context, db *sql.DB, what, query string, key any) error {
	op := fmt.Sprintf("delete %s %v", what, key)
	res, err := db.ExecContext(ctx, query, key)
	if err != nil {
		return mapErr(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr(op, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
