package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Group commit for the hot writes.
//
// SaveBindings (the location service's flush, every 500 ms) and InsertCDR (every
// finished call) do not write on the caller's goroutine. They queue a request for the
// Store's one writer goroutine, which takes the first request as soon as it
// arrives, adds every other request already waiting (up to maxBatch), runs them
// all in ONE transaction (BEGIN IMMEDIATE) and commits. Each caller blocks until
// the transaction holding its write has committed, so "SaveBindings returned nil"
// still means "the bindings are in the WAL" and survive kill -9 (synchronous=NORMAL:
// not a power loss, as before). The writer never waits for more work: a lone write
// commits at once, and batches form only from writes that arrived while the
// previous transaction was running, so batching adds no latency.
//
// Why it is cheaper: one transaction per batch instead of one per write (one lock
// round, one WAL append of each touched page, one commit), statements prepared
// once, and only one connection ever waits for the write lock on behalf of these
// writes, so they no longer pin many read snapshots while queueing in busy_timeout
// (which kept the WAL from being reset: see walPragmas).
//
// Errors are per write. If a statement fails, the batch is rolled back and every
// write of it is run again in a transaction of its own, so the others still commit
// and each caller gets the error of its own write. A failure of BEGIN or COMMIT is
// every write's error. Failures are rare (NaN in a REAL NOT NULL column, disk
// full), so the happy path pays nothing for this (no SAVEPOINT per write).
//
// Cancellation: a request whose ctx is done before the writer takes it is not
// written and gets ctx.Err(). If ctx ends while the caller waits for the commit,
// the caller returns ctx.Err() at once, but its write may still be (or already
// have been) committed: as with any cancelled database call, the outcome is
// unknown to the caller. The transaction itself never uses a caller's ctx, so one
// caller giving up cannot abort the others' writes.
//
// Close stops taking writes (they fail with errClosed), lets the writer commit
// everything already queued, and waits for it before closing the database.

// maxBatch caps the writes committed in one transaction, bounding how long the
// write lock is held and the WAL growth of one commit.
const maxBatch = 256

// errClosed is returned by writes after Close.
var errClosed = errors.New("store closed")

// writeOp names a queued write; each has one prepared statement.
type writeOp uint8

const (
	opPutBinding writeOp = iota
	opDeleteBindings
	opInsertCDR
	numWriteOps
)

