package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

func openPath(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func testBinding(aor, contact string) model.Binding {
	return model.Binding{AOR: aor, Contact: contact, Source: "192.0.2.10:5062", Transport: "udp",
		Expires: time.Now().Add(time.Hour), CallID: "reg-" + aor, CSeq: 1, Q: 1}
}

// putBinding writes one binding through the writer, merged into its AOR's others:
// a flush of one refreshed AOR.
func putBinding(ctx context.Context, s *Store, b model.Binding) error {
	return s.SaveBindings(ctx, []model.AORBindings{{AOR: b.AOR, Bindings: []model.Binding{b}}})
}

// TestConcurrentPutBindingsPersist: many REGISTERs at once are group-committed,
// and every one that returned nil is in the database after Close and reopen.
func TestConcurrentPutBindingsPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trunkline.db")
	s := openPath(t, path)
	const workers, each = 64, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				aor := fmt.Sprintf("%d", 10000+w*each+i)
				if err := putBinding(t.Context(), s, testBinding(aor, "sip:"+aor+"@192.0.2.1")); err != nil {
					t.Errorf("PutBinding %s: %v", aor, err)
				}
			}
		})
	}
	wg.Wait()
	batches, writes := s.w.batches.Load(), s.w.writes.Load()
	t.Logf("%d writes in %d transactions", writes, batches)
	if writes != workers*each {
		t.Errorf("writer took %d writes; want %d", writes, workers*each)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openPath(t, path)
	defer s.Close()
	list, err := s.ListBindings(t.Context())
	if err != nil || len(list) != workers*each {
		t.Fatalf("after reopen: %d bindings, %v; want %d", len(list), err, workers*each)
	}
}

