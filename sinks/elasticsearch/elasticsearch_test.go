package elasticsearch

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/secret"
)

// TestWireIndexMode checks the exact request of mode index: URL, headers,
// basic authentication, and the NDJSON body byte for byte.
func TestWireIndexMode(t *testing.T) {
	srv := newBulkServer(t)
	srv.wantAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte("sharelog:s3cret pass"))
	s := newSink(t, Config{URL: srv.URL() + "/", Auth: Auth{Username: "sharelog", Password: secret.Ref{File: writeFile(t, "# rotated monthly\ns3cret pass\n")}}}, Deps{})
	batch := fixture()
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Query != "filter_path=errors,items.*.status,items.*.error" {
		t.Errorf("query %q", r.Query)
	}
	for k, want := range map[string]string{
		"Content-Type":     "application/x-ndjson",
		"Accept":           "application/json",
		"User-Agent":       "sharelog-elasticsearch/1",
		"Content-Encoding": "",
		"Authorization":    srv.wantAuth,
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	golden(t, "bulk-index.ndjson", r.Body)

	wantIndex := []string{"sharelog-2026.11.22", "sharelog-2026.11.23", "sharelog-2026.11.22", "sharelog-2026.11.22", "sharelog-2026.11.22"}
	for i, a := range r.Actions {
		if a.Op != "index" || a.Index != wantIndex[i] || a.ID != batch[i].ID {
			t.Errorf("action %d: %+v, want index into %s with _id %s", i, a, wantIndex[i], batch[i].ID)
		}
	}
	if got := srv.Received(); !slices.Equal(got, ids(batch)) {
		t.Errorf("received %v", got)
	}

	// Delivered again, the same documents replace themselves.
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.stored["sharelog-2026.11.22"]) + len(srv.stored["sharelog-2026.11.23"]); n != len(batch) {
		t.Errorf("%d documents stored after a redelivery, want %d", n, len(batch))
	}
}

