package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// baresip is one headless baresip (account = one extension), configured from
// testdata/baresip/*.tmpl in its own directory and remote-controlled over ctrl_tcp.
type baresip struct {
	t        testing.TB
	Dir      string
	User     string
	SIPPort  int
	CtrlPort int
	RTPLow   int
	RTPHigh  int
	LogPath  string
	cmd      *exec.Cmd
	done     chan struct{}
	err      error
}

// startBaresip starts baresip registering user/password at inst and waits until its
// control port listens. Stopped with SIGTERM (it hangs up and unregisters), SIGKILL after
// 5 s, when the test ends.
func startBaresip(t testing.TB, inst *instance, user, password string) *baresip {
	t.Helper()
	requirePeer(t, "baresip")
	dir := t.TempDir()
	b := &baresip{
		t:        t,
		Dir:      filepath.Join(dir, "cfg"),
		User:     user,
		SIPPort:  freeSIPPort(t),
		CtrlPort: freeTCPPort(t),
		LogPath:  filepath.Join(dir, "baresip.log"),
		done:     make(chan struct{}),
	}
	b.RTPLow, b.RTPHigh = freeUDPRange(t, 20)
	if err := os.MkdirAll(b.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{
		"SIPPort": b.SIPPort, "CtrlPort": b.CtrlPort, "RTPLow": b.RTPLow, "RTPHigh": b.RTPHigh,
		"User": user, "Password": password, "Registrar": inst.SIPPort, "RegInt": 600,
	}
	for _, name := range []string{"config", "accounts"} {
		tmpl, err := template.ParseFiles(filepath.Join(testdata, "baresip", name+".tmpl"))
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(b.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := tmpl.Execute(f, vars); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "contacts"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(b.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	b.cmd = exec.Command("baresip", "-f", b.Dir)
	b.cmd.Dir = dir
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	if err := b.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start baresip: %v", err)
	}
	go func() {
		b.err = b.cmd.Wait()
		logf.Close()
		close(b.done)
	}()
	t.Cleanup(func() {
		b.Stop()
		if t.Failed() {
			logFile(t, "baresip "+user+" log", b.LogPath, 32<<10)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !listening("tcp", b.CtrlPort) {
		select {
		case <-b.done:
			logFile(t, "baresip log", b.LogPath, 8<<10)
			t.Fatalf("baresip exited at start (%v); expected ctrl_tcp on 127.0.0.1:%d", b.err, b.CtrlPort)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip ctrl_tcp does not listen on 127.0.0.1:%d after 10 s", b.CtrlPort)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return b
}

// Stop ends baresip: SIGTERM, SIGKILL after 5 s. Idempotent.
func (b *baresip) Stop() {
	select {
	case <-b.done:
		return
	default:
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}

// ctrlResponse is baresip's answer to a ctrl_tcp command.
type ctrlResponse struct {
	Response bool   `json:"response"`
	OK       bool   `json:"ok"`
	Data     string `json:"data"`
	Token    string `json:"token"`
}

// Command sends one ctrl_tcp command ({"command","params","token"} as a netstring) and
// returns the response's data; events that arrive before the response are skipped.
func (b *baresip) Command(cmd, params string) (string, error) {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(b.CtrlPort), 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	token := randomHex(4)
	msg, _ := json.Marshal(map[string]string{"command": cmd, "params": params, "token": token})
	if _, err := fmt.Fprintf(conn, "%d:%s,", len(msg), msg); err != nil {
		return "", err
	}
	rd := bufio.NewReader(conn)
	for {
		payload, err := readNetstring(rd)
		if err != nil {
			return "", fmt.Errorf("ctrl_tcp %s: %w", cmd, err)
		}
		var r ctrlResponse
		if err := json.Unmarshal(payload, &r); err != nil {
			return "", fmt.Errorf("ctrl_tcp %s: decode %q: %w", cmd, payload, err)
		}
		if !r.Response {
			continue // an event
		}
		if !r.OK {
			return r.Data, fmt.Errorf("ctrl_tcp %s %s: not ok: %s", cmd, params, strings.TrimSpace(r.Data))
		}
		return r.Data, nil
	}
}

// readNetstring reads "LEN:PAYLOAD,".
func readNetstring(rd *bufio.Reader) ([]byte, error) {
	head, err := rd.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[:len(head)-1]))
	if err != nil || n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("bad netstring length %q", head)
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(rd, buf); err != nil {
		return nil, err
	}
	if buf[n] != ',' {
		return nil, fmt.Errorf("netstring not terminated by ','")
	}
	return buf[:n], nil
}

// waitFor polls a ctrl_tcp command until its output contains want. The deadline bounds
// a peer that never gets there; it is not a speed requirement.
func (b *baresip) waitFor(cmd, params, want string, timeout time.Duration) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var out string
	var err error
	for {
		out, err = b.Command(cmd, params)
		if err == nil && strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("baresip %s: expected %q in the output of %q within %v; last output %q, error %v",
				b.User, want, cmd, timeout, strings.TrimSpace(out), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var (
	ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	regOK      = regexp.MustCompile(`\sOK\s`)
)

// waitRegistered waits until reginfo says OK. It recognises libre's digest failure
// (baresip 1.0.0 / libre 1.1.0 abort the whole challenge with ENOSYS as soon as one
// WWW-Authenticate header names an algorithm other than MD5) to say so plainly.
func (b *baresip) waitRegistered(timeout time.Duration) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := b.Command("reginfo", "")
		// baresip colours the status ("\x1b[32mOK \x1b[;m"): strip the escapes first.
		if err == nil && regOK.MatchString(ansiEscape.ReplaceAllString(out, "")) {
			return out
		}
		logData, _ := os.ReadFile(b.LogPath)
		if strings.Contains(string(logData), "Register: Function not implemented") {
			b.t.Fatalf("baresip %s did not register: its REGISTER got a challenge libre could not use (\"Register: Function not implemented\" = ENOSYS: "+
				"libre 1.1.0 gives up when any WWW-Authenticate offers an algorithm other than MD5, e.g. SHA-256); expected reginfo OK. reginfo: %q",
				b.User, strings.TrimSpace(out))
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("baresip %s: expected reginfo OK within %v; last output %q, error %v", b.User, timeout, strings.TrimSpace(out), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
