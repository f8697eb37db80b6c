package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/trunkline/trunkline/internal/model"
)

const bindingColumns = `aor, contact, source, transport, expires, call_id, cseq, user_agent, q, updated_at`

// SaveBindings writes the bindings of each AOR in sets, all in one transaction:
// the location service's periodic flush of the AORs that changed
// (sipedge.Location). A set marked Removed replaces the AOR's stored bindings (none
// left: the AOR has no bindings); any other set is merged in (insert or update
// each binding), which is cheaper and, when nothing was removed, the same. It
// returns once committed; on error nothing of it is.
func (s *Store) SaveBindings(ctx context.Context, sets []model.AORBindings) error {
	if len(sets) == 0 {
		return nil
	}
	stamp := now()
	r := newReq(ctx, opPutBinding)
	r.exec = func(ctx context.Context, _ *sql.Tx, stmt func(writeOp) *sql.Stmt) error {
		del, put := stmt(opDeleteBindings), stmt(opPutBinding)
		for _, set := range sets {
			if set.Removed {
				if _, err := del.ExecContext(ctx, set.AOR); err != nil {
					return err
				}
			}
			for _, b := range set.Bindings {
				if b.UpdatedAt.IsZero() {
					b.UpdatedAt = stamp
				}
				if _, err := put.ExecContext(ctx, set.AOR, b.Contact, b.Source, b.Transport,
					toNanos(b.Expires), b.CallID, int64(b.CSeq), b.UserAgent, b.Q, toNanos(b.UpdatedAt)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	_, err := s.w.doReq(r)
	return mapErr(fmt.Sprintf("save bindings of %d AORs", len(sets)), err)
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
