package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sippRun describes one SIPp process. SIPp always runs on 127.0.0.1 with ports chosen
// at run time, with -nostdin and -trace_err -trace_stat -trace_screen into a fresh
// directory (its working directory, which also holds a link to testdata/sipp/pcap
// because play_pcap_audio paths are relative to it).
type sippRun struct {
	Name      string        // label for logs and file names
	Scenario  string        // file name in testdata/sipp
	Remote    string        // "127.0.0.1:port" to send to; "" for a UAS
	Port      int           // -p; 0 = a free port is chosen
	MediaPort int           // -mp; 0 = a free even port (+3 more) is chosen
	Service   string        // -s: Request-URI user (the dialed number)
	Caller    string        // -key caller: From/Contact user (default "sipp")
	AuthUser  string        // -au
	AuthPass  string        // -ap
	CallID    string        // -cid_str prefix; Call-ID of call n is CallID-n@127.0.0.1
	Calls     int           // -m; default 1
	Rate      int           // -r calls per second; default SIPp's 10
	Pause     time.Duration // -d
	Timeout   time.Duration // -timeout; default 60 s
	CSV       string        // -inf content (written to a file)
	TCP       bool          // -t t1 instead of UDP
	TraceMsg  bool          // -trace_msg
	Args      []string      // more options
}

// sippResult is what a finished SIPp run left behind.
type sippResult struct {
	Name       string
	ExitCode   int
	Successful int // cumulative "successful calls" (-1 = not found in any log)
	Failed     int // cumulative "failed calls" (-1 = not found)
	Dir        string
	Stdout     string
	ErrorLog   string
	MessageLog string
	ScreenLog  string
	StatCSV    string
}

func (r *sippResult) String() string {
	return fmt.Sprintf("sipp %s: exit code %d, %d successful, %d failed calls", r.Name, r.ExitCode, r.Successful, r.Failed)
}

// CallIDOf is the Call-ID SIPp used for call number n (1-based) of a run with CallID set.
func (s *sippRun) CallIDOf(n int) string { return fmt.Sprintf("%s-%d@127.0.0.1", s.CallID, n) }

// sippProc is a SIPp process in the background (a UAS, or a UAC left running).
type sippProc struct {
	t      testing.TB
	run    *sippRun
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	res    *sippResult
	Port   int // SIP port it listens on
	Media  int // media port
	stdout *os.File
}

