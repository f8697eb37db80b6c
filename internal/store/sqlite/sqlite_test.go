package sqlite

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
	"github.com/trunkline/trunkline/internal/store/storetest"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "trunkline.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestConformanceMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), ":memory:")
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func TestReopen(t *testing.T) {
	storetest.RunReopen(t, func(t *testing.T, path string) store.Store {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// helperEnv names the database a child process writes CDRs into.
const helperEnv = "TRUNKLINE_SQLITE_HELPER_DB"

// TestHelperWriteCDRs is not a test: run as a child process by
// TestCDRsSurviveProcessExit, it writes CDRs and exits without closing the store,
// as a process killed after its last commit would.
func TestHelperWriteCDRs(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		return // not a test of its own: the child process of the test above (os/exec style)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := range 5 {
		c := model.CDR{CallID: fmt.Sprintf("child-%d", i), StartTime: time.Now(), EndTime: time.Now()}
		if err := s.InsertCDR(t.Context(), &c); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	}
	os.Exit(0) // no Close: the WAL is left un-checkpointed
}

func TestCDRsSurviveProcessExit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trunkline.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperWriteCDRs$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	list, err := s.ListCDRs(t.Context(), store.CDRQuery{})
	if err != nil {
		t.Fatalf("ListCDRs: %v", err)
	}
	if len(list) != 5 || list[0].CallID != "child-4" || list[4].CallID != "child-0" {
		t.Fatalf("CDRs after the writer exited = %v; want child-4..child-0", list)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if list, err := s.ListCDRs(t.Context(), store.CDRQuery{}); err != nil || len(list) != 5 {
		t.Fatalf("CDRs after close and reopen = %d, %v; want 5", len(list), err)
	}
}

func TestSchema(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	for _, table := range []string{"schema_migrations", "extensions", "bindings", "cdrs", "trunks",
		"trunk_dids", "inbound_rules", "outbound_rules", "ring_groups"} {
		var n int
		err := s.db.QueryRowContext(t.Context(),
			`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&n)
		if err != nil || n != 1 {
			t.Errorf("table %s: count %d, %v; want it to exist", table, n, err)
		}
	}
	for _, col := range []string{"rtp_caller_to_callee", "rtp_callee_to_caller"} {
		var n int
		err := s.db.QueryRowContext(t.Context(),
			`SELECT count(*) FROM pragma_table_info('cdrs') WHERE name = ?`, col).Scan(&n)
		if err != nil || n != 1 {
			t.Errorf("cdrs.%s: count %d, %v; want it to exist", col, n, err)
		}
	}
}

func TestPragmas(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	for pragma, want := range map[string]string{
		"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000", "synchronous": "1",
	} {
		var got string
		if err := s.db.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if !strings.EqualFold(got, want) {
			t.Errorf("PRAGMA %s = %s; want %s", pragma, got, want)
		}
	}
}

func TestMigrationsAppliedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trunkline.db")
	for range 3 {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		s.Close()
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var n, max int
	if err := s.db.QueryRowContext(t.Context(),
		`SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || max != ms[len(ms)-1].version {
		t.Fatalf("schema_migrations has %d rows, max %d; want %d, %d", n, max, len(ms), ms[len(ms)-1].version)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trunkline.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.db.ExecContext(t.Context(),
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(t.Context(), path); err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer schema succeeded; want an error")
	}
}

// TestFutureTables pins the constraints the next issues rely on.
func TestFutureTables(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	ctx := t.Context()
	exec := func(q string, args ...any) error {
		_, err := s.db.ExecContext(ctx, q, args...)
		return mapErr("test", err)
	}
	if err := exec(`INSERT INTO trunks (name, kind, settings, created_at, updated_at)
		VALUES ('acme', 'register', '{"host":"sip.acme.example"}', 1, 1)`); err != nil {
		t.Fatalf("insert trunk: %v", err)
	}
	if err := exec(`INSERT INTO trunks (name, kind, created_at, updated_at) VALUES ('acme', 'ip', 1, 1)`); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate trunk: %v; want ErrConflict", err)
	}
	if err := exec(`INSERT INTO trunks (name, kind, settings, created_at, updated_at) VALUES ('bad', 'ip', '{', 1, 1)`); err == nil {
		t.Error("trunk with invalid JSON settings accepted")
	}
	if err := exec(`INSERT INTO trunk_dids (did, trunk_name, extension) VALUES ('+442071234567', 'nope', '1001')`); err == nil {
		t.Error("DID of an unknown trunk accepted; want a foreign key error")
	}
	if err := exec(`INSERT INTO trunk_dids (did, trunk_name, extension) VALUES ('+442071234567', 'acme', '1001')`); err != nil {
		t.Fatalf("insert DID: %v", err)
	}
	if err := exec(`INSERT INTO inbound_rules (priority, name, trunk, match, destination, created_at, updated_at)
		VALUES (10, 'main', 'acme', '{"did":"+44207*"}', '{"extension":"1001"}', 1, 1)`); err != nil {
		t.Fatalf("insert inbound rule: %v", err)
	}
	if err := exec(`INSERT INTO outbound_rules (priority, name, match, routes, created_at, updated_at)
		VALUES (10, 'uk', '{"prefix":"0"}', '[{"trunk":"acme"}]', 1, 1)`); err != nil {
		t.Fatalf("insert outbound rule: %v", err)
	}
	if err := exec(`INSERT INTO ring_groups (name, strategy, members, timeout) VALUES ('sales', 'sequential', '["1001","1002"]', 20)`); err != nil {
		t.Fatalf("insert ring group: %v", err)
	}
	if err := exec(`DELETE FROM trunks WHERE name = 'acme'`); err == nil {
		t.Error("deleting a trunk used by an inbound rule succeeded; want a foreign key error")
	}
	if err := exec(`UPDATE trunks SET name = 'acme2' WHERE name = 'acme'`); err != nil {
		t.Fatalf("rename trunk: %v", err)
	}
	var did, rule string
	if err := s.db.QueryRowContext(ctx, `SELECT (SELECT trunk_name FROM trunk_dids), (SELECT trunk FROM inbound_rules)`).Scan(&did, &rule); err != nil || did != "acme2" || rule != "acme2" {
		t.Errorf("after rename: DID trunk %q, rule trunk %q, %v; want acme2 (cascade)", did, rule, err)
	}
}

// TestCDRPagingUsesRowid pins that newest-first paging walks the rowid b-tree
// instead of sorting: no separate index on id is needed.
func TestCDRPagingUsesRowid(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	rows, err := s.db.QueryContext(t.Context(),
		`EXPLAIN QUERY PLAN SELECT id FROM cdrs WHERE id < ? ORDER BY id DESC LIMIT ?`, 100, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	joined := strings.Join(plan, "; ")
	if strings.Contains(joined, "TEMP B-TREE") || !strings.Contains(joined, "rowid") {
		t.Fatalf("query plan %q; want a rowid range scan without sorting", joined)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, path := range []string{"", "a?b.db", filepath.Join(t.TempDir(), "missing-dir", "x.db")} {
		if s, err := Open(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded; want an error", path)
		}
	}
}

// TestTrunkStorage pins the trunk layout: name, kind and enabled in columns, DIDs
// in trunk_dids, everything else in the settings JSON, and a sparse settings
// object (as an older version or a hand edit leaves it) reads back with zero
// values.
func TestTrunkStorage(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	ctx := t.Context()
	tr := model.Trunk{Name: "acme", Kind: model.TrunkRegister, Enabled: true, Host: "sip.acme.example",
		Username: "u", Password: "p4ss", DIDs: []model.TrunkDID{{Number: "+15550100", Extension: "1001"}}}
	if err := s.CreateTrunk(ctx, &tr); err != nil {
		t.Fatalf("CreateTrunk: %v", err)
	}
	var kind, settings string
	var enabled, dids int
	if err := s.db.QueryRowContext(ctx, `SELECT kind, enabled, settings,
		(SELECT count(*) FROM trunk_dids WHERE trunk_name = name AND did = '+15550100' AND extension = '1001')
		FROM trunks WHERE name = 'acme'`).Scan(&kind, &enabled, &settings, &dids); err != nil {
		t.Fatal(err)
	}
	if kind != "register" || enabled != 1 || dids != 1 {
		t.Errorf("columns kind %q, enabled %d, DID rows %d; want register, 1, 1", kind, enabled, dids)
	}
	for _, key := range []string{`"name"`, `"kind"`, `"enabled"`, `"created_at"`, `"updated_at"`, `"dids"`} {
		if strings.Contains(settings, key) {
			t.Errorf("settings %s contains %s; it belongs in a column or trunk_dids", settings, key)
		}
	}
	if want := `{"host":"sip.acme.example","password":"p4ss","username":"u"}`; settings != want {
		t.Errorf("settings = %s; want %s", settings, want)
	}

	if _, err := s.db.ExecContext(ctx, `INSERT INTO trunks (name, kind, enabled, settings, created_at, updated_at)
		VALUES ('old', 'ip', 0, '{"host":"192.0.2.1","name":"ignored"}', 1, 2)`); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetTrunk(ctx, "old")
	if err != nil {
		t.Fatalf("GetTrunk old: %v", err)
	}
	if got.Name != "old" || got.Kind != model.TrunkIP || got.Enabled || got.Host != "192.0.2.1" ||
		got.DIDs != nil || got.UpdatedAt.UnixNano() != 2 {
		t.Errorf("GetTrunk old = %+v", got)
	}
}
