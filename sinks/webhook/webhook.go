// Package webhook is the webhook sink: it POSTs enriched events to an
// HTTP(S) receiver, signed as Standard Webhooks (standardwebhooks.com)
// define, one event per request or one batch per request.
//
// Every request carries
//
//	content-type: application/json
//	webhook-id: <event id, or the batch id (BatchID)>
//	webhook-timestamp: <Unix seconds when the request was signed>
//	webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>"> [v1,<…> …]
//
// with one signature per signing secret, so a receiver can rotate secrets.
// The body is the enriched event JSON (sharelog.Event.AppendJSON), or for a
// batch {"events":[<event>,<event>,…]}. Each attempt is signed afresh (new
// timestamp), while its webhook-id stays the same, so receivers can both
// reject replays by age and drop repeats by id.
//
// The sink only talks to the receiver; the delivery engine (sinks/delivery)
// batches, retries and dead-letters according to the errors Write returns:
// 2xx is success; 410 Gone disables the sink (*sharelog.DisabledError);
// 408, 429 and 5xx are retryable, with the receiver's Retry-After; other
// answers (4xx, 3xx: redirects are not followed) refuse the request for
// good (*sharelog.PermanentError); network errors and timeouts are
// retryable.
//
// The sink refuses to connect to loopback, private, link-local and other
// non-public addresses unless Config.AllowPrivate permits them; the check
// runs when connecting, on the resolved address.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog"
)

// Deps are what the sink needs besides its configuration. Zero fields mean
// quiet defaults.
type Deps struct {
	Logger     *slog.Logger          // nil: quiet
	Registerer prometheus.Registerer // nil: metrics kept, not exported
	// Client, when set, lends the settings of its Transport (TLS roots,
	// connection pool): the sink uses a clone of that transport with the
	// address check installed on its dialer and no proxy, and applies its
	// own timeout and redirect policy (none followed). Its Transport must
	// be nil or an *http.Transport. nil: the sink's own client.
	Client *http.Client
	Now    func() time.Time // nil: time.Now; the webhook-timestamp clock
}

// userAgent is sent with every request.
const userAgent = "sharelog-webhook/1"

// Sink delivers to one webhook endpoint. It is safe for concurrent use.
type Sink struct {
	cfg       Config
	url       string // the request URL
	endpoint  string // scheme://host[:port], for logs and errors: no path or query (they may hold tokens)
	keys      [][]byte
	client    *http.Client
	transport *http.Transport
	log       *slog.Logger
	m         *metrics
	now       func() time.Time
	disabled  atomic.Pointer[sharelog.DisabledError]
	eventSize atomic.Int64 // bytes of the last event encoded, to size bodies
	lastWarn  atomic.Int64 // Unix nanoseconds of the last refused-address log
}

