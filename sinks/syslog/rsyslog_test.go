//go:build linux

package syslog

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
)

// The tests here deliver to a real rsyslogd (Debian packages rsyslog, and
// rsyslog-gnutls for TLS), started by the test with its own configuration
// in a temporary directory, and read what it wrote: each message as it came
// (%rawmsg%), and the fields rsyslog's RFC 5424 parser found.

// rsyslogBinary returns rsyslogd's path, or skips the test.
func rsyslogBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("rsyslogd"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/rsyslogd", "/sbin/rsyslogd"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("rsyslogd is not installed: apt-get install -y rsyslog rsyslog-gnutls (Debian) to run the tests against a real rsyslog")
	return ""
}

// requireGTLS skips the test when rsyslog's GnuTLS driver is missing.
func requireGTLS(t *testing.T) {
	t.Helper()
	for _, pattern := range []string{"/usr/lib/*/rsyslog/lmnsd_gtls.so", "/usr/lib/rsyslog/lmnsd_gtls.so", "/usr/lib64/rsyslog/lmnsd_gtls.so"} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return
		}
	}
	t.Skip("rsyslog's GnuTLS driver (lmnsd_gtls.so) is not installed: apt-get install -y rsyslog-gnutls")
}

type rsyslog struct {
	dir    string
	addr   string
	stderr bytes.Buffer
}

// fieldsSep separates the parsed fields in fields.log.
const fieldsSep = "\x1f|"

// startRsyslog runs rsyslogd in the foreground with one TCP input (or UDP,
// with udp) on a free loopback port. tlsGlobal and tlsModule are the
// global() and imtcp module() parameters of a TLS input.
func startRsyslog(t *testing.T, udp bool, tlsGlobal, tlsModule string) *rsyslog {
	t.Helper()
	bin := rsyslogBinary(t)
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	port := freePort(t, udp)
	input := fmt.Sprintf(`module(load="imtcp" %s)
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="sharelog")`, tlsModule, port)
	if udp {
		input = fmt.Sprintf(`module(load="imudp")
input(type="imudp" address="127.0.0.1" port="%d" ruleset="sharelog")`, port)
	}
	// No imuxsock or imklog: this rsyslogd hears the test and nothing else.
	// Control characters are kept as they come (the default escapes a tab
	// as #011, which breaks LEEF's default delimiter).
	conf := fmt.Sprintf(`global(
  workDirectory="%[1]s"
  maxMessageSize="64k"
  parser.escapeControlCharactersOnReceive="off"
  %[2]s
)
%[3]s
template(name="raw" type="string" string="%%rawmsg%%\n")
template(name="fields" type="list") {
  property(name="pri") constant(value="%[5]s")
  property(name="syslogfacility-text") constant(value="%[5]s")
  property(name="syslogseverity-text") constant(value="%[5]s")
  property(name="timereported" dateFormat="rfc3339") constant(value="%[5]s")
  property(name="hostname") constant(value="%[5]s")
  property(name="app-name") constant(value="%[5]s")
  property(name="procid") constant(value="%[5]s")
  property(name="msgid") constant(value="%[5]s")
  property(name="structured-data") constant(value="%[5]s")
  property(name="msg") constant(value="\n")
}
ruleset(name="sharelog") {
  action(type="omfile" file="%[4]s/raw.log" template="raw")
  action(type="omfile" file="%[4]s/fields.log" template="fields")
}
`, work, tlsGlobal, input, dir, fieldsSep)
	confFile := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &rsyslog{dir: dir, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	cmd := exec.Command(bin, "-n", "-f", confFile, "-i", filepath.Join(dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = &r.stderr, &r.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting rsyslogd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("rsyslogd configuration:\n%s\nrsyslogd output:\n%s", conf, r.stderr.String())
		}
	})
	// Ready when the port answers (UDP: when rsyslogd holds the port).
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("rsyslogd exited: %v\n%s", err, r.stderr.String())
		default:
		}
		if udp {
			if pc, err := net.ListenPacket("udp", r.addr); err != nil {
				break // taken: rsyslogd is listening
			} else {
				pc.Close()
			}
		} else if c, err := net.DialTimeout("tcp", r.addr, time.Second); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslogd did not listen on %s within 15 s\n%s", r.addr, r.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r
}