// TestWireDataStreamMode checks mode data_stream with {dataset}, an API
// key, gzip and an ingest pipeline, and that a redelivery (409 on create)
// counts as delivered.
func TestWireDataStreamMode(t *testing.T) {
	srv := newBulkServer(t)
	srv.fullAnswers = true // a cluster or proxy that ignores filter_path
	srv.wantAuth = "ApiKey " + base64.StdEncoding.EncodeToString([]byte("VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw"))
	t.Setenv("TEST_ES_API_KEY", "VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw")
	reg := prometheus.NewPedanticRegistry()
	s := newSink(t, Config{
		URL: srv.URL(), Mode: ModeDataStream, DataStream: "logs-sharelog.{dataset}-default",
		Compression: CompressionGzip, Pipeline: "sharelog geo",
		Auth: Auth{APIKey: secret.Ref{Env: "TEST_ES_API_KEY"}},
	}, Deps{Registerer: reg})
	batch := fixture()
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	r := srv.Requests()[0]
	if r.Query != "filter_path=errors,items.*.status,items.*.error&pipeline=sharelog+geo" {
		t.Errorf("query %q", r.Query)
	}
	if got := r.Header.Get("Content-Encoding"); got != "gzip" {
		t.Errorf("Content-Encoding %q", got)
	}
	golden(t, "bulk-data-stream.ndjson", r.Body)
	for i, a := range r.Actions {
		want := "logs-sharelog.audit-default"
		if i < 2 {
			want = "logs-sharelog.access-default"
		}
		if a.Op != "create" || a.Index != want || a.ID != batch[i].ID {
			t.Errorf("action %d: %+v, want create into %s", i, a, want)
		}
		ds := strings.Split(want, "-")[1]
		for path, v := range map[string]string{"data_stream.type": "logs", "data_stream.dataset": ds, "data_stream.namespace": "default", "event.dataset": ds} {
			if got := lookup(r.Docs[i], path); got != v {
				t.Errorf("document %d: %s = %v, want %s", i, path, got, v)
			}
		}
	}

	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if got := srv.Received(); !slices.Equal(got, ids(batch)) {
		t.Errorf("received %v, want each event once", got)
	}
	if got := testutil.ToFloat64(s.m.items.WithLabelValues("duplicate")); got != 5 {
		t.Errorf("duplicate items %v, want 5", got)
	}
	if got := testutil.ToFloat64(s.m.items.WithLabelValues("stored")); got != 5 {
		t.Errorf("stored items %v, want 5", got)
	}
	if got := testutil.ToFloat64(s.m.requests.WithLabelValues("200")); got != 2 {
		t.Errorf("requests %v, want 2", got)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n == 0 {
		t.Errorf("gather: %d metrics, %v", n, err)
	}
}

// TestDataStreamNameOfOtherForm: a name that is not type-dataset-namespace
// gets no data_stream fields; the default name gets them.
func TestDataStreamNameOfOtherForm(t *testing.T) {
	for name, want := range map[string]any{"sharelog-events": nil, "logs-sharelog-default": "sharelog", "sharelog": nil} {
		srv := newBulkServer(t)
		s := newSink(t, Config{URL: srv.URL(), Mode: ModeDataStream, DataStream: name}, Deps{})
		if err := s.Write(context.Background(), fixture()[:1]); err != nil {
			t.Fatal(err)
		}
		doc := srv.Requests()[0].Docs[0]
		if got := lookup(doc, "data_stream.dataset"); got != want {
			t.Errorf("%s: data_stream.dataset %v, want %v", name, got, want)
		}
		if got := srv.Requests()[0].Actions[0].Index; got != name {
			t.Errorf("_index %q, want %q", got, name)
		}
	}
}

// TestPartialFailure: one bulk answer with a stored, a retryable and a
// refused item gives a BatchError with one entry per event, and the
// retried event goes through on the next Write.
func TestPartialFailure(t *testing.T) {
	srv := newBulkServer(t)
	s := newSink(t, Config{URL: srv.URL()}, Deps{})
	batch := fixture()
	srv.FailItem(batch[1].ID, 429)
	srv.FailItem(batch[4].ID, 503)
	srv.Reject(batch[2].ID)
	err := s.Write(context.Background(), batch)
	var be *sharelog.BatchError
	if !errors.As(err, &be) || len(be.Errs) != len(batch) {
		t.Fatalf("Write: %v, want a BatchError of %d", err, len(batch))
	}
	for i, want := range []string{"ok", "retryable", "permanent", "ok", "retryable"} {
		if got := kind(be.Errs[i]); got != want {
			t.Errorf("event %d: %s (%v), want %s", i, got, be.Errs[i], want)
		}
	}
	msg := be.Errs[2].Error()
	for _, part := range []string{"item 2", batch[2].ID, "400", "mapper_parsing_exception", "source.ip"} {
		if !strings.Contains(msg, part) {
			t.Errorf("refusal %q does not say %q", msg, part)
		}
	}
	if !strings.Contains(be.Errs[1].Error(), "429: es_rejected_execution_exception") {
		t.Errorf("retryable item: %v", be.Errs[1])
	}
	retry := []*sharelog.Event{batch[1], batch[4]}
	if err := s.Write(context.Background(), retry); err != nil {
		t.Fatal(err)
	}
	want := []string{batch[0].ID, batch[3].ID, batch[1].ID, batch[4].ID}
	if got := srv.Received(); !slices.Equal(got, want) {
		t.Errorf("received %v, want %v", got, want)
	}
}

// kind names the error kind of err: ok, retryable, permanent, batch, other.
func kind(err error) string {
	var be *sharelog.BatchError
	var re *sharelog.RetryableError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &be):
		return "batch"
	case sharelog.IsPermanent(err):
		return "permanent"
	case errors.As(err, &re):
		return "retryable"
	}
	return "other"
}

