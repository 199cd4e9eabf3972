package main

// Process-level tests against Apache Kafka: the real sharelog binary, run as
// a user would, against the broker that scripts/kafka-up starts. They run
// when SHARELOG_TEST_KAFKA_BROKERS names the broker; the broker-outage test
// also needs SHARELOG_TEST_KAFKA_PORT (the port scripts/kafka-up was given)
// and SHARELOG_TEST_KAFKA_UP_ARGS (its other arguments), so that it may stop
// and start the broker. `make test-kafka` sets them.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/ingest"
	"github.com/sharelog/sharelog/internal/kafkatest"
	"github.com/sharelog/sharelog/internal/kafkax"
	"github.com/sharelog/sharelog/server/pipeline"
	"github.com/sharelog/sharelog/tools/simulate"
)

const (
	itestKey    = "integration-test-ingest-key"
	itestSecret = "integration-test-session-secret-32b!"
)

func realKafka(t *testing.T) []string {
	t.Helper()
	b := kafkatest.Real()
	if b == nil {
		t.Skip("SHARELOG_TEST_KAFKA_BROKERS is not set: no Apache Kafka to run against (make test-kafka)")
	}
	return b
}

// cluster is what one test shares between its processes.
type cluster struct {
	t       *testing.T
	brokers []string
	prefix  string
	kafka   kafkax.Config
}

func newCluster(t *testing.T) *cluster {
	brokers := realKafka(t)
	c := &cluster{t: t, brokers: brokers, prefix: kafkatest.Prefix(t)}
	c.kafka = kafkax.Config{Brokers: brokers, TopicPrefix: c.prefix, Partitions: 6}
	c.kafka.SetDefaults()
	return c
}

func (c *cluster) topics() kafkax.Topics { return c.kafka.Topics() }

// env is the environment of a sharelog process of this cluster.
func (c *cluster) env(extra ...string) []string {
	return append(append(os.Environ(), extra...),
		"SHARELOG_KAFKA_BROKERS="+strings.Join(c.brokers, ","),
		"SHARELOG_KAFKA_TOPIC_PREFIX="+c.prefix,
		"SHARELOG_KAFKA_PARTITIONS=6",
		"SHARELOG_INGEST_KEYS="+itestKey,
		"SHARELOG_ENRICH_SESSION_SECRET="+itestSecret,
		"SHARELOG_ENRICH_SHUTDOWN_TIMEOUT=10s",
		"SHARELOG_LOG_LEVEL="+cmp.Or(os.Getenv("SHARELOG_TEST_LOG_LEVEL"), "warn"),
	)
}

// proc is a running sharelog process.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	addr string
	done chan error
}

// start runs `sharelog role` and waits until /readyz answers 200.
func (c *cluster) start(role string) *proc {
	c.t.Helper()
	addr := freeAddr(c.t)
	cmd := exec.Command(binary, role)
	cmd.Env = append(c.env(), "SHARELOG_HTTP_ADDR="+addr, "SHARELOG_DATA_DIR="+c.t.TempDir())
	p := &proc{cmd: cmd, out: new(syncBuffer), addr: addr, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	c.t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case err := <-p.done:
			c.t.Fatalf("sharelog %s exited: %v\n%s", role, err, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("sharelog %s not ready within 60s:\n%s", role, p.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		<-p.done
		p.done <- nil
	}
}

// stop sends SIGTERM and expects a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.out.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("no exit within 40s of SIGTERM:\n%s", p.out.String())
	}
}

// producer publishes simulated events with the Go client and remembers
// their ids.
type producer struct {
	client *ingest.Client
	gen    *simulate.Generator
	mu     sync.Mutex
	ids    []string
}

func (c *cluster) producer() *producer {
	conn, err := kafkax.NewConn(c.kafka, c.brokers)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t := c.topics()
	if err := conn.EnsureTopics(ctx, t.Raw, t.Enriched, t.DLQ); err != nil {
		c.t.Fatal(err)
	}
	client, err := pipeline.NewIngestClient(conn)
	if err != nil {
		c.t.Fatal(err)
	}
	p := &producer{client: client, gen: simulate.NewGenerator(simulate.Config{Seed: 11}, nil)}
	c.t.Cleanup(func() { p.client.Close(); conn.Close() })
	return p
}

// publish sends n events in batches of 100.
func (p *producer) publish(t *testing.T, n int) {
	t.Helper()
	for n > 0 {
		batch := p.gen.Batch(min(n, 100))
		if err := p.client.Publish(context.Background(), batch...); err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		for _, ev := range batch {
			p.ids = append(p.ids, ev.ID)
		}
		p.mu.Unlock()
		n -= len(batch)
	}
}

