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
	"sync/atomic"
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
type Hub struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
	m   *metrics

	slots chan struct{} // one per open stream, MaxClients

	mu      sync.Mutex
	clients map[*client]struct{}
	ring    []*entry // the recent events, oldest first, from ring[start]
	start   int
	index   map[string]*entry // event id → entry, for resume
	seq     uint64
}

// entry is one event as the hub holds it: decoded for matching, and its
// message, prepared once for every client.
type entry struct {
	seq uint64
	at  time.Time // when the hub got it
	ev  *sharelog.Event
	raw []byte                     // the event's JSON
	pm  *websocket.PreparedMessage // {"type":"events","events":[raw]}
}

// NewHub returns a hub; cfg must be valid (SetDefaults applied).
func NewHub(cfg Config, deps Deps) *Hub {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &Hub{cfg: cfg, log: deps.Logger, now: deps.Now, m: newMetrics(deps.Registerer),
		slots: make(chan struct{}, cfg.MaxClients), clients: map[*client]struct{}{}, index: map[string]*entry{}}
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
// client whose queue is full is dropped instead.
func (h *Hub) Publish(raw []byte) {
	ev, err := sharelog.DecodeEnriched(raw)
	if err != nil || ev.ID == "" {
		h.m.undecodable.Inc()
		return
	}
	raw = bytes.Clone(raw)
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, frame(raw))
	if err != nil {
		return
	}
	h.m.published.Inc()
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e := &entry{seq: h.seq, at: now, ev: ev, raw: raw, pm: pm}
	h.remember(e, now)
	for c := range h.clients {
		f := c.filter.Load()
		if !f.Match(ev) {
			continue
		}
		select {
		case c.queue <- e:
		default:
			h.dropLocked(c, "slow", "too slow: more than "+strconv.Itoa(cap(c.queue))+" messages waiting")
		}
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

// frame is the message of one or more events.
func frame(raws ...[]byte) []byte {
	n := 30
	for _, r := range raws {
		n += len(r) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"type":"events","events":[`...)
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
	for c := range h.clients {
		delete(h.clients, c)
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
}

// prepared returns f with its conditions prepared for matching every event.
func (f Filter) prepared() *Filter {
	f.cond = f.Query.Conditions()
	return &f
}

// Match reports whether the client gets ev. f must come from prepared.
func (f *Filter) Match(ev *sharelog.Event) bool {
	return (f.AnyWorkspace || slices.Contains(f.Query.Workspaces, ev.Workspace.ID)) && f.cond.Match(ev)
}

// ParseFunc turns the params of a client's filter message (a query string,
// as GET /v1/events takes it) into its filter, scoped to what the client
// may see, or an error naming the wrong parameter.
type ParseFunc func(params string) (Filter, error)

// Serve runs one client on an upgraded connection until it leaves, is
// dropped, or the connection fails. f is its filter (already scoped);
// lastID, when set, asks for the events after that id from the
// resume buffer before the live ones. Serve closes conn.
func (h *Hub) Serve(conn *websocket.Conn, f Filter, lastID string, parse ParseFunc) {
	c := &client{conn: conn, queue: make(chan *entry, h.cfg.ClientQueue), ctl: make(chan []byte, 8), quit: make(chan struct{})}
	pf := f.prepared()
	c.filter.Store(pf)

	h.mu.Lock()
	var backlog []*entry
	var gap string
	if lastID != "" {
		if from, ok := h.index[lastID]; ok {
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
	<-done

	h.mu.Lock()
	delete(h.clients, c)
	n = len(h.clients)
	h.mu.Unlock()
	h.m.clients.Set(float64(n))
}

// client is one connected stream.
type client struct {
	conn   *websocket.Conn
	filter atomic.Pointer[Filter]
	queue  chan *entry
	ctl    chan []byte // answers to the client's messages
	quit   chan struct{}
	once   sync.Once
	reason atomic.Pointer[closeReason]
}

type closeReason struct {
	code int
	text string
}

// stop ends the client's stream, with the close frame to send (if any).
func (c *client) stop(code int, text string) {
	c.once.Do(func() {
		if code != 0 {
			c.reason.Store(&closeReason{code, text})
		}
		close(c.quit)
	})
}

// dropLocked drops a client that cannot keep up; h.mu is held.
func (h *Hub) dropLocked(c *client, metric, text string) {
	delete(h.clients, c)
	h.m.dropped.WithLabelValues(metric).Inc()
	h.log.Warn("live stream client dropped", "reason", text, "remote", c.conn.RemoteAddr().String())
	c.stop(websocket.ClosePolicyViolation, text)
}

const (
	writeWait = 10 * time.Second
	maxBatch  = 500
	readLimit = 64 << 10
)

// write sends the backlog, then what the queue brings, until the client
// stops. Several queued events go as one message.
func (h *Hub) write(c *client, backlog []*entry, gap string) {
	defer c.conn.Close()
	ping := time.NewTicker(h.cfg.PingInterval)
	defer ping.Stop()
	send := func(data []byte, pm *websocket.PreparedMessage, events int) bool {
		c.conn.SetWriteDeadline(time.Now().Add(writeWait))
		var err error
		if pm != nil {
			err = c.conn.WritePreparedMessage(pm)
		} else {
			err = c.conn.WriteMessage(websocket.TextMessage, data)
		}
		if err != nil {
			c.stop(0, "")
			return false
		}
		h.m.messages.Inc()
		h.m.sent.Add(float64(events))
		return true
	}
	if gap != "" {
		msg, _ := json.Marshal(map[string]string{"type": "gap", "message": gap})
		if !send(msg, nil, 0) {
			return
		}
	}
	for len(backlog) > 0 {
		n := min(len(backlog), maxBatch)
		raws := make([][]byte, n)
		for i, e := range backlog[:n] {
			raws[i] = e.raw
		}
		if !send(frame(raws...), nil, n) {
			return
		}
		backlog = backlog[n:]
	}
	raws := make([][]byte, 0, maxBatch)
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	defer flush.Stop()
	for {
		select {
		case <-c.quit:
			if r := c.reason.Load(); r != nil {
				c.conn.SetWriteDeadline(time.Now().Add(time.Second))
				c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(r.code, r.text))
			}
			return
		case msg := <-c.ctl:
			if !send(msg, nil, 0) {
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.stop(0, "")
				return
			}
		case e := <-c.queue:
			// Wait up to FlushInterval for more, so that under load a
			// client gets one message of many events rather than one
			// system call per event.
			raws = append(raws[:0], e.raw)
			{
				flush.Reset(h.cfg.FlushInterval)
			collect:
				for len(raws) < maxBatch {
					select {
					case e := <-c.queue:
						raws = append(raws, e.raw)
					case <-flush.C:
						break collect
					case <-c.quit:
						break collect
					}
				}
				if !flush.Stop() {
					select {
					case <-flush.C:
					default:
					}
				}
			}
		more:
			for len(raws) < maxBatch {
				select {
				case e := <-c.queue:
					raws = append(raws, e.raw)
				default:
					break more
				}
			}
			if len(raws) == 1 {
				if !send(nil, e.pm, 1) { // the one prepared frame every client shares
					return
				}
				continue
			}
			if !send(frame(raws...), nil, len(raws)) {
				return
			}
		}
	}
}

// clientMessage is what a client may send.
type clientMessage struct {
	Type   string `json:"type"`
	Params string `json:"params"`
}

// read handles the client's messages (filter changes) and pongs until the
// connection ends, then stops the client.
func (h *Hub) read(c *client, parse ParseFunc) {
	defer c.stop(0, "")
	c.conn.SetReadLimit(readLimit)
	wait := 2 * h.cfg.PingInterval
	c.conn.SetReadDeadline(time.Now().Add(wait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(wait)) })
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		c.conn.SetReadDeadline(time.Now().Add(wait))
		var m clientMessage
		var answer any
		switch err := json.Unmarshal(data, &m); {
		case err != nil:
			answer = map[string]string{"type": "error", "error": "a message must be a JSON object like {\"type\":\"filter\",\"params\":\"action=link.*\"}"}
		case m.Type == "filter":
			f, err := parse(m.Params)
			if err != nil {
				answer = map[string]string{"type": "error", "error": err.Error()}
			} else {
				c.filter.Store(f.prepared())
				answer = map[string]any{"type": "filter", "ok": true, "params": m.Params}
			}
		default:
			answer = map[string]string{"type": "error", "error": "unknown message type " + strconv.Quote(m.Type[:min(len(m.Type), 40)]) + " (only \"filter\")"}
		}
		msg, _ := json.Marshal(answer)
		select {
		case c.ctl <- msg:
		case <-c.quit:
			return
		}
	}
}

type metrics struct {
	clients prometheus.Gauge
	events  *prometheus.CounterVec
	// events' two children, resolved once: Publish runs per event.
	published, undecodable prometheus.Counter
	messages               prometheus.Counter
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
		sent:     prometheus.NewCounter(prometheus.CounterOpts{Name: "sharelog_stream_events_sent_total", Help: "Events written to clients (one per client that got it)."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharelog_stream_clients_dropped_total",
			Help: "Clients the hub closed, by reason (slow: its queue was full)."}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharelog_stream_refused_total",
			Help: "Stream requests refused before the upgrade, by reason (max_clients, origin, auth, ticket, params)."}, []string{"reason"}),
		resumed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharelog_stream_resumes_total",
			Help: "Reconnections with last_event_id, by outcome (resumed, gap: the id was no longer kept)."}, []string{"outcome"}),
	}
	m.published, m.undecodable = m.events.WithLabelValues("published"), m.events.WithLabelValues("undecodable")
	if reg != nil {
		reg.MustRegister(m.clients, m.events, m.messages, m.sent, m.dropped, m.refused, m.resumed)
	}
	return m
}

// Refused counts a request refused before the upgrade, by reason.
func (h *Hub) Refused(reason string) { h.m.refused.WithLabelValues(reason).Inc() }
