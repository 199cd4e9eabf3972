// Package stream is the live stream behind GET /v1/stream: a broadcast hub
// that encodes each enriched event once and fans it out over WebSocket
// (gorilla/websocket) to the clients whose filter it matches, a bounded
// buffer of recent events for clients that reconnect, and the tail that
// feeds the hub from <prefix>.enriched.
//
// Authentication, scoping and the parsing of filters are the caller's (the
// query API's): the hub receives a connection with its filter, already
// scoped to the caller's workspaces.
package stream

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/storage/query"
)

// Deps are what a Hub needs from its process; nil means a quiet default.
type Deps struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Hub fans events out to the connected clients. It is safe for concurrent
// use: Publish may be called from several goroutines (one per partition)
// and never blocks on a client.
//
// Events are sent in batches: the hub gathers what is published during
// FlushInterval (or up to maxBatch events), then builds one message per
// distinct filter among the clients, prepared once
// (websocket.PreparedMessage) and queued to every client of that filter.
// A thousand clients watching the same stream cost one encoding and one
// write each per batch, not one per event. The clients that negotiated
// permessage-deflate share the message's compressed frame the same way: it
// is compressed once, by the first of them to write it.
type Hub struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	m     *metrics
	timer *time.Timer // flushes the pending events; armed while there are some

	slots chan struct{} // one per open stream, MaxClients

	mu      sync.Mutex
	clients map[*client]struct{}
	groups  map[string]*group // clients by their filter's key
	pending []*entry          // published, not yet sent
	ring    []*entry          // the recent events, oldest first, from ring[start]
	start   int
	index   map[string]*entry // event id → entry, for resume
	seq     uint64
}

// entry is one event as the hub holds it: decoded for matching, and its
// JSON as it came.
type entry struct {
	seq uint64
	at  time.Time // when the hub got it
	ev  *sharelog.Event
	raw []byte // the event's JSON
}

// group is the clients of one filter: they get the same messages.
type group struct {
	key     string
	filter  *Filter
	clients map[*client]struct{}
}

// batch is one message of events, shared by the clients of a group.
type batch struct {
	pm     *websocket.PreparedMessage // {"type":"events","count":n,"events":[...]}
	events int
}

// NewHub returns a hub; cfg must be valid (SetDefaults applied).
func NewHub(cfg Config, deps Deps) *Hub {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	h := &Hub{cfg: cfg, log: deps.Logger, now: deps.Now, m: newMetrics(deps.Registerer),
		slots: make(chan struct{}, cfg.MaxClients), clients: map[*client]struct{}{},
		groups: map[string]*group{}, index: map[string]*entry{}}
	h.timer = time.AfterFunc(time.Hour, h.flush)
	h.timer.Stop()
	return h
}

// Reserve takes one of the MaxClients slots, or reports false when all are
// taken. The caller gives it back with Release once the stream has ended.
func (h *Hub) Reserve() bool {
	select {
	case h.slots <- struct{}{}:
		return true
	default:
		h.m.refused.WithLabelValues("max_clients").Inc()
		return false
	}
}

// Release gives back a slot taken by Reserve.
func (h *Hub) Release() { <-h.slots }

// Publish hands the hub one enriched event, as its JSON. An event that does
// not decode is dropped (and counted). Publish never blocks on a client: a
// client whose queue is full is dropped instead. The event reaches the
// clients within FlushInterval.
func (h *Hub) Publish(raw []byte) {
	ev, err := sharelog.DecodeEnriched(raw)
	if err != nil || ev.ID == "" {
		h.m.undecodable.Inc()
		return
	}
	raw = bytes.Clone(raw)
	h.m.published.Inc()
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e := &entry{seq: h.seq, at: now, ev: ev, raw: raw}
	h.remember(e, now)
	if len(h.groups) == 0 {
		return
	}
	h.pending = append(h.pending, e)
	switch {
	case len(h.pending) >= maxBatch:
		h.flushLocked()
	case len(h.pending) == 1:
		h.timer.Reset(h.cfg.FlushInterval)
	}
}

// flush sends the pending events; the timer calls it.
func (h *Hub) flush() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.flushLocked()
}

// flushLocked sends the pending events: one message per group, queued to
// each of its clients; h.mu is held.
func (h *Hub) flushLocked() {
	if len(h.pending) == 0 {
		return
	}
	var raws [][]byte
	for _, g := range h.groups {
		raws = raws[:0]
		for _, e := range h.pending {
			if g.filter.Match(e.ev) {
				raws = append(raws, e.raw)
			}
		}
		if len(raws) == 0 {
			continue
		}
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, frame(raws...))
		if err != nil {
			continue
		}
		h.m.prepared.Inc()
		b := &batch{pm: pm, events: len(raws)}
		for c := range g.clients {
			h.enqueueLocked(c, b)
		}
	}
	clear(h.pending)
	h.pending = h.pending[:0]
}

