package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var (
	// trunklineBin is the binary TestMain built; buildErr says why there is none.
	trunklineBin string
	buildErr     error
	// testdata is the absolute path of this package's testdata directory.
	testdata string
)

// peers are the third-party programs the tests drive.
var peers = []string{"sipp", "baresip"}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	var err error
	if testdata, err = filepath.Abs("testdata"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "trunkline-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	// TRUNKLINE_BIN tests a binary built elsewhere (a release build, say) instead.
	if bin := os.Getenv("TRUNKLINE_BIN"); bin != "" {
		trunklineBin, err = filepath.Abs(bin)
		if err == nil {
			_, err = os.Stat(trunklineBin)
		}
		buildErr = err
	} else {
		trunklineBin = filepath.Join(tmp, "trunkline")
		buildErr = buildTrunkline(trunklineBin)
	}
	if buildErr != nil {
		fmt.Fprintln(os.Stderr, "e2e: building trunkline failed; every test will fail:", buildErr)
	}

	var missing []string
	for _, p := range peers {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		if ciMode() {
			fmt.Fprintf(os.Stderr, "e2e: CI=true and peers missing: %s (run scripts/install-peers.sh)\n", strings.Join(missing, ", "))
			return 1
		}
		fmt.Fprintf(os.Stderr, "e2e: peers missing, their tests will be skipped: %s\n", strings.Join(missing, ", "))
	}
	return m.Run()
}

// buildTrunkline builds ./cmd/trunkline of the module this package belongs to.
func buildTrunkline(out string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if root == "." || strings.TrimSpace(string(gomod)) == os.DevNull {
		return fmt.Errorf("not inside a Go module (go env GOMOD = %q)", gomod)
	}
	cmd := exec.Command("go", "build", "-o", out, "./cmd/trunkline")
	cmd.Dir = root
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build -o %s ./cmd/trunkline (in %s): %v\n%s", out, root, err, buf.String())
	}
	return nil
}

func ciMode() bool { return os.Getenv("CI") == "true" }

// requirePeer skips the test when a peer program is missing, or fails it with CI=true.
func requirePeer(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if ciMode() {
				t.Fatalf("%s not installed and CI=true: a missing peer is a failure (run scripts/install-peers.sh)", name)
			}
			t.Skipf("%s not installed (CI unset); run scripts/install-peers.sh", name)
		}
	}
}

// requireRoot is for SIPp's play_pcap_audio, which sends through a raw socket.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if ciMode() {
		t.Fatal("SIPp play_pcap_audio needs root (raw socket) and CI=true: run the tests as root")
	}
	t.Skip("SIPp play_pcap_audio needs root (raw socket); not root (CI unset)")
}

// logFile writes the tail of a file (at most max bytes) to the test log.
func logFile(t testing.TB, title, path string, max int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Logf("---- %s (%s): %v", title, path, err)
		return
	}
	if len(data) > max {
		cut := len(data) - max
		if i := bytes.IndexByte(data[cut:], '\n'); i >= 0 {
			cut += i + 1
		}
		t.Logf("---- %s (%s), last %d of %d bytes:\n%s", title, path, len(data)-cut, len(data), data[cut:])
		return
	}
	t.Logf("---- %s (%s):\n%s", title, path, data)
}
