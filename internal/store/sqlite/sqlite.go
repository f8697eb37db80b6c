// Package sqlite is Trunkline's default store: an embedded SQLite database (pure Go,
// modernc.org/sqlite) in WAL mode, with its schema migrated at Open from the
// numbered SQL files embedded in migrations/.
//
// The hot writes (bindings on every REGISTER, a CDR per call) are group-committed
// by one writer goroutine with statements prepared once (writer.go); the WAL is
// kept small by automatic checkpoints and journal_size_limit (see
// walAutocheckpoint).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"

	"github.com/trunkline/trunkline/internal/store"
)

// busyTimeout is how long a connection waits for another writer (this process or
// another one) before a statement fails with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Store is a store.Store backed by one SQLite database file. It is safe for
// concurrent use; SQLite serialises writers, readers never block (WAL).
//
// The hot writes (SaveBindings, InsertCDR) go through w, the
// Store's one writer goroutine, which group-commits them (writer.go). Every
// other write is a statement or transaction of its own on the pool; all
// transactions, the writer's included, take the write lock at BEGIN
// (BEGIN IMMEDIATE), and busy_timeout queues them behind each other.
type Store struct {
	db *sql.DB
	w  *writer
	// Read statements on the hot paths, prepared once at Open. database/sql
	// prepares a *sql.Stmt on each pooled connection the first time it runs
	// there and keeps it until Close.
	getExtension *sql.Stmt
	listBindings *sql.Stmt
}

// walJournalSizeLimit is PRAGMA journal_size_limit: after a checkpoint has reset
// the WAL, the file is truncated back to this size, so a burst that made it grow
// does not leave it large on disk for good.
const walJournalSizeLimit = 64 << 20

// walAutocheckpoint is PRAGMA wal_autocheckpoint in pages (SQLite's default,
// stated so that it is not lost by accident): the connection whose commit takes
// the WAL past it runs a PASSIVE checkpoint. A checkpoint can only let the WAL
// start over from its beginning when no reader still uses an older snapshot; the
// store never keeps a read transaction open beyond one method call (rows are
// always closed, prepared statements are reset after each use), and the hot
// writes come from one connection instead of many waiting in busy_timeout.
const walAutocheckpoint = 1000

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and applies any pending
// migrations in one transaction. path ":memory:" gives a private in-memory
// database, useful in tests. The caller must Close the Store.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	memory := path == ":memory:"
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: database path %q must not contain '?' or '#'", path)
	}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	q.Set("_foreign_keys", "1")
	// Writers take the write lock at BEGIN, so two transactions never deadlock
	// upgrading read locks; busy_timeout then queues them.
	q.Set("_txlock", "immediate")
	if !memory {
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "NORMAL") // durable in WAL mode except on power loss
		q.Add("_pragma", fmt.Sprintf("journal_size_limit=%d", walJournalSizeLimit))
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint=%d", walAutocheckpoint))
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if memory {
		// Each connection to :memory: is a separate database: keep exactly one.
		db.SetMaxOpenConns(1)
	}
	db.SetConnMaxIdleTime(0)
	// Keep a few idle connections: closing one throws away the statements
	// prepared on it (and opening one re-runs the PRAGMAs and parses the schema).
	db.SetMaxIdleConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db}
	if err := s.prepare(ctx); err != nil {
		s.closeStmts()
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) prepare(ctx context.Context) error {
	var err error
	if s.getExtension, err = s.db.PrepareContext(ctx,
		`SELECT `+extensionColumns+` FROM extensions WHERE number = ?`); err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	if s.listBindings, err = s.db.PrepareContext(ctx,
		`SELECT `+bindingColumns+` FROM bindings ORDER BY aor, contact`); err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	s.w, err = newWriter(ctx, s.db) // last: it starts the writer goroutine
	return err
}

func (s *Store) closeStmts() {
	for _, st := range []*sql.Stmt{s.getExtension, s.listBindings} {
		if st != nil {
			st.Close()
		}
	}
}

// Close commits the writes already queued, refuses new ones, and closes the
// database. In WAL mode the last connection to close checkpoints the log into
// the main file. Calling it again does nothing.
func (s *Store) Close() error {
	s.w.close()
	s.closeStmts()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// mapErr turns SQLite constraint violations into the store sentinels, keeping the
// original error in the chain, and prefixes every error with op.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlitelib.SQLITE_CONSTRAINT_UNIQUE, sqlitelib.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("sqlite: %s: %w (%w)", op, store.ErrConflict, err)
		case sqlitelib.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("sqlite: %s: %w (%w)", op, store.ErrReference, err)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// toNanos stores t as unix nanoseconds; the zero time is stored as 0.
func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of toNanos; times come back in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// now is the current time in UTC without its monotonic reading, as stored.
func now() time.Time { return time.Now().UTC().Round(0) }

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
