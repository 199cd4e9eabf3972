// Package splunk is the Splunk HTTP Event Collector (HEC) sink. A Write
// posts its batch as one request to <url>/services/collector/event with
// "Authorization: Splunk <token>": the events, in batch order, as
// concatenated JSON objects (no separator),
//
//	{"time":1732262400.123,"host":"…","source":"sharelog","sourcetype":"sharelog:event","index":"…","event":{…}}
//
// where time is the event's time in epoch seconds with milliseconds, index
// is left out when not configured, and event is the enriched event as the
// pipeline encodes it (sharelog.Event.AppendJSON), its id included, so
// repeats can be found in Splunk. The body is gzipped when Config.Gzip is
// set. Every request carries the sink's channel, a random UUID chosen in
// New, in X-Splunk-Request-Channel.
//
// With Config.Ack (indexer acknowledgement), Splunk answers with an ackId;
// Write then polls <url>/services/collector/ack?channel=… with
// {"acks":[id]} until Splunk reports the batch indexed, and only then
// returns nil. When the answer carries no ackId (the token does not have
// indexer acknowledgement on), the batch counts as delivered on receipt
// and the sink warns once: sending it again would index it again.
//
// Write classifies the collector's answers into the error kinds of package
// sharelog, and the delivery engine retries or dead-letters accordingly:
//
//   - 2xx: delivered (after the acknowledgement, with Ack);
//   - 400 with an invalid-event-number (codes 6 invalid data format, 12
//     and 13 event field missing or blank, 15 indexed fields): a
//     *sharelog.BatchError refusing that event for good and asking to send
//     the others again (HEC does not say whether it kept the events before
//     the refused one, so they are sent again: a possible repeat, never a
//     loss);
//   - 400 code 7 (index not allowed for the token), codes 10, 11 and 14
//     (channel, acknowledgement settings), 401 and 403 (token missing,
//     invalid or disabled), 404, 405 and 3xx (the URL leads to no
//     collector): retryable. These refuse every event alike: dead-lettering
//     would empty the whole stream into the DLQ, while retrying lets the
//     backlog wait in Kafka until the configuration is mended. After a 401
//     or 403 the token is read again from its file or variable;
//   - 408, 429, 5xx (503 code 9 server busy, codes 18–20 unhealthy) and
//     network failures: retryable, with the Retry-After the answer gave;
//   - 413 and any other 400 or 4xx: *sharelog.PermanentError; the engine
//     splits the batch until it finds the events refused;
//   - an acknowledgement that does not come within Config.AckTimeout (or
//     the context): retryable, the batch is sent again.
//
// A Sink is safe for concurrent use; Close releases its idle connections.
package splunk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/cfgerr"
	"github.com/sharelog/sharelog/internal/secret"
)

// Deps are what a Sink needs besides its configuration.
type Deps struct {
	Logger *slog.Logger // nil: quiet
	// Registerer receives the sink's metrics (sharelog_splunk_*); nil:
	// kept but not exported. The series carry no sink label: when several
	// Splunk sinks share a registry, wrap it, as
	// prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, reg).
	Registerer prometheus.Registerer
	// Client sends the requests; nil: the sink's own, with dial, TLS
	// handshake and response-header timeouts, no proxy (HTTP_PROXY and
	// the like are ignored), no redirects followed, and Config.TLS. A given Client is used as it
	// is, so Config.TLS must then be left empty.
	Client *http.Client
}

// Sink delivers batches of events to a Splunk HTTP Event Collector. Make it
// with New.
type Sink struct {
	cfg      Config
	eventURL string
	ackURL   string
	channel  string
	client   *http.Client
	own      bool
	log      *slog.Logger
	m        *metrics
	// meta is what follows the time in each event object:
	// "host":…,"source":…,"sourcetype":…[,"index":…],"event":
	meta []byte

	auth        atomic.Pointer[string] // "Splunk <token>"
	reload      atomic.Bool            // read the token again before the next request
	authFailing atomic.Bool            // the last answer was a 401 or 403
	noAckWarned atomic.Bool

	bufs  sync.Pool // *[]byte
	gzips sync.Pool // *gzip.Writer
}

