package api

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/server/stream"
)

// The live stream's routes.
const (
	StreamPattern  = "GET /v1/stream"
	TicketsPattern = "POST /v1/stream/tickets"
)

// TicketTTL is how long a stream ticket may wait for its one use.
const TicketTTL = 30 * time.Second

// maxTickets bounds the tickets waiting for their use.
const maxTickets = 10_000

var (
	streamParams = []string{"workspace", "action", "user", "link", "file", "ip", "country", "result"}
	streamMulti  = []string{"workspace", "action", "result"}
)

// tickets are the short-lived, single-use credentials a browser opens a
// stream with (a browser cannot send a header with a WebSocket request, and
// a long-lived token must never be in a URL).
type tickets struct {
	mu sync.Mutex
	m  map[string]ticket
}

type ticket struct {
	p       *Principal
	expires time.Time
}

func (t *tickets) issue(p *Principal, now time.Time) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range t.m {
		if now.After(v.expires) {
			delete(t.m, k)
		}
	}
	if len(t.m) >= maxTickets {
		return "", errors.New("too many stream tickets waiting to be used; retry later")
	}
	b := make([]byte, 24)
	rand.Read(b)
	id := "st_" + base64.RawURLEncoding.EncodeToString(b)
	if t.m == nil {
		t.m = map[string]ticket{}
	}
	t.m[id] = ticket{p: p, expires: now.Add(TicketTTL)}
	return id, nil
}

// use returns the ticket's principal once, or nil when it is unknown,
// used or expired.
func (t *tickets) use(id string, now time.Time) *Principal {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.m[id]
	delete(t.m, id)
	if !ok || now.After(v.expires) {
		return nil
	}
	return v.p
}

// streamTicket answers POST /v1/stream/tickets: a ticket for one stream,
// for the token's workspaces.
func (h *Handler) streamTicket(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	p, err := h.auth.Authenticate(r.Header.Get("Authorization"))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sharelog"`)
		h.fail(w, http.StatusUnauthorized, "a valid API token is required: Authorization: Bearer <token>")
		return
	}
	if h.hub == nil {
		h.fail(w, http.StatusServiceUnavailable, "the live stream is not available in this process: it needs Kafka (kafka.brokers, or sharelog run)")
		return
	}
	id, err := h.tickets.issue(p, time.Now())
	if err != nil {
		w.Header().Set("Retry-After", "5")
		h.fail(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"ticket": id, "expires_in": int(TicketTTL / time.Second)})
}

// stream answers GET /v1/stream: authenticated by the Authorization header
// or a ticket, filtered by the parameters of GET /v1/events (no time range,
// no paging), resumed after last_event_id, upgraded to WebSocket.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if h.hub == nil {
		h.fail(w, http.StatusServiceUnavailable, "the live stream is not available in this process: it needs Kafka (kafka.brokers, or sharelog run)")
		return
	}
	q := r.URL.Query()
	lastID, tk := q.Get("last_event_id"), q.Get("ticket")
	q.Del("last_event_id")
	q.Del("ticket")
	var p *Principal
	switch {
	case tk != "":
		if p = h.tickets.use(tk, time.Now()); p == nil {
			h.hub.Refused("ticket")
			h.fail(w, http.StatusUnauthorized, "ticket: unknown, used or expired; get a new one with POST /v1/stream/tickets")
			return
		}
	default:
		var err error
		if p, err = h.auth.Authenticate(r.Header.Get("Authorization")); err != nil {
			h.hub.Refused("auth")
			w.Header().Set("WWW-Authenticate", `Bearer realm="sharelog"`)
			h.fail(w, http.StatusUnauthorized, "a valid API token is required: Authorization: Bearer <token>, or ?ticket= from POST /v1/stream/tickets")
			return
		}
	}
	if !h.originAllowed(r) {
		h.hub.Refused("origin")
		h.fail(w, http.StatusForbidden, fmt.Sprintf("origin %q may not open the live stream (api.stream.allowed_origins)", r.Header.Get("Origin")))
		return
	}
	parse := func(raw string) (stream.Filter, int, error) { return h.streamFilter(p, raw) }
	f, code, err := parse(q.Encode())
	if err != nil {
		h.hub.Refused("params")
		h.fail(w, code, err.Error())
		return
	}
	if !h.hub.Reserve() {
		w.Header().Set("Retry-After", "10")
		h.fail(w, http.StatusServiceUnavailable, "the live stream has its maximum of clients (api.stream.max_clients); retry later")
		return
	}
	defer h.hub.Release()
	up := h.upgrader // a copy, so that the upgrade's answer, too, is written with a deadline
	up.HandshakeTimeout = h.hub.WriteTimeout()
	conn, err := up.Upgrade(w, r, nil) // the origin was checked above
	if err != nil {
		return // Upgrade answered the client
	}
	conn.SetCompressionLevel(h.level) // valid (Validate); used if deflate was negotiated
	h.log.Debug("live stream opened", "token", p.Name, "remote", r.RemoteAddr, "resume", lastID != "")
	h.hub.Serve(conn, f, lastID, func(raw string) (stream.Filter, error) {
		f, _, err := parse(raw)
		return f, err
	})
}

// streamFilter parses a stream's parameters for principal p.
func (h *Handler) streamFilter(p *Principal, raw string) (stream.Filter, int, error) {
	pp, err := newParams(raw, streamParams, streamMulti)
	if err != nil {
		return stream.Filter{}, http.StatusBadRequest, err
	}
	var f stream.Filter
	q := &f.Query
	q.Actions = pp.list("action")
	for _, r := range pp.list("result") {
		q.Results = append(q.Results, sharelog.Result(r))
	}
	q.User, q.Link, q.File, q.IP, q.Country = pp.get("user"), pp.get("link"), pp.get("file"), pp.get("ip"), pp.get("country")
	if err := checkFilter(*q); err != nil {
		pp.errs = append(pp.errs, err)
	}
	if err := pp.err(); err != nil {
		return stream.Filter{}, http.StatusBadRequest, err
	}
	asked := pp.list("workspace")
	if len(asked) == 0 && p.All {
		f.AnyWorkspace = true
		return f, 0, nil
	}
	ws, code, err := h.scope(p, asked)
	if err != nil {
		return stream.Filter{}, code, err
	}
	q.Workspaces = ws
	return f, 0, nil
}

// originAllowed: no Origin (not a browser), the API's own origin, or one of
// api.stream.allowed_origins.
func (h *Handler) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return slices.Contains(h.origins, strings.ToLower(strings.TrimSuffix(origin, "/")))
}
