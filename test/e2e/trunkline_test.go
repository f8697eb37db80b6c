package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// instance is one running Trunkline: its ports, data directory, log file and API client.
type instance struct {
	t        testing.TB
	DataDir  string
	SIPPort  int
	HTTPPort int
	RTPLow   int
	RTPHigh  int
	Token    string
	LogPath  string
	API      *apiClient

	cmd   *exec.Cmd
	done  chan struct{} // closed when the process has exited
	err   error         // its exit status, valid after done
	runs  int
	extra []string
}

// option configures startTrunkline.
type option func(*instance)

// withDataDir runs Trunkline on an existing data directory.
func withDataDir(dir string) option { return func(i *instance) { i.DataDir = dir } }

// withArgs adds command-line flags to `trunkline serve`.
func withArgs(args ...string) option { return func(i *instance) { i.extra = append(i.extra, args...) } }

// startTrunkline starts the binary built by TestMain on fresh loopback ports and waits
// until GET /api/v1/health answers 200. It is stopped (SIGTERM, SIGKILL after 5 s) when the
// test ends; its log is written to the test log if the test failed.
func startTrunkline(t testing.TB, opts ...option) *instance {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("no trunkline binary: %v", buildErr)
	}
	dir := t.TempDir()
	i := &instance{
		t:        t,
		DataDir:  filepath.Join(dir, "data"),
		SIPPort:  freeSIPPort(t),
		HTTPPort: freeTCPPort(t),
		Token:    randomHex(16),
		LogPath:  filepath.Join(dir, "trunkline.log"),
	}
	i.RTPLow, i.RTPHigh = freeUDPRange(t, 100)
	for _, o := range opts {
		o(i)
	}
	i.API = &apiClient{
		base:  "http://127.0.0.1:" + strconv.Itoa(i.HTTPPort),
		token: i.Token,
		hc:    &http.Client{Timeout: 10 * time.Second},
	}
	t.Cleanup(func() {
		i.Stop()
		if t.Failed() {
			logFile(t, "trunkline log", i.LogPath, 256<<10)
		}
	})
	i.start()
	return i
}

// SIPAddr is Trunkline's SIP address, "127.0.0.1:port".
func (i *instance) SIPAddr() string { return "127.0.0.1:" + strconv.Itoa(i.SIPPort) }

func (i *instance) start() {
	t := i.t
	t.Helper()
	i.runs++
	logf, err := os.OpenFile(i.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "==== e2e: start #%d of trunkline at %s\n", i.runs, time.Now().Format(time.RFC3339Nano))
	args := []string{"serve",
		"--data-dir", i.DataDir,
		"--sip-listen", i.SIPAddr(),
		"--http-listen", "127.0.0.1:" + strconv.Itoa(i.HTTPPort),
		"--rtp-ports", fmt.Sprintf("%d-%d", i.RTPLow, i.RTPHigh),
		"--external-ip", "127.0.0.1",
		"--log-level", "debug",
		"--log-format", "text",
	}
	args = append(args, i.extra...)
	cmd := exec.Command(trunklineBin, args...)
	cmd.Env = append(os.Environ(), "TRUNKLINE_ADMIN_TOKEN="+i.Token)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start trunkline: %v", err)
	}
	i.cmd, i.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		i.err = cmd.Wait()
		close(done)
	}(i.done)
	i.waitHealthy()
}

// waitHealthy polls GET /api/v1/health until it answers 200. The deadline only bounds a
// hung start; it is not a speed requirement.
func (i *instance) waitHealthy() {
	t := i.t
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-i.done:
			logFile(t, "trunkline log", i.LogPath, 64<<10)
			t.Fatalf("trunkline exited during start-up (%v); expected it to serve GET /api/v1/health", i.err)
		default:
		}
		resp, err := http.Get(i.API.base + "/api/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET /api/v1/health never answered 200 within 30 s (last: %s)", last)
}

// running reports whether the process is alive.
func (i *instance) running() bool {
	if i.done == nil {
		return false
	}
	select {
	case <-i.done:
		return false
	default:
		return true
	}
}

// Stop ends Trunkline with SIGTERM, SIGKILL after 5 s. Idempotent.
func (i *instance) Stop() {
	if !i.running() {
		return
	}
	_ = i.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-i.done:
	case <-time.After(5 * time.Second):
		i.t.Logf("trunkline did not exit within 5 s of SIGTERM: SIGKILL")
		_ = i.cmd.Process.Kill()
		<-i.done
	}
	var ee *exec.ExitError
	if i.err != nil && !errors.As(i.err, &ee) {
		i.t.Logf("trunkline: %v", i.err)
	}
}

// Kill9 kills Trunkline with SIGKILL (a crash: no shutdown code runs).
func (i *instance) Kill9() {
	i.t.Helper()
	if !i.running() {
		i.t.Fatalf("Kill9: trunkline is not running (exit: %v)", i.err)
	}
	_ = i.cmd.Process.Kill()
	<-i.done
	f, err := os.OpenFile(i.LogPath, os.O_WRONLY|os.O_APPEND, 0o644)
	if err == nil {
		fmt.Fprintf(f, "==== e2e: trunkline killed with SIGKILL at %s\n", time.Now().Format(time.RFC3339Nano))
		f.Close()
	}
}

// Restart starts Trunkline again with the same ports, token and data directory.
func (i *instance) Restart() {
	i.t.Helper()
	i.Stop()
	i.start()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
