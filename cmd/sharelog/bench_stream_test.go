package main

import (
	"context"
	"testing"
	"time"

	"github.com/sharelog/sharelog/tools/bench/streambench"
)

// TestBenchStream runs the live stream bench small, end to end against a
// real `sharelog run` child: every client gets every event posted in the
// window (none dropped), latencies are measured and positive, the server's
// CPU and memory are read; the clients that offer permessage-deflate get
// it (as browsers do), those that do not get plain frames.
func TestBenchStream(t *testing.T) {
	for _, compress := range []bool{true, false} {
		t.Run(map[bool]string{true: "deflate", false: "plain"}[compress], func(t *testing.T) { benchStreamSmall(t, compress) })
	}
}

func benchStreamSmall(t *testing.T, compress bool) {
	r, err := streambench.Run(context.Background(), streambench.Options{
		Binary: binary, Clients: 5, Rate: 200, Duration: 3 * time.Second, Warmup: 2 * time.Second, Batch: 10, Sampled: 2, Compress: compress,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Sent < 300 || r.Dropped != 0 || r.Closed != 0 || r.PostErrors != 0 || r.BadMessages != 0 {
		t.Fatalf("sent %d, dropped %d, closed %d, failed posts %d, bad messages %d", r.Sent, r.Dropped, r.Closed, r.PostErrors, r.BadMessages)
	}
	// Events posted just before the window may arrive in it and those
	// posted at its end after it: each client's count is the sent count
	// give or take what was in flight.
	if float64(r.MinPerClient) < 0.8*float64(r.Sent) || r.AvgPerClient > 1.2*float64(r.Sent) {
		t.Fatalf("per client min %d avg %.0f of %d sent", r.MinPerClient, r.AvgPerClient, r.Sent)
	}
	// The ratio's two counts are taken at the socket and at the decoder,
	// so a message at the window's edge may be in one and not the other:
	// a plain stream's is 1 give or take that.
	if r.Compressed != compress || r.WireMiBps <= 0 || (compress && r.CompressionRatio < 2) || (!compress && (r.CompressionRatio > 1.1 || r.CompressionRatio < 0.9)) {
		t.Fatalf("compressed %v (asked %v), wire %.2f MiB/s, ratio %.2f", r.Compressed, compress, r.WireMiBps, r.CompressionRatio)
	}
	if r.LatencySamples == 0 || r.P50 <= 0 || r.P99 < r.P50 || r.ServerCPU <= 0 || r.ServerRSSMiB <= 0 {
		t.Fatalf("measurements: %+v", r)
	}
}
