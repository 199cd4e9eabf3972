package simulate

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Stats is what a Run did.
type Stats struct {
	// Sent counts the events the Sender accepted, Failed those of batches
	// whose Send returned an error.
	Sent, Failed int64
	// Elapsed is the run's wall-clock time.
	Elapsed time.Duration
}

// maxLag is how far behind its schedule Run may fall before it forgets the
// backlog instead of bursting to catch up.
const maxLag = time.Second

// Run sends rate events a second for duration (0 means until ctx ends), in
// batches of batchSize (default 100), from workers goroutines (default 1).
// Worker i has its own Generator seeded with cfg.Seed+i (with a random base
// when cfg.Seed is 0); the workers divide cfg.Workspaces among them, so the
// run as a whole simulates that many workspaces.
//
// Pacing follows a token bucket: a batch of n events leaves once n tokens
// have accrued at rate tokens a second, so the achieved rate stays close to
// rate while the Sender keeps up. When it does not, Run falls behind by at
// most a second and then drops the backlog rather than burst. With a
// duration, Run sends rate×duration events in all (rounded down) when the
// Sender keeps up, then waits for the batches in flight.
//
// A Send error counts the batch in Failed, is logged through logger (nil
// means quiet; at most one message a second per worker), and Run goes on. s
// must be safe for concurrent use when workers > 1.
//
// Run returns an error for invalid arguments, and ctx.Err() when ctx ended
// before a positive duration was through; with duration 0, the end of ctx is
// the normal end and the error is nil. Stats are valid in every case.
func Run(ctx context.Context, cfg Config, rate int, duration time.Duration, batchSize, workers int, s Sender, logger *slog.Logger) (Stats, error) {
	switch {
	case rate <= 0:
		return Stats{}, errors.New("simulate: rate must be positive")
	case duration < 0:
		return Stats{}, errors.New("simulate: duration must not be negative")
	case s == nil:
		return Stats{}, errors.New("simulate: no sender")
	}
	if batchSize <= 0 {
		batchSize = 100
	}
	if workers <= 0 {
		workers = 1
	}
	cfg = cfg.withDefaults()
	base := cfg.Seed
	if base == 0 {
		base = int64(randomSeed() >> 2)
	}

	start := time.Now()
	p := &pacer{rate: float64(rate), base: start}
	if duration > 0 {
		p.total = int64(float64(rate) * duration.Seconds())
		p.end = start.Add(duration)
	}

	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		wcfg := cfg
		wcfg.Seed = base + int64(i)
		wcfg.Workspaces, wcfg.first = shareOf(cfg.Workspaces, workers, i)
		gen := NewGenerator(wcfg, nil)
		wg.Go(func() {
			w := worker{id: i, gen: gen, s: s, logger: logger, batchSize: batchSize, sent: &sent, failed: &failed}
			w.run(ctx, p)
		})
	}
	wg.Wait()
	st := Stats{Sent: sent.Load(), Failed: failed.Load(), Elapsed: time.Since(start)}
	if duration > 0 && ctx.Err() != nil && !p.finished() {
		return st, ctx.Err()
	}
	return st, nil
}

// shareOf divides total workspaces among workers: worker i gets n of them,
// the first being number first. A worker gets at least one, so with fewer
// workspaces than workers, workspaces repeat (under other ids).
func shareOf(total, workers, i int) (n, first int) {
	n = total / workers
	first = i*n + min(i, total%workers)
	if i < total%workers {
		n++
	}
	if n == 0 {
		return 1, i % total
	}
	return n, first
}

// pacer hands out batches on a token-bucket schedule shared by the workers.
type pacer struct {
	rate  float64
	total int64     // events to send in all; 0 = no limit
	end   time.Time // no batch leaves after it; zero = no end

	mu     sync.Mutex
	base   time.Time // when the schedule's token count was 0
	issued int64
	done   bool
}

// reserve claims the next batch of at most max events and says when it may
// leave; ok is false when the run is through.
func (p *pacer) reserve(max int) (n int, at time.Time, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return 0, time.Time{}, false
	}
	n = max
	if p.total > 0 {
		if left := p.total - p.issued; left < int64(n) {
			n = int(left)
		}
		if n <= 0 {
			p.done = true
			return 0, time.Time{}, false
		}
	}
	at = p.base.Add(time.Duration(float64(p.issued+int64(n)) / p.rate * float64(time.Second)))
	if late := time.Now().Add(-maxLag); at.Before(late) {
		// Too far behind: forget the backlog.
		p.base = p.base.Add(late.Sub(at))
		at = late
	}
	if !p.end.IsZero() && at.After(p.end) {
		p.done = true
		return 0, time.Time{}, false
	}
	p.issued += int64(n)
	return n, at, true
}

func (p *pacer) finished() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// worker makes and sends batches.
type worker struct {
	id           int
	gen          *Generator
	s            Sender
	logger       *slog.Logger
	batchSize    int
	sent, failed *atomic.Int64

	lastLog    time.Time
	suppressed int
}

func (w *worker) run(ctx context.Context, p *pacer) {
	timer := time.NewTimer(time.Hour)
	timer.Stop() // armed by Reset below (Go 1.23 timers need no draining)
	defer timer.Stop()
	for ctx.Err() == nil {
		n, at, ok := p.reserve(w.batchSize)
		if !ok {
			return
		}
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		batch := w.gen.Batch(n)
		if err := w.s.Send(ctx, batch); err != nil {
			w.failed.Add(int64(n))
			w.logError(n, err)
			continue
		}
		w.sent.Add(int64(n))
	}
}

// logError logs a failed send, at most once a second, counting the ones it
// leaves out.
func (w *worker) logError(n int, err error) {
	if w.logger == nil {
		return
	}
	if now := time.Now(); now.Sub(w.lastLog) >= time.Second {
		w.logger.Warn("simulate: send failed", "worker", w.id, "events", n, "err", err, "suppressed", w.suppressed)
		w.lastLog, w.suppressed = now, 0
		return
	}
	w.suppressed++
}
