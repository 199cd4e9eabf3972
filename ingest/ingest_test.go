package ingest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/eventtest"
	"github.com/sharelog/sharelog/internal/kafkatest"
	"github.com/sharelog/sharelog/internal/kafkax"
)

const key = "ingest-test-key-0123456789"

func newConn(t *testing.T) *kafkax.Conn {
	t.Helper()
	cfg := kafkax.Config{TopicPrefix: kafkatest.Prefix(t), Partitions: 2}
	cfg.SetDefaults()
	conn, err := kafkax.NewConn(cfg, kafkatest.Brokers(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := conn.EnsureTopics(context.Background(), cfg.Topics().Raw); err != nil {
		t.Fatal(err)
	}
	return conn
}

func validEvent(id string) *sharelog.Event {
	ev := eventtest.Event(0, eventtest.Workspace("ws", ""), eventtest.User("a@b.example"), eventtest.Link(""),
		eventtest.Action(sharelog.FileUploaded), eventtest.File("f", "", 0))
	ev.ID = id
	return ev
}

func TestPublishValidatesBeforeProducing(t *testing.T) {
	conn := newConn(t)
	c := connClient(t, conn)
	good, bad := validEvent("0193a1b2-c3d4-7e5f-8a9b-000000000001"), validEvent("0193a1b2-c3d4-7e5f-8a9b-000000000002")
	bad.Client.IP = "nope"
	err := c.Publish(context.Background(), good, bad)
	var ie *InvalidEventError
	if !errors.As(err, &ie) || ie.Index != 1 || ie.ID != bad.ID || !strings.Contains(err.Error(), "client.ip") {
		t.Fatalf("err = %v", err)
	}
	if err := c.Publish(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	// Only the good event of the second call is on the topic, keyed by
	// its workspace (it has no link).
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: conn.Brokers(), Topic: c.Topic(), GroupID: c.Topic() + "-check", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := r.FetchMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Key) != "ws" || !strings.Contains(string(m.Value), good.ID) {
		t.Fatalf("message %q: %s", m.Key, m.Value)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if m, err := r.FetchMessage(ctx2); err == nil {
		t.Fatalf("a second message was produced: %s", m.Value)
	}
}

func TestPublishFailsRetryablyWhenKafkaIsGone(t *testing.T) {
	conn := newConn(t)
	b, _ := kafkax.StartEmbedded(kafkax.EmbeddedConfig{Addr: "127.0.0.1:0"}, t.TempDir(), 1)
	b.Close() // an address where nothing listens any more
	gone, _ := kafkax.NewConn(conn.Config(), []string{b.Addr()})
	cg := connClient(t, gone)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := cg.Publish(ctx, validEvent("0193a1b2-c3d4-7e5f-8a9b-000000000003"))
	if _, ok := sharelog.RetryAfter(err); !ok {
		t.Fatalf("err = %v, want a RetryableError", err)
	}
}

func newHandler(t *testing.T, mutate func(*Config)) *Handler {
	t.Helper()
	// The events here carry fixed dates: no past bound, so that they stay
	// valid as the calendar moves (TestTimeWindow tests the window).
	cfg := Config{MaxPast: 100 * 365 * 24 * time.Hour}
	cfg.SetDefaults()
	if mutate != nil {
		mutate(&cfg)
	}
	reg := prometheus.NewRegistry()
	h, err := NewHandler(cfg, []string{key, "second-key-abcdefghijkl"}, connClient(t, newConn(t)), nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHandlerAuthAndMethod(t *testing.T) {
	h := newHandler(t, nil)
	srv := newServer(t, h)
	defer srv.Close()
	for _, tc := range []struct {
		method, auth string
		want         int
	}{
		{"GET", "Bearer " + key, 405},
		{"POST", "", 401},
		{"POST", "Basic " + key, 401},
		{"POST", "Bearer " + key + "x", 401},
		{"POST", "Bearer " + key[:len(key)-1], 401},
		{"POST", "bearer second-key-abcdefghijkl", 202},
		{"POST", "Bearer " + key, 202},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+"/v1/events", strings.NewReader(`{"id":"0193a1b2-c3d4-7e5f-8a9b-000000000009","time":"2026-11-22T09:00:00Z","workspace":{"id":"ws"},"actor":{"type":"anonymous"},"action":"access.blocked","result":"denied","reason":"ip_blocked","client":{"ip":"192.0.2.1","kind":"api"}}`))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %q: %d, want %d", tc.method, tc.auth, resp.StatusCode, tc.want)
		}
	}
	if got := testutil.ToFloat64(h.metrics.requests.WithLabelValues("401")); got != 4 {
		t.Errorf("401 counted %v times, want 4", got)
	}
	if got := testutil.ToFloat64(h.metrics.accepted); got != 2 {
		t.Errorf("accepted %v, want 2", got)
	}
}

// TestHandlerAnswers429WhenFull holds the only slot with a request whose
// body is still arriving.
func TestHandlerAnswers429WhenFull(t *testing.T) {
	h := newHandler(t, func(c *Config) { c.MaxInFlight = 1; c.RetryAfter = 2 * time.Second })
	srv := newServer(t, h)
	defer srv.Close()
	pr, pw := io.Pipe()
	first := make(chan int)
	go func() {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/events", pr)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	pw.Write([]byte("{")) // the handler now holds the slot, reading
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/events", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 {
			if resp.Header.Get("Retry-After") != "2" {
				t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never 429, last %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	pw.Close() // the first request ends: its body "{" is not JSON
	if code := <-first; code != 400 {
		t.Fatalf("first request: %d, want 400", code)
	}
}

func TestConfigValidateHidesKeys(t *testing.T) {
	c := Config{Keys: []string{"tiny"}, KeysFile: "/etc/keys"}
	c.SetDefaults()
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "keys[0]: is 4 bytes") || !strings.Contains(err.Error(), "keys_file:") || strings.Contains(err.Error(), "tiny") {
		t.Fatalf("err = %v", err)
	}
}

// TestHandlerRefusesSystemEvents: an outside producer cannot forge the
// events sharelog writes about itself; the rest of its batch goes through.
func TestHandlerRefusesSystemEvents(t *testing.T) {
	h := newHandler(t, nil)
	srv := newServer(t, h)
	defer srv.Close()
	forged := `{"id":"0193a1b2-c3d4-7e5f-8a9b-00000000000a","time":"2026-11-22T09:00:00Z","workspace":{"id":"ws"},"actor":{"type":"system"},"action":"retention.applied","result":"success","reason":"max_age: 9 events","client":{"ip":"127.0.0.1","kind":"api"}}`
	good := `{"id":"0193a1b2-c3d4-7e5f-8a9b-00000000000b","time":"2026-11-22T09:00:00Z","workspace":{"id":"ws"},"actor":{"type":"anonymous"},"action":"access.blocked","result":"denied","reason":"ip_blocked","client":{"ip":"192.0.2.1","kind":"api"}}`
	req, _ := http.NewRequest("POST", srv.URL+"/v1/events", strings.NewReader(forged+"\n"+good+"\n"))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(body), `"accepted":1`) || !strings.Contains(string(body), `"field":"actor.type"`) || !strings.Contains(string(body), "reserved") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}
