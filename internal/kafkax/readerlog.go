package kafkax

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of a Conn's reader logging (see readerLog).
const (
	// defaultReaderWarnAfter is how long a reader's errors must go on
	// before they are logged at WARN: longer than a broker restart or a
	// leader move, which heal by themselves.
	defaultReaderWarnAfter = 30 * time.Second
	// defaultReaderQuiet is the gap without errors that ends an episode. It
	// is longer than kafka-go's longest retry cycle (a 5 s dial, a 10 s
	// offsets read, a 1 s back-off), so that a reader that never gets
	// through stays in one episode.
	defaultReaderQuiet = 20 * time.Second
)

// readerLog is a kafka-go reader's ErrorLogger. kafka-go logs every failed
// fetch, dial or group request there and then retries on its own; most of
// them heal within a second (a broker that paused, a leader that moved, a
// rebalance). So an error is logged at DEBUG, and at WARN only once the
// reader's errors have gone on for warnAfter with no gap longer than quiet
// (the reader has not worked for that long: a person is needed). While the
// episode lasts, one WARN per warnAfter says how long and how many.
//
// It is safe for concurrent use (kafka-go logs from one goroutine per
// partition).
type readerLog struct {
	logger *slog.Logger
	attrs  []any
	now    func() time.Time

	mu      sync.Mutex
	episode episode
}

func newReaderLog(logger *slog.Logger, warnAfter, quiet time.Duration, attrs ...any) *readerLog {
	return &readerLog{logger: logger, attrs: slices.Clip(attrs), now: time.Now,
		episode: episode{warnAfter: warnAfter, quiet: quiet}}
}

// Printf implements kafka.Logger.
func (l *readerLog) Printf(msg string, args ...any) {
	text := fmt.Sprintf(msg, args...)
	if strings.Contains(text, "Rebalance In Progress") { // routine when members join or leave
		l.logger.Debug("kafka reader", append(l.attrs, "msg", text)...)
		return
	}
	l.mu.Lock()
	failing, count, warn := l.episode.fail(l.now())
	l.mu.Unlock()

	if warn {
		l.logger.Warn("kafka reader failing; it keeps retrying",
			append(l.attrs, "for", failing.Round(time.Second), "errors", count, "msg", text)...)
		return
	}
	l.logger.Debug("kafka reader error; retrying", append(l.attrs, "msg", text)...)
}

// episode is a run of errors of one reader: it goes on while each error
// comes within quiet of the one before and no success (reset) ends it.
// Its user serialises the calls.
type episode struct {
	warnAfter, quiet time.Duration

	first  time.Time // start of the episode
	last   time.Time // latest error
	warned time.Time // latest WARN of the episode
	count  int       // errors in the episode
}

// fail records an error at now. It returns how long the episode has lasted
// and its errors so far, and whether this error is to be logged at WARN:
// once the episode has lasted warnAfter, then once per warnAfter.
func (e *episode) fail(now time.Time) (failing time.Duration, count int, warn bool) {
	if e.last.IsZero() || now.Sub(e.last) > e.quiet {
		e.first, e.warned, e.count = now, time.Time{}, 0
	}
	e.last = now
	e.count++
	failing = now.Sub(e.first)
	warn = failing >= e.warnAfter && (e.warned.IsZero() || now.Sub(e.warned) >= e.warnAfter)
	if warn {
		e.warned = now
	}
	return failing, e.count, warn
}

// reset ends the episode: the reader works.
func (e *episode) reset() { e.last = time.Time{} }
