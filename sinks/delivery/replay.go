package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/sharelog/sharelog"
)

// ReplayStats is what a replay did.
type ReplayStats struct {
	Read     int64 `json:"read"`     // events read from the source
	Accepted int64 `json:"accepted"` // taken by the destination
	Refused  int64 `json:"refused"`  // refused for good (reported, skipped)
}

// Replay re-sends events to one sink — archived events to a SIEM that was
// down or newly added — with the engine's batching (by count and bytes, one
// batch at a time, in the order each gives them), retries, Retry-After and
// split-on-refusal. Events refused for good are passed to refused (nil: only
// counted) and skipped; nothing goes to Kafka. each calls its argument with
// every event to send and stops at its error. progress (nil: none) is called
// after each batch. Replay closes the sink. A destination that answers
// DisabledError ends the replay with that error.
func Replay(ctx context.Context, sink sharelog.Sink, opts Options, logger *slog.Logger,
	each func(fn func(*sharelog.Event) error) error,
	refused func(ev *sharelog.Event, reason error),
	progress func(ReplayStats)) (st ReplayStats, err error) {
	defer func() { err = errors.Join(err, sink.Close()) }()
	if err := opts.Validate(); err != nil {
		return st, fmt.Errorf("replay: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, _ := newMetrics("replay", nil, func() int { return 0 })
	r := &Runner{name: "replay", sink: sink, opts: opts, log: logger, m: m}
	r.onAccepted = func(items []item) { st.Accepted += int64(len(items)) }
	r.onRefused = func(_ context.Context, items []item, reasons []error) error {
		for i, it := range items {
			st.Refused++
			if refused != nil {
				refused(it.ev, reasons[min(i, len(reasons)-1)])
			}
		}
		return nil
	}
	var (
		batch []item
		bytes int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := r.deliver(ctx, batch); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		batch, bytes = batch[:0], 0
		if progress != nil {
			progress(st)
		}
		return nil
	}
	err = each(func(ev *sharelog.Event) error {
		st.Read++
		batch = append(batch, item{ev: ev})
		bytes += approxSize(ev)
		if len(batch) >= opts.BatchEvents || bytes >= opts.BatchBytes {
			return flush()
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	return st, flush()
}

// approxSize is the size of an event's JSON, for the bytes limit of a batch.
func approxSize(ev *sharelog.Event) int { return len(ev.AppendJSON(nil)) }
