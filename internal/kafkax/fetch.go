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
// (nil: ignored), logged at most every 10 s, and fetching goes on after a
// back-off growing from 50 ms to 5 s. A Kafka outage turns into lag.
func Fetch(ctx context.Context, reader *kafka.Reader, out chan<- kafka.Message, logger *slog.Logger, onError func(error)) {
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
			if logger != nil && time.Since(lastLogged) > 10*time.Second {
				logger.Warn("fetch failed; the reader retries", "topic", reader.Config().Topic, "err", err, "backoff", backoff)
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
		select {
		case out <- m:
		case <-ctx.Done():
			return
		}
	}
}
