package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

const extensionColumns = `number, name, password, caller_id, max_calls, disabled, created_at, updated_at, permissions`

// insertExtension is the one INSERT of an extension, shared by CreateExtension
// and CreateExtensions; extensionRow gives its arguments.
const insertExtension = `INSERT INTO extensions (` + extensionColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// extensionRow is the arguments of insertExtension for e created at t.
func extensionRow(e *model.Extension, t time.Time) []any {
	return []any{e.Number, e.Name, e.Password, e.CallerID, e.MaxCalls, boolInt(e.Disabled),
		toNanos(t), toNanos(t), permissionsColumn(e.Permissions)}
}

// CreateExtension inserts e and sets e.CreatedAt and e.UpdatedAt to now. It returns
// store.ErrConflict if the number exists.
func (s *Store) CreateExtension(ctx context.Context, e *model.Extension) error {
	t := now()
	if _, err := s.db.ExecContext(ctx, insertExtension, extensionRow(e, t)...); err != nil {
		return mapErr("create extension "+e.Number, err)
	}
	e.CreatedAt, e.UpdatedAt = t, t
	return nil
}

// CreateExtensions inserts every extension of es in one transaction and sets
// their CreatedAt and UpdatedAt to the same now. A number that exists, or comes
// twice in es (the second insert hits the first one's primary key), rolls the
// whole batch back and returns a *store.ConflictError naming it.
func (s *Store) CreateExtensions(ctx context.Context, es []*model.Extension) error {
	if len(es) == 0 {
		return nil
	}
	op := fmt.Sprintf("create %d extensions", len(es))
	t := now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	// Prepared once for the batch instead of parsed again for every row.
	stmt, err := tx.PrepareContext(ctx, insertExtension)
	if err != nil {
		return mapErr(op, err)
	}
	defer stmt.Close()
	for _, e := range es {
		if _, err := stmt.ExecContext(ctx, extensionRow(e, t)...); err != nil {
			err = mapErr("create extension "+e.Number, err)
			if errors.Is(err, store.ErrConflict) {
				return &store.ConflictError{Key: e.Number, Err: err}
			}
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return mapErr(op, err)
	}
	for _, e := range es {
		e.CreatedAt, e.UpdatedAt = t, t
	}
	return nil
}

// GetExtension returns the extension with that number, or store.ErrNotFound.
func (s *Store) GetExtension(ctx context.Context, number string) (model.Extension, error) {
	row := s.getExtension.QueryRowContext(ctx, number)
	e, err := scanExtension(row)
	if err != nil {
		return model.Extension{}, mapErr("get extension "+number, err)
	}
	return e, nil
}

// ListExtensions returns every extension ordered by number (as text).
func (s *Store) ListExtensions(ctx context.Context) ([]model.Extension, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+extensionColumns+` FROM extensions ORDER BY number`)
	if err != nil {
		return nil, mapErr("list extensions", err)
	}
	defer rows.Close()
	list := []model.Extension{}
	for rows.Next() {
		e, err := scanExtension(rows)
		if err != nil {
			return nil, mapErr("list extensions", err)
		}
		list = append(list, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list extensions", err)
	}
	return list, nil
}

// UpdateExtension replaces every field of the stored extension e.Number, keeps its
// CreatedAt and sets UpdatedAt to now (both written back into e). It returns
// store.ErrNotFound if there is no such extension.
func (s *Store) UpdateExtension(ctx context.Context, e *model.Extension) error {
	t := now()
	var created int64
	err := s.db.QueryRowContext(ctx, `UPDATE extensions
		SET name = ?, password = ?, caller_id = ?, max_calls = ?, disabled = ?, updated_at = ?, permissions = ?
		WHERE number = ? RETURNING created_at`,
		e.Name, e.Password, e.CallerID, e.MaxCalls, boolInt(e.Disabled), toNanos(t),
		permissionsColumn(e.Permissions), e.Number).Scan(&created)
	if err != nil {
		return mapErr("update extension "+e.Number, err)
	}
	e.CreatedAt, e.UpdatedAt = fromNanos(created), t
	return nil
}

// DeleteExtension removes the extension, or returns store.ErrNotFound.
func (s *Store) DeleteExtension(ctx context.Context, number string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM extensions WHERE number = ?`, number)
	if err != nil {
		return mapErr("delete extension "+number, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr("delete extension "+number, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: delete extension %s: %w", number, store.ErrNotFound)
	}
	return nil
}

// permissionsColumn stores nil permissions (the defaults) as NULL and any other
// list, even an empty one, as a JSON array.
func permissionsColumn(p []string) any {
	if p == nil {
		return nil
	}
	b, _ := json.Marshal(p) // a []string always marshals
	return string(b)
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanExtension(sc scanner) (model.Extension, error) {
	var e model.Extension
	var disabled, created, updated int64
	var perms sql.NullString
	if err := sc.Scan(&e.Number, &e.Name, &e.Password, &e.CallerID, &e.MaxCalls,
		&disabled, &created, &updated, &perms); err != nil {
		return model.Extension{}, err
	}
	if perms.Valid {
		e.Permissions = []string{}
		if err := json.Unmarshal([]byte(perms.String), &e.Permissions); err != nil {
			return model.Extension{}, fmt.Errorf("extension %s: decode permissions: %w", e.Number, err)
		}
	}
	e.Disabled = disabled != 0
	e.CreatedAt, e.UpdatedAt = fromNanos(created), fromNanos(updated)
	return e, nil
}
