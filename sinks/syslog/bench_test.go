package syslog

import (
	"fmt"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
)

// benchEvents are n enriched events over 100 links, as the suite makes them.
func benchEvents(n int) []*sharelog.Event {
	evs := make([]*sharelog.Event, n)
	for i := range evs {
		ev := fullEvent()
		ev.ID = fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", i)
		ev.Action, ev.Result, ev.Reason = sharelog.LinkDownloaded, sharelog.Success, ""
		ev.Link = &sharelog.Link{ID: fmt.Sprintf("lnk-%d", i%100)}
		ev.File.Name = "Q4 report, \"final\".pdf"
		ev.Client.UserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
		evs[i] = ev
	}
	return evs
}

// BenchmarkWrite delivers batches of 500 events to a local receiver that
// reads and discards at once, as the delivery engine would with its
// default concurrency of 4; it reports events/s.
func BenchmarkWrite(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"cef/tcp", Config{Format: FormatCEF}},
		{"cef/tcp/confirm=none", Config{Format: FormatCEF, Confirm: ConfirmNone}},
		{"leef/tcp", Config{Format: FormatLEEF}},
		{"cef/tls", Config{Format: FormatCEF, Network: NetworkTLS}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := bc.cfg
			var r *receiver
			if cfg.Network == NetworkTLS {
				p := newPKI(b)
				r = listenTCP(b, true, p.serverTLS(false), nil)
				cfg.TLS.CAFile = p.caFile
			} else {
				r = listenTCP(b, true, nil, nil)
			}
			r.discard = true
			cfg.Address = r.addr()
			s := newSink(b, cfg, Deps{})
			batch := benchEvents(500)
			if err := s.Write(b.Context(), batch); err != nil { // connect outside the timing
				b.Fatal(err)
			}
			b.SetParallelism(2) // 2 × GOMAXPROCS writers; 4 on 2 cores
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.Write(b.Context(), batch); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N*len(batch))/time.Since(start).Seconds(), "events/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkEncode is the message encoding alone, per event.
func BenchmarkEncode(b *testing.B) {
	ev := benchEvents(1)[0]
	for _, format := range []string{FormatCEF, FormatLEEF} {
		b.Run(format, func(b *testing.B) {
			enc := newEncoder(testConfig(format), "web-1")
			buf, _ := enc.appendMessage(nil, ev)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = enc.appendMessage(buf[:0], ev)
			}
		})
	}
}