// cannedServer answers every request with the same status, headers and
// body, after reading the request.
func cannedServer(t *testing.T, code int, h http.Header, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRequestClassification: each answer to the whole request → its kind.
func TestRequestClassification(t *testing.T) {
	esErr := func(typ, reason string, code int) string {
		return fmt.Sprintf(`{"error":{"root_cause":[{"type":%q,"reason":%q}],"type":%q,"reason":%q},"status":%d}`, typ, reason, typ, reason, code)
	}
	httpDate := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	two := fixture()[:2]
	okItem := `{"index":{"status":201}}`
	for _, c := range []struct {
		name     string
		code     int
		header   http.Header
		body     string
		kind     string
		after    time.Duration // checked when not 0; -1: about 30 s
		mentions string
	}{
		{"malformed request", 400, nil, esErr("illegal_argument_exception", "Malformed action/metadata line [1]", 400), "permanent", 0, "illegal_argument_exception: Malformed action/metadata line [1]"},
		{"bad credentials", 401, nil, esErr("security_exception", "unable to authenticate user [sharelog] for REST request [/_bulk]", 401), "retryable", 0, "security_exception"},
		{"no privilege", 403, nil, esErr("security_exception", "action [indices:data/write/bulk] is unauthorized for user [sharelog]", 403), "retryable", 0, "unauthorized"},
		{"wrong path", 404, nil, "<html>not found</html>", "retryable", 0, "is url the cluster's address"},
		{"request timeout", 408, nil, "", "retryable", 0, "408"},
		{"conflict", 409, nil, "", "permanent", 0, "409"},
		{"too large", 413, nil, "<html><body><h1>413 Request Entity Too Large</h1></body></html>", "permanent", 0, "413 Request Entity Too Large"},
		{"unsupported media type", 415, nil, esErr("media_type_header_exception", "Invalid media-type value on headers [Content-Type]", 415), "permanent", 0, "media_type_header_exception"},
		{"rate limited", 429, http.Header{"Retry-After": {"7"}}, esErr("es_rejected_execution_exception", "rejected execution", 429), "retryable", 7 * time.Second, "429"},
		{"internal error", 500, nil, esErr("null_pointer_exception", "oops", 500), "retryable", 0, "null_pointer_exception"},
		{"bad gateway", 502, nil, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>", "retryable", 0, "502 Bad Gateway"},
		{"unavailable with a date", 503, http.Header{"Retry-After": {httpDate}}, esErr("cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered]", 503), "retryable", -1, "cluster_block_exception"},
		{"gateway timeout", 504, nil, "", "retryable", 0, "504"},
		{"redirect", 301, http.Header{"Location": {"https://es.example.com/_bulk"}}, "", "retryable", 0, `redirected to "https://es.example.com/_bulk"`},
		{"not a bulk answer", 200, nil, `{"acknowledged":true}`, "retryable", 0, "not a bulk answer"},
		{"not JSON", 200, nil, `<html>login</html>`, "retryable", 0, "not a bulk answer"},
		{"empty", 200, nil, ``, "retryable", 0, "not a bulk answer"},
		{"too few items", 200, nil, `{"errors":false,"items":[` + okItem + `]}`, "retryable", 0, "1 items for 2 events"},
		{"all stored", 200, nil, `{"errors":false,"items":[` + okItem + `,{"index":{"status":200}}]}`, "ok", 0, ""},
		{"wrong action answered", 200, nil, `{"errors":false,"items":[` + okItem + `,{"create":{"status":201}}]}`, "batch", 0, `no "index" result`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSink(t, Config{URL: cannedServer(t, c.code, c.header, c.body)}, Deps{})
			err := s.Write(context.Background(), two)
			if got := kind(err); got != c.kind {
				t.Fatalf("%s (%v), want %s", got, err, c.kind)
			}
			if err == nil {
				return
			}
			if !strings.Contains(err.Error(), c.mentions) {
				t.Errorf("%q does not mention %q", err, c.mentions)
			}
			after, _ := sharelog.RetryAfter(err)
			switch {
			case c.after > 0 && after != c.after:
				t.Errorf("Retry-After %v, want %v", after, c.after)
			case c.after < 0 && (after < 25*time.Second || after > 31*time.Second):
				t.Errorf("Retry-After %v, want about 30s", after)
			}
		})
	}
}

// TestItemClassification: each item status of a bulk answer → its kind,
// in both modes.
func TestItemClassification(t *testing.T) {
	statuses := []int{201, 200, 409, 400, 404, 403, 401, 408, 422, 429, 500, 503, 0} // 0: no status
	for _, mode := range []Mode{ModeIndex, ModeDataStream} {
		op := map[Mode]string{ModeIndex: "index", ModeDataStream: "create"}[mode]
		want := []string{"ok", "ok", "permanent", "permanent", "retryable", "retryable", "retryable", "retryable", "permanent", "retryable", "retryable", "retryable", "retryable"}
		if mode == ModeDataStream {
			want[2] = "ok" // created before: a redelivery
		}
		var items []string
		batch := make([]*sharelog.Event, len(statuses))
		for i, st := range statuses {
			ev := *fixture()[0]
			ev.ID = fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", i)
			batch[i] = &ev
			item := fmt.Sprintf(`{"%s":{"status":%d`, op, st)
			if st >= 300 {
				item += `,"error":{"type":"x_exception","reason":"because","caused_by":{"type":"y_exception","reason":"deeper"}}`
			}
			items = append(items, item+"}}")
		}
		answer := `{"errors":true,"items":[` + strings.Join(items, ",") + `]}`
		cfg := Config{URL: cannedServer(t, 200, http.Header{"Retry-After": {"3"}}, answer), Mode: mode}
		s := newSink(t, cfg, Deps{})
		err := s.Write(context.Background(), batch)
		var be *sharelog.BatchError
		if !errors.As(err, &be) || len(be.Errs) != len(batch) {
			t.Fatalf("%s: %v, want a BatchError of %d", mode, err, len(batch))
		}
		for i, e := range be.Errs {
			if got := kind(e); got != want[i] {
				t.Errorf("%s: item status %d: %s (%v), want %s", mode, statuses[i], got, e, want[i])
			}
			if after, ok := sharelog.RetryAfter(e); ok && after != 3*time.Second {
				t.Errorf("%s: item status %d: Retry-After %v, want the answer's 3s", mode, statuses[i], after)
			}
		}
		if msg := be.Errs[3].Error(); !strings.Contains(msg, "400: x_exception: because (caused by y_exception: deeper)") {
			t.Errorf("refusal says %q", msg)
		}
	}

	// Only 409s on create, with errors true: every event is there.
	s := newSink(t, Config{URL: cannedServer(t, 200, nil, `{"errors":true,"items":[{"create":{"status":409,"error":{"type":"version_conflict_engine_exception"}}}]}`), Mode: ModeDataStream}, Deps{})
	if err := s.Write(context.Background(), fixture()[:1]); err != nil {
		t.Errorf("all duplicates: %v", err)
	}
}

// TestCredentialsReloadAfter401: a refused password is read again from its
// file, so a rotation needs no restart; no error shows a secret.
func TestCredentialsReloadAfter401(t *testing.T) {
	srv := newBulkServer(t)
	srv.wantAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte("sharelog:new-secret"))
	pw := writeFile(t, "old-secret\n")
	s := newSink(t, Config{URL: srv.URL(), Auth: Auth{Username: "sharelog", Password: secret.Ref{File: pw}}}, Deps{})
	// The password is rotated after the sink read it.
	if err := os.WriteFile(pw, []byte("new-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	batch := fixture()[:1]
	err := s.Write(context.Background(), batch)
	if kind(err) != "retryable" || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Write with the old password: %v, want retryable 401", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows a secret: %v", err)
	}
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatalf("after the 401, with the password read again: %v", err)
	}
	if got := srv.Received(); !slices.Equal(got, ids(batch)) {
		t.Errorf("received %v", got)
	}
}

