package splunk

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/sinks/sinktest"
)

// hecServer is an HTTP Event Collector for tests: /services/collector/event
// and /services/collector/ack as Splunk answers them (token, channel,
// status codes, ackIds), checking on every request the wire format the
// sink promises — header values, one JSON object per event with exactly
// the keys time, host, source, sourcetype, index (when configured) and
// event, nothing between the objects, time in epoch seconds with
// milliseconds equal to the event's, and the event being the enriched
// event's own encoding byte for byte. What breaks the format is recorded as
// a violation (and answered as HEC would: 400 code 6), and fails the test
// at its end. It implements sinktest.Destination.
type hecServer struct {
	sinktest.Recorder
	srv *httptest.Server

	mu         sync.Mutex
	token      string
	index      string // expected index, "" for none
	ack        bool   // the token has indexer acknowledgement on
	ackAfter   int    // queries answered false before true
	ackNever   bool
	nextAck    int64
	pending    map[string]map[int64]int // channel → ackId → false answers left
	requests   []captured
	violations []string
}

// captured is one request as the server received it.
type captured struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Raw                    []byte // as sent
	Body                   []byte // decompressed
}

func newHECServer(t testing.TB, token string) *hecServer {
	h := &hecServer{token: token, pending: map[string]map[int64]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/services/collector/event", h.event)
	mux.HandleFunc("/services/collector/ack", h.ackQuery)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		h.srv.Close()
		for _, v := range h.Violations() {
			t.Errorf("wire format: %s", v)
		}
	})
	return h
}

func (h *hecServer) URL() string { return h.srv.URL }

func (h *hecServer) setAck(on bool, after int, never bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ack, h.ackAfter, h.ackNever = on, after, never
}

func (h *hecServer) setToken(tok string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.token = tok
}

func (h *hecServer) Requests() []captured {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests)
}

func (h *hecServer) Violations() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.violations)
}

func (h *hecServer) violate(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.violations = append(h.violations, fmt.Sprintf(format, args...))
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// authorize answers and returns false when the request's token is not the
// server's, as HEC does.
func (h *hecServer) authorize(w http.ResponseWriter, r *http.Request) bool {
	h.mu.Lock()
	token := h.token
	h.mu.Unlock()
	a := r.Header.Get("Authorization")
	switch {
	case a == "":
		reply(w, 401, `{"text":"Token is required","code":2}`)
	case !strings.HasPrefix(a, "Splunk "):
		reply(w, 401, `{"text":"Invalid authorization","code":3}`)
	case a != "Splunk "+token:
		reply(w, 403, `{"text":"Invalid token","code":4}`)
	default:
		return true
	}
	return false
}

func (h *hecServer) event(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	c := captured{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Raw: raw, Body: raw}
	fail, err := h.Begin(r.Context())
	if err != nil {
		return // stalled, and the client gave up
	}
	if r.Method != http.MethodPost {
		h.violate("method %s", r.Method)
		reply(w, 405, `{"text":"Method not allowed","code":6}`)
		return
	}
	ch := r.Header.Get("X-Splunk-Request-Channel")
	if !uuidRE.MatchString(ch) {
		h.violate("X-Splunk-Request-Channel %q is not a random UUID", ch)
		reply(w, 400, `{"text":"Invalid data channel","code":11}`)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		h.violate("Content-Type %q", ct)
	}
	if r.ContentLength != int64(len(raw)) {
		h.violate("Content-Length %d for a body of %d bytes", r.ContentLength, len(raw))
	}
	switch ce := r.Header.Get("Content-Encoding"); ce {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			c.Body, err = io.ReadAll(zr)
		}
		if err != nil {
			h.violate("gzip body: %v", err)
			reply(w, 400, `{"text":"Invalid data format","code":6}`)
			return
		}
	default:
		h.violate("Content-Encoding %q", ce)
	}
	h.mu.Lock()
	h.requests = append(h.requests, c)
	index, ack := h.index, h.ack
	h.mu.Unlock()
	if !h.authorize(w, r) {
		return
	}
	if fail {
		w.Header().Set("Retry-After", "0")
		reply(w, 503, `{"text":"Server is busy","code":9}`)
		return
	}
	if len(c.Body) == 0 {
		reply(w, 400, `{"text":"No data","code":5}`)
		return
	}
	ids, bad, why := checkEvents(c.Body, index)
	if bad >= 0 {
		h.violate("event %d: %s", bad, why)
		reply(w, 400, fmt.Sprintf(`{"text":"Invalid data format","code":6,"invalid-event-number":%d}`, bad))
		return
	}
	for i, id := range ids {
		if h.Rejected(id) {
			reply(w, 400, fmt.Sprintf(`{"text":"Invalid data format","code":6,"invalid-event-number":%d}`, i))
			return
		}
	}
	h.Accept(ids...)
	if !ack {
		reply(w, 200, `{"text":"Success","code":0}`)
		return
	}
	h.mu.Lock()
	id := h.nextAck
	h.nextAck++
	if h.pending[ch] == nil {
		h.pending[ch] = map[int64]int{}
	}
	h.pending[ch][id] = h.ackAfter
	h.mu.Unlock()
	reply(w, 200, fmt.Sprintf(`{"text":"Success","code":0,"ackId":%d}`, id))
}

