package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The Kamailio ITSP emulator of the SIP trunk tests: testdata/kamailio/provider.cfg (copied
// from the shared SIP lab, see testdata/kamailio/README.md), one instance per test on a
// loopback address and a port chosen at run time, with its configuration, address file,
// db_text tables, runtime directory and log in the test's temporary directory.
//
// Address plan of the trunk tests (all loopback):
//
//	127.0.0.1  Trunkline and the SIPp extensions (as in every e2e test)
//	127.0.0.2  Kamailio, the provider (realm itsp.lab, accounts pbx1..pbx3)
//	127.0.0.3  the carrier / "PSTN": SIPp UAC sending DID calls (address.list group 2)
//	           and the SIPp UAS Kamailio terminates calls to (PSTN_GW)
//	127.0.0.4  a SIPp peer answering OPTIONS (probe test)
//	127.0.0.9  a source no trunk knows
const (
	itspIP    = "127.0.0.2"
	carrierIP = "127.0.0.3"
	probeIP   = "127.0.0.4"
	strayIP   = "127.0.0.9"
	itspRealm = "itsp.lab"
)

// kamOpts are the knobs of one Kamailio instance.
type kamOpts struct {
	PSTNGW     string // "ip:port" termination calls go to (PSTN_GW); "" = 127.0.0.3:5060
	AuthQOP    bool   // challenges offer qop="auth"
	MinExpires int    // registrar min_expires; 0 = the cfg's 30
	MaxExpires int    // registrar max_expires; 0 = the cfg's 7200
}

// kamailio is one running (or stopped) Kamailio.
type kamailio struct {
	t       testing.TB
	IP      string
	Port    int
	Dir     string // copy of testdata/kamailio
	LogPath string
	ctl     string // ctl socket path (kamcmd -s unix:PATH)
	args    []string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
	runs int
}

// startKamailio copies testdata/kamailio into a temporary directory and starts Kamailio
// on 127.0.0.2 and a free port (UDP and TCP). It is stopped when the test ends; its log is
// written to the test log if the test failed.
func startKamailio(t testing.TB, o kamOpts) *kamailio {
	t.Helper()
	requirePeer(t, "kamailio", "kamcmd")
	dir := t.TempDir()
	copyTree(t, filepath.Join(testdata, "kamailio"), dir)
	k := &kamailio{
		t:       t,
		IP:      itspIP,
		Port:    freePortOn(t, itspIP, true),
		Dir:     dir,
		LogPath: filepath.Join(dir, "kamailio.log"),
		ctl:     filepath.Join(dir, "run", "ctl"),
	}
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	gw := o.PSTNGW
	if gw == "" {
		gw = carrierIP + ":5060"
	}
	k.args = []string{
		"-f", filepath.Join(dir, "provider.cfg"),
		"-A", "ITSP_IP=" + k.IP,
		"-A", "ITSP_PORT=" + strconv.Itoa(k.Port),
		"-A", `PSTN_GW="sip:` + gw + `"`,
		"-A", `REALM="` + itspRealm + `"`,
		"-A", `DB_URL="text://` + filepath.Join(dir, "db") + `"`,
		"-A", `CTL_SOCK="unix:` + k.ctl + `"`,
		"-A", "DBG_LEVEL=2",
		"-A", "CHILDREN=2",
	}
	if o.AuthQOP {
		k.args = append(k.args, "-A", `AUTH_QOP="1"`)
	}
	if o.MinExpires > 0 {
		k.args = append(k.args, "-A", "MIN_EXPIRES="+strconv.Itoa(o.MinExpires))
	}
	if o.MaxExpires > 0 {
		k.args = append(k.args, "-A", "MAX_EXPIRES="+strconv.Itoa(o.MaxExpires))
	}
	// -DD: the main process stays in the foreground; -E: log to stderr (our log file).
	// Small shared/private memory: a handful of calls per test, many instances at once.
	k.args = append(k.args, "-DD", "-E", "-Y", filepath.Join(dir, "run"), "-w", filepath.Join(dir, "run"),
		"-m", "48", "-M", "8")
	t.Cleanup(func() {
		k.Stop()
		if t.Failed() {
			logFile(t, "kamailio log", k.LogPath, 128<<10)
		}
	})
	k.Start()
	return k
}

// Addr is Kamailio's SIP address "127.0.0.2:port".
func (k *kamailio) Addr() string { return net.JoinHostPort(k.IP, strconv.Itoa(k.Port)) }

// Start starts Kamailio (again, after Kill9 or Stop) on the same address and port and
// waits until it listens on UDP and answers on its ctl socket.
func (k *kamailio) Start() {
	t := k.t
	t.Helper()
	k.runs++
	logf, err := os.OpenFile(k.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "==== e2e: start #%d of kamailio at %s: kamailio %s\n", k.runs, time.Now().Format(time.RFC3339Nano), strings.Join(k.args, " "))
	_ = os.Remove(k.ctl)
	cmd := exec.Command("kamailio", k.args...)
	cmd.Dir = k.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: Kill9 takes the children (the UDP/TCP workers) too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kamailio: %v", err)
	}
	k.cmd, k.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		k.err = cmd.Wait()
		close(done)
	}(k.done)
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-k.done:
			logFile(t, "kamailio log", k.LogPath, 32<<10)
			t.Fatalf("kamailio exited during start-up (%v); expected it to listen on udp %s", k.err, k.Addr())
		default:
		}
		if boundOn("udp", k.IP, k.Port) {
			if _, err := os.Stat(k.ctl); err == nil {
				if _, err := k.kamcmd("core.version"); err == nil {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			logFile(t, "kamailio log", k.LogPath, 32<<10)
			t.Fatalf("kamailio does not listen on udp %s with its ctl socket %s after 15 s", k.Addr(), k.ctl)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (k *kamailio) running() bool {
	if k.done == nil {
		return false
	}
	select {
	case <-k.done:
		return false
	default:
		return true
	}
}

// signalGroup signals Kamailio's process group while its leader has not been reaped
// (so that the group id cannot belong to anyone else).
func (k *kamailio) signalGroup(sig syscall.Signal) {
	if k.running() {
		_ = syscall.Kill(-k.cmd.Process.Pid, sig)
	}
}

// Stop ends Kamailio with SIGTERM (SIGKILL after 5 s). Idempotent.
func (k *kamailio) Stop() {
	if !k.running() {
		return
	}
	k.signalGroup(syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(5 * time.Second):
		k.t.Logf("kamailio did not exit within 5 s of SIGTERM: SIGKILL")
		k.signalGroup(syscall.SIGKILL)
		<-k.done
	}
	k.waitPortFree()
}

// Kill9 kills Kamailio and its children with SIGKILL: the provider is gone at once (its
// in-memory registrations too) and answers nothing any more.
func (k *kamailio) Kill9() {
	k.t.Helper()
	if !k.running() {
		k.t.Fatalf("Kill9: kamailio is not running (exit: %v)", k.err)
	}
	k.signalGroup(syscall.SIGKILL)
	<-k.done
	if f, err := os.OpenFile(k.LogPath, os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintf(f, "==== e2e: kamailio killed with SIGKILL at %s\n", time.Now().Format(time.RFC3339Nano))
		f.Close()
	}
	k.waitPortFree()
}

// waitPortFree waits until no process (a worker of the killed group) holds the UDP port.
func (k *kamailio) waitPortFree() {
	deadline := time.Now().Add(5 * time.Second)
	for boundOn("udp", k.IP, k.Port) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if boundOn("udp", k.IP, k.Port) {
		k.t.Errorf("udp %s still bound 5 s after kamailio exited", k.Addr())
	}
}

// kamcmd runs an RPC command through the ctl socket.
func (k *kamailio) kamcmd(args ...string) (string, error) {
	out, err := exec.Command("kamcmd", append([]string{"-s", "unix:" + k.ctl}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kamcmd %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// lookup returns the bindings of a provider account (kamcmd ul.lookup location USER) as
// contact address -> remaining seconds; an AOR without bindings is an empty map.
func (k *kamailio) lookup(user string) (map[string]int, string, error) {
	out, err := k.kamcmd("ul.lookup", "location", user)
	if err != nil {
		if strings.Contains(out, "AOR not found") {
			return map[string]int{}, out, nil
		}
		return nil, out, err
	}
	got := map[string]int{}
	var addr string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "Address: "); ok {
			addr = v
		}
		if v, ok := strings.CutPrefix(line, "Expires: "); ok && addr != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				n = -1 // "permanent" or "deleted"
			}
			got[addr] = n
			addr = ""
		}
	}
	return got, out, nil
}

// logText is Kamailio's whole log so far.
func (k *kamailio) logText() string {
	data, _ := os.ReadFile(k.LogPath)
	return string(data)
}

// kamRegister is one REGISTER as the provider logged it.
type kamRegister struct {
	User        string
	Expires     string // the Expires header, "<null>" if absent
	Contact     string
	Source      string
	At          time.Time
	Credentials string // the Authorization header, "none" if absent
	Txn         string // "CSeq Call-ID" from the log prefix: a retransmission has the same
	Line        string
}

var (
	reRegReceived = regexp.MustCompile(`REGISTER received user=(\S*) expires=(\S*) contact=(.*?) from (\S+) at (\d+)\.(\d+) credentials: (.*)$`)
	reLogPrefix   = regexp.MustCompile(`\{1 (\d+ [A-Z]+) (\S+)\}`) // log_prefix "{$mt $hdr(CSeq) $ci}"
	reRegOK       = regexp.MustCompile(`REGISTER ok user=(\S*) contact=(.*?) expires=(\S*) from (\S+) \(\w+\) at (\d+)\.(\d+)$`)
)

func tvTime(sec, usec string) time.Time {
	s, _ := strconv.ParseInt(sec, 10, 64)
	u, _ := strconv.ParseInt(usec, 10, 64)
	return time.Unix(s, u*1000)
}

// txnOf is "CSeq Call-ID" of a log line (its log prefix), "" if it has none.
func txnOf(line string) string {
	if m := reLogPrefix.FindStringSubmatch(line); m != nil {
		return m[1] + " " + m[2]
	}
	return ""
}

// dedupTxn drops log lines of retransmissions (same CSeq and Call-ID as an earlier line).
func dedupTxn(lines []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, line := range lines {
		if tx := txnOf(line); tx != "" {
			if seen[tx] {
				continue
			}
			seen[tx] = true
		}
		out = append(out, line)
	}
	return out
}

// registers returns every REGISTER request the provider received for user ("" = any
// user), in order, challenged ones and un-REGISTERs included, retransmissions dropped.
func (k *kamailio) registers(user string) []kamRegister {
	var out []kamRegister
	for _, line := range dedupTxn(k.logLines("REGISTER received")) {
		m := reRegReceived.FindStringSubmatch(line)
		if m == nil || (user != "" && m[1] != user) {
			continue
		}
		out = append(out, kamRegister{User: m[1], Expires: m[2], Contact: m[3], Source: m[4],
			At: tvTime(m[5], m[6]), Credentials: m[7], Txn: txnOf(line), Line: line})
	}
	return out
}

// registersOK returns the REGISTERs of user the provider accepted (binding saved),
// retransmissions dropped.
func (k *kamailio) registersOK(user string) []kamRegister {
	var out []kamRegister
	for _, line := range dedupTxn(k.logLines("REGISTER ok")) {
		m := reRegOK.FindStringSubmatch(line)
		if m == nil || (user != "" && m[1] != user) {
			continue
		}
		out = append(out, kamRegister{User: m[1], Contact: m[2], Expires: m[3], Source: m[4],
			At: tvTime(m[5], m[6]), Txn: txnOf(line), Line: line})
	}
	return out
}

// logLines returns the log lines containing all of the substrings.
func (k *kamailio) logLines(subs ...string) []string {
	var out []string
next:
	for _, line := range strings.Split(k.logText(), "\n") {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

func joinRegisters(list []kamRegister) string {
	if len(list) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, r := range list {
		fmt.Fprintf(&b, "  %s\n", strings.TrimSpace(r.Line))
	}
	return b.String()
}

// copyTree copies a directory of regular files (one level of subdirectories and more).
func copyTree(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", from, to, err)
	}
}

// freePortOn returns a port free on UDP (and TCP if tcp) of a loopback address, not yet
// handed out by this test process.
func freePortOn(t testing.TB, ip string, tcp bool) int {
	t.Helper()
	addr := net.ParseIP(ip).To4()
	for range 200 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: addr})
		if err != nil {
			t.Fatalf("probe UDP port on %s: %v", ip, err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		if tcp {
			l, err := net.Listen("tcp4", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				u.Close()
				continue
			}
			l.Close()
		}
		u.Close()
		if reserve(port) {
			return port
		}
	}
	t.Fatalf("no free port on %s", ip)
	return 0
}

// boundOn is listening() for any IPv4 address: some process has bound ip:port (UDP)
// or listens on it (TCP), or on the wildcard address.
func boundOn(proto, ip string, port int) bool {
	file := "/proc/net/udp"
	if proto == "tcp" {
		file = "/proc/net/tcp"
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	a := net.ParseIP(ip).To4()
	want := fmt.Sprintf("%02X%02X%02X%02X:%04X", a[3], a[2], a[1], a[0], port)
	wild := fmt.Sprintf("00000000:%04X", port)
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || (f[1] != want && f[1] != wild) {
			continue
		}
		if proto == "udp" || f[3] == "0A" {
			return true
		}
	}
	return false
}

// SIPp on another loopback address than 127.0.0.1 (the carrier, the PSTN gateway, a stray
// source): the harness's sippRun with -i and -mi replaced.

// startSIPpOn starts SIPp bound to ip in the background and waits until it listens.
func startSIPpOn(t testing.TB, ip string, s *sippRun) *sippProc {
	t.Helper()
	return startSIPpOnProc(t, ip, s, true)
}

// runSIPpOn runs SIPp bound to ip in the foreground until it exits.
func runSIPpOn(t testing.TB, ip string, s *sippRun) *sippResult {
	t.Helper()
	p := startSIPpOnProc(t, ip, s, false)
	res, err := p.wait(s.Timeout + 20*time.Second)
	if err != nil {
		t.Errorf("sipp %s: %v", s.Name, err)
	}
	return res
}

// callIDOn is the Call-ID of call n of a SIPp run bound to ip.
func callIDOn(s *sippRun, ip string, n int) string { return fmt.Sprintf("%s-%d@%s", s.CallID, n, ip) }

// startSIPpOnProc runs SIPp bound to ip (its -i and -mi). In the background it
// returns once SIPp listens; in the foreground the caller waits for it. It is stopped,
// and its logs dumped if the test failed, at the end of the test.
func startSIPpOnProc(t testing.TB, ip string, s *sippRun, background bool) *sippProc {
	t.Helper()
	requirePeer(t, "sipp")
	if s.Port == 0 && ip != "127.0.0.1" {
		s.Port = freePortOn(t, ip, s.TCP) // prepare picks ports free on 127.0.0.1
	}
	res, args := s.prepare(t)
	for i := 0; ip != "127.0.0.1" && i+1 < len(args); i++ {
		if args[i] == "-i" || args[i] == "-mi" {
			args[i+1] = ip
		}
	}
	out, err := os.Create(res.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sipp", args...)
	cmd.Dir = res.Dir
	cmd.Stdout, cmd.Stderr = out, out
	p := &sippProc{t: t, run: s, cmd: cmd, done: make(chan struct{}), res: res, Port: s.Port, Media: s.MediaPort, stdout: out}
	if err := os.WriteFile(filepath.Join(res.Dir, "cmdline"), []byte("sipp "+strings.Join(args, " ")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start sipp: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			p.dump()
		}
	})
	if background {
		proto := "udp"
		if s.TCP {
			proto = "tcp"
		}
		deadline := time.Now().Add(10 * time.Second)
		for !boundOn(proto, ip, s.Port) {
			select {
			case <-p.done:
				p.finish()
				p.dump()
				t.Fatalf("sipp %s exited at start (%v, exit code %d); expected it to listen on %s:%d",
					s.Name, p.err, p.res.ExitCode, ip, s.Port)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("sipp %s does not listen on %s %s:%d after 10 s", s.Name, proto, ip, s.Port)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return p
}
