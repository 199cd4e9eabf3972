package email

import (
	"context"
	"fmt"
	"testing"

	"github.com/sharelog/sharelog"
)

// BenchmarkWrite delivers batches to the in-process SMTP server on loopback
// (STARTTLS with ECDSA P-256, AUTH PLAIN): the sink's own cost per batch of
// the delivery engine, one SMTP session per Write. The accepted-pairs memory
// is cleared between iterations so every Write sends its mails.
func BenchmarkWrite(b *testing.B) {
	ts := newTestServer(b, serverOpts{discard: true, users: map[string]string{"sharelog": testPassword}})
	for _, c := range []struct {
		name   string
		events int
		links  int
	}{
		{"100-events-1-link", 100, 1},
		{"100-events-10-links", 100, 10},
		{"500-events-50-links", 500, 50},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := testConfig(b, ts)
			cfg.LinkNotifications = nil
			for i := range c.links {
				cfg.LinkNotifications = append(cfg.LinkNotifications, LinkNotification{Link: fmt.Sprintf("lk_%d", i), To: []string{fmt.Sprintf("owner%d@example.com", i)}})
			}
			s := newSink(b, cfg, Deps{})
			batch := make([]*sharelog.Event, c.events)
			for i := range batch {
				batch[i] = linkEvent(i, fmt.Sprintf("lk_%d", i%c.links), sharelog.LinkDownloaded)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				s.sent = newAccepted(1024)
				if err := s.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.N*c.links)/b.Elapsed().Seconds(), "mails/s")
		})
	}
}
