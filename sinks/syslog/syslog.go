// Package syslog is the syslog sink: it delivers enriched events as RFC 5424
// syslog messages whose body is CEF (ArcSight, Microsoft Sentinel) or LEEF
// 2.0 (IBM QRadar), over TCP (RFC 6587 octet counting, or LF framing), TLS
// (RFC 5425) or UDP (RFC 5426, one message per datagram).
//
// The sink only talks to the receiver; the delivery engine (sinks/delivery)
// batches, retries and dead-letters. Syslog has no answer, so Write knows
// only whether the bytes went out:
//
//   - nil: every message of the batch was written and, with confirm tcp_ack
//     (the default for tcp and tls, Linux), acknowledged by the receiver's
//     TCP stack; for udp, handed to the network.
//   - a *sharelog.RetryableError: a connection could not be made or broke,
//     or the receiver did not take the bytes within write_timeout. The
//     engine sends the whole batch again, so the receiver may get some
//     messages twice (each carries the event id: CEF externalId, LEEF
//     eventId).
//
// Write never returns a *sharelog.PermanentError or *sharelog.BatchError:
// a syslog receiver cannot refuse one message, and every event can be
// written (escaped, and cut to max_message_size if need be).
//
// Connections: the sink holds Config.Connections connections (sockets for
// udp), dialled when first needed and again after a failure; each link's
// events (ev.Key()) always take the same one, so a receiver reading each
// connection in order sees a link's events in order. Before a connection is
// reused, the sink checks, without waiting, that the receiver has not
// closed it, and dials again if it has.
package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/cfgerr"
	"github.com/sharelog/sharelog/internal/prom"
)

// Deps are what the sink is given; nil fields take quiet defaults.
type Deps struct {
	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: no metrics registered
	// Dial makes the connections ("tcp" or "udp", Config.Address), TLS
	// handshake excepted, which the sink does over what Dial returns. nil:
	// a net.Dialer with Config.DialTimeout and TCP keep-alive. A
	// connection that is not a syscall.Conn (a wrapper) is written to
	// without the closed-connection check and confirm tcp_ack.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// Sink delivers batches of events to one syslog receiver. Write is safe
// for concurrent use; Close is called once, after the last Write.
type Sink struct {
	cfg     Config
	enc     *encoder
	network string // "tcp" or "udp"
	stream  bool
	octets  bool // octet counting, else LF (stream only)
	confirm bool // wait for the TCP acknowledgement
	tls     *tls.Config
	dial    func(ctx context.Context, network, address string) (net.Conn, error)
	log     *slog.Logger
	m       *metrics
	slots   []*slot
	work    sync.Pool // *work
	closed  atomic.Bool
}

// slot is one of the sink's connections, used by one Write at a time.
type slot struct {
	sem  chan struct{} // holds a token while a Write uses the slot
	conn *conn         // nil when not connected; guarded by sem
}

// conn is one connection to the receiver.
type conn struct {
	net.Conn                 // what is written to: the TCP, TLS or UDP connection
	raw      syscall.RawConn // the TCP socket under it; nil for udp or an opaque Dial
}

// work is the scratch space of one Write, reused.
type work struct {
	bufs    []slotBuf
	scratch []byte
}

// slotBuf holds the framed messages of a batch for one slot; ends[i] is
// where message i ends (udp sends each as a datagram).
type slotBuf struct {
	data []byte
	ends []int
}

// New returns a sink for cfg, which must be defaulted and valid. It reads
// the TLS files now, so that a missing or bad one fails at start; it does
// not connect (the first Write does).
func New(cfg Config, deps Deps) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("syslog: %w", err)
	}
	hostname := cfg.Hostname
	if hostname == "" {
		hostname = localHostname()
	}
	s := &Sink{
		cfg:     cfg,
		enc:     newEncoder(cfg, hostname),
		network: "tcp",
		stream:  cfg.Network != NetworkUDP,
		octets:  cfg.Framing == FramingOctetCounting,
		confirm: cfg.Confirm == ConfirmTCPAck && probeSupported,
		dial:    deps.Dial,
		log:     deps.Logger,
	}
	if !s.stream {
		s.network = "udp"
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("sink", "syslog", "address", cfg.Address)
	if s.dial == nil {
		d := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
		s.dial = d.DialContext
	}
	if cfg.Network == NetworkTLS {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
		s.tls = tc
	}
	s.slots = make([]*slot, cfg.Connections)
	for i := range s.slots {
		s.slots[i] = &slot{sem: make(chan struct{}, 1)}
	}
	s.m = newMetrics()
	if err := prom.Register(deps.Registerer, s.m.messages, s.m.bytes, s.m.truncated, s.m.writeErrors, s.m.dials, s.m.writeSeconds, s.m.openGauge); err != nil {
		return nil, fmt.Errorf("syslog: %w", err)
	}
	return s, nil
}