// New returns a sink delivering to the collector cfg names; cfg must have
// been through SetDefaults and Validate. It reads the token and the CA
// file, and sends nothing.
func New(cfg Config, deps Deps) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("splunk: %w", err)
	}
	token, err := loadToken(cfg.Token)
	if err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg, log: deps.Logger, client: deps.Client}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.client == nil {
		if s.client, err = newClient(cfg.TLS); err != nil {
			return nil, err
		}
		s.own = true
	} else if !cfg.TLS.IsZero() {
		return nil, errors.New("splunk: tls: set, but Deps.Client was given: configure TLS on that client")
	}
	s.eventURL, s.ackURL = endpoints(cfg.URL)
	s.channel = newUUID()
	s.ackURL += "?channel=" + s.channel
	s.auth.Store(&token)
	s.meta = appendMeta(nil, cfg)
	if s.m, err = newMetrics(deps.Registerer); err != nil {
		return nil, err
	}
	return s, nil
}

// Channel returns the sink's HEC channel, the UUID sent in
// X-Splunk-Request-Channel.
func (s *Sink) Channel() string { return s.channel }

// Write delivers batch as one request, in order, and returns nil once the
// collector has accepted it (with Config.Ack: once it has indexed it). See
// the package documentation for the errors. ctx bounds the whole call,
// acknowledgement included.
func (s *Sink) Write(ctx context.Context, batch []*sharelog.Event) error {
	if len(batch) == 0 {
		return nil
	}
	auth := s.authorization()
	body := s.encode(batch)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.eventURL, body)
	if err != nil {
		body.Close()
		return sharelog.Retryable(fmt.Errorf("splunk: %w", err), 0)
	}
	req.ContentLength = int64(body.r.Len())
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Splunk-Request-Channel", s.channel)
	req.Header.Set("User-Agent", "sharelog")
	if s.cfg.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	s.m.bytes.Add(float64(req.ContentLength))
	resp, err := s.client.Do(req)
	if err != nil {
		s.m.request("event", "error")
		return sharelog.Retryable(fmt.Errorf("splunk: post events: %w", err), 0)
	}
	ans, raw := readAnswer(resp)
	s.m.request("event", strconv.Itoa(resp.StatusCode))
	if err := s.classify(resp, ans, raw, len(batch)); err != nil {
		return err
	}
	if !s.cfg.Ack {
		return nil
	}
	if ans.AckID == nil {
		if !s.noAckWarned.Swap(true) {
			s.log.Warn("splunk: ack is set but the collector answered without an ackId: the token does not have indexer acknowledgement on, so batches count as delivered on receipt")
		}
		return nil
	}
	return s.waitAck(ctx, *ans.AckID)
}

// Close releases the idle connections of the sink's own client. Call it
// once, after the last Write has returned.
func (s *Sink) Close() error {
	if s.own {
		s.client.CloseIdleConnections()
	}
	return nil
}

// authorization returns the Authorization header value, reading the token
// again first when the collector refused it. A token that cannot be read
// leaves the one in use.
func (s *Sink) authorization() string {
	if s.reload.Load() {
		if v, err := loadToken(s.cfg.Token); err != nil {
			s.log.Warn("splunk: reading the token again failed; keeping the one in use", "err", err)
		} else {
			s.auth.Store(&v)
			s.reload.Store(false)
		}
	}
	return *s.auth.Load()
}

// loadToken returns "Splunk <token>" for the first secret ref names.
func loadToken(ref secret.Ref) (string, error) {
	vals, err := ref.Load()
	if err != nil {
		return "", fmt.Errorf("splunk: token: %w", err)
	}
	v := vals[0]
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			return "", errors.New("splunk: token: the secret holds a space, a control or a non-ASCII character")
		}
	}
	return "Splunk " + v, nil
}

