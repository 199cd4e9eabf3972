package api

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// smallBuffers gives every accepted connection a small send buffer, so
// that an answer its client does not read fills the sockets after a few
// kilobytes rather than megabytes.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// lockedLog is a log destination the test reads while handlers write.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestQueryLimits runs the tests of the query limits over one archive
// (newWorld's, 150 events a day: a CSV export of every workspace is about
// 130 kB, more than the sockets of limitedWorld buffer).
func TestQueryLimits(t *testing.T) {
	base := newWorld(t, 150)
	t.Run("StalledExportsOfOneTokenLeaveRoomForOthers", func(t *testing.T) { testStalledExportsOfOneTokenLeaveRoomForOthers(t, base) })
	t.Run("ReadersThatStopAreCutOff", func(t *testing.T) { testReadersThatStopAreCutOff(t, base) })
	t.Run("SlowReaderWithinTheDeadlineGetsEverything", func(t *testing.T) { testSlowReaderWithinTheDeadlineGetsEverything(t, base) })
}

// limitedWorld serves the archive of base with cfg, over connections with
// small send buffers, logging into the returned buffer.
func limitedWorld(t *testing.T, base *world, cfg Config) (*world, *lockedLog) {
	t.Helper()
	w := &world{root: base.root, events: base.events, tokens: map[string]string{}}
	var tokens []Token
	for _, name := range []string{"a", "b", "all"} {
		ws := []string{"ws-" + name}
		if name == "all" {
			ws = []string{"*"}
		}
		value, digest := NewToken()
		w.tokens[name] = value
		tokens = append(tokens, Token{Name: name, Workspaces: ws, SHA256: digest})
	}
	cfg.Tokens = tokens
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	auth, err := NewAuthenticator(tokens)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedLog{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h, err := NewHandler(cfg, Deps{ArchiveDir: w.root, Auth: auth, Logger: logger, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range Patterns {
		mux.Handle(p, h)
	}
	srv := httptest.NewUnstartedServer(validated(t, mux))
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	w.h, w.srv = h, srv
	return w, logs
}

// stalledGet sends GET path with the named token on a connection of its
// own, and never reads the answer (until the test does).
func (w *world) stalledGet(t *testing.T, token, path string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", w.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: sharelog\r\nAuthorization: Bearer %s\r\n\r\n", path, w.tokens[token]); err != nil {
		t.Fatal(err)
	}
	return conn
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}

// testStalledExportsOfOneTokenLeaveRoomForOthers: CSV exports whose client
// does not read hold at most max_in_flight_per_token slots; that token's
// next query is refused 429 naming the limit, another token is served.
func testStalledExportsOfOneTokenLeaveRoomForOthers(t *testing.T, base *world) {
	w, _ := limitedWorld(t, base, Config{MaxInFlight: 3, MaxInFlightPerToken: 2, WriteTimeout: time.Minute})
	var stalled []net.Conn
	for range 2 {
		stalled = append(stalled, w.stalledGet(t, "all", "/v1/events?format=csv"))
	}
	waitFor(t, "the stalled exports to take their slots", func() bool { return len(w.h.slots) == 2 })

	resp, body := w.get(t, "all", "/v1/events?limit=1")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" ||
		!strings.Contains(string(body), "api.max_in_flight_per_token") || !strings.Contains(string(body), `\"all\"`) {
		t.Fatalf("third query of the stalled token: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, body := w.get(t, "b", "/v1/events?format=csv"); resp.StatusCode != http.StatusOK || len(readCSV(t, body, auditHeader)) != len(w.events["ws-b"]) {
		t.Fatalf("another token while the first stalls: %d, %d bytes", resp.StatusCode, len(body))
	}
	for _, c := range stalled {
		c.Close()
	}
	waitFor(t, "the stalled exports to end", func() bool { return len(w.h.slots) == 0 })
	if resp, body := w.get(t, "all", "/v1/events?limit=1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the token once its exports ended: %d %s", resp.StatusCode, body)
	}
}

// testReadersThatStopAreCutOff: a CSV export and a JSON page whose client
// stops reading are cut off after write_timeout: counted, logged once at
// WARN with the token's name, their slots freed, and what the client got
// is visibly incomplete. Another token is served meanwhile.
func testReadersThatStopAreCutOff(t *testing.T, base *world) {
	w, logs := limitedWorld(t, base, Config{MaxInFlight: 4, MaxInFlightPerToken: 2, WriteTimeout: 200 * time.Millisecond})
	export := w.stalledGet(t, "all", "/v1/events?format=csv")
	page := w.stalledGet(t, "all", "/v1/events?limit=2000")

	if pg := w.page(t, "b", "/v1/events?limit=1000"); len(pg.Events) != len(w.events["ws-b"]) {
		t.Fatalf("another token meanwhile: %d events, want %d", len(pg.Events), len(w.events["ws-b"]))
	}
	defer func() {
		if t.Failed() { // an answer that fit in the socket buffers is never cut off
			t.Logf("answered whole: export %v, events %v; the log:\n%s", testutil.ToFloat64(w.h.metrics.requests.WithLabelValues("export", "200")),
				testutil.ToFloat64(w.h.metrics.requests.WithLabelValues("events", "200")), logs)
		}
	}()
	waitFor(t, "both readers to be cut off", func() bool {
		return testutil.ToFloat64(w.h.metrics.slow.WithLabelValues("export")) == 1 &&
			testutil.ToFloat64(w.h.metrics.slow.WithLabelValues("events")) == 1
	})
	waitFor(t, "their slots to be free", func() bool { return len(w.h.slots) == 0 })
	for _, ep := range []string{"export", "events"} {
		if got := testutil.ToFloat64(w.h.metrics.requests.WithLabelValues(ep, "aborted")); got != 1 {
			t.Errorf("requests_total{endpoint=%s,code=aborted} = %v, want 1", ep, got)
		}
	}
	warned := 0
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "stopped reading") {
			warned++
			if !strings.Contains(line, "token=all") {
				t.Errorf("the warning does not name the token: %s", line)
			}
		}
	}
	if warned != 2 {
		t.Errorf("%d warnings, want one for each reader:\n%s", warned, logs)
	}

	// Reading now, each client gets what was sent before the cut, then the
	// end of the connection: never an answer that looks complete.
	for _, c := range []net.Conn{export, page} {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if err == nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d, %d bytes, then %v; want an incomplete body", resp.Header.Get("Content-Type"), resp.StatusCode, n, err)
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s: the connection stayed open after the cut", resp.Header.Get("Content-Type"))
		}
	}
}