// localHostname is the host's name as a syslog HOSTNAME, "-" (the nil
// value) when it is unknown or not printable ASCII.
func localHostname() string {
	h, err := os.Hostname()
	if err != nil || headerField(h, 255) != nil {
		return "-"
	}
	return h
}

// tlsConfig makes the client TLS configuration of cfg.TLS, reading the CA
// file and checking that the client certificate loads.
func tlsConfig(cfg Config) (*tls.Config, error) {
	tc, err := cfg.TLS.ClientConfig()
	if err != nil {
		return nil, cfgerr.Prefix("tls", err)
	}
	if tc.ServerName == "" {
		tc.ServerName, _, _ = net.SplitHostPort(cfg.Address)
	}
	return tc, nil
}

// slotOf is the slot of a key: FNV-1a, modulo n.
func slotOf(key string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// Write sends the batch, each event as one syslog message, each on the
// connection of its link, and returns nil once every message was written
// (and acknowledged, with confirm tcp_ack), else a *sharelog.RetryableError.
// ctx bounds the call, connecting included.
func (s *Sink) Write(ctx context.Context, batch []*sharelog.Event) error {
	if len(batch) == 0 {
		return nil
	}
	if s.closed.Load() {
		return errors.New("syslog: Write after Close")
	}
	w, _ := s.work.Get().(*work)
	if w == nil {
		w = &work{bufs: make([]slotBuf, len(s.slots))}
	}
	defer s.putWork(w)
	n := len(s.slots)
	for _, ev := range batch {
		i := 0
		if n > 1 {
			i = slotOf(ev.Key(), n)
		}
		s.frame(w, &w.bufs[i], ev)
	}
	used, last := 0, 0
	for i := range w.bufs {
		if len(w.bufs[i].ends) > 0 {
			used, last = used+1, i
		}
	}
	var err error
	if used == 1 {
		err = s.send(ctx, s.slots[last], &w.bufs[last])
	} else {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range w.bufs {
			if len(w.bufs[i].ends) == 0 {
				continue
			}
			wg.Go(func() { errs[i] = s.send(ctx, s.slots[i], &w.bufs[i]) })
		}
		wg.Wait()
		err = errors.Join(errs...)
	}
	if err != nil {
		return sharelog.Retryable(fmt.Errorf("syslog %s %s: %w", s.cfg.Network, s.cfg.Address, err), 0)
	}
	return nil
}

func (s *Sink) putWork(w *work) {
	for i := range w.bufs {
		b := &w.bufs[i]
		if cap(b.data) > 4<<20 {
			b.data = nil
		}
		b.data, b.ends = b.data[:0], b.ends[:0]
	}
	s.work.Put(w)
}

// frame appends ev's message to b, framed for the network.
func (s *Sink) frame(w *work, b *slotBuf, ev *sharelog.Event) {
	var cut bool
	switch {
	case !s.stream:
		b.data, cut = s.enc.appendMessage(b.data, ev)
	case s.octets:
		w.scratch, cut = s.enc.appendMessage(w.scratch[:0], ev)
		b.data = strconv.AppendInt(b.data, int64(len(w.scratch)), 10)
		b.data = append(b.data, ' ')
		b.data = append(b.data, w.scratch...)
	default:
		b.data, cut = s.enc.appendMessage(b.data, ev)
		b.data = append(b.data, '\n')
	}
	b.ends = append(b.ends, len(b.data))
	if cut {
		s.m.truncated.Inc()
		s.log.Debug("message cut to max_message_size", "event", ev.ID, "max_message_size", s.cfg.MaxMessageSize)
	}
}

// send writes one slot's messages on its connection, connecting first if
// need be. On failure it closes the connection, so that the next Write
// connects again.
func (s *Sink) send(ctx context.Context, sl *slot, b *slotBuf) error {
	select {
	case sl.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-sl.sem }()
	if sl.conn != nil && !s.usable(sl.conn) {
		s.drop(sl)
	}
	if sl.conn == nil {
		c, err := s.connect(ctx)
		if err != nil {
			return err
		}
		sl.conn = c
	}
	c := sl.conn
	start := time.Now()
	deadline := start.Add(s.cfg.WriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.SetWriteDeadline(deadline); err != nil {
		s.drop(sl)
		return err
	}
	// A context ending aborts a write in progress.
	stop := context.AfterFunc(ctx, func() { c.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	var err error
	if s.stream {
		_, err = c.Write(b.data)
		if err == nil && s.confirm && c.raw != nil {
			err = waitAcked(ctx, c.raw, deadline)
		}
	} else {
		from := 0
		for _, end := range b.ends {
			if _, err = c.Write(b.data[from:end]); err != nil {
				break
			}
			from = end
		}
	}
	if err != nil {
		if cerr := contextErr(ctx); cerr != nil {
			err = fmt.Errorf("%w (%v)", cerr, err)
		}
		s.m.writeErrors.Inc()
		s.log.Warn("syslog write failed; the batch will be sent again", "err", err)
		s.drop(sl)
		return err
	}
	s.m.messages.Add(float64(len(b.ends)))
	s.m.bytes.Add(float64(len(b.data)))
	s.m.writeSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// contextErr is ctx.Err(), or context.DeadlineExceeded as soon as ctx's
// deadline has passed (a write or wait bounded by that deadline may end
// before ctx notices).
func contextErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// usable reports whether a connection the sink holds may be written to:
// the receiver has not closed or reset it. A TLS record waiting (a session
// ticket) is read first.
func (s *Sink) usable(c *conn) bool {
	if c.raw == nil {
		return true
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return false
	}
	for range 3 {
		eof, pending, err := peek(c.raw)
		switch {
		case eof || err != nil:
			s.log.Info("the receiver closed the connection; connecting again", "err", err)
			return false
		case !pending:
			return true
		}
		// Something to read: let the connection (TLS) take it, waiting a
		// little for the rest of a record.
		var buf [512]byte
		c.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		if _, err := c.Read(buf[:]); err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return false
			}
		}
		if err := c.SetReadDeadline(time.Time{}); err != nil {
			return false
		}
	}
	return true
}

// drop closes the slot's connection.
func (s *Sink) drop(sl *slot) {
	if sl.conn != nil {
		sl.conn.Close()
		sl.conn = nil
		s.m.open.Add(-1)
	}
}

// connect dials the receiver, and makes the TLS handshake for tls.
func (s *Sink) connect(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	nc, err := s.dial(ctx, s.network, s.cfg.Address)
	if err != nil {
		s.m.dials.WithLabelValues("error").Inc()
		s.log.Warn("cannot connect to the syslog receiver", "err", err)
		return nil, err
	}
	c := &conn{Conn: nc}
	if sc, ok := nc.(syscall.Conn); ok && s.stream {
		c.raw, _ = sc.SyscallConn()
	}
	if s.tls != nil {
		tc := tls.Client(nc, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			s.m.dials.WithLabelValues("error").Inc()
			s.log.Warn("TLS handshake with the syslog receiver failed", "err", err)
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		c.Conn = tc
	}
	if s.stream {
		if err := settle(ctx, c); err != nil {
			c.Close()
			s.m.dials.WithLabelValues("error").Inc()
			s.log.Warn("the syslog receiver closed the new connection at once", "err", err)
			return nil, fmt.Errorf("the receiver closed the new connection at once: %w", err)
		}
	}
	s.m.dials.WithLabelValues("ok").Inc()
	s.m.open.Add(1)
	return c, nil
}

// settleTime is how long a new stream connection is watched before the
// first write.
const settleTime = 100 * time.Millisecond

// settle watches a new connection for settleTime (or until ctx's deadline)
// and fails if the receiver ends it: a TLS 1.3 receiver refuses a client
// certificate only after the handshake, and a receiver over its session
// limit (rsyslog imtcp maxSessions) accepts, then closes. The kernel would
// acknowledge what the sink wrote meanwhile, and the messages would be lost
// without an error. Post-handshake TLS messages (session tickets) are read
// on the way.
func settle(ctx context.Context, c net.Conn) error {
	deadline := time.Now().Add(settleTime)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.SetReadDeadline(deadline); err != nil {
		return err
	}
	var buf [512]byte
	for {
		if _, err := c.Read(buf[:]); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return c.SetReadDeadline(time.Time{})
			}
			return err
		}
	}
}

// waitAcked waits until the receiver's TCP stack has acknowledged every
// byte written, the deadline passes or ctx ends.
func waitAcked(ctx context.Context, rc syscall.RawConn, deadline time.Time) error {
	var timer *time.Timer
	wait := 20 * time.Microsecond
	for {
		n, err := unacked(rc)
		if err != nil {
			return fmt.Errorf("waiting for the receiver's acknowledgement: %w", err)
		}
		if n == 0 {
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%d bytes not acknowledged by the receiver before the write timeout: %w", n, os.ErrDeadlineExceeded)
		}
		d := min(wait, left)
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
		wait = min(2*wait, 5*time.Millisecond)
	}
}

// Close closes the connections. Messages already written are sent by the
// kernel before the connection ends (TCP) or are gone (UDP).
func (s *Sink) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	var errs []error
	for _, sl := range s.slots {
		sl.sem <- struct{}{}
		if sl.conn != nil {
			if err := sl.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
			sl.conn = nil
			s.m.open.Add(-1)
		}
		<-sl.sem
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("syslog: close: %w", err)
	}
	return nil
}

// metrics are the sink's own; the engine counts events and retries.
type metrics struct {
	messages     prometheus.Counter
	bytes        prometheus.Counter
	truncated    prometheus.Counter
	writeErrors  prometheus.Counter
	dials        *prometheus.CounterVec
	writeSeconds prometheus.Histogram
	open         atomic.Int64
	openGauge    prometheus.GaugeFunc
}

func newMetrics() *metrics {
	m := &metrics{
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_syslog_messages_total", Help: "Syslog messages written (and acknowledged, with confirm tcp_ack), repeats included.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_syslog_bytes_total", Help: "Bytes of syslog messages written, framing included.",
		}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_syslog_truncated_total", Help: "Messages cut to max_message_size.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_syslog_write_errors_total", Help: "Writes to a connection that failed (the batch is sent again).",
		}),
		dials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_syslog_connects_total", Help: "Connections made to the receiver (TLS handshake included), by result (ok, error).",
		}, []string{"result"}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sharelog_syslog_write_seconds", Help: "Time to write one batch's messages to one connection, the wait for the acknowledgement included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}),
	}
	m.dials.WithLabelValues("ok")
	m.dials.WithLabelValues("error")
	m.openGauge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sharelog_syslog_connections", Help: "Connections (sockets, for udp) open to the receiver.",
	}, func() float64 { return float64(m.open.Load()) })
	return m
}
