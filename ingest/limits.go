package ingest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// pacedReader reads a request body under a read deadline on the
// connection that grows with what has arrived: after n bytes, the next
// must come by body_rate_grace + n/min_body_rate from the start of the
// body, and the whole body by body_timeout. A client that trickles a body
// in (one byte every few seconds) thus holds its in-flight slot for a
// bounded time only.
//
// It is used by one request's goroutine only.
type pacedReader struct {
	rc    *http.ResponseController
	body  io.ReadCloser
	start time.Time
	hard  time.Time // start + body_timeout
	cfg   Config

	n        int64     // bytes read so far
	deadline time.Time // the read deadline last set
	timeout  error     // the read error once the deadline passed
	noDL     bool      // the connection takes no deadline (not a net/http server)
}

func newPacedReader(rc *http.ResponseController, body io.ReadCloser, cfg Config) *pacedReader {
	now := time.Now()
	return &pacedReader{rc: rc, body: body, start: now, hard: now.Add(cfg.BodyTimeout), cfg: cfg}
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if !p.noDL {
		dl := p.start.Add(p.cfg.BodyRateGrace + time.Duration(p.n)*time.Second/time.Duration(p.cfg.MinBodyRate))
		if dl.After(p.hard) {
			dl = p.hard
		}
		if !dl.Equal(p.deadline) {
			if err := p.rc.SetReadDeadline(dl); err != nil {
				p.noDL = true // e.g. a ResponseRecorder: nothing to bound
			} else {
				p.deadline = dl
			}
		}
	}
	n, err := p.body.Read(b)
	p.n += int64(n)
	if err != nil && p.timeout == nil && isTimeout(err) {
		p.timeout = err
	}
	return n, err
}

func (p *pacedReader) Close() error { return p.body.Close() }

// done lifts the read deadline once the body is read, so that it cannot
// cut the connection while the batch is produced, or the next request on
// it.
func (p *pacedReader) done() {
	if !p.noDL && !p.deadline.IsZero() {
		_ = p.rc.SetReadDeadline(time.Time{})
	}
}

// slow returns the *slowBodyError when the body read ended at the deadline.
func (p *pacedReader) slow() *slowBodyError {
	if p.timeout == nil {
		return nil
	}
	e := &slowBodyError{n: p.n, took: time.Since(p.start).Round(time.Millisecond), cfg: p.cfg, err: p.timeout}
	e.limit = "ingest.min_body_rate"
	if p.deadline.Equal(p.hard) {
		e.limit = "ingest.body_timeout"
	}
	return e
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// slowBodyError is a body that did not arrive in time: answered 408.
type slowBodyError struct {
	limit string // the configuration key that cut it off
	n     int64
	took  time.Duration
	cfg   Config
	err   error
}

func (e *slowBodyError) Error() string {
	if e.limit == "ingest.body_timeout" {
		return fmt.Sprintf("the body did not arrive within %s, the limit of ingest.body_timeout (%d bytes read)", e.cfg.BodyTimeout, e.n)
	}
	return fmt.Sprintf("the body arrived slower than %d bytes a second after %s, the limit of ingest.min_body_rate and ingest.body_rate_grace (%d bytes read in %s)",
		e.cfg.MinBodyRate, e.cfg.BodyRateGrace, e.n, e.took)
}

func (e *slowBodyError) Unwrap() error { return e.err }
