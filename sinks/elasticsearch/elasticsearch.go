// Package elasticsearch is the Elasticsearch / OpenSearch sink: it delivers
// enriched events through the _bulk API as Elastic Common Schema (ECS)
// documents, one per event, whose _id is the event id, so that a
// redelivered event replaces (mode index) or meets (mode data_stream, 409)
// itself instead of being stored twice.
//
// The sink only talks to the cluster; the delivery engine (sinks/delivery)
// batches, retries and dead-letters. Write classifies the answer:
//
//   - 200 with every item 2xx (or 409 for a create: already there): nil;
//   - 200 with failed items: a *sharelog.BatchError, one entry per event:
//     429, 5xx, 401, 403 and 404 retryable; other 4xx (a mapping error)
//     permanent;
//   - 413 and other 4xx: permanent (the engine splits the batch to find the
//     event at fault); 401, 403, 404 and 408: retryable, since the fault is
//     the cluster's or the configuration's, and the backlog is better kept
//     in Kafka than dead-lettered;
//   - 429, 5xx, 3xx, network errors, an answer that is not a bulk answer:
//     retryable, with the Retry-After the cluster gave.
package elasticsearch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/cfgerr"
	"github.com/sharelog/sharelog/internal/prom"
)

// Deps are what the sink is given; nil fields take quiet defaults.
type Deps struct {
	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: no metrics registered
	// Client sends the requests; nil: the sink's own, with dial and TLS
	// handshake timeouts, no proxy from the environment, no redirects
	// followed, and Config.TLS. A given Client is used as it is: Config.TLS
	// must then be empty.
	Client *http.Client
}

// Sink delivers batches of events to one cluster. It is safe for
// concurrent use.
type Sink struct {
	endpoint  string
	action    string // "index" or "create"
	index     *template
	dsMember  [2]string // the "data_stream" member per dataset (0 access, 1 audit); mode data_stream
	dsPrefix  [2]string // the action line up to the _id per dataset; mode data_stream
	gzip      bool
	client    *http.Client
	ownClient bool
	log       *slog.Logger
	auth      Auth
	authValue atomic.Pointer[string] // the Authorization header; nil: none
	perEvent  atomic.Int64           // bytes per event of the last batch, to size the next
	gzipPool  sync.Pool
	closed    atomic.Bool
	m         *metrics
}

// filterPath keeps of the bulk answer what Write reads.
const filterPath = "filter_path=errors,items.*.status,items.*.error"

// maxAnswer bounds the bulk answer read, in bytes.
const maxAnswer = 64 << 20

// New returns a sink for cfg, defaulted with SetDefaults; it validates cfg
// again. It reads the credentials and TLS files now, so that a missing one
// fails at start; its errors name the field, never a secret. The logger is
// used as given (the caller adds the sink's name).
func New(cfg Config, deps Deps) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("elasticsearch: %w", err)
	}
	s := &Sink{
		endpoint: strings.TrimRight(cfg.URL, "/") + "/_bulk?" + filterPath,
		gzip:     cfg.Compression == CompressionGzip,
		client:   deps.Client,
		log:      deps.Logger,
		auth:     cfg.Auth,
	}
	if cfg.Pipeline != "" {
		s.endpoint += "&pipeline=" + url.QueryEscape(cfg.Pipeline)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Mode {
	case ModeIndex:
		s.action = "index"
		s.index, _ = parseTemplate(cfg.Index, false)
	case ModeDataStream:
		s.action = "create"
		t, _ := parseTemplate(cfg.DataStream, true)
		for i, ds := range [2]string{DatasetAccess, DatasetAudit} {
			name := t.expand(time.Time{}, ds)
			s.dsPrefix[i] = `{"create":{"_index":"` + name + `","_id":`
			if typ, dataset, ns, ok := dataStreamFields(name); ok {
				m := []byte(`"data_stream":{"type":`)
				m = appendString(m, typ)
				m = append(m, `,"dataset":`...)
				m = appendString(m, dataset)
				m = append(m, `,"namespace":`...)
				m = appendString(m, ns)
				s.dsMember[i] = string(append(m, '}'))
			}
		}
	}
	if err := s.loadAuth(); err != nil {
		return nil, err
	}
	if s.client == nil {
		c, err := newClient(cfg.TLS)
		if err != nil {
			return nil, err
		}
		s.client, s.ownClient = c, true
	} else if !cfg.TLS.IsZero() {
		return nil, errors.New("elasticsearch: tls: is set, but Deps.Client was given: configure TLS on that client")
	}
	s.m = newMetrics()
	if err := prom.Register(deps.Registerer, s.m.requests, s.m.items, s.m.duration, s.m.bytes); err != nil {
		return nil, fmt.Errorf("elasticsearch: %w", err)
	}
	return s, nil
}