// prepare fills in defaults and builds the command line.
func (s *sippRun) prepare(t testing.TB) (*sippResult, []string) {
	t.Helper()
	if s.Name == "" {
		s.Name = strings.TrimSuffix(s.Scenario, ".xml")
	}
	if s.Port == 0 && s.TCP {
		s.Port = freeSIPPort(t)
	} else if s.Port == 0 {
		s.Port = freeUDPPort(t)
	}
	if s.MediaPort == 0 {
		s.MediaPort, _ = freeUDPRange(t, 4) // SIPp binds -mp and -mp+2 (video)
	}
	if s.Calls == 0 {
		s.Calls = 1
	}
	if s.Timeout == 0 {
		s.Timeout = 60 * time.Second
	}
	if s.CallID == "" {
		s.CallID = s.Name + "-" + randomHex(6)
	}
	if s.Caller == "" {
		s.Caller = "sipp"
	}
	dir, err := os.MkdirTemp(t.TempDir(), "sipp-"+s.Name+"-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(testdata, "sipp", "pcap"), filepath.Join(dir, "pcap")); err != nil {
		t.Fatal(err)
	}
	res := &sippResult{
		Name:       s.Name,
		Successful: -1,
		Failed:     -1,
		Dir:        dir,
		Stdout:     filepath.Join(dir, "stdout.log"),
		ErrorLog:   filepath.Join(dir, "errors.log"),
		ScreenLog:  filepath.Join(dir, "screen.log"),
		StatCSV:    filepath.Join(dir, "stat.csv"),
	}
	args := []string{}
	if s.Remote != "" {
		args = append(args, s.Remote)
	}
	args = append(args,
		"-sf", filepath.Join(testdata, "sipp", s.Scenario),
		"-i", "127.0.0.1", "-p", strconv.Itoa(s.Port),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(s.MediaPort),
		"-m", strconv.Itoa(s.Calls),
		"-timeout", fmt.Sprintf("%ds", int(s.Timeout.Seconds())),
		"-cid_str", s.CallID+"-%u@%s",
		"-key", "caller", s.Caller,
		"-nostdin",
		"-trace_err", "-error_file", res.ErrorLog,
		"-trace_screen", "-screen_file", res.ScreenLog,
		"-trace_stat", "-stf", res.StatCSV, "-fd", "1",
	)
	if s.Service != "" {
		args = append(args, "-s", s.Service)
	}
	if s.AuthUser != "" {
		args = append(args, "-au", s.AuthUser, "-ap", s.AuthPass)
	}
	if s.Rate > 0 {
		args = append(args, "-r", strconv.Itoa(s.Rate))
	}
	if s.Pause > 0 {
		args = append(args, "-d", strconv.Itoa(int(s.Pause.Milliseconds())))
	}
	if s.TCP {
		args = append(args, "-t", "t1")
	}
	if s.TraceMsg {
		res.MessageLog = filepath.Join(dir, "messages.log")
		args = append(args, "-trace_msg", "-message_file", res.MessageLog)
	}
	if s.CSV != "" {
		csv := filepath.Join(dir, "inject.csv")
		if err := os.WriteFile(csv, []byte(s.CSV), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-inf", csv)
	}
	args = append(args, s.Args...)
	return res, args
}

// runSIPp runs SIPp in the foreground until it exits. The harness kills it 20 s after its
// own -timeout (SIPp waits for calls in progress after -timeout).
func runSIPp(t testing.TB, s *sippRun) *sippResult {
	t.Helper()
	p := startSIPpProc(t, s, false)
	res, err := p.wait(s.Timeout + 20*time.Second)
	if err != nil {
		t.Errorf("sipp %s: %v", s.Name, err)
	}
	return res
}

// startSIPp starts SIPp in the background and waits until it listens on its port. It is
// stopped (SIGUSR1, then SIGKILL) when the test ends unless it has exited by then.
func startSIPp(t testing.TB, s *sippRun) *sippProc {
	t.Helper()
	return startSIPpProc(t, s, true)
}

// startSIPpProc runs SIPp on 127.0.0.1 (startSIPpOnProc has the details).
func startSIPpProc(t testing.TB, s *sippRun, background bool) *sippProc {
	t.Helper()
	return startSIPpOnProc(t, "127.0.0.1", s, background)
}

// wait waits for SIPp to exit by itself; after timeout it is stopped and an error returned.
func (p *sippProc) wait(timeout time.Duration) (*sippResult, error) {
	select {
	case <-p.done:
		return p.finish(), nil
	case <-time.After(timeout):
		p.Stop()
		return p.res, fmt.Errorf("did not exit within %v; stopped (%v)", timeout, p.res)
	}
}

// Wait waits for a background SIPp that ends by itself (-m N calls done).
func (p *sippProc) Wait(timeout time.Duration) *sippResult {
	p.t.Helper()
	res, err := p.wait(timeout)
	if err != nil {
		p.t.Errorf("sipp %s: %v", p.run.Name, err)
	}
	return res
}

// Stop ends SIPp: SIGUSR1 (soft exit, SIPp writes its screen file), SIGKILL after 5 s.
func (p *sippProc) Stop() *sippResult {
	select {
	case <-p.done:
		return p.finish()
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGUSR1)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.finish()
}

// finish records the exit code and the call counts; the process must have exited.
func (p *sippProc) finish() *sippResult {
	p.res.ExitCode = 0
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		p.res.ExitCode = ee.ExitCode()
	} else if p.err != nil {
		p.res.ExitCode = -1
	}
	p.res.Successful, p.res.Failed = sippCounts(p.res)
	return p.res
}

// dump writes the interesting SIPp files to the test log.
func (p *sippProc) dump() {
	t := p.t
	t.Logf("==== %s (dir %s)", p.res, p.res.Dir)
	if cmdline, err := os.ReadFile(filepath.Join(p.res.Dir, "cmdline")); err == nil {
		t.Logf("command: %s", cmdline)
	}
	if _, err := os.Stat(p.res.ErrorLog); err == nil {
		logFile(t, "sipp "+p.res.Name+" errors", p.res.ErrorLog, 16<<10)
	}
	if _, err := os.Stat(p.res.ScreenLog); err == nil {
		logFile(t, "sipp "+p.res.Name+" screens", p.res.ScreenLog, 8<<10)
	} else {
		logFile(t, "sipp "+p.res.Name+" output", p.res.Stdout, 4<<10)
	}
	if p.res.MessageLog != "" {
		logFile(t, "sipp "+p.res.Name+" messages", p.res.MessageLog, 24<<10)
	}
}