// enriched reads the enriched topic until every id in want arrived or
// timeout, and returns how many of want are missing and how many deliveries
// of them were duplicates (those arriving after the last new id are not
// waited for).
func (c *cluster) enriched(t *testing.T, want []string, timeout time.Duration) (missing, duplicates int) {
	t.Helper()
	seen := kafkatest.ReadIDs(t, c.brokers, c.topics().Enriched, want, timeout)
	for _, id := range want {
		switch n := seen[id]; n {
		case 0:
			missing++
		default:
			duplicates += n - 1
		}
	}
	return missing, duplicates
}

// stream publishes batches of 100 events every 10 ms from a goroutine until
// the returned function is called, which waits for it.
func (p *producer) stream(t *testing.T) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			p.publish(t, 100)
		}
	}()
	return func() { close(done); wg.Wait() }
}

// TestKafkaEnrichWorkerKilled SIGKILLs the enrich process while events
// stream in, and starts it again.
func TestKafkaEnrichWorkerKilled(t *testing.T) {
	c := newCluster(t)
	prod := c.producer()
	enr := c.start("enrich")
	stop := prod.stream(t)
	time.Sleep(2 * time.Second)
	enr.kill() // SIGKILL mid-stream: no flush, no commit
	time.Sleep(time.Second)
	enr = c.start("enrich")
	time.Sleep(2 * time.Second)
	stop()
	missing, dups := c.enriched(t, prod.ids, 120*time.Second)
	t.Logf("SIGKILL of the enrich worker: %d events, %d lost, %d duplicated", len(prod.ids), missing, dups)
	if missing > 0 {
		t.Fatalf("%d of %d events lost", missing, len(prod.ids))
	}
	enr.stop(t)
}

// TestKafkaPartitionsMoveWhenAWorkerDies runs two enrich processes in one
// group and SIGKILLs one while events stream in: its partitions move to the
// other, and nothing is lost or stuck.
func TestKafkaPartitionsMoveWhenAWorkerDies(t *testing.T) {
	c := newCluster(t)
	prod := c.producer()
	a := c.start("enrich")
	b := c.start("enrich")
	stop := prod.stream(t)
	time.Sleep(2 * time.Second)
	a.kill()
	time.Sleep(3 * time.Second)
	stop()
	missing, dups := c.enriched(t, prod.ids, 120*time.Second)
	t.Logf("two workers, one killed: %d events, %d lost, %d duplicated", len(prod.ids), missing, dups)
	if missing > 0 {
		resp, err := http.Get("http://" + b.addr + "/metrics")
		if err == nil {
			m, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, l := range strings.Split(string(m), "\n") {
				if strings.HasPrefix(l, "sharelog_consumer_lag") || strings.HasPrefix(l, "sharelog_enrich_events_total") {
					t.Log(l)
				}
			}
		}
		t.Fatalf("%d of %d events lost or stuck; the surviving worker's log:\n%s", missing, len(prod.ids), tail(b.out.String(), 60))
	}
	b.stop(t)
}