func freePort(t *testing.T, udp bool) int {
	t.Helper()
	if udp {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().(*net.UDPAddr).Port
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// lines waits until file holds n lines and returns them.
func (r *rsyslog) lines(t *testing.T, file string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		raw, _ := os.ReadFile(filepath.Join(r.dir, file))
		lines := strings.Split(string(raw), "\n")
		lines = lines[:len(lines)-1] // after the last "\n"
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15 s rsyslog wrote %d of %d lines to %s:\n%s\nrsyslogd output:\n%s", len(lines), n, file, raw, r.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rsyslogEvents are events whose values need every kind of escaping.
func rsyslogEvents() []*sharelog.Event {
	evs := []*sharelog.Event{fullEvent(), minimalEvent()}
	odd := fullEvent()
	odd.ID = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"
	odd.Action, odd.Result, odd.Reason = sharelog.AccessBlocked, sharelog.Denied, "ip_blocked"
	odd.File.Name = "path=C:\\tmp\\new|file.txt 東京 ü"
	odd.Client.UserAgent = "agent\r\nX-Injected: yes\tTabbed =x"
	odd.Workspace.Name = "caret^ and pipe|"
	evs = append(evs, odd)
	for i := range 20 {
		ev := minimalEvent()
		ev.ID = fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-1%011d", i)
		ev.Link = &sharelog.Link{ID: fmt.Sprintf("lnk-%d", i%5)}
		evs = append(evs, ev)
	}
	return evs
}

// checkRsyslog checks what rsyslog wrote for the messages the sink sent:
// the raw message byte for byte, and the header fields and body rsyslog's
// parser found.
func checkRsyslog(t *testing.T, r *rsyslog, s *Sink, evs []*sharelog.Event) {
	t.Helper()
	want := wantMessages(s, evs)
	raw := r.lines(t, "raw.log", len(want))
	if len(raw) != len(want) {
		t.Errorf("rsyslog wrote %d messages, want %d", len(raw), len(want))
	}
	sortedRaw, sortedWant := slices.Clone(raw), slices.Clone(want)
	slices.Sort(sortedRaw)
	slices.Sort(sortedWant)
	if !slices.Equal(sortedRaw, sortedWant) {
		t.Errorf("rsyslog's raw messages\n got %q\nwant %q", sortedRaw, sortedWant)
	}
	fields := r.lines(t, "fields.log", len(want))
	byID := map[string]*sharelog.Event{}
	for _, ev := range evs {
		byID[ev.ID] = ev
	}
	for _, line := range fields {
		f := strings.SplitN(line, fieldsSep, 10)
		if len(f) != 10 {
			t.Fatalf("fields line %q", line)
		}
		pri, facility, severity, ts, host, app, procid, msgid, sd, msg := f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]
		var id string
		var ext map[string]string
		if s.enc.leef {
			ext = parseLEEF(t, msg, s.enc.delim)
			id = ext["eventId"]
		} else {
			_, ext = parseCEF(t, msg)
			id = ext["externalId"]
		}
		ev := byID[id]
		if ev == nil {
			t.Fatalf("rsyslog has a message of unknown event %q: %q", id, line)
		}
		lv := levelOf(ev)
		wantSeverity := map[int]string{sevWarning: "warning", sevNotice: "notice", sevInfo: "info"}[lv.syslog]
		wantTS := ev.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
		if pri != strconv.Itoa(s.enc.facility*8+lv.syslog) || facility != "local0" || severity != wantSeverity {
			t.Errorf("%s: pri %s facility %s severity %s, want %d local0 %s", id, pri, facility, severity, s.enc.facility*8+lv.syslog, wantSeverity)
		}
		if !strings.HasPrefix(ts, ev.Time.UTC().Format("2006-01-02T15:04:05.000")) {
			t.Errorf("%s: timereported %s, want %s", id, ts, wantTS)
		}
		if host != "web-1" || app != "sharelog" || procid != "-" || msgid != string(ev.Action) || sd != "-" {
			t.Errorf("%s: header fields host %q app %q procid %q msgid %q sd %q", id, host, app, procid, msgid, sd)
		}
		for key, want := range fieldValues(s.enc.leef, ev, s.enc.delim) {
			if ext[key] != want {
				t.Errorf("%s: %s = %q, want %q", id, key, ext[key], want)
			}
		}
	}
}

// fieldValues are the values a SIEM reads back from the body, once
// unescaped.
func fieldValues(leef bool, ev *sharelog.Event, delim byte) map[string]string {
	clean := func(s string) string { return sanitized(s, true) }
	if leef {
		clean = func(s string) string { return strings.ReplaceAll(sanitized(s, false), string(delim), " ") }
	}
	m := map[string]string{}
	if leef {
		m["usrName"] = ev.Actor.Name()
		m["src"] = ev.Client.IP
		m["cat"] = string(ev.Result)
		m["sev"] = strconv.Itoa(levelOf(ev).leef)
		m["workspaceName"] = clean(ev.Workspace.Name)
		if ev.File != nil {
			m["fileName"] = clean(ev.File.Name)
		}
		m["userAgent"] = clean(ev.Client.UserAgent)
	} else {
		m["suser"] = ev.Actor.Name()
		m["src"] = ev.Client.IP
		m["act"] = string(ev.Action)
		m["outcome"] = string(ev.Result)
		m["rt"] = strconv.FormatInt(ev.Time.UnixMilli(), 10)
		if ev.File != nil {
			m["fname"] = clean(ev.File.Name)
		}
		m["requestClientApplication"] = clean(ev.Client.UserAgent)
	}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// parseLEEF returns the attributes of a LEEF 2.0 message, checking its
// header declares delim.
func parseLEEF(t *testing.T, msg string, delim byte) map[string]string {
	t.Helper()
	parts := strings.SplitN(msg, "|", 7)
	if len(parts) != 7 || parts[0] != "LEEF:2.0" {
		t.Fatalf("LEEF message %q", msg)
	}
	if d := parts[5]; !(d == string(delim) || delim == '\t' && d == "x09") {
		t.Fatalf("LEEF delimiter field %q, want %q", d, delim)
	}
	attrs := map[string]string{}
	for _, a := range strings.Split(parts[6], string(delim)) {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			t.Fatalf("LEEF attribute %q without = in %q", a, msg)
		}
		attrs[k] = v
	}
	return attrs
}

func TestRsyslogTCP(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"cef octet counting", Config{Format: FormatCEF}},
		{"cef lf framing", Config{Format: FormatCEF, Framing: FramingNonTransparent}},
		{"leef tab", Config{Format: FormatLEEF}},
		{"leef caret", Config{Format: FormatLEEF, LEEFDelimiter: "^"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startRsyslog(t, false, "", "")
			cfg := tc.cfg
			cfg.Address = r.addr
			s := newSink(t, cfg, Deps{})
			evs := rsyslogEvents()
			if err := s.Write(t.Context(), evs); err != nil {
				t.Fatal(err)
			}
			checkRsyslog(t, r, s, evs)
		})
	}
}

