// Package api serves the query API over the event archive to bearer tokens
// scoped to workspaces:
//
//   - GET /v1/events: the archived events matching the filters, newest
//     first, as JSON pages with a next_cursor, or (format=csv, or Accept:
//     text/csv) as a CSV export streamed while the archive is read;
//   - GET /v1/links/{id}/activity: the activity report of one share link.
//
// A token reads only the workspaces it is given (Config.Tokens); no answer
// tells a workspace or link outside them apart from one that does not exist.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/server/stream"
	"github.com/sharelog/sharelog/storage/archive"
	"github.com/sharelog/sharelog/storage/query"
)

// Patterns are the routes the Handler serves, to register on a caller's
// http.ServeMux (each with the Handler).
var Patterns = []string{"GET /v1/events", "GET /v1/links/{id}/activity", StreamPattern, TicketsPattern, OpenAPIPattern}

// Deps are what the handler is given.
type Deps struct {
	// ArchiveDir is the root of the archive (archive.dir).
	ArchiveDir string
	Auth       *Authenticator
	Logger     *slog.Logger          // nil: quiet
	Registerer prometheus.Registerer // nil: no metrics
	// Hub, when set, serves the live stream (GET /v1/stream); nil: the
	// stream answers 503 (no Kafka in this process).
	Hub *stream.Hub
}

// Handler serves the query API. It is safe for concurrent use.
//
// Answers: 200; 400 with {"error": …} naming each wrong parameter (unknown
// parameters included, so that a typo never widens a query silently); 401
// without a valid token (WWW-Authenticate: Bearer); 403 when a workspace
// asked for is outside the token's; 404 for a link without events in the
// token's workspaces; 429 (Retry-After) over max_in_flight concurrent
// queries, or max_in_flight_per_token of one token; 500 when the archive
// cannot be read. A CSV export that fails after its first byte is aborted
// (the connection is reset, a chunked transfer left unterminated), so a
// client never takes a cut-off export for a complete one; so is any answer
// to a client that stops reading it for write_timeout.
type Handler struct {
	engine   *query.Engine
	root     string
	auth     *Authenticator
	log      *slog.Logger
	slots    chan struct{}
	perToken []chan struct{} // by Principal.index
	wtimeout time.Duration   // api.write_timeout
	mux      *http.ServeMux
	metrics  *metrics
	hub      *stream.Hub
	tickets  tickets
	origins  []string           // api.stream.allowed_origins, lower case
	upgrader websocket.Upgrader // for GET /v1/stream, from api.stream
	level    int                // api.stream.compression_level
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	scanned  *prometheus.CounterVec
	returned *prometheus.CounterVec
	slow     *prometheus.CounterVec
}

// NewHandler returns the handler over the archive at deps.ArchiveDir.
func NewHandler(cfg Config, deps Deps) (*Handler, error) {
	if deps.Auth == nil {
		return nil, errors.New("api: no authenticator")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.SetDefaults()
	h := &Handler{
		engine: query.New(deps.ArchiveDir), root: deps.ArchiveDir, auth: deps.Auth, log: deps.Logger,
		slots: make(chan struct{}, cfg.MaxInFlight), mux: http.NewServeMux(),
		metrics: &metrics{
			requests: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "sharelog_api_requests_total",
				Help: "Query API requests by endpoint (events, export, activity) and HTTP status code (aborted: an answer cut off after its first byte, by an error or a client that stopped reading).",
			}, []string{"endpoint", "code"}),
			duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Name: "sharelog_api_query_duration_seconds", Help: "Time spent reading the archive for one request (a CSV export: the whole transfer), by endpoint.",
				Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
			}, []string{"endpoint"}),
			scanned: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "sharelog_api_rows_scanned_total", Help: "Archive rows whose filter columns were read, by endpoint.",
			}, []string{"endpoint"}),
			returned: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "sharelog_api_events_returned_total", Help: "Events returned (JSON) or written (CSV), by endpoint.",
			}, []string{"endpoint"}),
			slow: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "sharelog_api_slow_readers_total", Help: "Answers cut off because the client stopped reading for api.write_timeout, by endpoint.",
			}, []string{"endpoint"}),
		},
	}
	h.wtimeout = cfg.WriteTimeout
	for range deps.Auth.count() {
		h.perToken = append(h.perToken, make(chan struct{}, cfg.MaxInFlightPerToken))
	}
	if deps.Registerer != nil {
		m := h.metrics
		deps.Registerer.MustRegister(m.requests, m.duration, m.scanned, m.returned, m.slow)
	}
	h.mux.Handle(Patterns[0], h.route("events", h.events))
	h.mux.Handle(Patterns[1], h.route("activity", h.activity))
	h.mux.HandleFunc(StreamPattern, h.stream)
	h.mux.HandleFunc(TicketsPattern, h.streamTicket)
	h.mux.HandleFunc(OpenAPIPattern, serveOpenAPI)
	h.hub = deps.Hub
	h.upgrader = websocket.Upgrader{
		ReadBufferSize: 4096, WriteBufferSize: 16 << 10,
		CheckOrigin:       func(*http.Request) bool { return true }, // checked before the upgrade
		EnableCompression: cfg.Stream.Compress(),
	}
	h.level = cfg.Stream.CompressionLevel
	for _, o := range cfg.Stream.AllowedOrigins {
		h.origins = append(h.origins, strings.ToLower(strings.TrimSuffix(o, "/")))
	}
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// endpointFunc serves one authenticated request and returns the endpoint
// label and status code for the metrics.
type endpointFunc func(w http.ResponseWriter, r *http.Request, p *Principal) (endpoint string, code int)

