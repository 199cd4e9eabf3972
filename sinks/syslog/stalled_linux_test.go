//go:build linux

package syslog

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stalledListener makes the receiving socket's buffer as small as Linux
// allows, so that a receiver that stops reading stops acknowledging soon.
func stalledListener() *net.ListenConfig {
	return &net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1) })
		return serr
	}}
}

// bigSendBuffer dials with a send buffer large enough to take a whole test
// batch, so that a write never blocks and only the acknowledgement tells.
func bigSendBuffer(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4 << 20)
	}
	return c, err
}

func TestStalledReceiver(t *testing.T) {
	evs := events(400, 1)
	for _, ev := range evs {
		ev.Client.UserAgent = strings.Repeat("x", 1000)
	}
	t.Run("tcp_ack reports the bytes not taken", func(t *testing.T) {
		r := listenTCP(t, true, nil, stalledListener())
		t.Cleanup(r.stallReading())
		s := newSink(t, Config{Address: r.addr(), Connections: 1, WriteTimeout: 300 * time.Millisecond}, Deps{Dial: bigSendBuffer})
		start := time.Now()
		err := s.Write(t.Context(), evs)
		checkRetryable(t, err)
		if !strings.Contains(err.Error(), "not acknowledged") {
			t.Errorf("error %q", err)
		}
		if d := time.Since(start); d < 250*time.Millisecond || d > 5*time.Second {
			t.Errorf("Write returned after %s, want about the 300ms write timeout", d)
		}
	})
	t.Run("none believes the kernel", func(t *testing.T) {
		r := listenTCP(t, true, nil, stalledListener())
		t.Cleanup(r.stallReading())
		s := newSink(t, Config{Address: r.addr(), Connections: 1, WriteTimeout: 300 * time.Millisecond, Confirm: ConfirmNone}, Deps{Dial: bigSendBuffer})
		if err := s.Write(t.Context(), evs); err != nil {
			t.Errorf("confirm none: %v", err)
		}
	})
	t.Run("the context ends the wait", func(t *testing.T) {
		r := listenTCP(t, true, nil, stalledListener())
		release := r.stallReading()
		s := newSink(t, Config{Address: r.addr(), Connections: 1}, Deps{Dial: bigSendBuffer})
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := s.Write(ctx, evs)
		checkRetryable(t, err)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v does not wrap the context's", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Write returned after %s", d)
		}
		// The connection was dropped: the next Write connects anew.
		release()
		if err := s.Write(t.Context(), evs[:1]); err != nil {
			t.Fatal(err)
		}
		if n := len(r.connections()); n != 2 {
			t.Errorf("%d connections, want 2", n)
		}
	})
}
