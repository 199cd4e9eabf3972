package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sharelog/sharelog/tools/bench/streambench"
)

// benchStreamCmd is `sharelog bench stream`: a `sharelog run` child
// process, N WebSocket clients of GET /v1/stream, events posted at a rate.
func benchStreamCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sharelog bench stream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	self, _ := os.Executable()
	o := streambench.Options{}
	fs.StringVar(&o.Binary, "binary", self, "the sharelog command the server runs as (run)")
	fs.IntVar(&o.Clients, "clients", 1000, "WebSocket clients")
	fs.IntVar(&o.Rate, "rate", 5000, "events/s posted to POST /v1/events")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "measured time")
	fs.DurationVar(&o.Warmup, "warmup", 5*time.Second, "time sent before measuring")
	fs.IntVar(&o.Batch, "batch", 50, "events per request")
	fs.StringVar(&o.Filter, "filter", "", "stream parameters of every client, e.g. action=link.*")
	fs.IntVar(&o.Sampled, "sampled", 20, "clients that read every event's time for the latency (the others count events)")
	fs.DurationVar(&o.FlushInterval, "flush-interval", 0, "the server's api.stream.flush_interval (0: its default)")
	fs.BoolVar(&o.Compress, "compress", true, "clients offer permessage-deflate, as browsers do")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench stream: %d clients, %d events/s for %s after %s warm-up, batches of %d\n", o.Clients, o.Rate, o.Duration, o.Warmup, o.Batch)
	r, err := streambench.Run(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(stdout, "posted:      %d events = %.0f events/s (%d failed requests)\n", r.Sent, r.SentRate, r.PostErrors)
	fmt.Fprintf(stdout, "delivered:   %d events to %d clients = %.0f events/s; per client min %d, avg %.0f\n", r.Deliveries, r.Connected, r.DeliveryRate, r.MinPerClient, r.AvgPerClient)
	fmt.Fprintf(stdout, "wire:        %.0f MiB/s read by the clients; compressed %v, %.1f times (sampled clients' messages / their wire bytes)\n", r.WireMiBps, r.Compressed, r.CompressionRatio)
	fmt.Fprintf(stdout, "dropped:     %d clients closed as too slow, %d closed otherwise; %d bad messages\n", r.Dropped, r.Closed, r.BadMessages)
	fmt.Fprintf(stdout, "latency ingest→client (%d samples): p50 %s  p90 %s  p99 %s  max %s\n", r.LatencySamples, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
	fmt.Fprintf(stdout, "server:      %.2f cores, RSS %.0f MiB (peak %.0f MiB); bench process %.2f cores\n", r.ServerCPU, r.ServerRSSMiB, r.ServerMaxRSSMiB, r.BenchCPU)
	return nil
}
