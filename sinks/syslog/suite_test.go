package syslog

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/sinks/sinktest"
)

// suiteDest is the shared suite's Destination: the Go TCP receiver, with
// the failures a syslog receiver has.
//
//   - A delivery is a connection. FailNext closes the receiver's side of the
//     open connections (the sink sees it and connects again) and makes the
//     next n connections be refused, for real: they go to a port nobody
//     listens on, so the sink meets ECONNREFUSED from the kernel.
//   - Stall stops the receiver reading, and holds new connections until
//     released. A stalled reader still lets the kernel acknowledge what
//     fits its buffers, so a Write in flight may well return nil: the bytes
//     are in the receiver's kernel and are read on release.
//   - Reject returns false: syslog cannot refuse one message.
type suiteDest struct {
	sinktest.Recorder
	r       *receiver
	refused string
}

func newSuiteDest(t *testing.T) *suiteDest {
	d := &suiteDest{r: listenTCP(t, true, nil, nil)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.refused = ln.Addr().String()
	ln.Close()
	d.r.mu.Lock()
	d.r.onMsg = func(msg string) {
		if id := cefValue(msg, "externalId"); id != "" {
			d.Accept(id)
		} else {
			t.Errorf("message without externalId: %q", msg)
		}
	}
	d.r.mu.Unlock()
	return d
}

// dial is the sink's Deps.Dial: each connection is a delivery.
func (d *suiteDest) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	fail, err := d.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if fail {
		addr = d.refused
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

func (d *suiteDest) FailNext(n int) {
	d.Recorder.FailNext(n)
	d.r.mu.Lock()
	defer d.r.mu.Unlock()
	for _, c := range d.r.conns {
		if tc, ok := c.c.(*net.TCPConn); ok {
			tc.CloseWrite() // FIN; what the sink already sent is still read
		}
	}
}

func (d *suiteDest) Reject(string) bool { return false }

func (d *suiteDest) Stall() (release func()) {
	r1 := d.Recorder.Stall()
	r2 := d.r.stallReading()
	return func() { r1(); r2() }
}

// cefValue returns the value of key in a CEF message whose value holds no
// space (ids).
func cefValue(msg, key string) string {
	i := strings.Index(msg, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := msg[i+len(key)+2:]
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}

func TestSuite(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{New: func(t *testing.T) (sharelog.Sink, sinktest.Destination) {
		d := newSuiteDest(t)
		cfg := Config{Address: d.r.addr(), Hostname: "suite"}
		cfg.SetDefaults()
		s, err := New(cfg, Deps{Dial: d.dial})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.r.checkFraming)
		return s, d
	}})
}
