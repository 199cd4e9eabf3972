package stream

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// client is one connected stream.
type client struct {
	conn   *websocket.Conn
	group  *group       // guarded by the hub's mu; nil once it has left
	queue  chan *batch  // what to send
	queued atomic.Int64 // events in queue
	ctl    chan []byte  // answers to the client's messages
	quit   chan struct{}
	// readDone is closed when the reader has returned: the client answered
	// the close frame, or the connection failed.
	readDone chan struct{}
	once     sync.Once
	reason   atomic.Pointer[closeReason]
	// pinged is the sequence number of the last ping written, acked that
	// of the last pong read (pongs come back in order, each after
	// everything written before its ping was read).
	pinged, acked atomic.Uint64
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

// dropLocked drops a client that cannot keep up; h.mu is held. A client
// that has already left (dropped, or the hub closed) is not counted or
// logged again.
func (h *Hub) dropLocked(c *client, metric, text string) {
	if c.group == nil {
		return
	}
	h.leaveLocked(c)
	h.m.dropped.WithLabelValues(metric).Inc()
	h.log.Warn("live stream client dropped", "reason", text, "remote", c.conn.RemoteAddr().String())
	c.stop(websocket.ClosePolicyViolation, text)
}

// drop drops c, unless it has already left.
func (h *Hub) drop(c *client, metric, text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(c, metric, text)
}

// WriteTimeout is the deadline of every write to a client (Config), for
// the caller's upgrade answer.
func (h *Hub) WriteTimeout() time.Duration { return h.cfg.WriteTimeout }

// writeFailed ends c after a failed write: a write that missed its
// deadline drops c as slow (the client did not take the bytes); any other
// error (the connection is gone) just stops it.
func (h *Hub) writeFailed(c *client, err error) {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		h.drop(c, "slow", "too slow: a write did not complete within "+h.cfg.WriteTimeout.String())
	}
	c.stop(0, "")
}

const (
	maxBatch  = 500
	readLimit = 64 << 10
)

// write sends the backlog, then what the queue brings, until the client
// stops.
//
// Every write has the deadline WriteTimeout; one that misses it drops the
// client as slow. That alone is not enough: compressed frames are small,
// and the socket buffers of both ends (megabytes) can hold minutes of them
// before a write blocks. So the first ping after data went out (sent at
// the latest a quarter of WriteTimeout later) checks that the client reads
// the stream: its pong can only come back once the client has read what
// was sent before it, and a client that has not answered it within
// WriteTimeout is dropped as slow, compressed or not.
func (h *Hub) write(c *client, backlog []*entry, gap string) {
	defer c.conn.Close()
	w := &writer{h: h, c: c, wt: h.cfg.WriteTimeout}
	if gap != "" {
		msg, _ := json.Marshal(map[string]string{"type": "gap", "message": gap})
		if !w.send(msg, nil, 0) {
			return
		}
	}
	for len(backlog) > 0 {
		n := min(len(backlog), maxBatch)
		raws := make([][]byte, n)
		for i, e := range backlog[:n] {
			raws[i] = e.raw
		}
		if !w.send(frame(raws...), nil, n) {
			return
		}
		backlog = backlog[n:]
	}
	keepalive := time.NewTicker(h.cfg.PingInterval)
	defer keepalive.Stop()
	probe := time.NewTicker(w.wt / 4)
	defer probe.Stop()
	for {
		var ok bool
		select {
		case <-c.quit:
			w.closeStream()
			return
		case msg := <-c.ctl:
			ok = w.send(msg, nil, 0)
		case <-keepalive.C:
			ok = w.ping()
		case <-probe.C:
			ok = w.probe()
		case b := <-c.queue:
			c.queued.Add(-int64(b.events))
			ok = w.send(nil, b.pm, b.events)
		}
		if !ok {
			return
		}
	}
}

// writer is what the goroutine writing to one client knows: whether the
// client has read what was sent.
type writer struct {
	h         *Hub
	c         *client
	wt        time.Duration // Config.WriteTimeout
	check     uint64        // the ping that checks data was read; 0: none waits
	checkAt   time.Time     // when it was sent
	unchecked bool          // data went out after the last ping
	payload   [8]byte
}

// send writes one message of events (pm, shared) or an answer (data); it
// reports false when the client is to end.
func (w *writer) send(data []byte, pm *websocket.PreparedMessage, events int) bool {
	c := w.c
	c.conn.SetWriteDeadline(time.Now().Add(w.wt))
	var err error
	if pm != nil {
		err = c.conn.WritePreparedMessage(pm)
	} else {
		err = c.conn.WriteMessage(websocket.TextMessage, data)
	}
	if err != nil {
		w.h.writeFailed(c, err)
		return false
	}
	w.unchecked = true
	w.h.m.messages.Inc()
	w.h.m.sent.Add(float64(events))
	return true
}

// ping writes a ping numbered after the last; when data went out since the
// last ping and no check waits, it is the check.
func (w *writer) ping() bool {
	c := w.c
	seq := c.pinged.Load() + 1
	binary.BigEndian.PutUint64(w.payload[:], seq)
	c.pinged.Store(seq) // before the write: its pong may come back at once
	if err := c.conn.WriteControl(websocket.PingMessage, w.payload[:], time.Now().Add(w.wt)); err != nil {
		w.h.writeFailed(c, err)
		return false
	}
	if w.unchecked && w.check == 0 {
		w.check, w.checkAt, w.unchecked = seq, time.Now(), false
	}
	return true
}

// probe runs a quarter of WriteTimeout apart: it drops the client when the
// check waits for longer than WriteTimeout, or starts one when data went
// out unchecked. It reports false when the client is to end.
func (w *writer) probe() bool {
	if w.check != 0 && w.c.acked.Load() >= w.check {
		w.check = 0
	}
	switch {
	case w.check != 0 && time.Since(w.checkAt) >= w.wt:
		w.h.drop(w.c, "slow", "too slow: did not read the stream for "+w.wt.String())
		w.closeStream()
		return false
	case w.check == 0 && w.unchecked:
		return w.ping()
	}
	return true
}

// closeStream writes the close frame with the reason, if any, and waits (at
// most WriteTimeout) for the client to answer it: closing at once would
// reset the connection when the client, reading what was in flight,
// answers a ping, and it would lose the rest and the reason.
func (w *writer) closeStream() {
	c := w.c
	r := c.reason.Load()
	if r == nil {
		return
	}
	c.conn.SetWriteDeadline(time.Now().Add(w.wt))
	if c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(r.code, r.text)) != nil {
		return
	}
	t := time.NewTimer(w.wt)
	defer t.Stop()
	select {
	case <-c.readDone:
	case <-t.C:
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
	c.conn.SetPongHandler(func(s string) error {
		if len(s) == 8 {
			if seq := binary.BigEndian.Uint64([]byte(s)); seq <= c.pinged.Load() {
				c.acked.Store(seq)
			}
		}
		return c.conn.SetReadDeadline(time.Now().Add(wait))
	})
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				h.drop(c, "unresponsive", "answered no ping for "+wait.String())
			}
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
				if !h.setFilter(c, f.prepared()) {
					return
				}
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
