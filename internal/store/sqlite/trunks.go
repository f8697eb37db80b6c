package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

// Trunks live in two tables (0001_init.sql): trunks holds name, kind and enabled
// as columns and every other setting as one JSON object; trunk_dids holds one row
// per DID, keyed by the number, so a DID belongs to at most one trunk.

// trunkColumnKeys are the JSON keys of model.Trunk kept out of the settings
// column: they are columns of trunks, or rows of trunk_dids.
var trunkColumnKeys = []string{"name", "kind", "enabled", "created_at", "updated_at", "dids"}

// trunkSelect reads a trunk and, aggregated in the same statement (one snapshot),
// its DIDs as a JSON array ordered by number.
const trunkSelect = `SELECT t.name, t.kind, t.enabled, t.settings, t.created_at, t.updated_at,
	(SELECT json_group_array(json_object('number', d.did, 'extension', d.extension) ORDER BY d.did)
	   FROM trunk_dids d WHERE d.trunk_name = t.name)
	FROM trunks t`

// trunkSettings is t's settings column: the JSON of model.Trunk without the keys
// stored elsewhere. Going through the model's own JSON keeps new fields stored
// without touching this file. The password is stored as given (digest needs it,
// as for extensions).
func trunkSettings(t *model.Trunk) (string, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	for _, k := range trunkColumnKeys {
		delete(m, k)
	}
	b, err = json.Marshal(m) // keys sorted: the same trunk always gives the same text
	return string(b), err
}

// CreateTrunk inserts t with its DIDs in one transaction and sets t.CreatedAt and
// t.UpdatedAt to now. It returns store.ErrConflict if the name exists or a DID
// belongs to another trunk.
func (s *Store) CreateTrunk(ctx context.Context, t *model.Trunk) error {
	op := "create trunk " + t.Name
	settings, err := trunkSettings(t)
	if err != nil {
		return fmt.Errorf("sqlite: %s: encode settings: %w", op, err)
	}
	ts := now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO trunks (name, kind, enabled, settings, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		t.Name, string(t.Kind), boolInt(t.Enabled), settings, toNanos(ts), toNanos(ts)); err != nil {
		return mapErr(op, err)
	}
	if err := insertDIDs(ctx, tx, t.Name, t.DIDs, ts); err != nil {
		return mapErr(op, err)
	}
	if err := tx.Commit(); err != nil {
		return mapErr(op, err)
	}
	t.CreatedAt, t.UpdatedAt = ts, ts
	return nil
}

// GetTrunk returns the trunk with that name, or store.ErrNotFound.
func (s *Store) GetTrunk(ctx context.Context, name string) (model.Trunk, error) {
	t, err := scanTrunk(s.db.QueryRowContext(ctx, trunkSelect+` WHERE t.name = ?`, name))
	if err != nil {
		return model.Trunk{}, mapErr("get trunk "+name, err)
	}
	return t, nil
}

// ListTrunks returns every trunk, with its DIDs, ordered by name.
func (s *Store) ListTrunks(ctx context.Context) ([]model.Trunk, error) {
	rows, err := s.db.QueryContext(ctx, trunkSelect+` ORDER BY t.name`)
	if err != nil {
		return nil, mapErr("list trunks", err)
	}
	defer rows.Close()
	list := []model.Trunk{}
	for rows.Next() {
		t, err := scanTrunk(rows)
		if err != nil {
			return nil, mapErr("list trunks", err)
		}
		list = append(list, t)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list trunks", err)
	}
	return list, nil
}

// UpdateTrunk replaces every setting of the stored trunk t.Name and all its DIDs
// in one transaction, keeps its CreatedAt and sets UpdatedAt to now (both written
// back into t). It returns store.ErrNotFound if there is no such trunk and
// store.ErrConflict if a DID belongs to another trunk; then nothing changes.
func (s *Store) UpdateTrunk(ctx context.Context, t *model.Trunk) error {
	op := "update trunk " + t.Name
	settings, err := trunkSettings(t)
	if err != nil {
		return fmt.Errorf("sqlite: %s: encode settings: %w", op, err)
	}
	ts := now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	var created int64
	if err := tx.QueryRowContext(ctx, `UPDATE trunks SET kind = ?, enabled = ?, settings = ?, updated_at = ?
		WHERE name = ? RETURNING created_at`,
		string(t.Kind), boolInt(t.Enabled), settings, toNanos(ts), t.Name).Scan(&created); err != nil {
		return mapErr(op, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM trunk_dids WHERE trunk_name = ?`, t.Name); err != nil {
		return mapErr(op, err)
	}
	if err := insertDIDs(ctx, tx, t.Name, t.DIDs, ts); err != nil {
		return mapErr(op, err)
	}
	if err := tx.Commit(); err != nil {
		return mapErr(op, err)
	}
	t.CreatedAt, t.UpdatedAt = fromNanos(created), ts
	return nil
}

// DeleteTrunk removes the trunk and its DIDs (ON DELETE CASCADE), or returns
// store.ErrNotFound.
func (s *Store) DeleteTrunk(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM trunks WHERE name = ?`, name)
	if err != nil {
		return mapErr("delete trunk "+name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr("delete trunk "+name, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: delete trunk %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// insertDIDs adds dids to trunk. A number owned by any trunk violates the
// primary key of trunk_dids (mapErr: store.ErrConflict).
func insertDIDs(ctx context.Context, tx *sql.Tx, trunk string, dids []model.TrunkDID, ts time.Time) error {
	if len(dids) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO trunk_dids (did, trunk_name, extension, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, d := range dids {
		if _, err := stmt.ExecContext(ctx, d.Number, trunk, d.Extension, toNanos(ts), toNanos(ts)); err != nil {
			return fmt.Errorf("did %s: %w", d.Number, err)
		}
	}
	return nil
}

func scanTrunk(sc scanner) (model.Trunk, error) {
	var name, kind, settings, dids string
	var enabled, created, updated int64
	if err := sc.Scan(&name, &kind, &enabled, &settings, &created, &updated, &dids); err != nil {
		return model.Trunk{}, err
	}
	var t model.Trunk
	if err := json.Unmarshal([]byte(settings), &t); err != nil {
		return model.Trunk{}, fmt.Errorf("trunk %s: decode settings: %w", name, err)
	}
	t.DIDs = nil
	if err := json.Unmarshal([]byte(dids), &t.DIDs); err != nil {
		return model.Trunk{}, fmt.Errorf("trunk %s: decode dids: %w", name, err)
	}
	if len(t.DIDs) == 0 {
		t.DIDs = nil
	}
	t.Name, t.Kind, t.Enabled = name, model.TrunkKind(kind), enabled != 0
	t.CreatedAt, t.UpdatedAt = fromNanos(created), fromNanos(updated)
	return t, nil
}
