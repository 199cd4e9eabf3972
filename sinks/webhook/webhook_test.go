package webhook

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/secret"
)

// newSecret returns a fresh whsec_ secret of 32 random bytes.
func newSecret(t testing.TB) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(k)
}

// secretFile writes secrets to a file, one a line, and returns its Ref.
func secretFile(t testing.TB, secrets ...string) secret.Ref {
	t.Helper()
	p := filepath.Join(t.TempDir(), "webhook.secrets")
	if err := os.WriteFile(p, []byte("# signing secrets\n"+strings.Join(secrets, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return secret.Ref{File: p}
}

// testConfig is a configuration for a receiver on loopback.
func testConfig(t testing.TB, url string, secrets ...string) Config {
	t.Helper()
	if len(secrets) == 0 {
		secrets = []string{newSecret(t)}
	}
	return Config{URL: url, Secrets: secretFile(t, secrets...), AllowHTTP: true, AllowPrivate: []string{"127.0.0.1"}}
}

func newSink(t testing.TB, cfg Config, deps Deps) *Sink {
	t.Helper()
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testEvent is an enriched event of link link.
func testEvent(i int, link string) *sharelog.Event {
	lat, lon := 47.3769, 8.5417
	return &sharelog.Event{
		ID:        fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", i),
		Time:      time.Date(2026, 11, 22, 9, 0, i%60, 0, time.UTC),
		Workspace: sharelog.Workspace{ID: "ws-acme", Name: "Acme"},
		Actor:     sharelog.Actor{Type: sharelog.ActorAnonymous, VisitorEmail: "v@example.org"},
		Action:    sharelog.Action("link.downloaded"),
		Result:    sharelog.Result("success"),
		File:      &sharelog.File{ID: "f-1", Name: "Q3 report.pdf", Size: 1 << 20, Path: "/finance/Q3 report.pdf"},
		Link:      &sharelog.Link{ID: link},
		Client:    sharelog.Client{IP: "81.2.69.160", UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36", Kind: sharelog.ClientBrowser},
		Server:    &sharelog.Server{Region: "eu-central-2", Node: "web-3"},
		Geo:       &sharelog.Geo{CountryCode: "CH", CountryName: "Switzerland", City: "Zürich", Latitude: &lat, Longitude: &lon, AccuracyRadiusKM: 20},
		Platform:  &sharelog.Platform{OSName: "Windows", OSVersion: "10", ClientName: "Chrome", ClientVersion: "131.0.0.0", DeviceType: sharelog.DeviceDesktop},
		Session:   &sharelog.Session{LinkSessionID: "ls_9f2c", Seq: i + 1, Started: i == 0},
		Pipeline:  &sharelog.Pipeline{EnrichedAt: time.Date(2026, 11, 22, 9, 0, 1, 0, time.UTC), SchemaVersion: 1, Topic: "sharelog.raw", Partition: 2, Offset: int64(100 + i)},
	}
}

func testBatch(n int) []*sharelog.Event {
	b := make([]*sharelog.Event, n)
	for i := range b {
		b[i] = testEvent(i, fmt.Sprintf("lnk-%d", i%3))
	}
	return b
}

// request is what a receiver got.
type request struct {
	method, path string
	header       http.Header
	body         []byte
}

// receiver is an httptest server recording every request and answering
// with answer (204 when nil).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []request
	answer func(w http.ResponseWriter, r *http.Request, body []byte)
}

func newReceiver(t testing.TB, answer func(w http.ResponseWriter, r *http.Request, body []byte)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, request{r.Method, r.URL.RequestURI(), r.Header.Clone(), body})
		rc.mu.Unlock()
		if rc.answer == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		rc.answer(w, r, body)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

// verifier returns the reference verifier for secret.
func verifier(t testing.TB, secret string) *standardwebhooks.Webhook {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

func TestSingleEventRequests(t *testing.T) {
	rc := newReceiver(t, nil)
	old, cur := newSecret(t), newSecret(t)
	now := time.Now()
	s := newSink(t, testConfig(t, rc.URL+"/hooks/sharelog?tenant=acme", old, cur), Deps{Now: func() time.Time { return now }})
	batch := testBatch(3)
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != len(batch) {
		t.Fatalf("%d requests for %d events in single mode", len(reqs), len(batch))
	}
	for i, r := range reqs {
		ev := batch[i]
		if r.method != http.MethodPost || r.path != "/hooks/sharelog?tenant=acme" {
			t.Errorf("request %d: %s %s", i, r.method, r.path)
		}
		if want := ev.AppendJSON(nil); !bytes.Equal(r.body, want) {
			t.Errorf("request %d: body\n%s\nwant the enriched event\n%s", i, r.body, want)
		}
		for name, want := range map[string]string{
			"Content-Type":      "application/json",
			"User-Agent":        userAgent,
			"Webhook-Id":        ev.ID,
			"Webhook-Timestamp": strconv.FormatInt(now.Unix(), 10),
			"Content-Length":    strconv.Itoa(len(r.body)),
		} {
			if got := r.header.Get(name); got != want {
				t.Errorf("request %d: %s %q, want %q", i, name, got, want)
			}
		}
		sigs := strings.Split(r.header.Get("Webhook-Signature"), " ")
		if len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1,") {
			t.Errorf("request %d: webhook-signature %q: want two v1 signatures, one per secret", i, r.header.Get("Webhook-Signature"))
		}
		// Either secret verifies, with the receivers' own library.
		for _, sec := range []string{old, cur} {
			if err := verifier(t, sec).Verify(r.body, r.header); err != nil {
				t.Errorf("request %d: reference verifier: %v", i, err)
			}
		}
		if err := verifier(t, newSecret(t)).Verify(r.body, r.header); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
			t.Errorf("request %d: an unrelated secret verified: %v", i, err)
		}
		// A tampered body fails.
		tampered := bytes.Replace(r.body, []byte(`"link.downloaded"`), []byte(`"link.viewed"`), 1)
		if bytes.Equal(tampered, r.body) {
			t.Fatal("tampering changed nothing")
		}
		if err := verifier(t, cur).Verify(tampered, r.header); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
			t.Errorf("request %d: tampered body: %v, want ErrNoMatchingSignature", i, err)
		}
		// So does another id with the same body (the id is signed).
		h := r.header.Clone()
		h.Set("Webhook-Id", batch[(i+1)%len(batch)].ID)
		if err := verifier(t, cur).Verify(r.body, h); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
			t.Errorf("request %d: other id: %v, want ErrNoMatchingSignature", i, err)
		}
	}
}

func TestOldTimestampFails(t *testing.T) {
	rc := newReceiver(t, nil)
	sec := newSecret(t)
	then := time.Now().Add(-10 * time.Minute)
	s := newSink(t, testConfig(t, rc.URL, sec), Deps{Now: func() time.Time { return then }})
	if err := s.Write(context.Background(), testBatch(1)); err != nil {
		t.Fatal(err)
	}
	r := rc.requests()[0]
	if got := r.header.Get("Webhook-Timestamp"); got != strconv.FormatInt(then.Unix(), 10) {
		t.Fatalf("webhook-timestamp %s, want %d", got, then.Unix())
	}
	if err := verifier(t, sec).Verify(r.body, r.header); !errors.Is(err, standardwebhooks.ErrMessageTooOld) {
		t.Errorf("a request signed 10 minutes ago: %v, want ErrMessageTooOld", err)
	}
	// The signature itself is right: only its age fails.
	if err := verifier(t, sec).VerifyIgnoringTimestamp(r.body, r.header); err != nil {
		t.Errorf("ignoring the timestamp: %v", err)
	}
	// Replaying it with a fresh timestamp does not help: the timestamp is signed.
	h := r.header.Clone()
	h.Set("Webhook-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	if err := verifier(t, sec).Verify(r.body, h); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
		t.Errorf("a replay with a new timestamp: %v, want ErrNoMatchingSignature", err)
	}
}

func TestEachAttemptIsSignedAfresh(t *testing.T) {
	fail := true
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if fail {
			fail = false
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	now := time.Now().Add(-time.Minute)
	s := newSink(t, testConfig(t, rc.URL), Deps{Now: func() time.Time { return now }})
	ev := testBatch(1)
	if err := s.Write(context.Background(), ev); err == nil {
		t.Fatal("503 accepted")
	}
	now = now.Add(time.Minute)
	if err := s.Write(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if reqs[0].header.Get("Webhook-Id") != reqs[1].header.Get("Webhook-Id") {
		t.Error("a retry changed the webhook-id")
	}
	if reqs[0].header.Get("Webhook-Timestamp") == reqs[1].header.Get("Webhook-Timestamp") ||
		reqs[0].header.Get("Webhook-Signature") == reqs[1].header.Get("Webhook-Signature") {
		t.Error("a retry reused the timestamp and signature of the first attempt")
	}
}

func TestBatchRequest(t *testing.T) {
	rc := newReceiver(t, nil)
	sec := newSecret(t)
	cfg := testConfig(t, rc.URL+"/hook", sec)
	cfg.Mode = ModeBatch
	s := newSink(t, cfg, Deps{})
	batch := testBatch(5)
	for range 2 {
		if err := s.Write(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Write(context.Background(), batch[:4]); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests for 3 batches", len(reqs))
	}
	var want bytes.Buffer
	want.WriteString(`{"events":[`)
	for i, ev := range batch {
		if i > 0 {
			want.WriteByte(',')
		}
		want.Write(ev.AppendJSON(nil))
	}
	want.WriteString(`]}`)
	r := reqs[0]
	if !bytes.Equal(r.body, want.Bytes()) {
		t.Errorf("batch body\n%s\nwant\n%s", r.body, want.Bytes())
	}
	var decoded struct{ Events []sharelog.Event }
	if err := json.Unmarshal(r.body, &decoded); err != nil || len(decoded.Events) != 5 || decoded.Events[4].ID != batch[4].ID {
		t.Errorf("batch body does not decode as {events:[5 events]}: %v", err)
	}
	id := r.header.Get("Webhook-Id")
	if id != BatchID(batch) || !strings.HasPrefix(id, "batch_") || len(id) != len("batch_")+32 {
		t.Errorf("webhook-id %q, want BatchID %q", id, BatchID(batch))
	}
	if reqs[1].header.Get("Webhook-Id") != id {
		t.Error("the same batch sent again got another webhook-id")
	}
	if reqs[2].header.Get("Webhook-Id") == id {
		t.Error("a different batch got the same webhook-id")
	}
	if err := verifier(t, sec).Verify(r.body, r.header); err != nil {
		t.Errorf("reference verifier: %v", err)
	}
	if err := verifier(t, sec).Verify(r.body[:len(r.body)-1], r.header); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
		t.Errorf("truncated batch: %v, want ErrNoMatchingSignature", err)
	}
}

func TestBatchID(t *testing.T) {
	a, b := testEvent(1, "l"), testEvent(2, "l")
	ab, ba := BatchID([]*sharelog.Event{a, b}), BatchID([]*sharelog.Event{b, a})
	if ab == ba {
		t.Error("order does not change the batch id")
	}
	if ab != BatchID([]*sharelog.Event{testEvent(1, "x"), testEvent(2, "y")}) {
		t.Error("the batch id depends on more than the event ids")
	}
	// Length prefixes: ids "ab"+"c" and "a"+"bc" differ.
	x := BatchID([]*sharelog.Event{{ID: "ab"}, {ID: "c"}})
	y := BatchID([]*sharelog.Event{{ID: "a"}, {ID: "bc"}})
	if x == y {
		t.Error("ab|c and a|bc have the same batch id")
	}
}

// TestWireFormat reads the request off a raw TCP connection: the exact
// request line, header names and framing.
func TestWireFormat(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type raw struct {
		head []string
		body []byte
		err  error
	}
	got := make(chan raw, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- raw{err: err}
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		var r raw
		n := -1
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				got <- raw{err: err}
				return
			}
			if line == "\r\n" {
				break
			}
			if !strings.HasSuffix(line, "\r\n") {
				r.err = fmt.Errorf("line %q does not end in CRLF", line)
			}
			line = strings.TrimSuffix(line, "\r\n")
			r.head = append(r.head, line)
			if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
				n, _ = strconv.Atoi(v)
			}
		}
		if n < 0 {
			got <- raw{err: errors.New("no Content-Length")}
			return
		}
		r.body = make([]byte, n)
		if _, err := io.ReadFull(br, r.body); err != nil {
			r.err = err
		}
		io.WriteString(c, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
		got <- r
	}()
	sec := newSecret(t)
	now := time.Unix(1795000000, 0)
	s := newSink(t, testConfig(t, "http://"+ln.Addr().String()+"/in", sec), Deps{Now: func() time.Time { return now }})
	ev := testEvent(7, "lnk-7")
	if err := s.Write(context.Background(), []*sharelog.Event{ev}); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	body := ev.AppendJSON(nil)
	if !bytes.Equal(r.body, body) {
		t.Errorf("body\n%s\nwant\n%s", r.body, body)
	}
	if r.head[0] != "POST /in HTTP/1.1" {
		t.Errorf("request line %q", r.head[0])
	}
	slices.Sort(r.head[1:])
	want := []string{
		"Accept-Encoding: gzip",
		"Content-Length: " + strconv.Itoa(len(body)),
		"Content-Type: application/json",
		"Host: " + ln.Addr().String(),
		"User-Agent: " + userAgent,
		"webhook-id: " + ev.ID,
		"webhook-signature: " + s.sign(ev.ID, now.Unix(), body),
		"webhook-timestamp: 1795000000",
	}
	if !slices.Equal(r.head[1:], want) {
		t.Errorf("header lines\n%s\nwant\n%s", strings.Join(r.head[1:], "\n"), strings.Join(want, "\n"))
	}
	// The signature, computed independently.
	sig, _ := verifier(t, sec).Sign(ev.ID, now, body)
	if !slices.Contains(r.head, "webhook-signature: "+sig) {
		t.Errorf("webhook-signature is not the reference library's %s", sig)
	}
}

func TestMetrics(t *testing.T) {
	code := http.StatusNoContent
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) { w.WriteHeader(code) })
	reg := prometheus.NewPedanticRegistry()
	s := newSink(t, testConfig(t, rc.URL, newSecret(t), newSecret(t)), Deps{Registerer: reg})
	ctx := context.Background()
	s.Write(ctx, testBatch(2))
	code = http.StatusServiceUnavailable
	s.Write(ctx, testBatch(1))
	code = http.StatusBadRequest
	s.Write(ctx, testBatch(1))
	code = http.StatusGone
	s.Write(ctx, testBatch(1))
	s.Write(ctx, testBatch(1)) // not sent: disabled
	want := `
# HELP sharelog_webhook_requests_total Webhook requests by answer: status class (2xx, 3xx, 4xx, 5xx), error (no answer: network error or timeout) or refused (not sent: the address is loopback, private or link-local and not allow-listed).
# TYPE sharelog_webhook_requests_total counter
sharelog_webhook_requests_total{class="1xx"} 0
sharelog_webhook_requests_total{class="2xx"} 2
sharelog_webhook_requests_total{class="3xx"} 0
sharelog_webhook_requests_total{class="4xx"} 2
sharelog_webhook_requests_total{class="5xx"} 1
sharelog_webhook_requests_total{class="error"} 0
sharelog_webhook_requests_total{class="refused"} 0
# HELP sharelog_webhook_signatures_total Standard Webhooks signatures computed (one per signing secret per request).
# TYPE sharelog_webhook_signatures_total counter
sharelog_webhook_signatures_total 10
# HELP sharelog_webhook_disabled 1 once the receiver answered 410 Gone: no more requests until the sink is restarted.
# TYPE sharelog_webhook_disabled gauge
sharelog_webhook_disabled 1
# HELP sharelog_webhook_signing_secrets Signing secrets in use (more than one while a secret is being rotated).
# TYPE sharelog_webhook_signing_secrets gauge
sharelog_webhook_signing_secrets 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sharelog_webhook_requests_total", "sharelog_webhook_signatures_total", "sharelog_webhook_disabled", "sharelog_webhook_signing_secrets"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "sharelog_webhook_request_duration_seconds"); n != 1 {
		t.Errorf("request duration histogram: %d series", n)
	}
	// A second sink on the same registry is refused, not a panic.
	if _, err := New(testConfig(t, rc.URL), Deps{Registerer: reg}); err == nil {
		t.Error("two sinks registered the same metrics")
	}
	// Several sinks share a registry when each has its name as a label.
	shared := prometheus.NewPedanticRegistry()
	for _, name := range []string{"siem-relay", "customer-a"} {
		newSink(t, testConfig(t, rc.URL), Deps{Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, shared)})
	}
	if n := testutil.CollectAndCount(shared, "sharelog_webhook_signing_secrets"); n != 2 {
		t.Errorf("two named sinks: %d signing_secrets series", n)
	}
}
