package api

import (
	"errors"
	"net"
	"net/http"
	"os"
	"time"
)

// writeChunk is the most one write hands to the connection under one
// deadline: a large JSON page is written in pieces, each with a fresh
// deadline, so that a slow but reading client is never cut off.
const writeChunk = 32 << 10

// deadlineWriter is the ResponseWriter the query endpoints write to. Each
// write (of at most writeChunk bytes) and each flush must complete within
// timeout (api.write_timeout) from when it starts: the deadline moves on
// as the client reads, and a client that stops reading is cut off. It
// records that, for the route to count and log.
//
// It is used by one request's goroutine only. Unwrap gives the
// ResponseWriter beneath, for http.ResponseController.
type deadlineWriter struct {
	http.ResponseWriter
	rc       *http.ResponseController // over the ResponseWriter beneath
	timeout  time.Duration
	n        int64 // bytes written
	noDL     bool  // the connection takes no deadline (not a net/http server)
	timedOut bool  // a write or flush failed at the deadline
}

func newDeadlineWriter(w http.ResponseWriter, timeout time.Duration) *deadlineWriter {
	return &deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: timeout}
}

func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

func (d *deadlineWriter) arm() {
	if !d.noDL && d.rc.SetWriteDeadline(time.Now().Add(d.timeout)) != nil {
		d.noDL = true // e.g. a ResponseRecorder: nothing to bound
	}
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		d.arm()
		n, err := d.ResponseWriter.Write(p[:min(len(p), writeChunk)])
		written += n
		d.n += int64(n)
		if err != nil {
			d.note(err)
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// FlushError sends what is buffered, under the deadline (it is what
// http.ResponseController.Flush calls). A ResponseWriter that cannot flush
// is not an error.
func (d *deadlineWriter) FlushError() error {
	d.arm()
	err := d.rc.Flush()
	if errors.Is(err, http.ErrNotSupported) {
		return nil
	}
	if err != nil {
		d.note(err)
	}
	return err
}

func (d *deadlineWriter) note(err error) {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		d.timedOut = true
	}
}

// slowReader reports whether w is a deadlineWriter whose client was cut off
// for not reading.
func slowReader(w http.ResponseWriter) bool {
	d, ok := w.(*deadlineWriter)
	return ok && d.timedOut
}