func (h *Handler) route(endpoint string, fn endpointFunc) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ep, code, name := endpoint, 0, ""
		w := newDeadlineWriter(rw, h.wtimeout)
		defer func() {
			label := strconv.Itoa(code)
			v := recover()
			if w.timedOut {
				h.metrics.slow.WithLabelValues(ep).Inc()
				h.log.Warn("api: the client stopped reading; answer cut off at api.write_timeout", "endpoint", ep, "token", name,
					"bytes_written", w.n, "write_timeout", h.wtimeout, "duration", time.Since(start))
			}
			if v != nil {
				label = "aborted"
			}
			h.metrics.requests.WithLabelValues(ep, label).Inc()
			h.log.Debug("api request", "endpoint", ep, "token", name, "code", label, "duration", time.Since(start))
			if v != nil {
				panic(v)
			}
		}()
		w.Header().Set("Cache-Control", "no-store")
		p, err := h.auth.Authenticate(r.Header.Get("Authorization"))
		if err != nil {
			challenge := `Bearer realm="sharelog"`
			if errors.Is(err, ErrBadToken) {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			code = h.fail(w, http.StatusUnauthorized, "a valid API token is required: Authorization: Bearer <token>")
			return
		}
		name = p.Name
		select {
		case h.perToken[p.index] <- struct{}{}:
			defer func() { <-h.perToken[p.index] }()
		default:
			w.Header().Set("Retry-After", "1")
			code = h.fail(w, http.StatusTooManyRequests, fmt.Sprintf("the token %q has %d queries in flight, the limit of api.max_in_flight_per_token; retry later", p.Name, cap(h.perToken[p.index])))
			return
		}
		select {
		case h.slots <- struct{}{}:
			defer func() { <-h.slots }()
		default:
			w.Header().Set("Retry-After", "1")
			code = h.fail(w, http.StatusTooManyRequests, fmt.Sprintf("%d queries in flight, the limit of api.max_in_flight; retry later", cap(h.slots)))
			return
		}
		ep, code = fn(w, r, p)
		if code == codeAborted || w.timedOut {
			// What was sent is incomplete: close the connection (a chunked
			// transfer stays unterminated).
			panic(http.ErrAbortHandler)
		}
	})
}

// codeAborted is the code an endpointFunc returns for an answer that failed
// after its first byte: the route aborts the response.
const codeAborted = -1

// fail writes a JSON error and returns its code. msg may hold several
// errors on separate lines (errors.Join); they are joined with "; ".
func (h *Handler) fail(w http.ResponseWriter, code int, msg string) int {
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{strings.ReplaceAll(msg, "\n", "; ")})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(body, '\n'))
	return code
}

// internal answers an error reading the archive: 500, with the details in
// the log only. When the client has gone, nothing is written.
func (h *Handler) internal(w http.ResponseWriter, r *http.Request, endpoint string, err error) int {
	if r.Context().Err() != nil {
		h.log.Debug("api: client gone", "endpoint", endpoint, "err", err)
		return 499 // nginx's "client closed request", for the metrics only
	}
	h.log.Error("api: reading the archive", "endpoint", endpoint, "err", err)
	return h.fail(w, http.StatusInternalServerError, "the archive could not be read; the error is logged")
}