var writeSQL = [numWriteOps]string{
	opPutBinding: `INSERT INTO bindings (` + bindingColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (aor, contact) DO UPDATE SET
			source = excluded.source, transport = excluded.transport,
			expires = excluded.expires, call_id = excluded.call_id, cseq = excluded.cseq,
			user_agent = excluded.user_agent, q = excluded.q, updated_at = excluded.updated_at`,
	opDeleteBindings: `DELETE FROM bindings WHERE aor = ?`,
	opInsertCDR: `INSERT INTO cdrs (` + cdrColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
}

// writeReq is one queued write.
type writeReq struct {
	ctx  context.Context
	op   writeOp
	args []any
	// exec, when set, runs instead of the statement of op: a write of many rows
	// (ReplaceBindings) or a test's. stmt gives the writer's prepared statements
	// on tx.
	exec func(ctx context.Context, tx *sql.Tx, stmt func(writeOp) *sql.Stmt) error
	// id is the new row's ID (opInsertCDR), valid once done delivered nil.
	id   int64
	done chan error // buffered: the writer never blocks on it
}

var reqPool = sync.Pool{New: func() any { return &writeReq{done: make(chan error, 1)} }}

func newReq(ctx context.Context, op writeOp, args ...any) *writeReq {
	r := reqPool.Get().(*writeReq)
	r.ctx, r.op, r.args = ctx, op, args
	return r
}

// release returns r to the pool. Only a caller that received r's result may call
// it: an abandoned request (its caller's ctx ended) may still be in the writer.
func (r *writeReq) release() {
	r.ctx, r.args, r.exec, r.id = nil, nil, nil, 0
	reqPool.Put(r)
}

// writer owns the queue and the goroutine that commits it.
type writer struct {
	db    *sql.DB
	stmts [numWriteOps]*sql.Stmt

	mu     sync.RWMutex // held (read) while sending on queue; Close takes it to close queue
	closed bool
	queue  chan *writeReq
	done   chan struct{} // closed when run returns

	// Counters for tests and debugging.
	batches atomic.Int64 // batches taken from the queue
	writes  atomic.Int64 // requests taken from the queue
}

// newWriter prepares the write statements on db and starts the writer goroutine.
func newWriter(ctx context.Context, db *sql.DB) (*writer, error) {
	w := &writer{db: db, queue: make(chan *writeReq, 4*maxBatch), done: make(chan struct{})}
	for op, q := range writeSQL {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			w.closeStmts()
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
		w.stmts[op] = st
	}
	go w.run()
	return w, nil
}

// do queues a write and waits until the transaction holding it has committed
// (or failed). id is the new row's ID for opInsertCDR.
func (w *writer) do(ctx context.Context, op writeOp, args ...any) (id int64, err error) {
	r := newReq(ctx, op, args...)
	return w.doReq(r)
}

func (w *writer) doReq(r *writeReq) (int64, error) {
	ctx := r.ctx
	if err := ctx.Err(); err != nil {
		r.release()
		return 0, err
	}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		r.release()
		return 0, errClosed
	}
	select {
	case w.queue <- r:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		r.release()
		return 0, ctx.Err()
	}
	var err error
	select {
	case err = <-r.done:
	case <-ctx.Done():
		select {
		case err = <-r.done: // finished anyway: report what happened
		default:
			// Abandoned: the writer still holds r (and may commit it), so r
			// must not go back to the pool.
			return 0, ctx.Err()
		}
	}
	id := r.id
	r.release()
	return id, err
}

// close stops taking writes, waits until everything queued is committed, then
// closes the statements. Safe to call more than once.
func (w *writer) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	<-w.done
	w.closeStmts()
}

func (w *writer) closeStmts() {
	for _, st := range w.stmts {
		if st != nil {
			st.Close() // idempotent
		}
	}
}

func (w *writer) run() {
	defer close(w.done)
	batch := make([]*writeReq, 0, maxBatch)
	live := make([]*writeReq, 0, maxBatch)
	for {
		r, ok := <-w.queue
		if !ok {
			return
		}
		batch = append(batch[:0], r)
		open := true
	fill: // take what is waiting; never wait for more
		for len(batch) < maxBatch {
			select {
			case r, ok := <-w.queue:
				if !ok {
					open = false
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		w.batches.Add(1)
		w.writes.Add(int64(len(batch)))

		live = live[:0]
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				r.done <- err // its caller gave up before we started: not written
				continue
			}
			live = append(live, r)
		}
		w.commit(live)
		clear(batch)
		clear(live)
		if !open {
			return
		}
	}
}

// commit writes rs in one transaction and delivers each request's result.
func (w *writer) commit(rs []*writeReq) {
	if len(rs) == 0 {
		return
	}
	failed, err := w.runTx(rs)
	if err != nil && failed >= 0 && len(rs) > 1 {
		// One write failed and the batch was rolled back: give every write a
		// transaction of its own so the others commit and each gets its own error.
		for i := range rs {
			_, err := w.runTx(rs[i : i+1])
			rs[i].done <- err
		}
		return
	}
	for _, r := range rs {
		r.done <- err
	}
}

// runTx runs rs in one transaction and commits it. On error nothing of rs is
// committed; failed is the index of the write that failed, or -1 if BEGIN or
// COMMIT did.
func (w *writer) runTx(rs []*writeReq) (failed int, err error) {
	ctx := context.Background()       // no caller's ctx may abort the others' writes
	tx, err := w.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (the DSN's _txlock)
	if err != nil {
		return -1, err
	}
	var txStmts [numWriteOps]*sql.Stmt // closed by Commit/Rollback
	for i, r := range rs {
		if err := w.exec(ctx, tx, &txStmts, r); err != nil {
			tx.Rollback()
			return i, err
		}
	}
	if err := tx.Commit(); err != nil {
		return -1, err
	}
	return -1, nil
}

func (w *writer) exec(ctx context.Context, tx *sql.Tx, txStmts *[numWriteOps]*sql.Stmt, r *writeReq) error {
	stmt := func(op writeOp) *sql.Stmt {
		st := txStmts[op]
		if st == nil {
			// Uses the statement already prepared on tx's connection (database/sql
			// keeps one per connection), preparing it there only the first time.
			st = tx.StmtContext(ctx, w.stmts[op])
			txStmts[op] = st
		}
		return st
	}
	if r.exec != nil {
		return r.exec(ctx, tx, stmt)
	}
	res, err := stmt(r.op).ExecContext(ctx, r.args...)
	if err != nil {
		return err
	}
	if r.op == opInsertCDR {
		r.id, err = res.LastInsertId()
	}
	return err
}