// TestKafkaBrokerOutage stops the broker for 30 seconds while a sender posts
// to `sharelog run` (ingest and enrich against the real broker): ingest must
// answer 503 with Retry-After while it is down, accept again afterwards, and
// every event answered 202 must arrive enriched.
func TestKafkaBrokerOutage(t *testing.T) {
	c := newCluster(t)
	port := os.Getenv("SHARELOG_TEST_KAFKA_PORT")
	if port == "" {
		t.Skip("SHARELOG_TEST_KAFKA_PORT is not set: the test may not stop the broker")
	}
	_, file, _, _ := runtime.Caller(0)
	scripts := filepath.Join(filepath.Dir(file), "..", "..", "scripts")
	broker := func(script string) {
		args := []string{"--port", port}
		if script == "kafka-up" { // start it as it was started: version, SASL listener
			args = append(args, strings.Fields(os.Getenv("SHARELOG_TEST_KAFKA_UP_ARGS"))...)
		}
		out, err := exec.Command(filepath.Join(scripts, script), args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
	}
	c.producer() // creates the topics
	p := c.start("run")
	defer func() {
		if t.Failed() {
			t.Logf("the process's log ends:\n%s", tail(p.out.String(), 60))
		}
	}()

	var (
		mu                     sync.Mutex
		acked                  []string
		ok, unavailable, other int
		retryAfterMissing      int
		phase                  = "before"
		okAfter                int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		gen := simulate.NewGenerator(simulate.Config{Seed: 21}, nil)
		client := &http.Client{Timeout: 20 * time.Second}
		for {
			select {
			case <-stop:
				return
			default:
			}
			batch := gen.Batch(20)
			var body bytes.Buffer
			for _, ev := range batch {
				body.Write(ev.AppendJSON(nil))
				body.WriteByte('\n')
			}
			req, _ := http.NewRequest("POST", "http://"+p.addr+"/v1/events", &body)
			req.Header.Set("Authorization", "Bearer "+itestKey)
			resp, err := client.Do(req)
			mu.Lock()
			switch {
			case err != nil:
				other++
			case resp.StatusCode == 202:
				ok++
				if phase == "after" {
					okAfter++
				}
				for _, ev := range batch {
					acked = append(acked, ev.ID)
				}
			case resp.StatusCode == 503:
				unavailable++
				if resp.Header.Get("Retry-After") == "" {
					retryAfterMissing++
				}
			default:
				other++
				b, _ := io.ReadAll(resp.Body)
				t.Logf("unexpected answer %d: %s", resp.StatusCode, b)
			}
			mu.Unlock()
			if resp != nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	time.Sleep(3 * time.Second)
	broker("kafka-down")
	downAt := time.Now()
	time.Sleep(30 * time.Second)
	mu.Lock()
	unavailableWhileDown := unavailable
	mu.Unlock()
	broker("kafka-up")
	t.Logf("broker down for %s", time.Since(downAt).Round(time.Second))
	mu.Lock()
	phase = "after"
	mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := okAfter
		mu.Unlock()
		if n >= 20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("answers: %d × 202, %d × 503, %d other; %d events acknowledged", ok, unavailable, other, len(acked))
	if unavailableWhileDown == 0 {
		t.Error("no 503 while the broker was down")
	}
	if retryAfterMissing > 0 {
		t.Errorf("%d answers 503 without Retry-After", retryAfterMissing)
	}
	if okAfter < 20 {
		t.Errorf("only %d answers 202 after the broker came back", okAfter)
	}
	missing, dups := c.enriched(t, acked, 120*time.Second)
	t.Logf("broker outage: %d acknowledged events, %d lost, %d duplicated", len(acked), missing, dups)
	if missing > 0 {
		t.Fatalf("%d events answered 202 never arrived enriched; the process's log ends:\n%s", missing, tail(p.out.String(), 80))
	}
	p.stop(t)
}

// kcat runs kcat with args and stdin, failing the test on error.
func kcat(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed (apt-get install kcat)")
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// TestKafkaKcatInterop: an event produced by kcat into the raw topic comes
// out enriched, and kcat reads the enriched topic (key, value, headers) and
// the DLQ (with the reason) as docs/ingest.md ("Message format on the topics") documents.
func TestKafkaKcatInterop(t *testing.T) {
	c := newCluster(t)
	c.producer() // creates the topics
	enr := c.start("enrich")
	b := c.brokers[0]
	topics := c.topics()

	ev := simulate.NewGenerator(simulate.Config{Seed: 3}, nil).Next()
	for ev.Link == nil {
		ev = simulate.NewGenerator(simulate.Config{Seed: time.Now().UnixNano()}, nil).Next()
	}
	good := ev.AppendJSON(nil)
	// kcat -K: key and value separated by a tab, one message a line.
	input := fmt.Sprintf("%s\t%s\n%s\t%s\n", ev.Link.ID, good, ev.Link.ID, `{"id": "not-an-event"}`)
	kcat(t, []byte(input), "-b", b, "-t", topics.Raw, "-P", "-K", "\t")

	type kmsg struct {
		Key     string   `json:"key"`
		Payload string   `json:"payload"`
		Headers []string `json:"headers"`
	}
	read := func(topic string) kmsg {
		deadline := time.Now().Add(60 * time.Second)
		for {
			out := kcat(t, nil, "-b", b, "-t", topic, "-C", "-o", "beginning", "-c", "1", "-e", "-J", "-q")
			if line := bytes.TrimSpace(out); len(line) > 0 {
				var m kmsg
				if err := json.Unmarshal(bytes.SplitN(line, []byte("\n"), 2)[0], &m); err != nil {
					t.Fatalf("kcat -J output %q: %v", line, err)
				}
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("nothing on %s within 60s", topic)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	header := func(m kmsg, key string) string {
		for i := 0; i+1 < len(m.Headers); i += 2 {
			if m.Headers[i] == key {
				return m.Headers[i+1]
			}
		}
		return ""
	}

	enriched := read(topics.Enriched)
	got, err := sharelog.DecodeEnriched([]byte(enriched.Payload))
	if err != nil {
		t.Fatal(err)
	}
	if enriched.Key != ev.Link.ID || got.ID != ev.ID || got.Pipeline == nil || got.Platform == nil || got.Session == nil || header(enriched, kafkax.HeaderSchema) != "1" {
		t.Fatalf("enriched message read by kcat: key %q headers %v event %+v", enriched.Key, enriched.Headers, got)
	}
	dlq := read(topics.DLQ)
	if dlq.Payload != `{"id": "not-an-event"}` || dlq.Key != ev.Link.ID || !strings.Contains(header(dlq, kafkax.HeaderError), "id:") ||
		header(dlq, kafkax.HeaderStage) != "enrich" || header(dlq, kafkax.HeaderSourceTopic) != topics.Raw || header(dlq, kafkax.HeaderSourceOffset) == "" {
		t.Fatalf("DLQ message read by kcat: %+v", dlq)
	}
	enr.stop(t)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
