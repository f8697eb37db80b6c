package sqlite

import (
	"context"
	"time"

	"github.com/trunkline/trunkline/internal/model"
)

const bindingColumns = `aor, contact, source, transport, expires, call_id, cseq, user_agent, q, updated_at`

// PutBinding inserts or replaces the binding (b.AOR, b.Contact). b.UpdatedAt is
// stored as given; zero means now. It returns once the binding is committed
// (group commit: writer.go); if ctx ends while it waits, it returns ctx.Err() and
// the binding may or may not have been written.
func (s *Store) PutBinding(ctx context.Context, b model.Binding) error {
	if b.UpdatedAt.IsZero() {
		b.UpdatedAt = now()
	}
	_, err := s.w.do(ctx, opPutBinding,
		b.AOR, b.Contact, b.Source, b.Transport, toNanos(b.Expires), b.CallID, int64(b.CSeq),
		b.UserAgent, b.Q, toNanos(b.UpdatedAt))
	return mapErr("put binding "+b.AOR, err)
}

// DeleteBinding removes one binding. Removing a binding that does not exist is not
// an error: the registrar's goal (no such binding) is met either way. Committed
// as PutBinding is.
func (s *Store) DeleteBinding(ctx context.Context, aor, contact string) error {
	_, err := s.w.do(ctx, opDeleteBinding, aor, contact)
	return mapErr("delete binding "+aor, err)
}

// DeleteBindings removes every binding of aor (REGISTER with "Contact: *"); none
// is not an error. Committed as PutBinding is.
func (s *Store) DeleteBindings(ctx context.Context, aor string) error {
	_, err := s.w.do(ctx, opDeleteBindings, aor)
	return mapErr("delete bindings "+aor, err)
}

// ListBindings returns every stored binding, expired or not, ordered by AOR then
// contact.
func (s *Store) ListBindings(ctx context.Context) ([]model.Binding, error) {
	rows, err := s.listBindings.QueryContext(ctx)
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