// newClient returns the sink's own HTTP client.
func newClient(t TLSConfig) (*http.Client, error) {
	tc, err := t.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("splunk: %w", cfgerr.Prefix("tls", err))
	}
	return &http.Client{
		// A collector does not redirect; a redirect means url is wrong
		// (http to https, a login page), and Write says so.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:       tc,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: time.Minute,
			ExpectContinueTimeout: time.Second,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}}, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	hex.Encode(b[9:13], u[4:6])
	hex.Encode(b[14:18], u[6:8])
	hex.Encode(b[19:23], u[8:10])
	hex.Encode(b[24:], u[10:])
	b[8], b[13], b[18], b[23] = '-', '-', '-', '-'
	return string(b[:])
}

// appendMeta appends the metadata every event object carries after its
// time: host, source, sourcetype, index when set, and the "event" key.
func appendMeta(b []byte, cfg Config) []byte {
	str := func(b []byte, key, v string) []byte {
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, `":`...)
		q, _ := json.Marshal(v)
		return append(b, q...)
	}
	b = str(b, "host", cfg.Host)
	b = append(b, ',')
	b = str(b, "source", cfg.Source)
	b = append(b, ',')
	b = str(b, "sourcetype", cfg.Sourcetype)
	if cfg.Index != "" {
		b = append(b, ',')
		b = str(b, "index", cfg.Index)
	}
	return append(b, `,"event":`...)
}

// appendEvent appends ev's HEC event object.
func (s *Sink) appendEvent(b []byte, ev *sharelog.Event) []byte {
	b = append(b, '{')
	if !ev.Time.IsZero() {
		b = append(b, `"time":`...)
		b = appendEpoch(b, ev.Time)
		b = append(b, ',')
	}
	b = append(b, s.meta...)
	b = ev.AppendJSON(b)
	return append(b, '}')
}

// appendEpoch appends t as epoch seconds with milliseconds, the form HEC
// documents for "time" (1732262400.123); what is below a millisecond is
// dropped (it stays in the event's own time).
func appendEpoch(b []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	if ms < 0 {
		b = append(b, '-')
		ms = -ms
	}
	b = strconv.AppendInt(b, ms/1000, 10)
	frac := ms % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

// maxPooled is the largest buffer kept for reuse.
const maxPooled = 8 << 20

func (s *Sink) getBuf() *[]byte {
	if p, ok := s.bufs.Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

func (s *Sink) putBuf(p *[]byte) {
	if cap(*p) <= maxPooled {
		*p = (*p)[:0]
		s.bufs.Put(p)
	}
}

// encode returns the request body of batch, gzipped when configured.
func (s *Sink) encode(batch []*sharelog.Event) *body {
	p := s.getBuf()
	b := *p
	for _, ev := range batch {
		b = s.appendEvent(b, ev)
	}
	*p = b
	if s.cfg.Gzip {
		z := s.getBuf()
		w := (*appender)(z)
		zw, ok := s.gzips.Get().(*gzip.Writer)
		if ok {
			zw.Reset(w)
		} else {
			zw, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
		}
		zw.Write(b) // an appender does not fail
		zw.Close()
		s.gzips.Put(zw)
		s.putBuf(p)
		p = z
	}
	bd := &body{buf: p, release: s.putBuf}
	bd.r.Reset(*p)
	return bd
}

// appender is an io.Writer appending to a byte slice.
type appender []byte

func (a *appender) Write(p []byte) (int, error) {
	*a = append(*a, p...)
	return len(p), nil
}

// body is a request body over a pooled buffer, given back when the
// transport closes it. Reads after Close see EOF, so a transport still
// reading after closing (it may, on errors) never sees the buffer reused.
type body struct {
	mu      sync.Mutex
	r       bytes.Reader
	buf     *[]byte
	release func(*[]byte)
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return 0, io.EOF
	}
	return b.r.Read(p)
}

func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf != nil {
		b.r.Reset(nil)
		b.release(b.buf)
		b.buf = nil
	}
	return nil
}
