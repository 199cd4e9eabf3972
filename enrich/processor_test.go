package enrich

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/enrich/geo"
	"github.com/sharelog/sharelog/enrich/platform"
	"github.com/sharelog/sharelog/enrich/session"
	"github.com/sharelog/sharelog/internal/kafkax"
	"github.com/sharelog/sharelog/internal/testgeo"
	"github.com/sharelog/sharelog/tools/simulate"
)

var secret = []byte("processor-test-secret-of-32-bytes!!")

func newTestProcessor(tb testing.TB, cityDB []string) *Processor {
	tb.Helper()
	loc, err := geo.New(geo.Config{CityDB: cityDB}, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { loc.Close() })
	parser, err := platform.New(platform.Config{CacheSize: 10000}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	fixed := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	return NewProcessor(Topics{Enriched: "s.enriched", DLQ: "s.dlq"}, []sharelog.Enricher{loc, parser},
		func() *session.Tracker { return session.NewTracker(secret, 30*time.Minute, 100000) },
		func() time.Time { return fixed })
}

func rawMessage(t testing.TB, partition int, offset int64, ev *sharelog.Event, key string) kafka.Message {
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Message{Topic: "s.raw", Partition: partition, Offset: offset, Key: []byte(key), Value: data}
}

func TestProcessEnrichesAndKeepsRawFields(t *testing.T) {
	p := newTestProcessor(t, []string{testgeo.WriteCityDB(t)})
	ev := &sharelog.Event{
		ID: "0193a1b2-c3d4-7e5f-8a9b-000000000001", Time: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC),
		Workspace: sharelog.Workspace{ID: "ws"}, Actor: sharelog.Actor{Type: sharelog.ActorAnonymous},
		Action: sharelog.LinkOpened, Result: sharelog.Success, Link: &sharelog.Link{ID: "lnk"},
		Client: sharelog.Client{IP: "81.2.69.160", UserAgent: "Wget/1.21.4", Kind: sharelog.ClientCLI},
	}
	in := rawMessage(t, 3, 42, ev, "")
	out, dlq := p.Process(&in)
	if dlq || out.Topic != "s.enriched" || string(out.Key) != "lnk" {
		t.Fatalf("dlq=%v topic=%s key=%q", dlq, out.Topic, out.Key)
	}
	got, err := sharelog.DecodeEnriched(out.Value)
	if err != nil {
		t.Fatal(err)
	}
	if got.Geo == nil || got.Geo.City != "Cambridge" || got.Platform == nil || got.Platform.ClientName != "Wget" || got.Platform.DeviceType != sharelog.DeviceCLI {
		t.Fatalf("enrichment: geo %+v platform %+v", got.Geo, got.Platform)
	}
	want := sharelog.Pipeline{EnrichedAt: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), SchemaVersion: 1, Topic: "s.raw", Partition: 3, Offset: 42}
	if got.Pipeline == nil || *got.Pipeline != want {
		t.Fatalf("pipeline %+v", got.Pipeline)
	}
	// Stripping the enriched groups gives back the raw event.
	got.Geo, got.Platform, got.Session, got.Pipeline = nil, nil, nil, nil
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(ev)
	if string(a) != string(b) {
		t.Fatalf("raw fields changed:\n%s\n%s", a, b)
	}
}

func TestProcessSessionsArePerPartition(t *testing.T) {
	p := newTestProcessor(t, nil)
	base := &sharelog.Event{
		Workspace: sharelog.Workspace{ID: "ws"}, Actor: sharelog.Actor{Type: sharelog.ActorAnonymous},
		Action: sharelog.LinkViewed, Result: sharelog.Success, Link: &sharelog.Link{ID: "lnk"},
		Client: sharelog.Client{IP: "192.0.2.1", UserAgent: "curl/8.5.0", Kind: sharelog.ClientCLI},
	}
	sessionOf := func(partition, n int) sharelog.Session {
		ev := *base
		ev.ID = fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", n)
		ev.Time = time.Date(2026, 11, 22, 9, 0, n, 0, time.UTC)
		m := rawMessage(t, partition, int64(n), &ev, "lnk")
		out, dlq := p.Process(&m)
		if dlq {
			t.Fatalf("dlq: %s", out.Headers[0].Value)
		}
		got, _ := sharelog.DecodeEnriched(out.Value)
		return *got.Session
	}
	s1, s2 := sessionOf(0, 1), sessionOf(0, 2)
	if !s1.Started || s2.Started || s2.Seq != 2 || s1.LinkSessionID != s2.LinkSessionID {
		t.Fatalf("same partition: %+v %+v", s1, s2)
	}
	// After a rebalance the partition's new owner starts its own state.
	if s := sessionOf(1, 3); !s.Started || s.Seq != 1 {
		t.Fatalf("other partition: %+v", s)
	}
	if visitors, started := p.Sessions(); visitors != 2 || started != 2 {
		t.Fatalf("visitors tracked: %d, sessions started: %d", visitors, started)
	}
	if _, started := p.Sessions(); started != 0 {
		t.Fatalf("sessions started since the last call: %d", started)
	}
}

func TestProcessSendsBadEventsToDLQ(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, tc := range []struct{ value, reason string }{
		{`not json`, "invalid JSON"},
		{`{"id":"0193a1b2-c3d4-7e5f-8a9b-000000000001"}`, "time: is required"},
		{`{"id":"x","colour":"red"}`, "colour: is not a field"},
	} {
		m := kafka.Message{Topic: "s.raw", Partition: 2, Offset: 7, Key: []byte("k"), Value: []byte(tc.value)}
		out, dlq := p.Process(&m)
		if !dlq || out.Topic != "s.dlq" || string(out.Value) != tc.value || string(out.Key) != "k" {
			t.Fatalf("%s: dlq=%v %+v", tc.value, dlq, out)
		}
		h := map[string]string{}
		for _, x := range out.Headers {
			h[x.Key] = string(x.Value)
		}
		if !strings.Contains(h[kafkax.HeaderError], tc.reason) || h[kafkax.HeaderSourcePartition] != "2" || h[kafkax.HeaderSourceOffset] != "7" || h[kafkax.HeaderStage] != "enrich" {
			t.Fatalf("%s: headers %v", tc.value, h)
		}
	}
}

// BenchmarkProcess is the whole enrich step for one event on one core:
// decode and validate the raw JSON, geo, platform (cached), session, encode
// the enriched event. It reads the real DB-IP City Lite files when
// SHARELOG_TEST_DBIP_CITY names them (as `make test` and `make bench` do),
// else a small test database.
func BenchmarkProcess(b *testing.B) {
	cityDB := []string{testgeo.WriteCityDB(b)}
	if env := os.Getenv("SHARELOG_TEST_DBIP_CITY"); env != "" {
		cityDB = strings.Split(env, ",")
	}
	p := newTestProcessor(b, cityDB)
	gen := simulate.NewGenerator(simulate.Config{Seed: 7}, nil)
	// A pool as large as a typical run, so that sessions start and continue
	// in the proportions of the simulated traffic rather than repeating.
	msgs := make([]kafka.Message, 200000)
	for i := range msgs {
		ev := gen.Next()
		value := ev.AppendJSON(nil)
		msgs[i] = kafka.Message{Topic: "s.raw", Partition: i % 12, Offset: int64(i), Key: []byte(ev.Key()), Value: value}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, dlq := p.Process(&msgs[i%len(msgs)]); dlq {
			b.Fatal("dlq")
		}
		if i%1000 == 999 { // as the worker does after each delivered batch
			p.Release()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
