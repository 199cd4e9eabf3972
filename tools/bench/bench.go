// Package bench measures the pipeline end to end: events posted to the
// ingest endpoint over HTTP, through Kafka and the enrich workers, read back
// from the enriched topic. It starts the pipeline in-process, against the
// embedded broker or the brokers given, on a fresh topic prefix, so runs do
// not mix.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sharelog/sharelog/config"
	"github.com/sharelog/sharelog/internal/kafkax"
	"github.com/sharelog/sharelog/internal/procstat"
	"github.com/sharelog/sharelog/server/pipeline"
	"github.com/sharelog/sharelog/tools/simulate"
)

// Options say what to measure.
type Options struct {
	Brokers     []string      // empty: the embedded broker
	Events      int           // events to send when Rate is 0
	Rate        int           // events/s to pace at; 0: as fast as ingest takes them
	Duration    time.Duration // with Rate: how long to send
	Batch       int           // events per request
	Concurrency int           // concurrent HTTP senders
	Partitions  int
	GeoIP       []string // city databases; empty: no geo
	Workers     int      // enrich workers
	Compression string   // produce compression; empty: the default
	Logger      *slog.Logger
}

// Result is what one run measured.
type Result struct {
	Broker         string
	Sent, Received int // events acknowledged by ingest; distinct events read back enriched
	Duplicates     int
	SendElapsed    time.Duration // first request to last answer
	TotalElapsed   time.Duration // first request to last enriched event read
	IngestRate     float64       // events/s acknowledged by ingest
	EndToEndRate   float64       // events/s enriched and read back
	P50, P90, P99  time.Duration // event creation (just before its POST) to enriched event read
	Max            time.Duration
	// Stages, estimated from the pipeline's own histograms (bucket upper
	// bounds): the ingest request (Kafka ack included) and raw append to
	// enriched ack.
	IngestP50, IngestP99 time.Duration
	EnrichP50, EnrichP99 time.Duration
	CPUSeconds           float64 // user+system CPU of the process over the run
	MaxRSSMiB            float64
	RequestErrors        int64
}

// Run starts a pipeline, sends, reads back, and stops it.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Batch <= 0 || o.Concurrency <= 0 {
		return Result{}, errors.New("bench: batch and concurrency must be positive")
	}
	total := o.Events
	if o.Rate > 0 {
		total = int(float64(o.Rate) * o.Duration.Seconds())
	}
	if total <= 0 {
		return Result{}, errors.New("bench: nothing to send (give events, or rate and duration)")
	}
	dir, err := os.MkdirTemp("", "sharelog-bench-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	key := "bench-" + randomHex(16)
	cfg := &config.Config{DataDir: dir}
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Kafka.Brokers = o.Brokers
	cfg.Kafka.Embedded.Addr = "127.0.0.1:0"
	cfg.Kafka.TopicPrefix = "bench-" + randomHex(4)
	cfg.Kafka.Partitions = o.Partitions
	cfg.Kafka.Compression = o.Compression
	cfg.Ingest.Keys = []string{key}
	cfg.Ingest.MaxInFlight = 4 * o.Concurrency
	cfg.Enrich.Workers = o.Workers
	cfg.Enrich.Session.Secret = randomHex(32)
	cfg.GeoIP.CityDB = o.GeoIP
	cfg.Log.Level = "warn"
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	p, err := pipeline.Start(ctx, cfg, pipeline.Ingest|pipeline.Enrich, pipeline.Options{Embedded: true, Logger: o.Logger})
	if err != nil {
		return Result{}, err
	}
	pctx, stopPipeline := context.WithCancel(context.Background())
	pdone := make(chan error, 1)
	go func() { pdone <- p.Run(pctx) }()
	defer func() { stopPipeline(); <-pdone }()

	res := Result{Broker: "embedded (kfake)"}
	if len(o.Brokers) > 0 {
		res.Broker = fmt.Sprint(o.Brokers)
	}
	probe := newProbe(p.Brokers(), cfg.Kafka.Topics().Enriched, cfg.Kafka.Partitions, total)
	go probe.run(ctx)
	defer probe.close()

	cpu0 := procstat.SelfCPU()
	start := time.Now()
	sent, reqErrs := send(ctx, o, total, "http://"+p.Addr()+"/v1/events", key)
	res.SendElapsed = time.Since(start)
	res.Sent, res.RequestErrors = int(sent), reqErrs

	// Wait for everything acknowledged to come out enriched.
	deadline := time.Now().Add(60 * time.Second)
	for probe.unique() < res.Sent && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	cpu1 := procstat.SelfCPU()
	lat, unique, dups, last := probe.snapshot()
	res.TotalElapsed = last.Sub(start)
	res.Received, res.Duplicates = unique, dups
	res.IngestRate = float64(res.Sent) / res.SendElapsed.Seconds()
	res.EndToEndRate = float64(unique) / res.TotalElapsed.Seconds()
	res.CPUSeconds = cpu1 - cpu0
	res.MaxRSSMiB = procstat.SelfMaxRSSMiB()
	if len(lat) > 0 {
		slices.Sort(lat)
		q := func(f float64) time.Duration { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
		res.P50, res.P90, res.P99, res.Max = q(0.50), q(0.90), q(0.99), lat[len(lat)-1]
	}
	res.IngestP50, res.IngestP99 = quantiles(p, "sharelog_ingest_request_duration_seconds")
	res.EnrichP50, res.EnrichP99 = quantiles(p, "sharelog_enrich_latency_seconds")
	if unique < res.Sent {
		probe.mu.Lock()
		perr := probe.err
		probe.mu.Unlock()
		return res, fmt.Errorf("bench: %d events acknowledged but only %d read back enriched within 60s (reader: %v)", res.Sent, unique, perr)
	}
	return res, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// send posts total events from o.Concurrency senders, paced at o.Rate when
// set, and returns how many were acknowledged.
func send(ctx context.Context, o Options, total int, url, key string) (sent, reqErrs int64) {
	tokens := make(chan int, o.Concurrency)
	go func() { // hand out batches, paced
		defer close(tokens)
		var interval time.Duration
		if o.Rate > 0 {
			interval = time.Duration(float64(time.Second) * float64(o.Batch) / float64(o.Rate))
		}
		next := time.Now()
		for left := total; left > 0; left -= o.Batch {
			if interval > 0 {
				next = next.Add(interval)
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
			}
			select {
			case tokens <- min(left, o.Batch):
			case <-ctx.Done():
				return
			}
		}
	}()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency}}
	var wg sync.WaitGroup
	var nSent, nErr atomic.Int64
	for i := range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gen := simulate.NewGenerator(simulate.Config{Seed: int64(i + 1)}, time.Now)
			s := &simulate.HTTPSender{URL: url, Key: key, Client: client}
			for n := range tokens {
				if err := s.Send(ctx, gen.Batch(n)); err != nil {
					nErr.Add(1)
					if o.Logger != nil {
						o.Logger.Warn("bench request failed", "err", err)
					}
					continue
				}
				nSent.Add(int64(n))
			}
		}()
	}
	wg.Wait()
	return nSent.Load(), nErr.Load()
}

