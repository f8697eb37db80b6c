// Package sqlite is Trunkline's default store: an embedded SQLite database (pure Go,
// modernc.org/sqlite) in WAL mode, with its schema migrated at Open from the
// numbered SQL files embedded in migrations/.
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
type Store struct {
	db *sql.DB
}

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
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the database. In WAL mode the last connection to close
// checkpoints the log into the main file.
func (s *Store) Close() error {
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
