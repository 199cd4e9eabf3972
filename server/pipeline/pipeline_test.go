package pipeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/kafkatest"
	"github.com/sharelog/sharelog/internal/kafkax"
)

const (
	chromeWin = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	curlUA    = "curl/8.5.0"
)

func TestEndToEnd(t *testing.T) {
	cfg := testConfig(t)
	p := start(t, cfg, Ingest|Enrich)

	var evs []*sharelog.Event
	for i := range 20 { // one visitor from GB on link-a, in one session
		_ = i
		evs = append(evs, event("link-a", "81.2.69.160", chromeWin))
	}
	for range 10 { // a curl user from DE over IPv6 on link-b
		evs = append(evs, event("link-b", "2a02:8100::1", curlUA))
	}
	evs = append(evs, event("link-c", "192.0.2.7", "")) // documentation address: no geo
	code, _, resp := post(t, p.Addr(), testKey, ndjson(t, evs...), nil)
	if code != 202 || resp.Accepted != len(evs) || resp.Rejected != 0 {
		t.Fatalf("POST: %d %+v", code, resp)
	}

	got := byID(t, consume(t, p.Brokers(), cfg.Kafka.Topics().Enriched, len(evs), 30*time.Second))
	if len(got) != len(evs) {
		t.Fatalf("%d of %d events came out enriched", len(got), len(evs))
	}
	var sessionA string
	for i, want := range evs {
		ev := got[want.ID]
		if ev == nil {
			t.Fatalf("event %s missing", want.ID)
		}
		if ev.Pipeline == nil || ev.Pipeline.SchemaVersion != 1 || ev.Pipeline.Topic != cfg.Kafka.Topics().Raw || ev.Pipeline.EnrichedAt.IsZero() {
			t.Errorf("pipeline = %+v", ev.Pipeline)
		}
		if !ev.Time.Equal(want.Time) || ev.File.Name != want.File.Name || ev.Client.IP != want.Client.IP {
			t.Errorf("raw fields changed: %+v", ev)
		}
		switch want.Link.ID {
		case "link-a":
			if ev.Geo == nil || ev.Geo.CountryCode != "GB" || ev.Geo.City != "Cambridge" || ev.Geo.Subdivision != "England" || ev.Geo.CountryName != "United Kingdom" {
				t.Fatalf("geo of 81.2.69.160 = %+v", ev.Geo)
			}
			if ev.Platform == nil || ev.Platform.OSName != "Windows" || ev.Platform.ClientName != "Chrome" || ev.Platform.DeviceType != sharelog.DeviceDesktop {
				t.Fatalf("platform = %+v", ev.Platform)
			}
			if sessionA == "" {
				sessionA = ev.Session.LinkSessionID
			}
			if ev.Session == nil || ev.Session.LinkSessionID != sessionA || ev.Session.Seq != i+1 || ev.Session.Started != (i == 0) {
				t.Fatalf("event %d: session = %+v (first id %s)", i, ev.Session, sessionA)
			}
		case "link-b":
			if ev.Geo == nil || ev.Geo.CountryCode != "DE" || ev.Geo.City != "Berlin" {
				t.Fatalf("geo of 2a02:8100::1 = %+v", ev.Geo)
			}
			if ev.Platform == nil || ev.Platform.DeviceType != sharelog.DeviceCLI || ev.Platform.ClientName != "curl" || ev.Platform.ClientVersion != "8.5.0" {
				t.Fatalf("platform of curl = %+v", ev.Platform)
			}
			if ev.Session.LinkSessionID == sessionA {
				t.Fatal("two visitors share a session")
			}
		case "link-c":
			if ev.Geo != nil {
				t.Fatalf("192.0.2.7 has geo %+v", ev.Geo)
			}
		}
	}
	// The counters agree with what happened. The lag monitor's first pass
	// may still be waiting for the group coordinator (on a fresh cluster).
	lagLine := fmt.Sprintf(`sharelog_consumer_lag{group="%s",partition="0",topic="%s"}`, cfg.Kafka.Group("enrich"), cfg.Kafka.Topics().Raw)
	metrics := get(t, "http://"+p.Addr()+"/metrics", 200)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(metrics, lagLine) && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		metrics = get(t, "http://"+p.Addr()+"/metrics", 200)
	}
	for _, want := range []string{
		fmt.Sprintf("sharelog_ingest_events_accepted_total %d", len(evs)),
		fmt.Sprintf(`sharelog_enrich_events_total{outcome="enriched"} %d`, len(evs)),
		`sharelog_geo_lookups_total{result="found"} 30`,
		`sharelog_geo_lookups_total{result="not_found"} 1`,
		lagLine,
		`sharelog_ingest_request_duration_seconds_bucket`,
		`sharelog_enrich_latency_seconds_bucket`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	get(t, "http://"+p.Addr()+"/healthz", 200)
	get(t, "http://"+p.Addr()+"/readyz", 200)

	// The enriched message keeps the raw key: the link id.
	for _, m := range consume(t, p.Brokers(), cfg.Kafka.Topics().Enriched, 1, 10*time.Second) {
		if !strings.HasPrefix(string(m.Key), "link-") || header(m, kafkax.HeaderSchema) != "1" {
			t.Fatalf("key %q, headers %v", m.Key, m.Headers)
		}
	}
}