// New returns a sink for cfg (defaults are applied to it, and it is
// validated). It reads the signing secrets now; errors name the file or the
// variable, never a secret.
func New(cfg Config, deps Deps) (*Sink, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	keys, err := loadKeys(cfg)
	if err != nil {
		return nil, fmt.Errorf("webhook: secrets: %w", err)
	}
	allow, _ := parseAllowList(cfg.AllowPrivate) // valid: checked above
	u, _ := url.Parse(cfg.URL)
	s := &Sink{
		cfg:      cfg,
		url:      cfg.URL,
		endpoint: u.Scheme + "://" + u.Host,
		keys:     keys,
		log:      deps.Logger,
		now:      deps.Now,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("endpoint", s.endpoint)
	if s.now == nil {
		s.now = time.Now
	}
	s.eventSize.Store(1024)
	if s.m, err = newMetrics(deps.Registerer); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	s.m.secrets.Set(float64(len(keys)))
	if s.client, s.transport, err = s.newClient(deps.Client, allow); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	return s, nil
}

// loadKeys reads and decodes the signing secrets.
func loadKeys(cfg Config) ([][]byte, error) {
	secrets, err := cfg.Secrets.Load()
	if err != nil {
		return nil, err
	}
	if len(secrets) == 0 {
		return nil, errors.New("no secret found")
	}
	keys := make([][]byte, len(secrets))
	for i, sec := range secrets {
		// Messages name the entry by its number, never by its value.
		b64, ok := strings.CutPrefix(sec, "whsec_")
		if !ok {
			return nil, fmt.Errorf("secret %d of %d does not start with whsec_", i+1, len(secrets))
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("secret %d of %d: the part after whsec_ is not standard base64", i+1, len(secrets))
		}
		if len(key) < 24 || len(key) > 64 {
			return nil, fmt.Errorf("secret %d of %d: holds %d bytes; Standard Webhooks secrets hold 24 to 64 random bytes", i+1, len(secrets), len(key))
		}
		keys[i] = key
	}
	return keys, nil
}

// newClient returns the client requests go through: no proxy, no
// redirects, the configured timeout, and the address check in its dialer.
func (s *Sink) newClient(lent *http.Client, allow *allowList) (*http.Client, *http.Transport, error) {
	var tr *http.Transport
	switch {
	case lent == nil || lent.Transport == nil:
		tr = &http.Transport{
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          64,
			MaxIdleConnsPerHost:   32, // the engine runs several batches at once
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		}
	default:
		t, ok := lent.Transport.(*http.Transport)
		if !ok {
			return nil, nil, fmt.Errorf("deps: the client's Transport is a %T; it must be an *http.Transport (or nil) so that the address check can be installed", lent.Transport)
		}
		tr = t.Clone()
	}
	// No proxy: it would be the one connecting, past the address check.
	tr.Proxy = nil
	tr.OnProxyConnectResponse = nil
	// Every connection goes through the guarded dialer.
	tr.Dial, tr.DialTLS, tr.DialTLSContext = nil, nil, nil //nolint:staticcheck // clearing the deprecated hooks too
	tr.DialContext = guardedDial(&net.Dialer{Timeout: s.cfg.Timeout, KeepAlive: 30 * time.Second}, allow, s.refusedAddr)
	tr.ResponseHeaderTimeout = s.cfg.Timeout
	c := &http.Client{
		Transport: tr,
		Timeout:   s.cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return c, tr, nil
}

// refusedAddr counts a refused connection and says so, at most once a
// minute.
func (s *Sink) refusedAddr(a netip.Addr) {
	s.m.refused.Inc()
	now := time.Now().UnixNano()
	last := s.lastWarn.Load()
	if now-last >= int64(time.Minute) && s.lastWarn.CompareAndSwap(last, now) {
		s.log.Error("refused to deliver: the endpoint resolves to a non-public address; add it to allow_private if it is meant", "address", a, "kind", nonPublicKind(a))
	}
}

// Write delivers batch, in order, as the sharelog.Sink contract says.
//
// In batch mode it is one request: nil when it was answered 2xx, else the
// error of that answer, for the whole batch. In single mode it is one
// request per event, one after the other: an event refused for good does
// not stop the ones after it, but a retryable failure does (so that order
// is kept), and the answer is then a *sharelog.BatchError — nil for each
// event accepted, the *PermanentError of each refused, and a
// *RetryableError for the event that failed and each one after it, not
// sent (with the failure's Retry-After). A one-event batch gets its error
// unwrapped.
//
// Once the receiver has answered 410 Gone, every Write returns the same
// *sharelog.DisabledError without sending anything.
func (s *Sink) Write(ctx context.Context, batch []*sharelog.Event) error {
	if len(batch) == 0 {
		return nil
	}
	if de := s.disabled.Load(); de != nil {
		return de
	}
	if s.cfg.Mode == ModeBatch {
		return s.send(ctx, BatchID(batch), s.batchBody(batch))
	}
	return sharelog.DeliverEach(batch, func(_ int, ev *sharelog.Event) error {
		// A fresh buffer each time: the transport may still read a body
		// after Do returns.
		body := ev.AppendJSON(make([]byte, 0, s.eventSize.Load()+64))
		s.eventSize.Store(int64(len(body)))
		return s.send(ctx, ev.ID, body)
	})
}

// batchBody encodes {"events":[...]}.
func (s *Sink) batchBody(batch []*sharelog.Event) []byte {
	b := make([]byte, 0, int(s.eventSize.Load()+1)*len(batch)*9/8+16)
	b = append(b, `{"events":[`...)
	start := len(b)
	for i, ev := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		b = ev.AppendJSON(b)
	}
	s.eventSize.Store(int64((len(b) - start) / len(batch)))
	return append(b, "]}"...)
}

// BatchID is the webhook-id of a batch request: "batch_" and the first 16
// bytes, in hex, of the SHA-256 of the event ids in order (each preceded by
// its length). The same events in the same order have the same id, so a
// retried batch keeps its id; a batch the delivery engine splits or trims
// after a failure gets another one, so receivers should drop repeats by the
// event ids inside.
func BatchID(batch []*sharelog.Event) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, ev := range batch {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(ev.ID)))])
		h.Write([]byte(ev.ID))
	}
	sum := h.Sum(nil)
	return "batch_" + hex.EncodeToString(sum[:16])
}