// probe reads the enriched topic, one reader per partition (no consumer
// group, so no rebalance can pause it), and records, per distinct event, the
// time from the event's own timestamp (set just before its POST) to its
// arrival.
type probe struct {
	readers []*kafka.Reader

	mu   sync.Mutex
	seen map[string]struct{}
	lat  []time.Duration
	dups int
	last time.Time
	err  error
}

func newProbe(brokers []string, topic string, partitions, expect int) *probe {
	p := &probe{seen: make(map[string]struct{}, expect), lat: make([]time.Duration, 0, expect)}
	for i := range partitions {
		p.readers = append(p.readers, kafka.NewReader(kafka.ReaderConfig{
			Brokers: brokers, Topic: topic, Partition: i,
			MinBytes: 1, MaxBytes: 16 << 20, MaxWait: kafkax.ReaderMaxWait, QueueCapacity: 10000,
			ReadBackoffMin: 2 * time.Millisecond, ReadBackoffMax: time.Second, // see kafkax.NewGroupReader
		}))
	}
	return p
}

func (p *probe) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range p.readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.read(ctx, r)
		}()
	}
	wg.Wait()
}

func (p *probe) read(ctx context.Context, r *kafka.Reader) {
	for {
		m, err := r.ReadMessage(ctx) // no group: nothing is committed
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return
			}
			// The reader heals by itself (a new topic's leader not
			// elected yet, a broker moving); keep the last error for the
			// report and go on.
			p.mu.Lock()
			p.err = err
			p.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
			continue
		}
		now := time.Now()
		id, at, ok := idAndTime(m.Value)
		if !ok {
			continue
		}
		p.mu.Lock()
		if _, dup := p.seen[id]; dup {
			p.dups++
		} else {
			p.seen[id] = struct{}{}
			p.lat = append(p.lat, now.Sub(at))
			p.last = now
		}
		p.mu.Unlock()
	}
}

func (p *probe) unique() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.seen)
}

func (p *probe) snapshot() ([]time.Duration, int, int, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lat), len(p.seen), p.dups, p.last
}

func (p *probe) close() {
	for _, r := range p.readers {
		r.Close()
	}
}

// idAndTime reads "id" and "time" from the start of an enriched event, where
// the encoder puts them, without decoding the rest.
func idAndTime(v []byte) (string, time.Time, bool) {
	id, ok := field(v, `"id":"`)
	if !ok {
		return "", time.Time{}, false
	}
	ts, ok := field(v, `"time":"`)
	if !ok {
		return "", time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	return string(id), t, err == nil
}

func field(v []byte, prefix string) ([]byte, bool) {
	i := bytes.Index(v, []byte(prefix))
	if i < 0 {
		return nil, false
	}
	rest := v[i+len(prefix):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil, false
	}
	return rest[:j], true
}

// quantiles returns the upper bounds of the buckets holding the 50th and
// 99th percentile of a histogram in the pipeline's registry.
func quantiles(p *pipeline.Pipeline, name string) (p50, p99 time.Duration) {
	mfs, err := p.Registry().Gather()
	if err != nil {
		return 0, 0
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		at := func(q float64) time.Duration {
			want := uint64(q * float64(h.GetSampleCount()))
			for _, b := range h.GetBucket() {
				if b.GetCumulativeCount() >= want {
					return time.Duration(b.GetUpperBound() * float64(time.Second))
				}
			}
			return 0
		}
		return at(0.5), at(0.99)
	}
	return 0, 0
}
