package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	sharelog "github.com/sharelog/sharelog"
)

// Handler serves POST /v1/events. It is safe for concurrent use.
//
// The body is a JSON array of events, NDJSON (one event a line) or one JSON
// object, optionally gzip-encoded (Content-Encoding: gzip). Answers:
//   - 202: every event is valid and Kafka acknowledged all of them;
//   - 400: some events are invalid: each is listed with its index, line and
//     fields; the valid ones were still produced and acknowledged, and
//     "accepted" says how many (a JSON array that is not well-formed is
//     refused whole, since no event after the fault can be located);
//   - 401: no valid bearer key; 413: body or event count over the limit;
//   - 408: the body did not arrive within body_timeout, or fell behind
//     min_body_rate (the connection is closed; nothing was produced);
//   - 429: too many concurrent requests, in all (max_in_flight) or of this
//     key (max_in_flight_per_key); 503: Kafka did not acknowledge within
//     the produce timeout. Both carry Retry-After; nothing of a 503 batch
//     may be taken as accepted (a retry may duplicate some events).
type Handler struct {
	cfg     Config
	client  *Client
	keys    [][sha256.Size]byte
	parser  sharelog.Parser // the batch reader, with the time window
	slots   chan struct{}
	keySlot []chan struct{} // per key, in the order of keys
	log     *slog.Logger
	metrics *handlerMetrics
}

type handlerMetrics struct {
	accepted prometheus.Counter
	rejected *prometheus.CounterVec
	requests *prometheus.CounterVec
	duration prometheus.Histogram
	batch    prometheus.Histogram
}

// Response is the JSON body of every answer but 401.
type Response struct {
	Accepted int          `json:"accepted"`
	Rejected int          `json:"rejected"`
	Errors   []EventError `json:"errors,omitempty"`
	// Error is set when the request as a whole was refused.
	Error string `json:"error,omitempty"`
}

// EventError is one refused event of a batch.
type EventError struct {
	Index  int                    `json:"index"`
	Line   int                    `json:"line"`
	ID     string                 `json:"id,omitempty"`
	Fields []*sharelog.FieldError `json:"fields,omitempty"`
	// Error is set when the event is not well-formed JSON.
	Error string `json:"error,omitempty"`
}

// NewHandler returns the handler. keys are the accepted bearer keys (at
// least one); logger and reg may be nil.
func NewHandler(cfg Config, keys []string, client *Client, logger *slog.Logger, reg prometheus.Registerer) (*Handler, error) {
	if len(keys) == 0 {
		return nil, errors.New("ingest: no ingest keys")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.SetDefaults()
	h := &Handler{cfg: cfg, client: client, slots: make(chan struct{}, cfg.MaxInFlight), log: logger, metrics: &handlerMetrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_ingest_events_accepted_total", Help: "Events acknowledged by Kafka and answered as accepted.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_ingest_events_rejected_total", Help: "Events refused, by reason (invalid, malformed, unavailable).",
		}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_ingest_requests_total", Help: "Ingest requests by HTTP status code.",
		}, []string{"code"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sharelog_ingest_request_duration_seconds", Help: "Time to answer an ingest request, Kafka acknowledgement included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sharelog_ingest_batch_events", Help: "Events per ingest request.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
	}}
	h.parser = sharelog.Parser{Window: sharelog.TimeWindow{MaxPast: cfg.MaxPast, MaxFuture: cfg.MaxFuture}}
	for _, k := range keys {
		h.keys = append(h.keys, sha256.Sum256([]byte(k)))
		h.keySlot = append(h.keySlot, make(chan struct{}, cfg.MaxInFlightPerKey))
	}
	if reg != nil {
		m := h.metrics
		reg.MustRegister(m.accepted, m.rejected, m.requests, m.duration, m.batch)
	}
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	code := h.serve(w, r)
	h.metrics.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	h.metrics.duration.Observe(time.Since(start).Seconds())
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) int {
	bodyRead := false
	if r.ContentLength != 0 {
		// Until the body is read, a refusal closes the connection: net/http
		// would otherwise read the rest of the body, without a deadline,
		// before sending the answer and after it (a stalled body: never).
		// The read deadline set on return stops that drain at once.
		w.Header().Set("Connection", "close")
		defer func() {
			if !bodyRead {
				_ = http.NewResponseController(w).SetReadDeadline(time.Now())
			}
		}()
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return h.fail(w, http.StatusMethodNotAllowed, "use POST")
	}
	ki := h.authorized(r.Header.Get("Authorization"))
	if ki < 0 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sharelog ingest"`)
		return h.fail(w, http.StatusUnauthorized, "a valid ingest key is required: Authorization: Bearer <key>")
	}
	select {
	case h.keySlot[ki] <- struct{}{}:
		defer func() { <-h.keySlot[ki] }()
	default:
		h.retryAfter(w)
		return h.fail(w, http.StatusTooManyRequests, fmt.Sprintf("this key has %d requests in flight, the limit of ingest.max_in_flight_per_key; retry later", cap(h.keySlot[ki])))
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		h.retryAfter(w)
		return h.fail(w, http.StatusTooManyRequests, fmt.Sprintf("%d requests in flight, the limit of ingest.max_in_flight; retry later", cap(h.slots)))
	}

	body, err := h.readBody(w, r)
	if err != nil {
		var tl *tooLargeError
		var st *slowBodyError
		switch {
		case errors.As(err, &tl):
			return h.fail(w, http.StatusRequestEntityTooLarge, tl.Error())
		case errors.As(err, &st):
			h.log.Warn("ingest: request body too slow, cut off", "key", ki, "remote", r.RemoteAddr, "limit", st.limit, "bytes", st.n, "err", st.err)
			w.Header().Set("Connection", "close")
			return h.fail(w, http.StatusRequestTimeout, st.Error())
		}
		return h.fail(w, http.StatusBadRequest, err.Error())
	}
	bodyRead = true
	w.Header().Del("Connection")
	items, err := h.parser.ParseBatch(body)
	if err != nil {
		h.metrics.rejected.WithLabelValues("malformed").Inc()
		return h.fail(w, http.StatusBadRequest, err.Error())
	}
	if len(items) == 0 {
		return h.fail(w, http.StatusBadRequest, "the body holds no events")
	}
	if len(items) > h.cfg.MaxEvents {
		return h.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%d events in one request, over the limit of %d", len(items), h.cfg.MaxEvents))
	}
	h.metrics.batch.Observe(float64(len(items)))

	var resp Response
	msgs := make([]kafka.Message, 0, len(items))
	for _, it := range items {
		if it.Err == nil && it.Event.Actor.Type == sharelog.ActorSystem {
			// Only sharelog itself writes system events (retention.applied):
			// a producer must not be able to forge the archive's own record.
			it.Err = sharelog.FieldErrors{{Field: "actor.type", Message: `"system" is reserved for the events sharelog makes itself`}}
		}
		if it.Err != nil {
			resp.Errors = append(resp.Errors, eventError(it))
			continue
		}
		msgs = append(msgs, kafka.Message{Key: []byte(it.Event.Key()), Value: it.Raw})
	}
	resp.Rejected = len(resp.Errors)
	h.metrics.rejected.WithLabelValues("invalid").Add(float64(resp.Rejected))

	if len(msgs) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), h.cfg.ProduceTimeout)
		err := h.client.produce(ctx, msgs)
		cancel()
		if err != nil {
			h.metrics.rejected.WithLabelValues("unavailable").Add(float64(len(msgs)))
			h.log.Warn("ingest: Kafka did not acknowledge the batch", "events", len(msgs), "err", err)
			h.retryAfter(w)
			resp.Rejected += len(msgs)
			resp.Error = "Kafka did not acknowledge the events; nothing of this request is accepted, retry it later"
			return h.reply(w, http.StatusServiceUnavailable, resp)
		}
		resp.Accepted = len(msgs)
		h.metrics.accepted.Add(float64(len(msgs)))
	}
	if resp.Rejected > 0 {
		return h.reply(w, http.StatusBadRequest, resp)
	}
	return h.reply(w, http.StatusAccepted, resp)
}

