package syslog

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/sharelog/sharelog"
)

func newSink(t testing.TB, cfg Config, deps Deps) *Sink {
	t.Helper()
	if cfg.Hostname == "" {
		cfg.Hostname = "web-1"
	}
	cfg.SetDefaults()
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// events returns n events over the given number of links, in order.
func events(n, links int) []*sharelog.Event {
	out := make([]*sharelog.Event, n)
	for i := range out {
		ev := minimalEvent()
		ev.ID = fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", i+1)
		ev.Time = ev.Time.Add(time.Duration(i) * time.Millisecond)
		ev.Action = sharelog.LinkOpened
		ev.Link = &sharelog.Link{ID: fmt.Sprintf("lnk-%d", i%links)}
		ev.File = &sharelog.File{ID: "f-1", Name: "Résumé – v2.pdf", Size: 12345}
		ev.Client.UserAgent = "curl/8.5.0\nInjected: line"
		out[i] = ev
	}
	return out
}

// wantMessages is what the sink's encoder makes of evs.
func wantMessages(s *Sink, evs []*sharelog.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		b, _ := s.enc.appendMessage(nil, ev)
		out[i] = string(b)
	}
	return out
}

func TestTCPOctetCountingBytes(t *testing.T) {
	r := listenTCP(t, true, nil, nil)
	s := newSink(t, Config{Address: r.addr(), Connections: 1}, Deps{})
	ev := minimalEvent()
	if err := s.Write(t.Context(), []*sharelog.Event{ev}); err != nil {
		t.Fatal(err)
	}
	r.waitMessages(1)
	// Written out by hand: the length counts bytes.
	msg := "<134>1 2026-11-22T10:00:00.000Z web-1 sharelog - file.uploaded - " +
		"CEF:0|sharelog|sharelog|1|file.uploaded|File uploaded|3|" +
		"rt=1795341600000 externalId=0193a1b2-c3d4-7e5f-8a9b-000000000001 cat=file act=file.uploaded outcome=success " +
		"suser=ann@example.com src=2001:db8::1 cs2Label=workspaceId cs2=ws-1 " +
		"flexString1Label=clientKind flexString1=cli flexString2Label=actorType flexString2=user"
	want := fmt.Sprintf("%d %s", len(msg), msg)
	if got := string(r.connections()[0].raw); got != want {
		t.Errorf("on the wire\n got %q\nwant %q", got, want)
	}

	// A batch: frames back to back, in order, on the one connection.
	evs := events(50, 7)
	if err := s.Write(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	r.waitMessages(51)
	var wire strings.Builder
	wire.WriteString(want)
	for _, m := range wantMessages(s, evs) {
		fmt.Fprintf(&wire, "%d %s", len(m), m)
	}
	conns := r.connections()
	if len(conns) != 1 {
		t.Fatalf("%d connections, want 1", len(conns))
	}
	if got := string(conns[0].raw); got != wire.String() {
		t.Errorf("on the wire\n got %q\nwant %q", got, wire.String())
	}
	r.checkFraming()
}

func TestTCPNonTransparentFraming(t *testing.T) {
	r := listenTCP(t, false, nil, nil)
	s := newSink(t, Config{Address: r.addr(), Connections: 1, Framing: FramingNonTransparent, Format: FormatLEEF}, Deps{})
	evs := events(20, 3)
	if err := s.Write(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	got := r.waitMessages(20)
	want := wantMessages(s, evs)
	if !slices.Equal(got, want) {
		t.Errorf("messages\n got %q\nwant %q", got, want)
	}
	if raw := string(r.connections()[0].raw); raw != strings.Join(want, "\n")+"\n" {
		t.Errorf("on the wire %q", raw)
	}
	for _, m := range got {
		if !strings.Contains(m, "\tuserAgent=curl/8.5.0 Injected: line") {
			t.Errorf("the line break in the user agent was not made a space: %q", m)
		}
	}
	r.checkFraming()
}

func TestEachLinkKeepsItsConnection(t *testing.T) {
	r := listenTCP(t, true, nil, nil)
	s := newSink(t, Config{Address: r.addr(), Connections: 4}, Deps{})
	evs := events(400, 25)
	// Concurrent writers, as the engine's lanes: each takes the links
	// whose number is its own modulo 4, in order.
	var wg sync.WaitGroup
	for lane := range 4 {
		wg.Go(func() {
			var mine []*sharelog.Event
			for i, ev := range evs {
				if (i%25)%4 == lane {
					mine = append(mine, ev)
				}
			}
			for len(mine) > 0 {
				n := min(len(mine), 13)
				if err := s.Write(t.Context(), mine[:n]); err != nil {
					t.Error(err)
					return
				}
				mine = mine[n:]
			}
		})
	}
	wg.Wait()
	r.waitMessages(400)
	conns := r.connections()
	if len(conns) > 4 {
		t.Errorf("%d connections for 4 slots", len(conns))
	}
	connOf := map[string]int{}
	for ci, c := range conns {
		last := map[string]string{}
		for _, m := range c.msgs {
			_, ext := parseCEF(t, syslogBody(t, m))
			link, id := ext["cs1"], ext["externalId"]
			if prev, ok := connOf[link]; ok && prev != ci {
				t.Fatalf("link %s on connections %d and %d", link, prev, ci)
			}
			connOf[link] = ci
			if id <= last[link] {
				t.Fatalf("link %s: %s after %s", link, id, last[link])
			}
			last[link] = id
		}
	}
	if len(connOf) != 25 {
		t.Errorf("%d links received, want 25", len(connOf))
	}
	r.checkFraming()
}

func TestUDPOneMessagePerDatagram(t *testing.T) {
	u := listenUDP(t)
	reg := prometheus.NewRegistry()
	s := newSink(t, Config{Network: NetworkUDP, Address: u.pc.LocalAddr().String(), Connections: 1, MaxMessageSize: 1024}, Deps{Registerer: reg})
	evs := events(5, 2)
	evs[2].Client.UserAgent = strings.Repeat("Ü", 600) // 1200 bytes: cut
	if err := s.Write(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	got := u.waitMessages(t, 5)
	full := wantMessages(s, evs) // already cut by the sink's encoder
	slices.Sort(got)
	slices.Sort(full)
	if !slices.Equal(got, full) {
		t.Fatalf("datagrams\n got %q\nwant %q", got, full)
	}
	long := 0
	for _, m := range got {
		if len(m) > 1024 {
			t.Errorf("datagram of %d bytes over max_message_size 1024", len(m))
		}
		if strings.Contains(m, "ÜÜ") {
			long++
			if len(m) < 1023 || !strings.HasSuffix(m, "Ü") {
				t.Errorf("cut message: %d bytes, ends %q", len(m), m[len(m)-4:])
			}
		}
	}
	if long != 1 {
		t.Errorf("%d cut messages, want 1", long)
	}
	if n := testutil.ToFloat64(s.m.truncated); n != 1 {
		t.Errorf("sharelog_syslog_truncated_total %v, want 1", n)
	}
	if n, err := testutil.GatherAndCount(reg, "sharelog_syslog_messages_total"); err != nil || n != 1 {
		t.Errorf("messages metric: %d series, %v", n, err)
	}
}

func TestTLS(t *testing.T) {
	p := newPKI(t)
	r := listenTCP(t, true, p.serverTLS(true), nil)
	cfg := Config{Network: NetworkTLS, Address: r.addr(), Connections: 2,
		TLS: TLS{CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}}
	s := newSink(t, cfg, Deps{})
	evs := events(30, 5)
	if err := s.Write(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	got := r.waitMessages(30)
	want := wantMessages(s, evs)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("messages\n got %q\nwant %q", got, want)
	}
	r.checkFraming()
	// The connections are reused, TLS 1.3 session tickets read on the way.
	if err := s.Write(t.Context(), evs[:10]); err != nil {
		t.Fatal(err)
	}
	r.waitMessages(40)
	if n := testutil.ToFloat64(s.m.dials.WithLabelValues("ok")); n != 2 {
		t.Errorf("%v connections made, want 2", n)
	}
}

func TestTLSFailures(t *testing.T) {
	p := newPKI(t)
	r := listenTCP(t, true, p.serverTLS(true), nil)
	for name, tc := range map[string]struct {
		tls  TLS
		want string
	}{
		"unknown authority": {TLS{CAFile: p.otherCAFile}, "certificate signed by unknown authority"},
		"wrong name":        {TLS{CAFile: p.caFile, ServerName: "syslog.example.com"}, "not syslog.example.com"},
		"system roots":      {TLS{}, "certificate signed by unknown authority"},
		// TLS 1.3: the receiver refuses after the handshake; the sink
		// waits for that before writing.
		"no client certificate": {TLS{CAFile: p.caFile}, "certificate required"},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSink(t, Config{Network: NetworkTLS, Address: r.addr(), TLS: tc.tls}, Deps{})
			err := s.Write(t.Context(), events(1, 1))
			checkRetryable(t, err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	if _, err := New(Config{Network: NetworkTLS, Address: r.addr(), TLS: TLS{CAFile: filepath.Join(t.TempDir(), "none.pem"), MinVersion: "1.2"},
		Format: FormatCEF, Facility: "local0", AppName: "a", Vendor: "v", Product: "p", ProductVersion: "1", Connections: 1, Framing: FramingOctetCounting, Confirm: ConfirmTCPAck}, Deps{}); err == nil || !strings.Contains(err.Error(), "tls.ca_file") {
		t.Errorf("missing CA file: %v", err)
	}
}

func checkRetryable(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("Write returned nil")
	}
	var re *sharelog.RetryableError
	if !errors.As(err, &re) || sharelog.IsPermanent(err) {
		t.Fatalf("error %v (%T) is not retryable", err, err)
	}
}

func TestRefusedIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := newSink(t, Config{Address: addr}, Deps{})
	err = s.Write(t.Context(), events(3, 1))
	checkRetryable(t, err)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %v does not wrap ECONNREFUSED", err)
	}
	if after, _ := sharelog.RetryAfter(err); after != 0 {
		t.Errorf("Retry-After %s, want 0", after)
	}
}

func TestReconnectsWhenTheReceiverClosed(t *testing.T) {
	p := newPKI(t)
	for _, network := range []string{NetworkTCP, NetworkTLS} {
		t.Run(network, func(t *testing.T) {
			cfg := Config{Network: network, Connections: 1}
			var r *receiver
			if network == NetworkTLS {
				// A TLS receiver's close sends a close_notify alert before
				// the FIN: the sink reads it to see the end.
				r = listenTCP(t, true, p.serverTLS(false), nil)
				cfg.TLS.CAFile = p.caFile
			} else {
				r = listenTCP(t, true, nil, nil)
			}
			cfg.Address = r.addr()
			s := newSink(t, cfg, Deps{})
			if err := s.Write(t.Context(), events(5, 1)); err != nil {
				t.Fatal(err)
			}
			r.waitMessages(5)
			r.closeConns() // the receiver restarts, say
			time.Sleep(20 * time.Millisecond)
			// The closed connection is seen before writing: nothing is
			// lost and no error reaches the engine.
			evs := events(5, 1)
			if err := s.Write(t.Context(), evs); err != nil {
				t.Fatalf("Write after the receiver closed the connection: %v", err)
			}
			got := r.waitMessages(10)
			if !slices.Equal(got[5:], wantMessages(s, evs)) {
				t.Errorf("after reconnecting: %q", got[5:])
			}
			if n := len(r.connections()); n != 2 {
				t.Errorf("%d connections, want 2", n)
			}
		})
	}
}

func TestReceiverClosingAtOnce(t *testing.T) {
	// As rsyslog over its maxSessions: accept, then close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	s := newSink(t, Config{Address: ln.Addr().String()}, Deps{})
	err = s.Write(t.Context(), events(3, 1))
	checkRetryable(t, err)
	if !strings.Contains(err.Error(), "closed the new connection at once") {
		t.Errorf("error %q", err)
	}
}

func TestCloseAndWriteAfterClose(t *testing.T) {
	// Registered first, so run last: the sink leaves no goroutine behind.
	running := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, running) })
	r := listenTCP(t, true, nil, nil)
	cfg := Config{Address: r.addr(), Hostname: "web-1"}
	cfg.SetDefaults()
	s, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), events(3, 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Write(t.Context(), events(1, 1)); err == nil {
		t.Error("Write after Close returned nil")
	}
	if err := s.Write(t.Context(), nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
	r.waitMessages(3)
}

func TestMetricsRegisterOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := Config{Address: "127.0.0.1:514"}
	cfg.SetDefaults()
	if _, err := New(cfg, Deps{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, Deps{Registerer: reg}); err == nil || !strings.Contains(err.Error(), "sink label") {
		t.Errorf("second sink on one registry: %v", err)
	}
	// As the wiring does it for several syslog sinks: a label per sink.
	reg = prometheus.NewRegistry()
	for _, name := range []string{"qradar", "sentinel"} {
		if _, err := New(cfg, Deps{Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, reg)}); err != nil {
			t.Errorf("sink %s: %v", name, err)
		}
	}
}

