package sqlite

import (
	"context"
	"time"

	"github.com/trunkline/trunkline/internal/model"
)

const bindingColumns = `aor, contact, source, transport, expires, call_id, cseq, user_agent, q, updated_at`

// PutBinding inserts or replaces the binding (b.AOR, b.Contact). b.UpdatedAt is
// stored as given; zero means now.
func (s *Store) PutBinding(ctx context.Context, b model.Binding) error {
	if b.UpdatedAt.IsZero() {
		b.UpdatedAt = now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO bindings (`+bindingColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (aor, contact) DO UPDATE SET
			source = excluded.source, transport = excluded.transport,
			expires = excluded.expires, call_id = excluded.call_id, cseq = excluded.cseq,
			user_agent = excluded.user_agent, q = excluded.q, updated_at = excluded.updated_at`,
		b.AOR, b.Contact, b.Source, b.Transport, toNanos(b.Expires), b.CallID, int64(b.CSeq),
		b.UserAgent, b.Q, toNanos(b.UpdatedAt))
	return mapErr("put binding "+b.AOR, err)
}

// DeleteBinding removes one binding. Removing a binding that does not exist is not
// an error: the registrar's goal (no such binding) is met either way.
func (s *Store) DeleteBinding(ctx context.Context, aor, contact string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM bindings WHERE aor = ? AND contact = ?`, aor, contact)
	return mapErr("delete binding "+aor, err)
}

// DeleteBindings removes every binding of aor (REGISTER with "Contact: *"); none
// is not an error.
func (s *Store) DeleteBindings(ctx context.Context, aor string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM bindings WHERE aor = ?`, aor)
	return mapErr("delete bindings "+aor, err)
}

// ListBindings returns every stored binding, expired or not, ordered by AOR then
// contact.
func (s *Store) ListBindings(ctx context.Context) ([]model.Binding, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+bindingColumns+` FROM bindings ORDER BY aor, contact`)
	if err != nil {
		return nil, mapErr("list bindings", err)
	}
	defer rows.Close()
	list := []model.Binding{}
	for rows.Next() {
		var b model.Binding
		var expires, cseq, updated int64
		if err := rows.Scan(&b.AOR, &b.Contact, &b.Source, &b.Transport, &expires, &b.CallID,
			&cseq, &b.UserAgent, &b.Q, &updated); err != nil {
			return nil, mapErr("list bindings", err)
		}
		b.Expires, b.CSeq, b.UpdatedAt = fromNanos(expires), uint32(cseq), fromNanos(updated)
		list = append(list, b)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list bindings", err)
	}
	return list, nil
}

// DeleteExpiredBindings removes bindings whose Expires is at or before now and
// returns how many it removed.
func (s *Store) DeleteExpiredBindings(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM bindings WHERE expires <= ?`, toNanos(now))
	if err != nil {
		return 0, mapErr("delete expired bindings", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, mapErr("delete expired bindings", err)
	}
	return int(n), nil
}