// scope returns the workspaces a request reads: those asked for, each of
// which the token must be allowed, else every workspace the token may read
// (for an all-workspaces token, every workspace in the archive).
func (h *Handler) scope(p *Principal, asked []string) ([]string, int, error) {
	if len(asked) > 0 {
		var denied []string
		for _, ws := range asked {
			if !validWorkspaceID(ws) {
				return nil, http.StatusBadRequest, fmt.Errorf("workspace: %q is not a workspace id", truncate(ws))
			}
			if !p.Allows(ws) {
				denied = append(denied, strconv.Quote(ws))
			}
		}
		if len(denied) > 0 {
			return nil, http.StatusForbidden, fmt.Errorf("workspace: the token %q may not read workspace %s", p.Name, strings.Join(denied, ", "))
		}
		return asked, 0, nil
	}
	if !p.All {
		return p.Workspaces, 0, nil
	}
	all, err := archive.Workspaces(h.root)
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	return all, 0, nil
}

func (h *Handler) observe(endpoint string, start time.Time, st query.Stats, returned int64) {
	h.metrics.duration.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
	h.metrics.scanned.WithLabelValues(endpoint).Add(float64(st.RowsScanned))
	h.metrics.returned.WithLabelValues(endpoint).Add(float64(returned))
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request, p *Principal) (string, int) {
	req, err := parseEvents(r.URL.RawQuery, r.Header.Get("Accept"))
	endpoint := "events"
	if req != nil && req.format == formatCSV {
		endpoint = "export"
	}
	if err != nil {
		return endpoint, h.fail(w, http.StatusBadRequest, err.Error())
	}
	scope, code, err := h.scope(p, req.workspaces)
	if code == http.StatusInternalServerError {
		return endpoint, h.internal(w, r, endpoint, err)
	}
	if err != nil {
		return endpoint, h.fail(w, code, err.Error())
	}
	f := req.filter
	f.Workspaces = scope
	if req.format == formatCSV {
		return endpoint, h.export(w, r, p, req, f)
	}
	return endpoint, h.page(w, r, req, f)
}

// page answers one JSON page:
//
//	{"events":[…],"next_cursor":"c1.…"|null,"stats":{…}}
//
// with each event encoded as the pipeline encodes it (sharelog.Event.AppendJSON).
func (h *Handler) page(w http.ResponseWriter, r *http.Request, req *eventsRequest, f query.Filter) int {
	start := time.Now()
	var (
		pg  query.Page
		err error
	)
	if len(f.Workspaces) > 0 { // none: the archive holds no workspace yet
		pg, err = h.engine.Search(r.Context(), f, req.limit, req.cursor)
	}
	h.observe("events", start, pg.Stats, int64(len(pg.Events)))
	if err != nil {
		return h.internal(w, r, "events", err)
	}
	buf := make([]byte, 0, 1024*(1+len(pg.Events)))
	buf = append(buf, `{"events":[`...)
	for i, ev := range pg.Events {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = ev.AppendJSON(buf)
	}
	buf = append(buf, `],"next_cursor":`...)
	if pg.Next != nil {
		next, _ := json.Marshal(pg.Next.String())
		buf = append(buf, next...)
	} else {
		buf = append(buf, "null"...)
	}
	stats, _ := json.Marshal(pg.Stats)
	buf = append(buf, `,"stats":`...)
	buf = append(buf, stats...)
	buf = append(buf, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(buf); err == nil {
		_ = http.NewResponseController(w).Flush() // the last piece, under api.write_timeout
	}
	return http.StatusOK
}

// flushEvery is how often a CSV export pushes what it has to the client.
const flushEvery = 250 * time.Millisecond

// errLimit ends an export at its limit.
var errLimit = errors.New("limit reached")

// export streams the matching events as CSV, reading the archive a day at a
// time (query.Engine.Each), never the whole export in memory. With limit,
// it stops after that many rows; with cursor, it starts after it.
func (h *Handler) export(w http.ResponseWriter, r *http.Request, p *Principal, req *eventsRequest, f query.Filter) int {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/csv; charset=utf-8")
	hdr.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": ExportFileName(f, req.shape)}))
	hdr.Set("X-Content-Type-Options", "nosniff")
	cw := &countingWriter{w: w}
	out := query.NewCSVWriter(cw, req.shape)
	rc := http.NewResponseController(w)
	start := time.Now()
	last := start
	var (
		st  query.Stats
		err error
	)
	if len(f.Workspaces) > 0 {
		st, err = h.engine.Each(r.Context(), f, req.cursor, func(ev *sharelog.Event) error {
			if req.limitSet && out.Rows() >= int64(req.limit) {
				return errLimit
			}
			if err := out.Write(ev); err != nil {
				return err
			}
			if now := time.Now(); now.Sub(last) >= flushEvery {
				last = now
				if err := out.Flush(); err != nil {
					return err
				}
				if err := rc.Flush(); err != nil { // under api.write_timeout
					return err
				}
			}
			return nil
		})
	}
	if errors.Is(err, errLimit) {
		err = nil
	}
	if err == nil {
		err = out.Flush()
	}
	if err == nil {
		err = rc.Flush()
	}
	h.observe("export", start, st, out.Rows())
	if err != nil {
		if cw.n == 0 { // nothing sent: a proper error answer is still possible
			hdr.Del("Content-Disposition")
			return h.internal(w, r, "export", err)
		}
		switch {
		case slowReader(w): // the route logs and counts it
		case r.Context().Err() != nil:
			h.log.Info("api: CSV export ended by the client", "token", p.Name, "rows", out.Rows(), "err", err)
		default:
			h.log.Error("api: CSV export failed after it started; aborting the response", "token", p.Name, "rows", out.Rows(), "err", err)
		}
		return codeAborted
	}
	h.log.Info("api: CSV export", "token", p.Name, "shape", req.shape, "rows", out.Rows(),
		"workspaces", len(f.Workspaces), "rows_scanned", st.RowsScanned, "duration", time.Since(start))
	return http.StatusOK
}

// ExportFileName is the file name offered for a CSV export:
// sharelog-link-<id>-access.csv, sharelog-<workspace>-audit.csv, or
// sharelog-audit.csv for several workspaces, with the range's dates when
// bounded (…-2026-11-01-to-2026-11-30.csv; the to date is the last day
// included). Characters other than letters, digits, '.', '_' and '-' become
// '_'.
func ExportFileName(f query.Filter, shape query.CSVShape) string {
	name := "sharelog"
	switch {
	case f.Link != "":
		name += "-link-" + f.Link
	case len(f.Workspaces) == 1:
		name += "-" + f.Workspaces[0]
	}
	name += "-" + string(shape)
	if !f.From.IsZero() || !f.To.IsZero() {
		from, to := "start", "now"
		if !f.From.IsZero() {
			from = f.From.UTC().Format(time.DateOnly)
		}
		if !f.To.IsZero() {
			to = f.To.UTC().Add(-time.Nanosecond).Format(time.DateOnly)
		}
		name += "-" + from + "-to-" + to
	}
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) > 150 {
		b = b[:150]
	}
	return string(b) + ".csv"
}