// sign returns the webhook-signature value for id, timestamp and body:
// "v1,<base64 HMAC-SHA256>" per key, separated by spaces.
func (s *Sink) sign(id string, ts int64, body []byte) string {
	var tsb [20]byte
	stamp := strconv.AppendInt(tsb[:0], ts, 10)
	out := make([]byte, 0, len(s.keys)*48)
	for i, k := range s.keys {
		mac := hmac.New(sha256.New, k)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write(stamp)
		mac.Write([]byte{'.'})
		mac.Write(body)
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, "v1,"...)
		out = base64.StdEncoding.AppendEncode(out, mac.Sum(nil))
	}
	s.m.signatures.Add(float64(len(s.keys)))
	return string(out)
}

// send makes one signed request and classifies its answer.
func (s *Sink) send(ctx context.Context, id string, body []byte) error {
	ts := s.now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return sharelog.Permanent(fmt.Errorf("webhook: POST %s: %w", s.endpoint, err))
	}
	// The webhook-* names in lower case, as Standard Webhooks writes them
	// (HTTP/2 sends every name so, and receivers match them
	// case-insensitively); the others canonical, as net/http looks them up.
	req.Header = http.Header{
		"Content-Type":      {"application/json"},
		"User-Agent":        {userAgent},
		"webhook-id":        {id},
		"webhook-timestamp": {strconv.FormatInt(ts, 10)},
		"webhook-signature": {s.sign(id, ts, body)},
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		s.m.duration.Observe(time.Since(start).Seconds())
		var ra *refusedAddrError
		if errors.As(err, &ra) {
			s.m.requests.WithLabelValues(classRefused).Inc()
			return sharelog.Retryable(fmt.Errorf("webhook: POST %s: %w", s.endpoint, ra), 0)
		}
		s.m.requests.WithLabelValues(classError).Inc()
		// The url.Error would repeat the whole URL, query included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return sharelog.Retryable(fmt.Errorf("webhook: POST %s: %w", s.endpoint, err), 0)
	}
	var snippet []byte
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if !ok {
		snippet, _ = io.ReadAll(io.LimitReader(resp.Body, 256))
	}
	// Drain a little, so that the connection can be used again.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	s.m.duration.Observe(time.Since(start).Seconds())
	s.m.requests.WithLabelValues(statusClass(resp.StatusCode)).Inc()
	if ok {
		return nil
	}
	return s.classify(resp, snippet)
}

// classify turns an answer other than 2xx into the error kind the delivery
// engine acts on.
func (s *Sink) classify(resp *http.Response, snippet []byte) error {
	code := resp.StatusCode
	err := fmt.Errorf("webhook: POST %s: %s%s", s.endpoint, resp.Status, quoteSnippet(snippet))
	switch {
	case code == http.StatusGone:
		de := &sharelog.DisabledError{Err: fmt.Errorf("%w: the receiver asked not to be called again; no more requests until the sink is restarted", err)}
		if s.disabled.CompareAndSwap(nil, de) {
			s.m.disabled.Set(1)
			s.log.Error("the webhook receiver answered 410 Gone: endpoint disabled, no more requests until restart; events wait in Kafka", "err", de)
		}
		return s.disabled.Load()
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 && code <= 599:
		return sharelog.Retryable(err, retryAfter(resp.Header.Get("Retry-After"), s.now()))
	case code >= 300 && code <= 399:
		return sharelog.Permanent(fmt.Errorf("%w (redirects are not followed: configure the URL they point to)", err))
	default:
		return sharelog.Permanent(err)
	}
}

// retryAfter reads a Retry-After value, delay-seconds or an HTTP-date, as
// a wait from now, at most a year; 0 when absent, unreadable or past.
func retryAfter(v string, now time.Time) time.Duration {
	const most = 365 * 24 * time.Hour // the engine waits an hour at most anyway
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return time.Duration(min(n, uint64(most/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now).Round(time.Second), most)
	}
	return 0
}

// quoteSnippet returns ": <start of the answer's body>" for an error
// message, printable and short, or "" when there is none.
func quoteSnippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.WriteString(": ")
	for len(b) > 0 && sb.Len() < 200 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		switch {
		case r == utf8.RuneError && n == 1:
			sb.WriteRune('\uFFFD')
		case unicode.IsSpace(r):
			sb.WriteByte(' ')
		case !unicode.IsPrint(r):
			sb.WriteRune('\uFFFD')
		default:
			sb.WriteRune(r)
		}
	}
	if len(b) > 0 {
		sb.WriteString("…")
	}
	return sb.String()
}

// Close releases idle connections. It is called once, after the last Write
// has returned.
func (s *Sink) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}

var _ sharelog.Sink = (*Sink)(nil)
