package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkWrite delivers batches to a local receiver that reads each body
// and answers 204 at once: the sink's own cost (encoding, signing with two
// secrets, HTTP/1.1 on loopback), per batch of the delivery engine.
func BenchmarkWrite(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	for _, c := range []struct {
		name string
		mode Mode
		size int
	}{
		{"batch-500", ModeBatch, 500},
		{"batch-100", ModeBatch, 100},
		{"single-100", ModeSingle, 100},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := testConfig(b, srv.URL+"/hooks", newSecret(b), newSecret(b))
			cfg.Mode = c.mode
			s := newSink(b, cfg, Deps{})
			batch := testBatch(c.size)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := s.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkWriteParallel is the same with several batches in flight, as
// the delivery engine runs them (its concurrency).
func BenchmarkWriteParallel(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	for _, mode := range []Mode{ModeBatch, ModeSingle} {
		b.Run(string(mode), func(b *testing.B) {
			cfg := testConfig(b, srv.URL+"/hooks", newSecret(b))
			cfg.Mode = mode
			s := newSink(b, cfg, Deps{})
			batch := testBatch(100)
			b.SetParallelism(2) // 2×GOMAXPROCS writers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.Write(context.Background(), batch); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
		})
	}
}