// enqueueLocked queues b to c, or drops c when that would put more than
// ClientQueue events in its queue (a batch always fits an empty queue).
func (h *Hub) enqueueLocked(c *client, b *batch) {
	n := int64(b.events)
	if q := c.queued.Load(); q > 0 && q+n > int64(h.cfg.ClientQueue) {
		h.dropLocked(c, "slow", "too slow: more than "+strconv.Itoa(h.cfg.ClientQueue)+" events waiting")
		return
	}
	c.queued.Add(n)
	select {
	case c.queue <- b: // its capacity is ClientQueue batches of at least one event
	default:
		h.dropLocked(c, "slow", "too slow: more than "+strconv.Itoa(h.cfg.ClientQueue)+" events waiting")
	}
}

// remember keeps e for resume and forgets what is older than the window or
// beyond the count.
func (h *Hub) remember(e *entry, now time.Time) {
	if h.cfg.ResumeEvents == 0 || h.cfg.ResumeWindow == 0 {
		return
	}
	h.ring = append(h.ring, e)
	h.index[e.ev.ID] = e
	cut := now.Add(-h.cfg.ResumeWindow)
	for h.start < len(h.ring) && (len(h.ring)-h.start > h.cfg.ResumeEvents || h.ring[h.start].at.Before(cut)) {
		old := h.ring[h.start]
		if h.index[old.ev.ID] == old {
			delete(h.index, old.ev.ID)
		}
		h.ring[h.start] = nil
		h.start++
	}
	if h.start > 1024 && h.start > len(h.ring)/2 {
		h.ring = append(h.ring[:0], h.ring[h.start:]...)
		h.start = 0
	}
}

