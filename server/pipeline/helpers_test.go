package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/config"
	"github.com/sharelog/sharelog/internal/eventtest"
	"github.com/sharelog/sharelog/internal/kafkatest"
	"github.com/sharelog/sharelog/internal/testgeo"
)

const testKey = "test-ingest-key-0123456789"

// testConfig is a valid configuration for one test: its own data directory,
// loopback ports chosen by the kernel, a small GeoIP database.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := &config.Config{DataDir: t.TempDir()}
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Kafka.Embedded.Addr = "127.0.0.1:0"
	cfg.Kafka.Partitions = 4
	cfg.Ingest.Keys = []string{testKey}
	cfg.Enrich.Session.Secret = "an-enrich-session-secret-of-32-bytes!"
	// One worker: with two, the second one's joining rebalances the group
	// and may redeliver a batch (at-least-once), while these tests check
	// the normal case, exactly once. TestWorkerRestartLosesNothing runs two.
	cfg.Enrich.Workers = 1
	cfg.GeoIP.CityDB = []string{testgeo.WriteCityDB(t)}
	cfg.Log.Level = "warn"
	if real := kafkatest.Real(); real != nil { // SHARELOG_TEST_KAFKA_BROKERS: a real cluster
		cfg.Kafka.Brokers = real
		cfg.Kafka.TopicPrefix = kafkatest.Prefix(t)
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// running is a started pipeline whose Run goroutine the test stops.
type running struct {
	*Pipeline
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// stop ends the pipeline and waits for Run to return; stopping twice is fine.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.stopped {
		return
	}
	r.stopped = true
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("pipeline: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("pipeline did not stop within 30s")
	}
}

func start(t *testing.T, cfg *config.Config, roles Roles) *running {
	t.Helper()
	p, err := Start(context.Background(), cfg, roles, Options{Embedded: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Pipeline: p, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// sharedBroker returns brokers that outlive the pipelines a test starts and
// stops: the real cluster, or an embedded broker of the test's own.
func sharedBroker(t *testing.T) []string {
	t.Helper()
	return kafkatest.Brokers(t, 4)
}

// post sends body to the ingest endpoint and returns the status, headers
// and decoded answer.
func post(t *testing.T, addr, key string, body []byte, header map[string]string) (int, http.Header, Response) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r Response
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header, r
}

// Response mirrors ingest.Response, decoded independently of it.
type Response struct {
	Accepted int    `json:"accepted"`
	Rejected int    `json:"rejected"`
	Error    string `json:"error"`
	Errors   []struct {
		Index  int    `json:"index"`
		Line   int    `json:"line"`
		ID     string `json:"id"`
		Error  string `json:"error"`
		Fields []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"fields"`
	} `json:"errors"`
}

func ndjson(t *testing.T, evs ...*sharelog.Event) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

var idSeq struct {
	sync.Mutex
	n int
}

// event returns a valid link.downloaded event with a fresh UUID.
func event(link, ip, ua string) *sharelog.Event {
	idSeq.Lock()
	idSeq.n++
	n := idSeq.n
	idSeq.Unlock()
	ev := eventtest.Event(n, eventtest.Workspace("ws-acme", "Acme"), eventtest.Visitor("visitor@example.org"), eventtest.Link(link),
		eventtest.Action(sharelog.LinkDownloaded), eventtest.File("f-1", "contract.pdf", 52133), eventtest.Client(ip, ua))
	ev.File.Path = "/legal/contract.pdf"
	ev.Server = &sharelog.Server{Region: "eu-central-2", Node: "web-1"}
	return ev
}

// consume reads topic from the start in a fresh consumer group until want
// messages arrived or timeout passed, and returns what arrived.
func consume(t *testing.T, brokers []string, topic string, want int, timeout time.Duration) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Topic: topic, GroupID: fmt.Sprintf("test-%d", time.Now().UnixNano()),
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond, SessionTimeout: 6 * time.Second,
	})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []kafka.Message
	for len(out) < want {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			break
		}
		out = append(out, m)
	}
	return out
}

// byID decodes enriched messages, failing on a duplicate id.
func byID(t *testing.T, msgs []kafka.Message) map[string]*sharelog.Event {
	t.Helper()
	out := map[string]*sharelog.Event{}
	for _, m := range msgs {
		ev, err := sharelog.DecodeEnriched(m.Value)
		if err != nil {
			t.Fatalf("enriched message at %d/%d does not decode: %v", m.Partition, m.Offset, err)
		}
		if _, dup := out[ev.ID]; dup {
			t.Errorf("event %s delivered twice", ev.ID)
		}
		out[ev.ID] = ev
	}
	return out
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// get fetches url, checks the status and returns the body.
func get(t *testing.T, url string, want int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d: %s", url, resp.StatusCode, want, body)
	}
	return string(body)
}