// holdWriteLock takes the database's write lock on a pool connection until the
// returned function is called, so the writer's next BEGIN IMMEDIATE waits (in
// busy_timeout) and the writes queued meanwhile form one batch.
func holdWriteLock(t *testing.T, s *Store) (release func()) {
	t.Helper()
	tx, err := s.db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(t.Context(), `DELETE FROM bindings WHERE aor = 'nobody'`); err != nil {
		t.Fatal(err)
	}
	return func() { tx.Rollback() }
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestBatchErrorIsolated: one write of a batch fails (a NaN q is stored as NULL
// and violates NOT NULL; and, through the internal hook, an arbitrary statement
// error); the other writes of the same batch still commit, each caller gets its
// own result, and InsertCDR IDs are those of the committed rows.
func TestBatchErrorIsolated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trunkline.db")
	s := openPath(t, path)
	ctx := t.Context()

	release := holdWriteLock(t, s)
	// The first write is taken alone and blocks in BEGIN; the rest queue behind it.
	first := make(chan error, 1)
	go func() { first <- putBinding(ctx, s, testBinding("1000", "sip:first@192.0.2.1")) }()
	waitFor(t, "the writer to take the first write", func() bool { return s.w.writes.Load() == 1 })

	const good = 20
	var wg sync.WaitGroup
	goodErrs := make([]error, good)
	cdrs := make([]model.CDR, good)
	for i := range good {
		wg.Go(func() {
			if i%2 == 0 {
				aor := fmt.Sprintf("%d", 1001+i)
				goodErrs[i] = putBinding(ctx, s, testBinding(aor, "sip:"+aor+"@192.0.2.1"))
			} else {
				cdrs[i] = model.CDR{CallID: fmt.Sprintf("cdr-%d", i), StartTime: time.Now(), EndTime: time.Now()}
				goodErrs[i] = s.InsertCDR(ctx, &cdrs[i])
			}
		})
	}
	var nanErr, hookErr error
	wg.Go(func() {
		bad := testBinding("1999", "sip:nan@192.0.2.1")
		bad.Q = math.NaN()
		nanErr = putBinding(ctx, s, bad)
	})
	wg.Go(func() {
		r := newReq(ctx, opPutBinding)
		r.exec = func(ctx context.Context, tx *sql.Tx, _ func(writeOp) *sql.Stmt) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO bindings (aor) VALUES ('x')`); err != nil {
				return err // NOT NULL constraint failed: bindings.contact
			}
			return errors.New("want a constraint error")
		}
		_, hookErr = s.w.doReq(r)
	})
	waitFor(t, "the writes to queue", func() bool { return len(s.w.queue) == good+2 })
	release()
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("first PutBinding: %v", err)
	}
	if got := s.w.batches.Load(); got != 2 {
		t.Fatalf("writer ran %d batches; want 2 (the first write, then all the others)", got)
	}
	if nanErr == nil {
		t.Error("PutBinding with q = NaN succeeded; want a NOT NULL error")
	}
	if hookErr == nil {
		t.Error("hooked write succeeded; want its constraint error")
	}
	for i, err := range goodErrs {
		if err != nil {
			t.Errorf("write %d of the batch: %v; want nil", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openPath(t, path)
	defer s.Close()
	list, err := s.ListBindings(ctx)
	if err != nil || len(list) != 1+good/2 {
		t.Fatalf("ListBindings = %d, %v; want %d", len(list), err, 1+good/2)
	}
	for _, b := range list {
		if b.AOR == "1999" || b.AOR == "x" {
			t.Errorf("failed write stored: %+v", b)
		}
	}
	stored, err := s.ListCDRs(ctx, store.CDRQuery{})
	if err != nil || len(stored) != good/2 {
		t.Fatalf("ListCDRs = %d, %v; want %d", len(stored), err, good/2)
	}
	byID := map[int64]string{}
	for _, c := range stored {
		byID[c.ID] = c.CallID
	}
	for i := 1; i < good; i += 2 {
		if byID[cdrs[i].ID] != cdrs[i].CallID {
			t.Errorf("CDR %s got ID %d, stored as %q", cdrs[i].CallID, cdrs[i].ID, byID[cdrs[i].ID])
		}
	}
}

// TestWriteCancelledBeforeCommit: a write whose ctx is already done is not
// written; one whose ctx ends while it is queued returns ctx.Err() (and may or may
// not be written: here it is still queued when its ctx ends, so it is not).
func TestWriteCancelledBeforeCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trunkline.db")
	s := openPath(t, path)
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := putBinding(ctx, s, testBinding("1001", "sip:a@192.0.2.1")); !errors.Is(err, context.Canceled) {
		t.Fatalf("PutBinding with a cancelled ctx: %v; want context.Canceled", err)
	}

	release := holdWriteLock(t, s)
	done := make(chan error, 1)
	go func() { done <- putBinding(t.Context(), s, testBinding("1002", "sip:b@192.0.2.1")) }()
	waitFor(t, "the writer to take the first write", func() bool { return s.w.writes.Load() == 1 })
	ctx, cancel = context.WithCancel(t.Context())
	queued := make(chan error, 1)
	go func() { queued <- putBinding(ctx, s, testBinding("1003", "sip:c@192.0.2.1")) }()
	waitFor(t, "the write to queue", func() bool { return len(s.w.queue) == 1 })
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Fatalf("PutBinding cancelled while queued: %v; want context.Canceled", err)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the writer to take the cancelled write", func() bool { return s.w.writes.Load() == 2 })
	s.Close() // flushes
	s2 := openPath(t, path)
	defer s2.Close()
	list, err := s2.ListBindings(t.Context())
	if err != nil || len(list) != 1 || list[0].AOR != "1002" {
		t.Fatalf("ListBindings = %+v, %v; want only 1002", list, err)
	}
}

// TestCloseFlushes: Close while writes are in flight. Every write either returned
// nil and is stored, or failed because the store was closed; none is lost and
// none is stored without its caller having been told.
func TestCloseFlushes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trunkline.db")
	s := openPath(t, path)
	const workers = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := map[string]bool{}
	start := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := 0; ; i++ {
				aor := fmt.Sprintf("%d-%d", w, i)
				err := putBinding(t.Context(), s, testBinding(aor, "sip:"+aor+"@192.0.2.1"))
				if errors.Is(err, errClosed) {
					return
				}
				if err != nil {
					t.Errorf("PutBinding: %v", err)
					return
				}
				mu.Lock()
				ok[aor] = true
				mu.Unlock()
			}
		})
	}
	close(start)
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s = openPath(t, path)
	defer s.Close()
	list, err := s.ListBindings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(ok) || len(ok) == 0 {
		t.Fatalf("%d bindings stored, %d PutBinding calls succeeded; want the same, > 0", len(list), len(ok))
	}
	for _, b := range list {
		if !ok[b.AOR] {
			t.Errorf("binding %s stored but its PutBinding did not succeed", b.AOR)
		}
	}
}

// TestWALStaysSmall: many concurrent writes with readers in between; the WAL is
// checkpointed and restarted instead of growing with the number of writes.
func TestWALStaysSmall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trunkline.db")
	s := openPath(t, path)
	defer s.Close()
	const workers, each = 32, 300 // ~10k commits' worth of pages without batching
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				aor := fmt.Sprintf("%d", w*each+i)
				if err := putBinding(t.Context(), s, testBinding(aor, "sip:"+aor+"@192.0.2.1")); err != nil {
					t.Errorf("PutBinding: %v", err)
					return
				}
				if i%50 == 0 {
					if _, err := s.GetExtension(t.Context(), "1001"); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("GetExtension: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("WAL %d bytes after %d writes in %d transactions", fi.Size(), s.w.writes.Load(), s.w.batches.Load())
	// wal_autocheckpoint is 1000 pages (4 MiB); allow for a checkpoint that could
	// not restart the log at once.
	if fi.Size() > 16<<20 {
		t.Errorf("WAL is %d bytes; want it bounded by checkpoints (< 16 MiB)", fi.Size())
	}
	var limit int64
	if err := s.db.QueryRowContext(t.Context(), `PRAGMA journal_size_limit`).Scan(&limit); err != nil || limit != walJournalSizeLimit {
		t.Errorf("journal_size_limit = %d, %v; want %d", limit, err, walJournalSizeLimit)
	}
}

const bindingHelperEnv = "TRUNKLINE_SQLITE_BINDING_HELPER_DB"

// TestHelperPutBindingsKill is not a test: run as a child process by
// TestBindingsSurviveKill, it registers concurrently and, once every
// PutBinding has returned (the moment the registrar sends 200 OK), kills itself
// with SIGKILL.
func TestHelperPutBindingsKill(t *testing.T) {
	path := os.Getenv(bindingHelperEnv)
	if path == "" {
		return // not a test of its own: the child process of the test above (os/exec style)
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 20 {
				aor := fmt.Sprintf("%d", 1000+w*20+i)
				if err := putBinding(context.Background(), s, testBinding(aor, "sip:"+aor+"@192.0.2.1")); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
			}
		})
	}
	wg.Wait()
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func TestBindingsSurviveKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trunkline.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperPutBindingsKill$")
	cmd.Env = append(os.Environ(), bindingHelperEnv+"="+path)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child process: %v (want killed by SIGKILL)\n%s", err, out)
	}
	s := openPath(t, path)
	defer s.Close()
	list, err := s.ListBindings(t.Context())
	if err != nil || len(list) != 16*20 {
		t.Fatalf("bindings after kill -9 = %d, %v; want %d", len(list), err, 16*20)
	}
}