// frame is the message of one or more events. The count comes first, so
// that a client may know how many events a message holds without decoding
// it.
func frame(raws ...[]byte) []byte {
	n := 48
	for _, r := range raws {
		n += len(r) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"type":"events","count":`...)
	b = strconv.AppendInt(b, int64(len(raws)), 10)
	b = append(b, `,"events":[`...)
	for i, r := range raws {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
	}
	return append(b, "]}"...)
}

// Close ends every client's stream with 1001 (going away), for a server
// that shuts down; Serve returns for each.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.timer.Stop()
	for c := range h.clients {
		h.leaveLocked(c)
		c.stop(websocket.CloseGoingAway, "server shutting down")
	}
}

// Clients is the number of connected clients.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Filter is what a client receives: the events its Query matches, in the
// workspaces of Query.Workspaces, or in any workspace when AnyWorkspace
// (a token that may read every workspace, including those created later).
type Filter struct {
	Query        query.Filter
	AnyWorkspace bool

	cond *query.Conditions // Query's, prepared by the hub once per filter
	key  string            // equal for equal filters: the clients' group
}

// prepared returns f with its conditions prepared for matching every event
// and its group key.
func (f Filter) prepared() *Filter {
	f.cond = f.Query.Conditions()
	k, _ := json.Marshal(struct {
		Q   query.Filter
		Any bool
	}{f.Query, f.AnyWorkspace})
	f.key = string(k)
	return &f
}

// Match reports whether the client gets ev. f must come from prepared.
func (f *Filter) Match(ev *sharelog.Event) bool {
	return f.visible(ev) && f.cond.Match(ev)
}

// visible reports whether ev is in one of the filter's workspaces, whatever
// its other conditions: whether a client may learn that ev exists.
func (f *Filter) visible(ev *sharelog.Event) bool {
	return f.AnyWorkspace || slices.Contains(f.Query.Workspaces, ev.Workspace.ID)
}

// ParseFunc turns the params of a client's filter message (a query string,
// as GET /v1/events takes it) into its filter, scoped to what the client
// may see, or an error naming the wrong parameter.
type ParseFunc func(params string) (Filter, error)

// Serve runs one client on an upgraded connection until it leaves, is
// dropped, or the connection fails. f is its filter (already scoped);
// lastID, when set, asks for the events after that id from the
// resume buffer before the live ones. An id the buffer no longer keeps, or
// never had, or of an event outside f's workspaces, gets the same gap
// notice and no backlog. Serve closes conn.
func (h *Hub) Serve(conn *websocket.Conn, f Filter, lastID string, parse ParseFunc) {
	c := &client{conn: conn, queue: make(chan *batch, h.cfg.ClientQueue), ctl: make(chan []byte, 8),
		quit: make(chan struct{}), readDone: make(chan struct{})}
	pf := f.prepared()

	h.mu.Lock()
	h.flushLocked() // what was published before is the backlog's or nobody's
	var backlog []*entry
	var gap string
	if lastID != "" {
		// An id of an event outside the stream's workspaces is treated
		// exactly as an unknown one (gap): the answer must not tell a
		// client whether an id exists in a workspace it may not read.
		if from, ok := h.index[lastID]; ok && pf.visible(from.ev) {
			first := h.ring[h.start].seq
			for _, e := range h.ring[h.start+int(from.seq-first)+1:] {
				if pf.Match(e.ev) {
					backlog = append(backlog, e)
				}
			}
		} else {
			gap = "event " + lastID + " is not among the events of the last " + h.cfg.ResumeWindow.String() + " this server keeps; live events follow, query GET /v1/events for the rest"
		}
	}
	h.clients[c] = struct{}{}
	h.joinLocked(c, pf)
	n := len(h.clients)
	h.mu.Unlock()
	h.m.clients.Set(float64(n))
	if lastID != "" {
		h.m.resumed.WithLabelValues(map[bool]string{true: "gap", false: "resumed"}[gap != ""]).Inc()
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		h.write(c, backlog, gap)
	}()
	h.read(c, parse)
	close(c.readDone)
	<-done

	h.mu.Lock()
	h.leaveLocked(c)
	n = len(h.clients)
	h.mu.Unlock()
	h.m.clients.Set(float64(n))
}

// joinLocked puts c in the group of filter f; h.mu is held.
func (h *Hub) joinLocked(c *client, f *Filter) {
	g := h.groups[f.key]
	if g == nil {
		g = &group{key: f.key, filter: f, clients: map[*client]struct{}{}}
		h.groups[f.key] = g
	}
	g.clients[c] = struct{}{}
	c.group = g
}

// leaveLocked takes c out of the hub (it gets nothing more); h.mu is held.
func (h *Hub) leaveLocked(c *client) {
	delete(h.clients, c)
	if g := c.group; g != nil {
		delete(g.clients, c)
		if len(g.clients) == 0 {
			delete(h.groups, g.key)
		}
		c.group = nil
	}
}

// setFilter moves c to the group of f, after the events published so far
// have gone out with its old filter. It reports false when c has left.
func (h *Hub) setFilter(c *client, f *Filter) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.group == nil {
		return false
	}
	h.flushLocked()
	h.leaveLocked(c)
	h.clients[c] = struct{}{}
	h.joinLocked(c, f)
	return true
}

type metrics struct {
	clients prometheus.Gauge
	events  *prometheus.CounterVec
	// events' two children, resolved once: Publish runs per event.
	published, undecodable prometheus.Counter
	messages               prometheus.Counter
	prepared               prometheus.Counter
	sent                   prometheus.Counter
	dropped                *prometheus.CounterVec
	refused                *prometheus.CounterVec
	resumed                *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		clients: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sharelog_stream_clients", Help: "Live stream clients connected."}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharelog_stream_events_total",
			Help: "Events the live stream hub got, by outcome (published, undecodable)."}, []string{"outcome"}),
		messages: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharelog_stream_messages_total", Help: "WebSocket messages written to clients."}),
		prepared: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharelog_stream_messages_prepared_total",
			Help: "Event messages the hub encoded: one per distinct filter per flush, shared by that filter's clients."}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharelog_stream_events_sent_total", Help: "Events written to clients (one per client that got it)."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharelog_stream_clients_dropped_total",
			Help: "Clients the hub closed, by reason (slow: its queue was full, a write missed api.stream.write_timeout, or it did not read what was sent within it; unresponsive: it answered no ping for two ping intervals)."}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharelog_stream_refused_total",
			Help: "Stream requests refused before the upgrade, by reason (max_clients, origin, auth, ticket, params)."}, []string{"reason"}),
		resumed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharelog_stream_resumes_total",
			Help: "Reconnections with last_event_id, by outcome (resumed, gap: the id was no longer kept)."}, []string{"outcome"}),
	}
	m.published, m.undecodable = m.events.WithLabelValues("published"), m.events.WithLabelValues("undecodable")
	if reg != nil {
		reg.MustRegister(m.clients, m.events, m.messages, m.prepared, m.sent, m.dropped, m.refused, m.resumed)
	}
	return m
}

// Refused counts a request refused before the upgrade, by reason.
func (h *Hub) Refused(reason string) { h.m.refused.WithLabelValues(reason).Inc() }