// testSlowReaderWithinTheDeadlineGetsEverything: a client reading slowly,
// but never pausing for write_timeout, gets the whole export.
func testSlowReaderWithinTheDeadlineGetsEverything(t *testing.T, base *world) {
	w, _ := limitedWorld(t, base, Config{WriteTimeout: 2 * time.Second})
	conn := w.stalledGet(t, "all", "/v1/events?format=csv")
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	buf := make([]byte, 8<<10)
	for {
		n, err := resp.Body.Read(buf)
		body.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", body.Len(), err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if rows := readCSV(t, body.Bytes(), auditHeader); len(rows) != len(w.events["ws-a"])+len(w.events["ws-b"]) {
		t.Fatalf("%d rows", len(rows))
	}
	if v := testutil.ToFloat64(w.h.metrics.slow.WithLabelValues("export")); v != 0 {
		t.Fatalf("slow readers %v", v)
	}
}

func TestConfigValidateLimits(t *testing.T) {
	c := Config{MaxInFlight: 8, MaxInFlightPerToken: 9, WriteTimeout: -time.Second}
	c.SetDefaults()
	err := c.Validate()
	for _, want := range []string{"max_in_flight_per_token: 9 is not between 1 and max_in_flight (8)", "write_timeout: -1s is under 1ms"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	var d Config
	d.SetDefaults()
	if d.MaxInFlightPerToken != 4 || d.WriteTimeout != 30*time.Second {
		t.Errorf("defaults: max_in_flight_per_token %d, write_timeout %s", d.MaxInFlightPerToken, d.WriteTimeout)
	}
	one := Config{MaxInFlight: 1}
	one.SetDefaults()
	if one.MaxInFlightPerToken != 1 {
		t.Errorf("max_in_flight_per_token of max_in_flight 1: %d", one.MaxInFlightPerToken)
	}
}