func TestIngestAnswers(t *testing.T) {
	cfg := testConfig(t)
	cfg.Ingest.MaxBodyBytes = 64 << 10
	cfg.Ingest.MaxEvents = 50
	p := start(t, cfg, Ingest|Enrich)
	addr := p.Addr()

	t.Run("unauthorized", func(t *testing.T) {
		for _, key := range []string{"", "wrong-key-wrong-key-wrong"} {
			code, h, resp := post(t, addr, key, ndjson(t, event("l", "81.2.69.1", curlUA)), nil)
			if code != 401 || h.Get("WWW-Authenticate") == "" || resp.Error == "" {
				t.Fatalf("key %q: %d %v %+v", key, code, h, resp)
			}
		}
	})

	var accepted []string
	t.Run("partial batch", func(t *testing.T) {
		good1, good2 := event("l1", "81.2.69.1", curlUA), event("l1", "81.2.69.2", curlUA)
		badIP := event("l1", "not-an-ip", curlUA)
		badAction := event("l1", "81.2.69.3", curlUA)
		badAction.Action = "link.teleported"
		body := ndjson(t, good1, badIP)
		body = append(body, []byte("{\"id\": \"broken json\n")...)
		body = append(body, ndjson(t, badAction, good2)...)
		code, _, resp := post(t, addr, testKey, body, nil)
		if code != 400 || resp.Accepted != 2 || resp.Rejected != 3 || len(resp.Errors) != 3 {
			t.Fatalf("%d %+v", code, resp)
		}
		e0, e1, e2 := resp.Errors[0], resp.Errors[1], resp.Errors[2]
		if e0.Line != 2 || e0.ID != badIP.ID || len(e0.Fields) != 1 || e0.Fields[0].Field != "client.ip" {
			t.Errorf("first error %+v", e0)
		}
		if e1.Line != 3 || e1.Error == "" {
			t.Errorf("second error %+v", e1)
		}
		if e2.Line != 4 || e2.Fields[0].Field != "action" || !strings.Contains(e2.Fields[0].Message, "link.teleported") {
			t.Errorf("third error %+v", e2)
		}
		accepted = append(accepted, good1.ID, good2.ID)
	})

	t.Run("json array and gzip", func(t *testing.T) {
		a, b := event("l2", "81.2.69.9", chromeWin), event("l2", "81.2.69.9", chromeWin)
		arr := "[\n" + strings.TrimSpace(string(ndjson(t, a))) + ",\n" + strings.TrimSpace(string(ndjson(t, b))) + "\n]"
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write([]byte(arr))
		zw.Close()
		code, _, resp := post(t, addr, testKey, gz.Bytes(), map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/json"})
		if code != 202 || resp.Accepted != 2 {
			t.Fatalf("%d %+v", code, resp)
		}
		accepted = append(accepted, a.ID, b.ID)

		code, _, resp = post(t, addr, testKey, []byte(`[{"id": 1},`), nil)
		if code != 400 || !strings.Contains(resp.Error, "invalid JSON") {
			t.Fatalf("broken array: %d %+v", code, resp)
		}
	})

	t.Run("too large", func(t *testing.T) {
		big := bytes.Repeat(ndjson(t, event("l3", "81.2.69.1", curlUA)), 200) // ~100 KB
		if code, _, resp := post(t, addr, testKey, big, nil); code != 413 || !strings.Contains(resp.Error, "limit") {
			t.Fatalf("body: %d %+v", code, resp)
		}
		var gz bytes.Buffer // a small gzip body that inflates past the limit
		zw := gzip.NewWriter(&gz)
		zw.Write(big)
		zw.Close()
		if code, _, _ := post(t, addr, testKey, gz.Bytes(), map[string]string{"Content-Encoding": "gzip"}); code != 413 {
			t.Fatalf("gzip bomb: %d", code)
		}
		var many []*sharelog.Event
		for range 51 {
			many = append(many, event("l3", "81.2.69.1", curlUA))
		}
		if code, _, resp := post(t, addr, testKey, ndjson(t, many...), nil); code != 413 || !strings.Contains(resp.Error, "51 events") {
			t.Fatalf("count: %d %+v", code, resp)
		}
	})

	// Every accepted event arrives; none of the refused ones does.
	got := byID(t, consume(t, p.Brokers(), cfg.Kafka.Topics().Enriched, len(accepted), 30*time.Second))
	if len(got) != len(accepted) {
		t.Fatalf("%d events enriched, want %d", len(got), len(accepted))
	}
	for _, id := range accepted {
		if got[id] == nil {
			t.Errorf("accepted event %s lost", id)
		}
	}
}

func TestPoisonMessageGoesToDLQ(t *testing.T) {
	cfg := testConfig(t)
	cfg.Kafka.Partitions = 1 // poison and good events share the partition
	p := start(t, cfg, Enrich)
	topics := cfg.Kafka.Topics()
	w := &kafka.Writer{Addr: kafka.TCP(p.Brokers()...), Topic: topics.Raw, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	good1, good2 := event("l", "81.2.69.1", curlUA), event("l", "81.2.69.1", curlUA)
	bad := event("l", "81.2.69.1", curlUA)
	bad.Time = time.Time{}
	msgs := []kafka.Message{
		{Key: []byte("l"), Value: ndjson(t, good1)},
		{Key: []byte("l"), Value: []byte("\x00\x01 not json")},
		{Key: []byte("l"), Value: ndjson(t, bad)},
		{Key: []byte("l"), Value: ndjson(t, good2)},
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	dlq := consume(t, p.Brokers(), topics.DLQ, 2, 30*time.Second)
	if len(dlq) != 2 {
		t.Fatalf("%d messages in the DLQ, want 2", len(dlq))
	}
	if !bytes.Equal(dlq[0].Value, msgs[1].Value) || !strings.Contains(header(dlq[0], kafkax.HeaderError), "invalid JSON") ||
		header(dlq[0], kafkax.HeaderSourceOffset) != "1" || header(dlq[0], kafkax.HeaderSourceTopic) != topics.Raw || header(dlq[0], kafkax.HeaderStage) != "enrich" {
		t.Errorf("first DLQ message: %q %v", dlq[0].Value, dlq[0].Headers)
	}
	if !strings.Contains(header(dlq[1], kafkax.HeaderError), "time: is required") || header(dlq[1], kafkax.HeaderSourceOffset) != "2" {
		t.Errorf("second DLQ message headers: %v", dlq[1].Headers)
	}
	got := byID(t, consume(t, p.Brokers(), topics.Enriched, 2, 30*time.Second))
	if got[good1.ID] == nil || got[good2.ID] == nil {
		t.Fatalf("good events around the poison: %v", got)
	}
}

// TestWorkerRestartLosesNothing stops the enrich role mid-stream while the
// Go client keeps producing, starts it again, and checks every event id.
func TestWorkerRestartLosesNothing(t *testing.T) {
	cfg := testConfig(t)
	cfg.Kafka.Brokers = sharedBroker(t)
	cfg.Enrich.BatchSize = 50
	cfg.Enrich.Workers = 2

	enr := start(t, cfg, Enrich)
	conn, err := kafkax.NewConn(cfg.Kafka, cfg.Kafka.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	client, err := NewIngestClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	const total = 3000
	ids := make([]string, 0, total)
	produce := func(n int) {
		for range n / 100 {
			var batch []*sharelog.Event
			for j := range 100 {
				ev := event(fmt.Sprintf("link-%d", j%17), "81.2.69.1", chromeWin)
				batch = append(batch, ev)
				ids = append(ids, ev.ID)
			}
			if err := client.Publish(context.Background(), batch...); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(1000)
	time.Sleep(200 * time.Millisecond) // let the workers get going
	enr.stop(t)
	produce(1000)
	enr = start(t, cfg, Enrich)
	produce(1000)

	// Read until every id arrived: redelivered duplicates may come first.
	seen := kafkatest.ReadIDs(t, cfg.Kafka.Brokers, cfg.Kafka.Topics().Enriched, ids, 60*time.Second)
	lost := 0
	for _, id := range ids {
		if seen[id] == 0 {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d events lost across the restart", lost, total)
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	t.Logf("%d events, none lost, %d duplicates", total, dups)
	enr.stop(t)
}

// TestIngestAnswers503WhenKafkaIsDown stops the broker under the ingest role.
func TestIngestAnswers503WhenKafkaIsDown(t *testing.T) {
	broker, err := kafkax.StartEmbedded(kafkax.EmbeddedConfig{Addr: "127.0.0.1:0"}, t.TempDir(), 4)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Kafka.Brokers = []string{broker.Addr()}
	cfg.Ingest.ProduceTimeout = 2 * time.Second
	cfg.Ingest.RetryAfter = 3 * time.Second
	p := start(t, cfg, Ingest)
	if code, _, resp := post(t, p.Addr(), testKey, ndjson(t, event("l", "81.2.69.1", curlUA)), nil); code != 202 {
		t.Fatalf("with Kafka up: %d %+v", code, resp)
	}
	broker.Close()
	code, h, resp := post(t, p.Addr(), testKey, ndjson(t, event("l", "81.2.69.1", curlUA)), nil)
	if code != 503 || h.Get("Retry-After") != "3" || resp.Accepted != 0 || resp.Rejected != 1 {
		t.Fatalf("with Kafka down: %d Retry-After=%q %+v", code, h.Get("Retry-After"), resp)
	}
}

// TestEmbeddedBrokerKeepsDataAcrossRestart: events and committed offsets
// survive a restart of `sharelog run` with the same data directory.
func TestEmbeddedBrokerKeepsDataAcrossRestart(t *testing.T) {
	cfg := testConfig(t)
	cfg.Kafka.Brokers = nil // the embedded broker, whatever the suite runs against
	cfg.Kafka.Embedded.Addr = kafkatest.FreeAddr(t)
	p := start(t, cfg, Ingest|Enrich)
	first := event("persist", "81.2.69.1", curlUA)
	if code, _, resp := post(t, p.Addr(), testKey, ndjson(t, first), nil); code != 202 {
		t.Fatalf("%d %+v", code, resp)
	}
	if got := consume(t, p.Brokers(), cfg.Kafka.Topics().Enriched, 1, 30*time.Second); len(got) != 1 {
		t.Fatal("first event not enriched")
	}
	p.stop(t)

	p = start(t, cfg, Ingest|Enrich)
	second := event("persist", "81.2.69.1", curlUA)
	if code, _, resp := post(t, p.Addr(), testKey, ndjson(t, second), nil); code != 202 {
		t.Fatalf("%d %+v", code, resp)
	}
	got := byID(t, consume(t, p.Brokers(), cfg.Kafka.Topics().Enriched, 3, 15*time.Second))
	if len(got) != 2 || got[first.ID] == nil || got[second.ID] == nil {
		t.Fatalf("after restart the enriched topic holds %d events, want the 2 (offsets kept, no re-enrichment): %v", len(got), got)
	}
}