// TestNewErrorsNameTheField: a missing secret or file fails New, naming
// the field and never a value.
func TestNewErrorsNameTheField(t *testing.T) {
	t.Setenv("TEST_ES_EMPTY", "")
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{URL: "http://127.0.0.1:9", Auth: Auth{Username: "u", Password: secret.Ref{Env: "TEST_ES_EMPTY"}}}, "auth.password: environment variable TEST_ES_EMPTY is not set"},
		{Config{URL: "http://127.0.0.1:9", Auth: Auth{APIKey: secret.Ref{File: "/nonexistent/key"}}}, "auth.api_key: open /nonexistent/key"},
		{Config{URL: "https://127.0.0.1:9", TLS: TLS{CAFile: "/nonexistent/ca.pem"}}, "tls.ca_file: open /nonexistent/ca.pem"},
		{Config{URL: "https://127.0.0.1:9", TLS: TLS{CAFile: writeFile(t, "not a certificate")}}, "holds no PEM certificate"},
		{Config{URL: "https://127.0.0.1:9", TLS: TLS{CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"}}, "tls.cert_file:"},
		{Config{URL: "ftp://x"}, "url: must be an absolute http(s) URL"},
	} {
		c.cfg.SetDefaults()
		_, err := New(c.cfg, Deps{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New: %v, want %q", err, c.want)
		}
	}
	cfg := Config{URL: "https://127.0.0.1:9", TLS: TLS{CAFile: "/x"}}
	cfg.SetDefaults()
	if _, err := New(cfg, Deps{Client: http.DefaultClient}); err == nil || !strings.Contains(err.Error(), "Deps.Client") {
		t.Errorf("TLS with a given client: %v", err)
	}
}

// TestTLSCAFile: https to a cluster whose certificate a ca_file vouches
// for; without it, a retryable certificate error.
func TestTLSCAFile(t *testing.T) {
	var got sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer got.Done()
		req, err := parseBulk(mustRead(r.Body))
		if err != nil {
			t.Error(err)
		}
		fmt.Fprintf(w, `{"errors":false,"items":[%s]}`, strings.Repeat(`{"index":{"status":201}},`, len(req.Actions)-1)+`{"index":{"status":201}}`)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	got.Add(1)
	s := newSink(t, Config{URL: srv.URL, TLS: TLS{CAFile: writeFile(t, string(ca))}}, Deps{})
	if err := s.Write(context.Background(), fixture()); err != nil {
		t.Fatal(err)
	}
	got.Wait()

	plain := newSink(t, Config{URL: srv.URL}, Deps{})
	err := plain.Write(context.Background(), fixture())
	if kind(err) != "retryable" || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without ca_file: %v, want a retryable certificate error", err)
	}
}

func mustRead(r io.Reader) []byte {
	b, _ := io.ReadAll(r)
	return b
}

// TestContextBoundsTheRequest: a stalled cluster holds Write no longer than
// its context.
func TestContextBoundsTheRequest(t *testing.T) {
	srv := newBulkServer(t)
	release := srv.Stall()
	defer release()
	s := newSink(t, Config{URL: srv.URL()}, Deps{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Write(ctx, fixture())
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Write: %v, want the deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Write returned after %v", d)
	}
}

// TestConcurrentWrites: Write from several goroutines at once.
func TestConcurrentWrites(t *testing.T) {
	srv := newBulkServer(t)
	s := newSink(t, Config{URL: srv.URL(), Compression: CompressionGzip}, Deps{})
	var wg sync.WaitGroup
	var want []string
	for g := range 8 {
		var batches [][]*sharelog.Event
		for b := range 10 {
			var batch []*sharelog.Event
			for i := range 25 {
				ev := *fixture()[i%5]
				ev.ID = fmt.Sprintf("0193a1b2-c3d4-7e5f-%04d-%012d", g, b*25+i)
				batch = append(batch, &ev)
				want = append(want, ev.ID)
			}
			batches = append(batches, batch)
		}
		wg.Go(func() {
			for _, batch := range batches {
				if err := s.Write(context.Background(), batch); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := srv.Received()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("received %d events, want %d", len(got), len(want))
	}
}

func TestWriteEmptyAndAfterClose(t *testing.T) {
	srv := newBulkServer(t)
	s := newSink(t, Config{URL: srv.URL()}, Deps{})
	if err := s.Write(context.Background(), nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
	if len(srv.Requests()) != 0 {
		t.Error("an empty batch sent a request")
	}
	s.Close()
	if err := s.Write(context.Background(), fixture()); err == nil {
		t.Error("Write after Close succeeded")
	}
}

// TestOwnClient: no proxy from the environment, no redirects followed.
func TestOwnClient(t *testing.T) {
	s := newSink(t, Config{URL: "http://127.0.0.1:9"}, Deps{})
	tr := s.client.Transport.(*http.Transport)
	if tr.Proxy != nil {
		t.Error("the transport takes a proxy from the environment")
	}
	if s.client.CheckRedirect == nil {
		t.Error("redirects are followed")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"-5":                            0,
		" 12 ":                          12 * time.Second,
		"999999":                        24 * time.Hour,
		"Sun, 22 Nov 2026 10:01:00 GMT": time.Minute,
		"Sun, 22 Nov 2026 09:00:00 GMT": 0,
		"soon":                          0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestAnswerDecoding: the answer shapes of Elasticsearch 7/8/9 and
// OpenSearch, filtered or not, with an error given as a string (old
// versions), all decode.
func TestAnswerDecoding(t *testing.T) {
	s := newSink(t, Config{URL: "http://127.0.0.1:9"}, Deps{})
	batch := fixture()[:3]
	answer := `{"took":30,"errors":true,"items":[
	 {"index":{"_index":"sharelog-2026.11.22","_id":"a","_version":1,"result":"created","forced_refresh":false,"_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}},
	 {"index":{"_index":"sharelog-2026.11.23","_id":"b","status":400,"error":"MapperParsingException[failed to parse]"}},
	 {"index":{"_index":"sharelog-2026.11.22","_id":"c","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1, max_coordinating_and_primary_bytes=0]"}}}
	]}`
	err := s.itemErrors(batch, []byte(answer), 0)
	var be *sharelog.BatchError
	if !errors.As(err, &be) {
		t.Fatal(err)
	}
	if kind(be.Errs[0]) != "ok" || kind(be.Errs[1]) != "permanent" || kind(be.Errs[2]) != "retryable" {
		t.Errorf("kinds %v", be.Errs)
	}
	if !strings.Contains(be.Errs[1].Error(), "MapperParsingException[failed to parse]") {
		t.Errorf("string error: %v", be.Errs[1])
	}
	if b, _ := json.Marshal(be.Error()); len(b) == 0 {
		t.Error("no message")
	}
}