var epochRE = regexp.MustCompile(`^-?[0-9]+\.[0-9]{3}$`)

// checkEvents parses an event request body as HEC does and checks it
// against the sink's format. It returns the event ids, or the number of the
// first event that breaks the format and why.
func checkEvents(body []byte, index string) (ids []string, bad int, why string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for i := 0; ; i++ {
		off := dec.InputOffset()
		if off == int64(len(body)) {
			return ids, -1, ""
		}
		if body[off] != '{' {
			return nil, i, fmt.Sprintf("byte %q between objects (want them concatenated)", body[off])
		}
		var obj map[string]json.RawMessage
		if err := dec.Decode(&obj); err != nil {
			return nil, i, err.Error()
		}
		keys := []string{"event", "host", "source", "sourcetype", "time"}
		if index != "" {
			keys = append(keys, "index")
		}
		slices.Sort(keys)
		got := make([]string, 0, len(obj))
		for k := range obj {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, keys) {
			return nil, i, fmt.Sprintf("keys %v, want %v", got, keys)
		}
		for _, k := range []string{"host", "source", "sourcetype", "index"} {
			var s string
			if v, ok := obj[k]; ok && (json.Unmarshal(v, &s) != nil || s == "") {
				return nil, i, fmt.Sprintf("%s is %s, want a non-empty string", k, v)
			}
		}
		if index != "" && string(obj["index"]) != strconv.Quote(index) {
			return nil, i, fmt.Sprintf("index %s, want %q", obj["index"], index)
		}
		ev, err := sharelog.DecodeEnriched(obj["event"])
		if err != nil {
			return nil, i, "event: " + err.Error()
		}
		if again := ev.AppendJSON(nil); !bytes.Equal(again, obj["event"]) {
			return nil, i, fmt.Sprintf("event is not the enriched encoding:\n%s\nwant\n%s", obj["event"], again)
		}
		tm := string(obj["time"])
		if !epochRE.MatchString(tm) {
			return nil, i, fmt.Sprintf("time %s is not epoch seconds with 3 decimals", tm)
		}
		if want := string(appendEpoch(nil, ev.Time)); tm != want {
			return nil, i, fmt.Sprintf("time %s, want %s (the event's time %s)", tm, want, ev.Time.Format(time.RFC3339Nano))
		}
		ids = append(ids, ev.ID)
	}
}

func (h *hecServer) ackQuery(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.requests = append(h.requests, captured{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Raw: raw, Body: raw})
	ack := h.ack
	h.mu.Unlock()
	if r.Method != http.MethodPost {
		h.violate("ack query method %s", r.Method)
	}
	if !h.authorize(w, r) {
		return
	}
	if !ack {
		reply(w, 400, `{"text":"ACK is disabled","code":14}`)
		return
	}
	ch := r.URL.Query().Get("channel")
	if hc := r.Header.Get("X-Splunk-Request-Channel"); ch == "" || hc != ch {
		h.violate("ack query channel %q, header %q: want the same", ch, hc)
		reply(w, 400, `{"text":"Data channel is missing","code":10}`)
		return
	}
	var q struct {
		Acks []int64 `json:"acks"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil || len(q.Acks) == 0 {
		h.violate("ack query body %q", raw)
		reply(w, 400, `{"text":"Invalid data format","code":6}`)
		return
	}
	h.mu.Lock()
	out := map[string]bool{}
	for _, id := range q.Acks {
		left, ok := h.pending[ch][id]
		switch {
		case !ok || h.ackNever:
			out[strconv.FormatInt(id, 10)] = false
		case left > 0:
			h.pending[ch][id] = left - 1
			out[strconv.FormatInt(id, 10)] = false
		default:
			delete(h.pending[ch], id) // Splunk forgets an ackId once it answered true
			out[strconv.FormatInt(id, 10)] = true
		}
	}
	h.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"acks": out})
	reply(w, 200, string(b))
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