// countingWriter counts the bytes handed to the response.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (h *Handler) activity(w http.ResponseWriter, r *http.Request, p *Principal) (string, int) {
	const endpoint = "activity"
	pp, err := newParams(r.URL.RawQuery, activityParams, []string{"workspace"})
	if err != nil {
		return endpoint, h.fail(w, http.StatusBadRequest, err.Error())
	}
	from, to := pp.timeBound("from", false), pp.timeBound("to", true)
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		pp.fail("from", fmt.Errorf("%s is not before to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339)))
	}
	if err := pp.err(); err != nil {
		return endpoint, h.fail(w, http.StatusBadRequest, err.Error())
	}
	link := r.PathValue("id")
	scope, code, err := h.scope(p, pp.list("workspace"))
	if code == http.StatusInternalServerError {
		return endpoint, h.internal(w, r, endpoint, err)
	}
	if err != nil {
		return endpoint, h.fail(w, code, err.Error())
	}
	notFound := func() (string, int) {
		return endpoint, h.fail(w, http.StatusNotFound, fmt.Sprintf("link %q has no events in the workspaces this token may read", truncate(link)))
	}
	if len(scope) == 0 {
		return notFound()
	}
	start := time.Now()
	rep, err := h.engine.Activity(r.Context(), scope, link, from, to)
	if err == nil && rep.WorkspaceID == "" {
		// Quiet in the range asked for: known at all? (The report of a
		// link that has events, but none in range, is an empty one.)
		var pg query.Page
		if !from.IsZero() || !to.IsZero() {
			pg, err = h.engine.Search(r.Context(), query.Filter{Workspaces: scope, Link: link}, 1, nil)
		}
		if err == nil && len(pg.Events) == 0 {
			h.observe(endpoint, start, query.Stats{}, 0)
			return notFound()
		}
	}
	h.observe(endpoint, start, query.Stats{}, 0)
	if err != nil {
		return endpoint, h.internal(w, r, endpoint, err)
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return endpoint, h.internal(w, r, endpoint, err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(append(body, '\n')); err == nil {
		_ = http.NewResponseController(w).Flush() // under api.write_timeout
	}
	return endpoint, http.StatusOK
}
