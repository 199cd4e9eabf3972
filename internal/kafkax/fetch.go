package kafkax

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// Fetch feeds out from reader until ctx ends, then closes out. It is meant to
// run in a goroutine of its own, so that the consumer can take whatever is
// already fetched as one batch; out's capacity bounds what waits.
//
// A fetch error does not end it: kafka-go's group reader heals by itself
// (it rejoins the group and reconnects), so the error is passed to onError
// (nil: ignored), and fetching goes on after a back-off growing from 50 ms
// to 5 s. A Kafka outage turns into lag. Errors are logged at DEBUG (at
// most every 10 s), and at WARN once they have gone on for 30 s without a
// message fetched or a 20 s pause (a broker restart or a coordinator move
// heals sooner): see FetchLog.
func Fetch(ctx context.Context, reader *kafka.Reader, out chan<- kafka.Message, logger *slog.Logger, onError func(error)) {
	fetch(ctx, reader, out, logger, onError, nil, episode{warnAfter: defaultReaderWarnAfter, quiet: defaultReaderQuiet})
}

// fetch is Fetch with the episode that decides the level of its log, and
// take (nil: none) called with each message before it is passed on (the
// Consumer records it in flight there).
func fetch(ctx context.Context, reader *kafka.Reader, out chan<- kafka.Message, logger *slog.Logger, onError func(error), take func(*kafka.Message), ep episode) {
	defer close(out)
	var backoff time.Duration
	log := newFetchLog(logger, ep, "topic", reader.Config().Topic)
	for {
		m, err := reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if onError != nil {
				onError(err)
			}
			backoff = min(max(2*backoff, 50*time.Millisecond), 5*time.Second)
			log.Failed(err, "backoff", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		log.Fetched()
		if take != nil {
			take(&m)
		}
		select {
		case out <- m:
		case <-ctx.Done():
			return
		}
	}
}

// FetchLog logs the failed fetches of a loop over a kafka-go reader by the
// rule of Fetch and of a Conn's readers: the reader heals by itself (a
// broker restart, a leader or coordinator move), so an error is logged at
// DEBUG, at most once every 10 s, and at WARN once fetches have failed for
// 30 s with no message fetched and no gap of 20 s between two errors (the
// reader has not worked for that long: a person is needed), then once per
// 30 s while that goes on, saying for how long and how many errors.
//
// Fetch, the Consumer and ConsumePartitions use one; a fetch loop of its
// own calls Failed after each failed fetch and Fetched after each message.
// A FetchLog is not safe for concurrent use: one per fetching goroutine.
type FetchLog struct {
	logger    *slog.Logger
	attrs     []any
	now       func() time.Time
	ep        episode
	lastDebug time.Time
}

// NewFetchLog returns a FetchLog that writes to logger (nil: nowhere),
// with attrs (the topic, the partition) on every record.
func NewFetchLog(logger *slog.Logger, attrs ...any) *FetchLog {
	return newFetchLog(logger, episode{warnAfter: defaultReaderWarnAfter, quiet: defaultReaderQuiet}, attrs...)
}

func newFetchLog(logger *slog.Logger, ep episode, attrs ...any) *FetchLog {
	return &FetchLog{logger: logger, attrs: slices.Clip(attrs), now: time.Now, ep: ep}
}

// Failed records a failed fetch and logs err at the level the rule gives,
// with attrs (the back-off, say) after it.
func (l *FetchLog) Failed(err error, attrs ...any) {
	now := l.now()
	failing, count, warn := l.ep.fail(now)
	switch {
	case l.logger == nil:
	case warn:
		l.logger.Warn("fetch failing; the reader retries", slices.Concat(l.attrs,
			[]any{"err", err, "for", failing.Round(time.Second), "errors", count}, attrs)...)
	case now.Sub(l.lastDebug) > 10*time.Second:
		l.logger.Debug("fetch failed; the reader retries", slices.Concat(l.attrs, []any{"err", err}, attrs)...)
		l.lastDebug = now
	}
}

// Fetched records a fetched message: the reader works, which ends the
// episode of errors.
func (l *FetchLog) Fetched() { l.ep.reset() }
