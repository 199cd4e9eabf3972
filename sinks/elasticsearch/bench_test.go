package elasticsearch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sharelog/sharelog"
)

// benchBatch returns n enriched events like the fixture's first.
func benchBatch(n int) []*sharelog.Event {
	batch := make([]*sharelog.Event, n)
	for i := range batch {
		ev := *fixture()[i%5]
		ev.ID = fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", i)
		batch[i] = &ev
	}
	return batch
}

// BenchmarkWrite delivers batches of 500 events to a local receiver that
// reads each request and answers at once that every item was stored, as
// Elasticsearch answers with the sink's filter_path.
func BenchmarkWrite(b *testing.B) {
	const n = 500
	answer := `{"errors":false,"items":[` + strings.TrimSuffix(strings.Repeat(`{"index":{"status":201}},`, n), ",") + `]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	defer srv.Close()
	batch := benchBatch(n)
	for _, comp := range []string{CompressionNone, CompressionGzip} {
		b.Run("compression="+comp, func(b *testing.B) {
			s := newSink(b, Config{URL: srv.URL, Compression: comp}, Deps{})
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Write(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
			body := s.encode(batch)
			if comp == CompressionGzip {
				body = s.compress(body)
			}
			b.ReportMetric(float64(len(body))/n, "body-bytes/event")
		})
	}
}

// BenchmarkEncode is the NDJSON encoding alone.
func BenchmarkEncode(b *testing.B) {
	batch := benchBatch(500)
	s := newSink(b, Config{URL: "http://127.0.0.1:9"}, Deps{})
	b.ReportAllocs()
	for b.Loop() {
		s.encode(batch)
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}
