package kafkax

import (
	"context"
	"log/slog"
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
// heals sooner).
func Fetch(ctx context.Context, reader *kafka.Reader, out chan<- kafka.Message, logger *slog.Logger, onError func(error)) {
	fetch(ctx, reader, out, logger, onError, episode{warnAfter: defaultReaderWarnAfter, quiet: defaultReaderQuiet})
}

// fetch is Fetch with the episode that decides the level of its log.
func fetch(ctx context.Context, reader *kafka.Reader, out chan<- kafka.Message, logger *slog.Logger, onError func(error), ep episode) {
	defer close(out)
	var (
		backoff    time.Duration
		lastLogged time.Time
	)
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
			failing, count, warn := ep.fail(time.Now())
			switch {
			case logger == nil:
			case warn:
				logger.Warn("fetch failing; the reader retries", "topic", reader.Config().Topic, "err", err,
					"for", failing.Round(time.Second), "errors", count, "backoff", backoff)
			case time.Since(lastLogged) > 10*time.Second:
				logger.Debug("fetch failed; the reader retries", "topic", reader.Config().Topic, "err", err, "backoff", backoff)
				lastLogged = time.Now()
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		ep.reset()
		select {
		case out <- m:
		case <-ctx.Done():
			return
		}
	}
}
