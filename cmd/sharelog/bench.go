package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/sharelog/sharelog/server/pipeline"
	"github.com/sharelog/sharelog/tools/bench"
)

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "archive" {
		return benchArchiveCmd(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "stream" {
		return benchStreamCmd(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("sharelog bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := bench.Options{}
	brokers := fs.String("brokers", "", "Kafka brokers, comma-separated (default: the embedded broker)")
	fs.IntVar(&o.Events, "events", 200000, "events to send as fast as ingest takes them (when --rate is 0)")
	fs.IntVar(&o.Rate, "rate", 0, "pace at this many events/s for --duration instead")
	fs.DurationVar(&o.Duration, "duration", 20*time.Second, "with --rate: how long to send")
	fs.IntVar(&o.Batch, "batch", 500, "events per request")
	fs.IntVar(&o.Concurrency, "concurrency", 8, "concurrent HTTP senders")
	fs.IntVar(&o.Partitions, "partitions", 12, "partitions of the bench topics")
	fs.IntVar(&o.Workers, "workers", 2, "enrich workers")
	fs.StringVar(&o.Compression, "compression", "", "produce compression: none, gzip, snappy, lz4, zstd (default: kafka.compression's default)")
	geo := fs.String("geoip", strings.Join(pipeline.DefaultGeoIP("./data"), ","), "city databases, comma-separated (default: ./data/geoip, as `make run` fetches it)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *brokers != "" {
		o.Brokers = strings.Split(*brokers, ",")
	}
	if *geo != "" {
		o.GeoIP = strings.Split(*geo, ",")
	}
	mode := fmt.Sprintf("%d events as fast as possible", o.Events)
	if o.Rate > 0 {
		mode = fmt.Sprintf("%d events/s for %s", o.Rate, o.Duration)
	}
	fmt.Fprintf(stderr, "bench: %s, batches of %d, %d senders, %d partitions, %d enrich workers, geo %v, GOMAXPROCS %d\n",
		mode, o.Batch, o.Concurrency, o.Partitions, o.Workers, o.GeoIP != nil, runtime.GOMAXPROCS(0))
	r, err := bench.Run(ctx, o)
	fmt.Fprintf(stdout, "broker:               %s\n", r.Broker)
	fmt.Fprintf(stdout, "acknowledged:         %d events in %s = %.0f events/s (ingest HTTP → Kafka)\n", r.Sent, r.SendElapsed.Round(time.Millisecond), r.IngestRate)
	fmt.Fprintf(stdout, "enriched & read back: %d events (%d duplicates) in %s = %.0f events/s end to end\n", r.Received, r.Duplicates, r.TotalElapsed.Round(time.Millisecond), r.EndToEndRate)
	fmt.Fprintf(stdout, "latency ingest→enriched: p50 %s  p90 %s  p99 %s  max %s\n", ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
	fmt.Fprintf(stdout, "stages (histogram buckets): ingest request p50 ≤%s p99 ≤%s; raw append → enriched ack p50 ≤%s p99 ≤%s\n", ms(r.IngestP50), ms(r.IngestP99), ms(r.EnrichP50), ms(r.EnrichP99))
	fmt.Fprintf(stdout, "process: %.1f CPU-seconds (%.2f cores), max RSS %.0f MiB, %d failed requests\n",
		r.CPUSeconds, r.CPUSeconds/max(r.TotalElapsed.Seconds(), 1e-9), r.MaxRSSMiB, r.RequestErrors)
	return err
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/1e6) }