// sippCounts reads the cumulative successful/failed call counters from the last line of
// the -trace_stat CSV (columns found by name), or else from the -trace_screen file.
func sippCounts(r *sippResult) (ok, failed int) {
	ok, failed = -1, -1
	if data, err := os.ReadFile(r.StatCSV); err == nil {
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) >= 2 {
			head := strings.Split(lines[0], ";")
			last := strings.Split(lines[len(lines)-1], ";")
			for i, name := range head {
				if i >= len(last) {
					break
				}
				switch name {
				case "SuccessfulCall(C)":
					ok, _ = strconv.Atoi(strings.TrimSpace(last[i]))
				case "FailedCall(C)":
					failed, _ = strconv.Atoi(strings.TrimSpace(last[i]))
				}
			}
		}
	}
	if ok >= 0 && failed >= 0 {
		return ok, failed
	}
	// screen: "  Successful call        |        0                  |        1"
	f, err := os.Open(r.ScreenLog)
	if err != nil {
		return ok, failed
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "|")
		if len(cols) != 3 {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(cols[2]))
		if err != nil {
			continue
		}
		switch strings.TrimSpace(cols[0]) {
		case "Successful call":
			ok = n
		case "Failed call":
			failed = n
		}
	}
	return ok, failed
}

// expectCalls fails the test unless SIPp exited 0 with exactly n successful and 0 failed
// calls. what says what the calls were supposed to prove.
func expectCalls(t testing.TB, r *sippResult, n int, what string) {
	t.Helper()
	if r.ExitCode != 0 || r.Successful != n || r.Failed != 0 {
		t.Errorf("%s: expected sipp %s to exit 0 with %d successful and 0 failed calls; got exit code %d, %d successful, %d failed%s",
			what, r.Name, n, r.ExitCode, r.Successful, r.Failed, firstError(r))
	}
}

// expectUASCalls is expectCalls for a UAS stopped by the harness (exit code not checked:
// SIPp stopped with SIGUSR1 exits non-zero even when every call was fine).
func expectUASCalls(t testing.TB, r *sippResult, n int, what string) {
	t.Helper()
	if r.Successful != n || r.Failed != 0 {
		t.Errorf("%s: expected sipp %s to count %d successful and 0 failed calls; got %d successful, %d failed (exit code %d)%s",
			what, r.Name, n, r.Successful, r.Failed, r.ExitCode, firstError(r))
	}
}

// firstError is the first lines of SIPp's error log, for failure messages.
func firstError(r *sippResult) string {
	data, err := os.ReadFile(r.ErrorLog)
	if err != nil || len(data) == 0 {
		return ""
	}
	s := string(data)
	if len(s) > 1500 {
		s = s[:1500] + " ..."
	}
	return "\nsipp error log:\n" + s
}

// regLine is one line of the -inf file of register_auth.xml / register_reject.xml.
type regLine struct {
	User     string // AOR user (From/To)
	AuthUser string // digest username
	Password string
	Expires  int
	Contact  string // ip:port of the Contact
}

// registerCSV writes "user;[authentication username=u password=p];expires;contact".
func registerCSV(lines ...regLine) string {
	var b strings.Builder
	b.WriteString("SEQUENTIAL\n")
	for _, l := range lines {
		fmt.Fprintf(&b, "%s;[authentication username=%s password=%s];%d;%s\n", l.User, l.AuthUser, l.Password, l.Expires, l.Contact)
	}
	return b.String()
}

// registerWithSIPp registers user from 127.0.0.1:port with Contact sip:user@127.0.0.1:port
// (REGISTER -> 401 -> REGISTER with credentials -> 200) and fails the test otherwise.
// The UA that answers calls for user (a SIPp UAS) is started on the same port afterwards,
// so the binding's contact and source address are both where it listens.
func registerWithSIPp(t testing.TB, inst *instance, user, password string, port int) {
	t.Helper()
	r := runSIPp(t, &sippRun{
		Name:     "register-" + user,
		Scenario: "register_auth.xml",
		Remote:   inst.SIPAddr(),
		Port:     port,
		CSV:      registerCSV(regLine{user, user, password, 3600, fmt.Sprintf("127.0.0.1:%d", port)}),
		Timeout:  20 * time.Second,
		TraceMsg: true,
	})
	expectCalls(t, r, 1, "REGISTER of "+user+" (401 challenge, then 200)")
	if t.Failed() {
		t.FailNow()
	}
}
