package splunk

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sharelog/sharelog"
)

// BenchmarkWrite delivers batches of 500 enriched events (varied as real
// traffic is, so that gzip has no easier job than in production) to a
// local receiver that reads the body and answers at once, as HEC does; it
// reports events/s and the bytes sent per event.
func BenchmarkWrite(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"text":"Success","code":0}`)
	}))
	defer srv.Close()
	batch := benchBatch(500)
	for _, c := range []struct {
		name string
		gzip bool
	}{{"plain", false}, {"gzip", true}} {
		b.Run(c.name, func(b *testing.B) {
			cfg := testConfig(b, srv.URL)
			cfg.Gzip = c.gzip
			s := newTestSink(b, cfg, Deps{})
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := s.Write(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			events := float64(b.N) * float64(len(batch))
			b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(testutilBytes(s)/events, "B/event")
		})
	}
}

func testutilBytes(s *Sink) float64 {
	return testutil.ToFloat64(s.m.bytes)
}

// benchBatch returns n enriched events whose ids, times, addresses, files,
// agents and sessions vary.
func benchBatch(n int) []*sharelog.Event {
	rng := rand.New(rand.NewPCG(1, 2))
	agents := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
		"sharelog-cli/2.4.1 (linux; amd64)",
	}
	files := []string{"Q4 report final.pdf", "contract-signed.docx", "IMG_20241122_0815.jpg", "payroll 2024-11.xlsx", "design-v7.fig"}
	actions := []sharelog.Action{sharelog.LinkOpened, sharelog.LinkViewed, sharelog.LinkDownloaded, sharelog.LinkPasswordFailed}
	t := time.Date(2024, 11, 22, 8, 0, 0, 0, time.UTC)
	out := make([]*sharelog.Event, n)
	for i := range out {
		ev := fullEvent(i)
		ev.ID = fmt.Sprintf("0193a1b2-%04x-7%03x-%04x-%012x", rng.Uint32N(1<<16), rng.Uint32N(1<<12), 0x8000|rng.Uint32N(1<<14), rng.Uint64N(1<<48))
		t = t.Add(time.Duration(rng.Int64N(int64(2 * time.Second))))
		ev.Time = t.Truncate(time.Millisecond)
		ev.Action = actions[rng.IntN(len(actions))]
		ev.Client.IP = fmt.Sprintf("%d.%d.%d.%d", 1+rng.IntN(223), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
		ev.Client.UserAgent = agents[rng.IntN(len(agents))]
		ev.File.ID = fmt.Sprintf("f-%08x", rng.Uint32())
		ev.File.Name = files[rng.IntN(len(files))]
		ev.File.Size = rng.Int64N(50 << 20)
		ev.Link.ID = fmt.Sprintf("lnk-%06x", rng.Uint32N(1<<24))
		ev.Session.LinkSessionID = fmt.Sprintf("ls_%016x", rng.Uint64())
		ev.Session.Seq = 1 + rng.IntN(20)
		ev.Pipeline.Offset = int64(1_000_000 + i)
		ev.Pipeline.EnrichedAt = ev.Time.Add(time.Duration(rng.Int64N(int64(time.Second))))
		out[i] = ev
	}
	return out
}
