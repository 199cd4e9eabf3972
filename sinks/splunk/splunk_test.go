package splunk

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/secret"
)

const testToken = "11111111-2222-3333-4444-555555555555"

// tokenFile writes tok to a file of its own and returns the path.
func tokenFile(t testing.TB, tok string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hec.token")
	if err := os.WriteFile(p, []byte("# HEC token\n"+tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testConfig is a configuration for the collector at url, with defaults.
func testConfig(t testing.TB, url string) Config {
	cfg := Config{URL: url, Token: secret.Ref{File: tokenFile(t, testToken)}, Host: "node-7", AckPollInterval: 10 * time.Millisecond, AckTimeout: 2 * time.Second}
	cfg.SetDefaults()
	return cfg
}

func newTestSink(t testing.TB, cfg Config, deps Deps) *Sink {
	t.Helper()
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// minimalEvent is an event with only the required raw fields.
func minimalEvent() *sharelog.Event {
	return &sharelog.Event{
		ID:        "0193a1b2-c3d4-7e5f-8a9b-000000000001",
		Time:      time.Date(2024, 11, 22, 8, 0, 0, 123456789, time.UTC),
		Workspace: sharelog.Workspace{ID: "ws-1"},
		Actor:     sharelog.Actor{Type: sharelog.ActorAnonymous},
		Action:    sharelog.LinkOpened,
		Result:    sharelog.Success,
		Link:      &sharelog.Link{ID: "lnk-1"},
		Client:    sharelog.Client{IP: "203.0.113.9", Kind: sharelog.ClientBrowser},
	}
}

// fullEvent is an enriched event with every group, and strings that need
// escaping.
func fullEvent(i int) *sharelog.Event {
	lat, lon := 47.3769, 8.5417
	return &sharelog.Event{
		ID:        fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", i),
		Time:      time.Date(2024, 11, 22, 8, 0, i%60, 5_000_000, time.UTC),
		Workspace: sharelog.Workspace{ID: "ws-1", Name: "Acme <Finance> & Co"},
		Actor:     sharelog.Actor{Type: sharelog.ActorAnonymous, VisitorEmail: "visitor@example.com"},
		Action:    sharelog.LinkDownloaded,
		Result:    sharelog.Denied,
		Reason:    "wrong_password",
		File:      &sharelog.File{ID: "f-1", Name: "Q4 \"final\"\n.pdf", Size: 123456, Path: "/Finance/Q4.pdf"},
		Link:      &sharelog.Link{ID: fmt.Sprintf("lnk-%d", i%3)},
		Client:    sharelog.Client{IP: "2001:db8::1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", Kind: sharelog.ClientBrowser},
		Server:    &sharelog.Server{Region: "eu-central-2", Node: "node-1"},
		Geo:       &sharelog.Geo{CountryCode: "CH", CountryName: "Switzerland", City: "Zürich", Latitude: &lat, Longitude: &lon, AccuracyRadiusKM: 20},
		Platform:  &sharelog.Platform{OSName: "Linux", ClientName: "Firefox", ClientVersion: "133.0", DeviceType: sharelog.DeviceDesktop},
		Session:   &sharelog.Session{LinkSessionID: "ls_9f8e7d", Seq: 2},
		Pipeline:  &sharelog.Pipeline{EnrichedAt: time.Date(2024, 11, 22, 8, 0, 1, 0, time.UTC), SchemaVersion: 1, Topic: "sharelog.raw", Partition: 3, Offset: 42},
	}
}

func TestWireFormat(t *testing.T) {
	h := newHECServer(t, testToken)
	h.index = "security"
	cfg := testConfig(t, h.URL())
	cfg.Index = "security"
	s := newTestSink(t, cfg, Deps{})
	full := fullEvent(7)
	if err := s.Write(context.Background(), []*sharelog.Event{minimalEvent(), full}); err != nil {
		t.Fatal(err)
	}
	reqs := h.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/services/collector/event" || r.RawQuery != "" {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.RawQuery)
	}
	for k, want := range map[string]string{
		"Authorization":            "Splunk " + testToken,
		"Content-Type":             "application/json",
		"X-Splunk-Request-Channel": s.Channel(),
		"Content-Encoding":         "",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	want := `{"time":1732262400.123,"host":"node-7","source":"sharelog","sourcetype":"sharelog:event","index":"security","event":` +
		`{"id":"0193a1b2-c3d4-7e5f-8a9b-000000000001","time":"2024-11-22T08:00:00.123456789Z","workspace":{"id":"ws-1"},` +
		`"actor":{"type":"anonymous"},"action":"link.opened","result":"success","link":{"id":"lnk-1"},` +
		`"client":{"ip":"203.0.113.9","kind":"browser"}}}` +
		`{"time":1732262407.005,"host":"node-7","source":"sharelog","sourcetype":"sharelog:event","index":"security","event":` +
		string(full.AppendJSON(nil)) + `}`
	if string(r.Raw) != want {
		t.Errorf("body\n%s\nwant\n%s", r.Raw, want)
	}
	if got := h.Received(); len(got) != 2 || got[0] != minimalEvent().ID || got[1] != full.ID {
		t.Errorf("received %v", got)
	}
}

func TestWireFormatDefaults(t *testing.T) {
	h := newHECServer(t, testToken)
	cfg := Config{URL: h.URL() + "/services/collector/event", Token: secret.Ref{File: tokenFile(t, testToken)}}
	cfg.SetDefaults()
	host, _ := os.Hostname()
	if cfg.Host != host || cfg.Source != "sharelog" || cfg.Sourcetype != "sharelog:event" {
		t.Fatalf("defaults: %+v", cfg)
	}
	s := newTestSink(t, cfg, Deps{})
	if err := s.Write(context.Background(), []*sharelog.Event{minimalEvent()}); err != nil {
		t.Fatal(err)
	}
	r := h.Requests()[0]
	wantPrefix := fmt.Sprintf(`{"time":1732262400.123,"host":%q,"source":"sharelog","sourcetype":"sharelog:event","event":{`, host)
	if !bytes.HasPrefix(r.Raw, []byte(wantPrefix)) {
		t.Errorf("body %s\nwant prefix %s", r.Raw, wantPrefix)
	}
}

func TestGzip(t *testing.T) {
	h := newHECServer(t, testToken)
	cfg := testConfig(t, h.URL())
	cfg.Gzip = true
	s := newTestSink(t, cfg, Deps{})
	batch := []*sharelog.Event{fullEvent(1), fullEvent(2), fullEvent(3)}
	for range 3 { // pooled writers and buffers are reused
		if err := s.Write(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	var want []byte
	for _, ev := range batch {
		want = s.appendEvent(want, ev)
	}
	for _, r := range h.Requests() {
		if r.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("Content-Encoding %q", r.Header.Get("Content-Encoding"))
		}
		if !bytes.Equal(r.Body, want) {
			t.Errorf("decompressed body\n%s\nwant\n%s", r.Body, want)
		}
		if len(r.Raw) >= len(r.Body) {
			t.Errorf("gzip body of %d bytes for %d", len(r.Raw), len(r.Body))
		}
		zr, err := gzip.NewReader(bytes.NewReader(r.Raw))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(zr); err != nil {
			t.Errorf("gzip stream: %v", err)
		}
	}
}

func TestEpoch(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2024, 11, 22, 8, 0, 0, 0, time.UTC), "1732262400.000"},
		{time.Date(2024, 11, 22, 8, 0, 0, 999_999_999, time.UTC), "1732262400.999"},
		{time.Date(2024, 11, 22, 10, 0, 0, 50_000_000, time.FixedZone("CET+2", 7200)), "1732262400.050"},
		{time.Unix(0, 0), "0.000"},
		{time.Unix(-1, 500_000_000), "-0.500"},
		{time.Unix(-2, 0), "-2.000"},
		{time.UnixMilli(-1500), "-1.500"},
	} {
		if got := string(appendEpoch(nil, c.t)); got != c.want {
			t.Errorf("%s: %s, want %s", c.t, got, c.want)
		}
	}
	// An event without a time leaves it to Splunk.
	s := &Sink{meta: appendMeta(nil, Config{Host: "h", Source: "s", Sourcetype: "st"})}
	ev := minimalEvent()
	ev.Time = time.Time{}
	if got := string(s.appendEvent(nil, ev)); !strings.HasPrefix(got, `{"host":"h","source":"s","sourcetype":"st","event":{`) {
		t.Errorf("zero time: %s", got)
	}
}

// answerServer answers every request with status, headers and body.
func answerServer(t *testing.T, status int, header map[string]string, body string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// kind names the error kind of err for the engine: "ok", "permanent",
// "retryable", "batch" or "other".
func kind(err error) string {
	var be *sharelog.BatchError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &be):
		return "batch"
	case sharelog.IsPermanent(err):
		return "permanent"
	}
	if _, ok := sharelog.RetryAfter(err); ok {
		return "retryable"
	}
	return "other"
}

func TestClassification(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		header map[string]string
		body   string
		kind   string
		after  time.Duration
		msg    string
	}{
		{"success", 200, nil, `{"text":"Success","code":0}`, "ok", 0, ""},
		{"success without body", 200, nil, ``, "ok", 0, ""},
		{"invalid format, one event", 400, nil, `{"text":"Invalid data format","code":6,"invalid-event-number":2}`, "batch", 0, "Invalid data format (code 6)"},
		{"event blank", 400, nil, `{"text":"Event field cannot be blank","code":13,"invalid-event-number":0}`, "batch", 0, "code 13"},
		{"indexed fields", 400, nil, `{"text":"Error in handling indexed fields","code":15,"invalid-event-number":3}`, "batch", 0, "code 15"},
		{"invalid format, number out of range", 400, nil, `{"text":"Invalid data format","code":6,"invalid-event-number":4}`, "permanent", 0, "code 6"},
		{"invalid format, no number", 400, nil, `{"text":"Invalid data format","code":6}`, "permanent", 0, "code 6"},
		{"no data", 400, nil, `{"text":"No data","code":5}`, "permanent", 0, "No data"},
		{"400 not HEC", 400, nil, `<html>Bad Request</html>`, "permanent", 0, "HTTP 400: <html>Bad Request</html>"},
		{"incorrect index", 400, nil, `{"text":"Incorrect index","code":7,"invalid-event-number":0}`, "retryable", 0, `index "main" is not allowed`},
		{"channel missing", 400, nil, `{"text":"Data channel is missing","code":10}`, "retryable", 0, "code 10"},
		{"invalid channel", 400, nil, `{"text":"Invalid data channel","code":11}`, "retryable", 0, "code 11"},
		{"token required", 401, nil, `{"text":"Token is required","code":2}`, "retryable", 0, "check the token"},
		{"invalid authorization", 401, nil, `{"text":"Invalid authorization","code":3}`, "retryable", 0, "code 3"},
		{"token disabled", 403, nil, `{"text":"Token disabled","code":1}`, "retryable", 0, "Token disabled"},
		{"invalid token", 403, nil, `{"text":"Invalid token","code":4}`, "retryable", 0, "Invalid token (code 4)"},
		{"not found", 404, nil, `not found`, "retryable", 0, "check url"},
		{"redirect", 302, map[string]string{"Location": "/elsewhere/"}, ``, "retryable", 0, "check url"},
		{"request timeout", 408, nil, ``, "retryable", 0, "HTTP 408"},
		{"too large", 413, nil, `{"text":"Content-Length of 900000000 too large (maximum is 838860800)","code":9}`, "permanent", 0, "HTTP 413"},
		{"unsupported media type", 415, nil, ``, "permanent", 0, "HTTP 415"},
		{"rate limited", 429, map[string]string{"Retry-After": "7"}, ``, "retryable", 7 * time.Second, "HTTP 429"},
		{"internal error", 500, nil, `{"text":"Internal server error","code":8}`, "retryable", 0, "code 8"},
		{"server busy", 503, map[string]string{"Retry-After": "30"}, `{"text":"Server is busy","code":9}`, "retryable", 30 * time.Second, "Server is busy (code 9)"},
		{"unhealthy", 503, nil, `{"text":"HEC is unhealthy, queues are full","code":18}`, "retryable", 0, "code 18"},
		{"bad gateway", 502, nil, "<html>\n<body>502 Bad Gateway</body>\n</html>", "retryable", 0, "HTTP 502: <html> <body>502 Bad Gateway</body> </html>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := answerServer(t, c.status, c.header, c.body)
			cfg := testConfig(t, srv.URL)
			cfg.Index = "main"
			s := newTestSink(t, cfg, Deps{})
			batch := []*sharelog.Event{fullEvent(0), fullEvent(1), fullEvent(2), fullEvent(3)}
			err := s.Write(context.Background(), batch)
			if got := kind(err); got != c.kind {
				t.Fatalf("kind %s (%v), want %s", got, err, c.kind)
			}
			if err == nil {
				return
			}
			if after, _ := sharelog.RetryAfter(err); after != c.after {
				t.Errorf("Retry-After %s, want %s", after, c.after)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not say %q", err, c.msg)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q shows the token", err)
			}
			var be *sharelog.BatchError
			if errors.As(err, &be) {
				if len(be.Errs) != len(batch) {
					t.Fatalf("BatchError of %d for %d events", len(be.Errs), len(batch))
				}
				for i, e := range be.Errs {
					if e == nil {
						t.Errorf("event %d reported accepted", i)
					}
					if sharelog.IsPermanent(e) != strings.Contains(c.body, fmt.Sprintf(`"invalid-event-number":%d`, i)) {
						t.Errorf("event %d: %v", i, e)
					}
				}
			}
		})
	}
}

func TestNetworkFailureIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	s := newTestSink(t, testConfig(t, url), Deps{})
	err := s.Write(context.Background(), []*sharelog.Event{minimalEvent()})
	if kind(err) != "retryable" {
		t.Fatalf("%v: want retryable", err)
	}
	// A connection cut in the middle of the answer, too.
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer cut.Close()
	s = newTestSink(t, testConfig(t, cut.URL), Deps{})
	if err := s.Write(context.Background(), []*sharelog.Event{minimalEvent()}); kind(err) != "retryable" {
		t.Fatalf("%v: want retryable", err)
	}
}

func TestEmptyBatchSendsNothing(t *testing.T) {
	h := newHECServer(t, testToken)
	s := newTestSink(t, testConfig(t, h.URL()), Deps{})
	if err := s.Write(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if n := len(h.Requests()); n != 0 {
		t.Fatalf("%d requests", n)
	}
}

func TestTokenIsReadAgainAfterRefusal(t *testing.T) {
	h := newHECServer(t, "new-token")
	cfg := testConfig(t, h.URL())
	var logs bytes.Buffer
	s := newTestSink(t, cfg, Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	batch := []*sharelog.Event{minimalEvent()}
	for range 2 {
		err := s.Write(context.Background(), batch)
		if kind(err) != "retryable" || !strings.Contains(err.Error(), "Invalid token") {
			t.Fatalf("old token: %v", err)
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error logs for a refused token, want 1 (on the change):\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), testToken) {
		t.Errorf("logs show the token:\n%s", logs.String())
	}
	if err := os.WriteFile(cfg.Token.File, []byte("new-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatalf("rotated token: %v", err)
	}
	if got := h.Requests()[2].Header.Get("Authorization"); got != "Splunk new-token" {
		t.Errorf("Authorization %q", got)
	}
}

func TestAck(t *testing.T) {
	h := newHECServer(t, testToken)
	h.setAck(true, 2, false)
	cfg := testConfig(t, h.URL())
	cfg.Ack = true
	reg := prometheus.NewRegistry()
	s := newTestSink(t, cfg, Deps{Registerer: reg})
	if err := s.Write(context.Background(), []*sharelog.Event{minimalEvent()}); err != nil {
		t.Fatal(err)
	}
	reqs := h.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want the events and 3 ack queries", len(reqs))
	}
	for _, r := range reqs[1:] {
		if r.Method != "POST" || r.Path != "/services/collector/ack" || r.RawQuery != "channel="+s.Channel() {
			t.Errorf("ack query %s %s?%s", r.Method, r.Path, r.RawQuery)
		}
		if string(r.Body) != `{"acks":[0]}` {
			t.Errorf("ack query body %s", r.Body)
		}
		if r.Header.Get("Authorization") != "Splunk "+testToken || r.Header.Get("X-Splunk-Request-Channel") != s.Channel() || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("ack query header %v", r.Header)
		}
	}
	if n := testutil.CollectAndCount(reg, "sharelog_splunk_ack_seconds"); n != 1 {
		t.Errorf("ack histogram: %d series", n)
	}
	if v := testutil.ToFloat64(s.m.requests.WithLabelValues("ack", "200")); v != 3 {
		t.Errorf("ack requests counted: %v", v)
	}

	// The second batch gets the next ackId.
	if err := s.Write(context.Background(), []*sharelog.Event{fullEvent(1)}); err != nil {
		t.Fatal(err)
	}
	if r := h.Requests(); string(r[len(r)-1].Body) != `{"acks":[1]}` {
		t.Errorf("second ack query %s", r[len(r)-1].Body)
	}
}

func TestAckTimeout(t *testing.T) {
	h := newHECServer(t, testToken)
	h.setAck(true, 0, true)
	cfg := testConfig(t, h.URL())
	cfg.Ack, cfg.AckTimeout = true, 200*time.Millisecond
	s := newTestSink(t, cfg, Deps{})
	start := time.Now()
	err := s.Write(context.Background(), []*sharelog.Event{minimalEvent()})
	if kind(err) != "retryable" || !strings.Contains(err.Error(), "ack_timeout (200ms)") {
		t.Fatalf("%v: want retryable, naming ack_timeout", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("gave up after %s", d)
	}
	if testutil.ToFloat64(s.m.ackTimeouts) != 1 {
		t.Errorf("ack timeouts not counted")
	}

	// The context bounds the wait too.
	cfg.AckTimeout = time.Minute
	s = newTestSink(t, cfg, Deps{})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	err = s.Write(ctx, []*sharelog.Event{minimalEvent()})
	if kind(err) != "retryable" || !strings.Contains(err.Error(), "delivery timeout") {
		t.Fatalf("%v: want retryable, naming the delivery timeout", err)
	}
}

func TestAckRefused(t *testing.T) {
	h := newHECServer(t, testToken)
	h.setAck(true, 5, false)
	cfg := testConfig(t, h.URL())
	cfg.Ack = true
	s := newTestSink(t, cfg, Deps{})
	// The token is revoked between the events and the ack query.
	go func() {
		for len(h.Requests()) == 0 {
			time.Sleep(time.Millisecond)
		}
		h.setToken("other")
	}()
	start := time.Now()
	err := s.Write(context.Background(), []*sharelog.Event{minimalEvent()})
	if kind(err) != "retryable" || !strings.Contains(err.Error(), "Invalid token") {
		t.Fatalf("%v: want retryable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a refused query waited %s: it should not wait for ack_timeout", d)
	}
}

func TestAckNotEnabledOnToken(t *testing.T) {
	h := newHECServer(t, testToken) // answers without ackId
	cfg := testConfig(t, h.URL())
	cfg.Ack = true
	var logs bytes.Buffer
	s := newTestSink(t, cfg, Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for range 3 {
		if err := s.Write(context.Background(), []*sharelog.Event{minimalEvent()}); err != nil {
			t.Fatal(err)
		}
	}
	if len(h.Requests()) != 3 {
		t.Errorf("%d requests: no ack query is possible without an ackId", len(h.Requests()))
	}
	if n := strings.Count(logs.String(), "without an ackId"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
}

func TestConcurrentWrites(t *testing.T) {
	h := newHECServer(t, testToken)
	h.setAck(true, 1, false)
	cfg := testConfig(t, h.URL())
	cfg.Ack, cfg.Gzip = true, true
	s := newTestSink(t, cfg, Deps{})
	var wg sync.WaitGroup
	want := map[string]bool{}
	for g := range 8 {
		batch := make([]*sharelog.Event, 20)
		for i := range batch {
			batch[i] = fullEvent(g*100 + i)
			want[batch[i].ID] = true
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if err := s.Write(context.Background(), batch); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	got := h.Received()
	if len(got) != 8*20*5 {
		t.Errorf("received %d events, want %d", len(got), 8*20*5)
	}
	for _, id := range got {
		if !want[id] {
			t.Fatalf("unexpected id %s", id)
		}
	}
}

func TestTLS(t *testing.T) {
	h := &hecServer{token: testToken, pending: map[string]map[int64]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/services/collector/event", h.event)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	batch := []*sharelog.Event{minimalEvent()}

	// The system's roots do not know the test certificate.
	s := newTestSink(t, testConfig(t, srv.URL), Deps{})
	if err := s.Write(context.Background(), batch); kind(err) != "retryable" || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	cfg := testConfig(t, srv.URL)
	cfg.TLS.CAFile = caFile
	s = newTestSink(t, cfg, Deps{})
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatalf("ca_file: %v", err)
	}
	cfg = testConfig(t, srv.URL)
	cfg.TLS.InsecureSkipVerify = true
	s = newTestSink(t, cfg, Deps{})
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatalf("insecure_skip_verify: %v", err)
	}
	if v := h.Violations(); len(v) > 0 {
		t.Errorf("wire format: %v", v)
	}

	// TLS settings cannot apply to a client the caller gives.
	cfg.TLS = TLSConfig{CAFile: caFile}
	if _, err := New(cfg, Deps{Client: srv.Client()}); err == nil || !strings.HasPrefix(err.Error(), "splunk: tls:") {
		t.Errorf("tls with a given client: %v", err)
	}
	cfg.TLS.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := New(cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "tls.ca_file") {
		t.Errorf("missing ca_file: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	cfg := testConfig(t, "https://splunk.example.com:8088")
	cfg.Token = secret.Ref{Env: "SHARELOG_TEST_UNSET_HEC_TOKEN"}
	if _, err := New(cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "token: environment variable SHARELOG_TEST_UNSET_HEC_TOKEN is not set") {
		t.Errorf("unset token: %v", err)
	}
	t.Setenv("SHARELOG_TEST_HEC_TOKEN", "has space")
	cfg.Token = secret.Ref{Env: "SHARELOG_TEST_HEC_TOKEN"}
	if _, err := New(cfg, Deps{}); err == nil || strings.Contains(err.Error(), "has space") {
		t.Errorf("bad token: %v", err)
	}
	cfg.URL = "ftp://x"
	if _, err := New(cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "url:") {
		t.Errorf("bad config: %v", err)
	}
}

func TestEndpoints(t *testing.T) {
	for base, want := range map[string]string{
		"https://splunk.example.com:8088":                           "https://splunk.example.com:8088/services/collector/",
		"https://splunk.example.com:8088/":                          "https://splunk.example.com:8088/services/collector/",
		"https://splunk.example.com:8088/services/collector":        "https://splunk.example.com:8088/services/collector/",
		"https://splunk.example.com:8088/services/collector/event/": "https://splunk.example.com:8088/services/collector/",
		"https://proxy.example.com/splunk/hec":                      "https://proxy.example.com/splunk/hec/services/collector/",
		"https://proxy.example.com/event":                           "https://proxy.example.com/event/services/collector/",
	} {
		ev, ack := endpoints(base)
		if ev != want+"event" || ack != want+"ack" {
			t.Errorf("%s: %s and %s", base, ev, ack)
		}
	}
}

func TestUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		u := newUUID()
		if !uuidRE.MatchString(u) || seen[u] {
			t.Fatalf("%q", u)
		}
		seen[u] = true
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 11, 22, 8, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"-3":                            0,
		"12":                            12 * time.Second,
		" 5 ":                           5 * time.Second,
		"999999999":                     24 * time.Hour,
		"soon":                          0,
		"Fri, 22 Nov 2024 08:01:30 GMT": 90 * time.Second,
		"Fri, 22 Nov 2024 07:59:00 GMT": 0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("%q: %s, want %s", v, got, want)
		}
	}
}
