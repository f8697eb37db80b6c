package sqlite

import (
	"context"
	"database/sql"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

const cdrColumns = `call_id, caller, callee, direction, trunk, start_time, answer_time, end_time,
	duration, billsec, disposition, hangup_by, hangup_cause, sip_code,
	rtp_caller_to_callee, rtp_callee_to_caller`

// CDR paging limits (see store.CDRQuery).
const (
	defaultCDRLimit = 50
	maxCDRLimit     = 1000
)

// InsertCDR appends c and sets c.ID. c.ID on input is ignored: IDs are assigned by
// the database, strictly increasing and never reused. It returns once the CDR is
// committed (group commit: writer.go); if ctx ends while it waits, it returns
// ctx.Err(), leaves c.ID alone, and the CDR may or may not have been written.
func (s *Store) InsertCDR(ctx context.Context, c *model.CDR) error {
	var answer sql.NullInt64
	if c.AnswerTime != nil {
		answer = sql.NullInt64{Int64: toNanos(*c.AnswerTime), Valid: true}
	}
	id, err := s.w.do(ctx, opInsertCDR,
		c.CallID, c.Caller, c.Callee, c.Direction, c.Trunk,
		toNanos(c.StartTime), answer, toNanos(c.EndTime),
		c.Duration, c.BillSec, string(c.Disposition), string(c.HangupBy), c.HangupCause, c.SIPCode,
		c.RTPCallerToCallee, c.RTPCalleeToCaller)
	if err != nil {
		return mapErr("insert cdr", err)
	}
	c.ID = id
	return nil
}

// ListCDRs returns CDRs newest first (by ID), at most q.Limit (0 = 50, capped at
// 1000), only those with ID < q.BeforeID when that is set.
func (s *Store) ListCDRs(ctx context.Context, q store.CDRQuery) ([]model.CDR, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = defaultCDRLimit
	case limit > maxCDRLimit:
		limit = maxCDRLimit
	}
	var rows *sql.Rows
	var err error
	if q.BeforeID > 0 {
		rows, err = s.db.QueryContext(ctx, `SELECT id, `+cdrColumns+` FROM cdrs
			WHERE id < ? ORDER BY id DESC LIMIT ?`, q.BeforeID, limit)
	} else {
		rows, err = s.db.QueryContext(ctx, `SELECT id, `+cdrColumns+` FROM cdrs
			ORDER BY id DESC LIMIT ?`, limit)
	}
	if err != nil {
		return nil, mapErr("list cdrs", err)
	}
	defer rows.Close()
	list := []model.CDR{}
	for rows.Next() {
		var c model.CDR
		var start, end int64
		var answer sql.NullInt64
		var disp, hangupBy string
		if err := rows.Scan(&c.ID, &c.CallID, &c.Caller, &c.Callee, &c.Direction, &c.Trunk,
			&start, &answer, &end, &c.Duration, &c.BillSec, &disp, &hangupBy, &c.HangupCause,
			&c.SIPCode, &c.RTPCallerToCallee, &c.RTPCalleeToCaller); err != nil {
			return nil, mapErr("list cdrs", err)
		}
		c.StartTime, c.EndTime = fromNanos(start), fromNanos(end)
		if answer.Valid {
			t := fromNanos(answer.Int64)
			c.AnswerTime = &t
		}
		c.Disposition, c.HangupBy = model.Disposition(disp), model.Party(hangupBy)
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list cdrs", err)
	}
	return list, nil
}