// newClient returns the sink's own HTTP client.
func newClient(cfg TLS) (*http.Client, error) {
	tc, err := cfg.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: %w", cfgerr.Prefix("tls", err))
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // no proxy from the environment
			DialContext:           dialer.DialContext,
			TLSClientConfig:       tc,
			TLSHandshakeTimeout:   10 * time.Second,
			MaxIdleConns:          64,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
			ForceAttemptHTTP2:     true,
		},
		// A redirect of a POST is a configuration mistake to report, not
		// to follow: 301 and 302 would turn it into a GET.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// loadAuth reads the credentials into the Authorization header value.
func (s *Sink) loadAuth() error {
	var v string
	switch {
	case !s.auth.APIKey.IsZero():
		keys, err := s.auth.APIKey.Load()
		if err != nil {
			return fmt.Errorf("elasticsearch: auth.api_key: %w", err)
		}
		k := keys[0]
		if strings.ContainsRune(k, ':') { // id:api_key, not yet encoded
			k = base64.StdEncoding.EncodeToString([]byte(k))
		}
		v = "ApiKey " + k
	case s.auth.Username != "":
		pw, err := s.auth.Password.Load()
		if err != nil {
			return fmt.Errorf("elasticsearch: auth.password: %w", err)
		}
		v = "Basic " + base64.StdEncoding.EncodeToString([]byte(s.auth.Username+":"+pw[0]))
	default:
		return nil
	}
	s.authValue.Store(&v)
	return nil
}

// Write sends the batch in one _bulk request and returns nil once the
// cluster has stored every event of it (see the package comment for the
// errors). The context bounds the request. Write keeps nothing of the batch.
func (s *Sink) Write(ctx context.Context, batch []*sharelog.Event) error {
	if len(batch) == 0 {
		return nil
	}
	if s.closed.Load() {
		return errors.New("elasticsearch: Write after Close")
	}
	body := s.encode(batch)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, nil)
	if err != nil {
		return sharelog.Permanent(fmt.Errorf("elasticsearch: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "sharelog-elasticsearch/1")
	if s.gzip {
		body = s.compress(body)
		req.Header.Set("Content-Encoding", "gzip")
	}
	setBody(req, body)
	if v := s.authValue.Load(); v != nil {
		req.Header.Set("Authorization", *v)
	}

	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		s.m.requests.WithLabelValues("error").Inc()
		return sharelog.Retryable(fmt.Errorf("elasticsearch: %w", err), 0)
	}
	answer, readErr := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	resp.Body.Close()
	s.m.duration.Observe(time.Since(start).Seconds())
	s.m.bytes.Add(float64(len(body)))
	s.m.requests.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()
	after := retryAfter(resp.Header.Get("Retry-After"), time.Now())

	if resp.StatusCode/100 != 2 {
		return s.requestError(resp, answer, after)
	}
	if readErr != nil {
		return sharelog.Retryable(fmt.Errorf("elasticsearch: reading the bulk answer: %w", readErr), after)
	}
	if len(answer) > maxAnswer {
		return sharelog.Retryable(fmt.Errorf("elasticsearch: the bulk answer is over %d bytes", maxAnswer), after)
	}
	return s.itemErrors(batch, answer, after)
}

// setBody makes body the request's, replayable for the transport's retries.
func setBody(req *http.Request, body []byte) {
	req.ContentLength = int64(len(body))
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}

// encode returns the NDJSON body: an action line and a document line per
// event, each ended by a newline.
func (s *Sink) encode(batch []*sharelog.Event) []byte {
	size := int(s.perEvent.Load())
	if size == 0 {
		size = 1536
	}
	b := make([]byte, 0, size*len(batch)+size)
	for _, ev := range batch {
		cl := classify(ev.Action)
		ds := 0
		if cl.dataset == DatasetAudit {
			ds = 1
		}
		if s.index != nil {
			b = append(b, `{"index":{"_index":"`...)
			b = s.index.append(b, ev.Time, cl.dataset)
			b = append(b, `","_id":`...)
		} else {
			b = append(b, s.dsPrefix[ds]...)
		}
		b = appendString(b, ev.ID)
		b = append(b, "}}\n"...)
		b = appendDocument(b, ev, cl, s.dsMember[ds])
		b = append(b, '\n')
	}
	s.perEvent.Store(int64(len(b)/len(batch) + len(b)/len(batch)/8))
	return b
}

// compress returns body gzipped.
func (s *Sink) compress(body []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(body)/4 + 64)
	zw, _ := s.gzipPool.Get().(*gzip.Writer)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(&out, gzip.BestSpeed)
	} else {
		zw.Reset(&out)
	}
	zw.Write(body) // writes to a bytes.Buffer do not fail
	zw.Close()
	s.gzipPool.Put(zw)
	return out.Bytes()
}