// TestConfig runs the YAML files of testdata/config: good-*.yaml must load,
// default and validate; bad-*.yaml must fail with the errors listed in
// their "# want:" lines.
func TestConfig(t *testing.T) {
	files, err := filepath.Glob("testdata/config/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var cfg Config
			dec := yaml.NewDecoder(strings.NewReader(string(raw)))
			dec.KnownFields(true)
			if err := dec.Decode(&cfg); err != nil {
				t.Fatal(err)
			}
			cfg.SetDefaults()
			err = cfg.Validate()
			var want []string
			for _, line := range strings.Split(string(raw), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					want = append(want, w)
				}
			}
			if strings.HasPrefix(filepath.Base(f), "good-") {
				if err != nil {
					t.Fatalf("valid config: %v", err)
				}
				if _, err := New(cfg, Deps{}); err != nil && !strings.Contains(err.Error(), "tls.") {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid config passed")
			}
			lines := strings.Split(err.Error(), "\n")
			if !slices.Equal(lines, want) {
				t.Errorf("errors\n got %q\nwant %q", lines, want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	cfg := Config{Address: "siem.example.com:514"}
	cfg.SetDefaults()
	want := Config{Network: "tcp", Address: "siem.example.com:514", Format: "cef", Framing: "octet_counting", Facility: "local0",
		AppName: "sharelog", Vendor: "sharelog", Product: "sharelog", ProductVersion: "1", Connections: 4,
		DialTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, Confirm: "tcp_ack"}
	if cfg != want {
		t.Errorf("defaults\n got %+v\nwant %+v", cfg, want)
	}
	u := Config{Network: "udp", Address: "siem.example.com:514", Format: "leef"}
	u.SetDefaults()
	if u.MaxMessageSize != 2048 || u.LEEFDelimiter != "\t" || u.Framing != "" || u.Confirm != "" {
		t.Errorf("udp/leef defaults %+v", u)
	}
	tl := Config{Network: "tls", Address: "siem.example.com:6514"}
	tl.SetDefaults()
	if tl.TLS.MinVersion != "1.2" {
		t.Errorf("tls defaults %+v", tl.TLS)
	}
	s, err := New(tl, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if s.tls.ServerName != "siem.example.com" {
		t.Errorf("server name %q", s.tls.ServerName)
	}
}