func TestRsyslogUDP(t *testing.T) {
	r := startRsyslog(t, true, "", "")
	s := newSink(t, Config{Network: NetworkUDP, Address: r.addr}, Deps{})
	evs := rsyslogEvents()
	if err := s.Write(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	checkRsyslog(t, r, s, evs)
}

func TestRsyslogTLS(t *testing.T) {
	rsyslogBinary(t)
	requireGTLS(t)
	p := newPKI(t)
	// rsyslog's gtls driver, demanding a client certificate signed by the
	// test CA.
	global := fmt.Sprintf(`defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="%s" defaultNetstreamDriverCertFile="%s" defaultNetstreamDriverKeyFile="%s"`,
		p.caFile, p.serverCert, p.serverKey)
	module := `streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid"`
	r := startRsyslog(t, false, global, module)

	cfg := Config{Network: NetworkTLS, Address: r.addr, Connections: 2,
		TLS: TLS{CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}}
	s := newSink(t, cfg, Deps{})
	evs := rsyslogEvents()
	if err := s.Write(t.Context(), evs[:10]); err != nil {
		t.Fatal(err)
	}
	// Again, on the same connections.
	if err := s.Write(t.Context(), evs[10:]); err != nil {
		t.Fatal(err)
	}
	checkRsyslog(t, r, s, evs)

	t.Run("without a client certificate", func(t *testing.T) {
		cfg := Config{Network: NetworkTLS, Address: r.addr, TLS: TLS{CAFile: p.caFile}}
		s := newSink(t, cfg, Deps{})
		err := s.Write(t.Context(), evs[:1])
		checkRetryable(t, err)
		t.Logf("error: %v", err)
	})
	t.Run("server name checked", func(t *testing.T) {
		cfg := Config{Network: NetworkTLS, Address: r.addr, TLS: TLS{CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey, ServerName: "other.example.com"}}
		s := newSink(t, cfg, Deps{})
		checkRetryable(t, s.Write(t.Context(), evs[:1]))
	})
}