// requestError classifies an answer to the whole request that is not 2xx.
func (s *Sink) requestError(resp *http.Response, answer []byte, after time.Duration) error {
	code := resp.StatusCode
	err := fmt.Errorf("elasticsearch: _bulk answered %s%s", resp.Status, describe(answer))
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		// Credentials refused or lacking a privilege: read them again, in
		// case they were rotated, and keep the backlog in Kafka meanwhile.
		if lerr := s.loadAuth(); lerr != nil {
			err = errors.Join(err, lerr)
		}
		s.log.Error("elasticsearch refused the sink's credentials or privileges; events wait in Kafka until it accepts them", "status", code, "err", err)
		return sharelog.Retryable(err, after)
	case code/100 == 3:
		err = fmt.Errorf("%w; redirected to %q: set url to the address that serves the cluster", err, resp.Header.Get("Location"))
		return sharelog.Retryable(err, after)
	case code == http.StatusNotFound:
		return sharelog.Retryable(fmt.Errorf("%w; is url the cluster's address (with its path prefix, if any)?", err), after)
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return sharelog.Retryable(err, after)
	case code == http.StatusRequestEntityTooLarge:
		// Over http.max_content_length: the engine splits the batch until
		// it passes, and dead-letters a single event that still does not.
		return sharelog.Permanent(err)
	case code/100 == 4:
		return sharelog.Permanent(err)
	}
	return sharelog.Retryable(err, after)
}

// bulkAnswer is what Write reads of a bulk answer (see filterPath).
type bulkAnswer struct {
	Errors *bool      `json:"errors"`
	Items  []bulkItem `json:"items"`
}

// bulkItem is one item of a bulk answer, keyed by its action. The result
// of an action the answer lacks has status 0.
type bulkItem struct {
	Index  itemResult `json:"index"`
	Create itemResult `json:"create"`
}