func eventError(it sharelog.Item) EventError {
	ee := EventError{Index: it.Index, Line: it.Line, ID: peekID(it.Raw)}
	var fe sharelog.FieldErrors
	if errors.As(it.Err, &fe) {
		ee.Fields = fe
	} else {
		ee.Error = it.Err.Error()
	}
	return ee
}

// peekID returns the "id" of a JSON object, if it has a string one.
func peekID(raw []byte) string {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	var id string
	if json.Unmarshal(v.ID, &id) != nil || len(id) > sharelog.MaxIDLen {
		return ""
	}
	return id
}

// authorized returns the index of the configured key that the bearer key
// is, or -1. It compares with every key in constant time (over their
// SHA-256, so that the length leaks nothing either), so the time taken
// does not say which key matched or came close.
func (h *Handler) authorized(header string) int {
	const prefix = "Bearer "
	if len(header) <= len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return -1
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(header[len(prefix):])))
	found := -1
	for i := range h.keys {
		eq := subtle.ConstantTimeCompare(sum[:], h.keys[i][:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	return found
}

type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("the body is over the limit of %d bytes", e.limit)
}

// readBody reads the whole body, gunzipping it if needed, refusing more than
// MaxBodyBytes before or after decompression.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := h.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, &tooLargeError{limit}
	}
	paced := newPacedReader(http.NewResponseController(w), r.Body, h.cfg)
	body, err := h.decodeBody(w, r, paced)
	if err != nil {
		if st := paced.slow(); st != nil {
			return nil, st
		}
		return nil, err
	}
	paced.done()
	return body, nil
}

// decodeBody reads body through MaxBytesReader and the decoder of
// Content-Encoding.
func (h *Handler) decodeBody(w http.ResponseWriter, r *http.Request, body io.ReadCloser) ([]byte, error) {
	limit := h.cfg.MaxBodyBytes
	var src io.Reader = http.MaxBytesReader(w, body, limit)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, tooLargeOr(err, limit, "the gzip body is not valid")
		}
		defer zr.Close()
		src = zr
	default:
		return nil, fmt.Errorf("Content-Encoding %q is not supported (use gzip or none)", enc)
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(src, limit+1))
	if err != nil {
		return nil, tooLargeOr(err, limit, "reading the body")
	}
	if n > limit {
		return nil, &tooLargeError{limit}
	}
	return buf.Bytes(), nil
}

func tooLargeOr(err error, limit int64, what string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &tooLargeError{limit}
	}
	return fmt.Errorf("%s: %v", what, err)
}

func (h *Handler) retryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(h.cfg.RetryAfter.Round(time.Second)/time.Second)))
}

func (h *Handler) fail(w http.ResponseWriter, code int, msg string) int {
	return h.reply(w, code, Response{Error: msg})
}

// reply writes the answer within body_timeout, so that a client that does
// not read it (a long list of refused events) cannot hold its slot either.
func (h *Handler) reply(w http.ResponseWriter, code int, resp Response) int {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.cfg.BodyTimeout))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(resp)
	return code
}
