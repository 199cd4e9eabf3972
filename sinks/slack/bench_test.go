package slack

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/slack-go/slack/slacktest"

	"github.com/sharelog/sharelog"
)

// BenchmarkWrite delivers batches of 16 alerts (each a new alert id) to a
// local server answering at once: the sink's own cost (rendering the Block
// Kit message, encoding the form or the JSON, flood control, HTTP/1.1 on
// loopback), per alert.
//
//   - bot-post: every alert has its own subject: one chat.postMessage each;
//   - bot-update: the alerts share a subject: one chat.update each;
//   - webhook: every alert has its own subject: one incoming-webhook post each.
func BenchmarkWrite(b *testing.B) {
	var seq atomic.Int64
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		h := func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"ok":true,"channel":"C0SECURITY","ts":"1795341600.%06d"}`, seq.Add(1))
		}
		c.Handle("/chat.postMessage", h)
		c.Handle("/chat.update", h)
	})
	srv.Start()
	defer srv.Stop()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}))
	defer hook.Close()

	for _, c := range []struct {
		name    string
		webhook bool
		subject func(i int) string
	}{
		{"bot-post", false, func(i int) string { return fmt.Sprintf("link:lk_%d", i) }},
		{"bot-update", false, func(int) string { return "link:lk_1" }},
		{"webhook", true, func(i int) string { return fmt.Sprintf("link:lk_%d", i) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := Config{Token: envRef(b, "BENCH_SLACK_TOKEN", testToken), APIURL: srv.GetAPIURL(), Routes: []Route{{Channel: "#security-alerts"}}}
			if c.webhook {
				cfg = Config{Routes: []Route{{WebhookURL: envRef(b, "BENCH_SLACK_WEBHOOK", hook.URL+"/services/T/B/X")}}}
			}
			s := newTestSink(b, cfg, Deps{})
			const size = 16
			template := testAlert("", "", 3)
			n := 0
			next := func() []*sharelog.Event {
				batch := make([]*sharelog.Event, size)
				for i := range batch {
					ev := *template
					a := *template.Alert
					n++
					ev.ID = fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", n)
					a.Subject = c.subject(n)
					ev.Alert = &a
					batch[i] = &ev
				}
				return batch
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := s.Write(ctx, next()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}