type itemResult struct {
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// itemErrors reads a 2xx bulk answer: nil when every event was stored, a
// *sharelog.BatchError when some were not, a retryable error when the
// answer is not a bulk answer for this batch.
func (s *Sink) itemErrors(batch []*sharelog.Event, answer []byte, after time.Duration) error {
	var a bulkAnswer
	if err := json.Unmarshal(answer, &a); err != nil || a.Errors == nil {
		return sharelog.Retryable(fmt.Errorf("elasticsearch: the answer is not a bulk answer%s", describe(answer)), after)
	}
	if len(a.Items) != len(batch) {
		return sharelog.Retryable(fmt.Errorf("elasticsearch: the bulk answer has %d items for %d events", len(a.Items), len(batch)), after)
	}
	var (
		errs   []error
		counts [4]int // stored, already there, retryable, permanent
	)
	for i, it := range a.Items {
		r := &it.Index
		if s.action == "create" {
			r = &it.Create
		}
		var err error
		switch {
		case r.Status == 0:
			err = sharelog.Retryable(fmt.Errorf("elasticsearch: item %d (event %s) has no %q result with a status", i, batch[i].ID, s.action), after)
		case r.Status/100 == 2:
			counts[0]++
			continue
		case r.Status == http.StatusConflict && s.action == "create":
			counts[1]++ // the event is there already: a redelivery
			continue
		default:
			err = itemError(r, i, batch[i].ID, after)
		}
		if sharelog.IsPermanent(err) {
			counts[3]++
		} else {
			counts[2]++
		}
		if errs == nil {
			errs = make([]error, len(batch))
		}
		errs[i] = err
	}
	for i, n := range counts {
		if n > 0 {
			s.m.items.WithLabelValues(itemOutcomes[i]).Add(float64(n))
		}
	}
	if errs == nil {
		return nil
	}
	return &sharelog.BatchError{Errs: errs}
}

var itemOutcomes = [4]string{"stored", "duplicate", "retryable", "permanent"}

// itemError classifies a failed item.
func itemError(r *itemResult, i int, id string, after time.Duration) error {
	err := fmt.Errorf("elasticsearch: item %d (event %s): %d%s", i, id, r.Status, describeError(r.Error))
	switch s := r.Status; {
	case s == http.StatusTooManyRequests || s >= 500:
		return sharelog.Retryable(err, after)
	case s == http.StatusUnauthorized || s == http.StatusForbidden || s == http.StatusNotFound || s == http.StatusRequestTimeout:
		// A missing privilege, a read-only (flood-stage) index, a missing
		// index template: the cluster's to mend, not the event's fault.
		return sharelog.Retryable(err, after)
	}
	return sharelog.Permanent(err)
}

// esError is Elasticsearch's error object.
type esError struct {
	Type     string   `json:"type"`
	Reason   string   `json:"reason"`
	CausedBy *esError `json:"caused_by"`
}

// describeError says ": type: reason (caused by …)" of an error object, or
// the raw text when it is not one.
func describeError(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var e esError
	if err := json.Unmarshal(raw, &e); err != nil || e.Type == "" {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return ": " + clip(s)
		}
		return ": " + clip(string(raw))
	}
	out := ": " + e.Type + ": " + e.Reason
	if c := e.CausedBy; c != nil && c.Reason != "" {
		out += " (caused by " + c.Type + ": " + c.Reason + ")"
	}
	return clip(out)
}

// describe says what a whole-request error answer holds.
func describe(answer []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(answer, &e) == nil && len(e.Error) > 0 {
		return describeError(e.Error)
	}
	if t := strings.TrimSpace(string(answer)); t != "" {
		return ": " + clip(t)
	}
	return ""
}

// clip shortens s to 300 bytes and removes control characters.
func clip(s string) string {
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}

// Close releases the sink's idle connections. Write must not be called
// after it.
func (s *Sink) Close() error {
	s.closed.Store(true)
	if s.ownClient {
		s.client.CloseIdleConnections()
	}
	return nil
}

// metrics are the sink's Prometheus metrics. With several Elasticsearch
// sinks on one registry, give each a registerer wrapped with its own label
// (prometheus.WrapRegistererWith).
type metrics struct {
	requests *prometheus.CounterVec
	items    *prometheus.CounterVec
	duration prometheus.Histogram
	bytes    prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_elasticsearch_requests_total",
			Help: "Bulk requests sent, by HTTP status code (\"error\": no answer).",
		}, []string{"code"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_elasticsearch_items_total",
			Help: "Bulk items answered in 2xx bulk answers, by outcome: stored, duplicate (409 on create), retryable, permanent.",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sharelog_elasticsearch_request_duration_seconds",
			Help:    "Time from sending a bulk request to reading its answer.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_elasticsearch_request_bytes_total",
			Help: "Bytes of bulk request bodies sent (after compression).",
		}),
	}
}
