package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/server/stream"
)

// streamWorld is the API with a live stream hub fed directly (the Kafka
// tail is the pipeline's; tests of it are end to end).
type streamWorld struct {
	hub    *stream.Hub
	reg    *prometheus.Registry
	logs   *syncBuffer // the hub's log
	srv    *httptest.Server
	tokens map[string]string
	n      int
}

func newStreamWorld(t *testing.T, sc stream.Config) *streamWorld {
	t.Helper()
	w := &streamWorld{reg: prometheus.NewRegistry(), logs: &syncBuffer{}, tokens: map[string]string{}}
	var tokens []Token
	for _, tk := range []struct {
		name string
		ws   []string
	}{{"a", []string{"ws-a"}}, {"b", []string{"ws-b"}}, {"all", []string{"*"}}} {
		value, digest := NewToken()
		w.tokens[tk.name] = value
		tokens = append(tokens, Token{Name: tk.name, Workspaces: tk.ws, SHA256: digest})
	}
	cfg := Config{Tokens: tokens, Stream: sc}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	auth, err := NewAuthenticator(tokens)
	if err != nil {
		t.Fatal(err)
	}
	w.hub = stream.NewHub(cfg.Stream, stream.Deps{Registerer: w.reg, Logger: slog.New(slog.NewTextHandler(w.logs, nil))})
	h, err := NewHandler(cfg, Deps{ArchiveDir: t.TempDir(), Auth: auth, Hub: w.hub})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range Patterns {
		mux.Handle(p, h)
	}
	w.srv = httptest.NewServer(validated(t, mux))
	t.Cleanup(func() { w.hub.Close(); w.srv.Close() })
	return w
}

// syncBuffer is a buffer safe for concurrent use, for a log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// publish sends an enriched event of workspace ws on link to the hub and
// returns its id.
func (w *streamWorld) publish(t testing.TB, ws, link string, action sharelog.Action, pad int) string {
	t.Helper()
	w.n++
	ev := &sharelog.Event{
		ID: fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", w.n), Time: time.Now().UTC(),
		Workspace: sharelog.Workspace{ID: ws}, Actor: sharelog.Actor{Type: sharelog.ActorAnonymous},
		Action: action, Result: sharelog.Success, Link: &sharelog.Link{ID: link},
		File:   &sharelog.File{ID: "f1", Name: "report.pdf", Path: "/" + strings.Repeat("x", pad)},
		Client: sharelog.Client{IP: "81.2.69.160", Kind: sharelog.ClientBrowser},
		Geo:    &sharelog.Geo{CountryCode: "GB", CountryName: "United Kingdom"},
	}
	raw, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	w.hub.Publish(raw)
	return ev.ID
}

// dial opens a stream with the token's header (token "" for none), and
// the query string.
func (w *streamWorld) dial(t testing.TB, token, query string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	return w.dialWith(t, websocket.DefaultDialer, token, query, header)
}

// dialWith is dial with d.
func (w *streamWorld) dialWith(t testing.TB, d *websocket.Dialer, token, query string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if header == nil {
		header = http.Header{}
	}
	if token != "" {
		header.Set("Authorization", "Bearer "+w.tokens[token])
	}
	u := "ws" + strings.TrimPrefix(w.srv.URL, "http") + "/v1/stream"
	if query != "" {
		u += "?" + query
	}
	c, resp, err := d.Dial(u, header)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

func (w *streamWorld) mustDial(t testing.TB, token, query string) *reader {
	t.Helper()
	c, resp, err := w.dial(t, token, query, nil)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("dial %s %q: %v (%d)", token, query, err, code)
	}
	r := &reader{c: c}
	go r.run()
	return r // the hub registers it after the upgrade: see waitClients
}

// reader collects what one client receives.
type reader struct {
	c     *websocket.Conn
	mu    sync.Mutex
	ids   []string
	other []map[string]any
	err   error
}

func (r *reader) run() {
	for {
		_, data, err := r.c.ReadMessage()
		if err != nil {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
			return
		}
		var m struct {
			Type   string            `json:"type"`
			Count  int               `json:"count"`
			Events []*sharelog.Event `json:"events"`
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		r.mu.Lock()
		if m.Type == "events" && m.Count != len(m.Events) && r.err == nil {
			r.err = fmt.Errorf("a message says count %d and holds %d events", m.Count, len(m.Events))
		}
		if m.Type == "events" {
			for _, ev := range m.Events {
				r.ids = append(r.ids, ev.ID)
			}
		} else {
			var v map[string]any
			json.Unmarshal(data, &v)
			r.other = append(r.other, v)
		}
		r.mu.Unlock()
	}
}

func (r *reader) got() ([]string, []map[string]any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids), slices.Clone(r.other), r.err
}

// wait waits until the client has n events.
func (r *reader) wait(t testing.TB, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids, _, err := r.got()
		if len(ids) >= n {
			return ids
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("%d of %d events (err %v)", len(ids), n, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *reader) waitOther(t testing.TB, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, other, err := r.got()
		if len(other) >= n {
			return other
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("%d of %d control messages (err %v)", len(other), n, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStreamScoping: a token sees only its workspaces' events; asking for
// another workspace is refused before the upgrade; server-side filters
// narrow what each client gets.
func TestStreamScoping(t *testing.T) {
	w := newStreamWorld(t, stream.Config{})
	a := w.mustDial(t, "a", "")
	b := w.mustDial(t, "b", "")
	all := w.mustDial(t, "all", "")
	dl := w.mustDial(t, "a", "action=link.downloaded&country=GB")
	waitClients(t, w.hub, 4)
	if _, resp, err := w.dial(t, "a", "workspace=ws-b", nil); err == nil || resp.StatusCode != 403 {
		t.Fatalf("token a asked for ws-b: %v %v", err, resp)
	}
	if _, resp, err := w.dial(t, "a", "colour=red", nil); err == nil || resp.StatusCode != 400 {
		t.Fatalf("unknown parameter: %v %v", err, resp)
	}
	var wantA, wantB, wantDL []string
	for i := range 20 {
		ws := []string{"ws-a", "ws-b", "ws-c"}[i%3]
		action := []sharelog.Action{sharelog.LinkOpened, sharelog.LinkDownloaded}[i%2]
		id := w.publish(t, ws, "lk_1", action, 0)
		switch ws {
		case "ws-a":
			wantA = append(wantA, id)
			if action == sharelog.LinkDownloaded {
				wantDL = append(wantDL, id)
			}
		case "ws-b":
			wantB = append(wantB, id)
		}
	}
	if got := all.wait(t, 20); len(got) != 20 {
		t.Fatalf("all-workspaces token: %d", len(got))
	}
	for _, c := range []struct {
		name string
		r    *reader
		want []string
	}{{"a", a, wantA}, {"b", b, wantB}, {"a downloads", dl, wantDL}} {
		got := c.r.wait(t, len(c.want))
		time.Sleep(50 * time.Millisecond)
		got, _, _ = c.r.got()
		if !slices.Equal(got, c.want) {
			t.Errorf("%s got %v\nwant %v", c.name, got, c.want)
		}
	}
}

// TestStreamSharedMessages: clients of the same filter share each message
// (encoded once, written to each); a client of another filter gets its
// own, with only its events.
func TestStreamSharedMessages(t *testing.T) {
	w := newStreamWorld(t, stream.Config{})
	same := []*reader{w.mustDial(t, "a", ""), w.mustDial(t, "a", ""), w.mustDial(t, "a", "")}
	other := w.mustDial(t, "a", "link=lk_2")
	waitClients(t, w.hub, 4)
	var want, want2 []string
	for i := range 40 {
		link := []string{"lk_1", "lk_2"}[i%2]
		id := w.publish(t, "ws-a", link, sharelog.LinkOpened, 0)
		want = append(want, id)
		if link == "lk_2" {
			want2 = append(want2, id)
		}
		if i%10 == 9 {
			time.Sleep(20 * time.Millisecond) // a few flushes
		}
	}
	for i, r := range same {
		if got := r.wait(t, 40); !slices.Equal(got, want) {
			t.Fatalf("client %d got %v", i, got)
		}
	}
	if got := other.wait(t, 20); !slices.Equal(got, want2) {
		t.Fatalf("filtered client got %v", got)
	}
	time.Sleep(50 * time.Millisecond)
	prepared, written := counter(t, w.reg, "sharelog_stream_messages_prepared_total"), counter(t, w.reg, "sharelog_stream_messages_total")
	// Each flush prepares one message for the three and one for the
	// filtered client: written = 3 × shared + filtered = prepared + 2 × shared.
	if prepared < 2 || written <= prepared || int(written-prepared)%2 != 0 || written > 4*prepared {
		t.Fatalf("prepared %v messages, wrote %v", prepared, written)
	}
	shared := (written - prepared) / 2
	if filtered := prepared - shared; filtered < 1 || filtered > shared {
		t.Fatalf("prepared %v messages, wrote %v: %v shared, %v for the filtered client", prepared, written, shared, filtered)
	}
	t.Logf("prepared %v messages, wrote %v", prepared, written)
}

// countingConn counts the bytes read from a connection: what came over
// the wire.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countingDialer is a dialer whose connections count into n; compress
// offers permessage-deflate, as browsers do.
func countingDialer(n *atomic.Int64, compress bool) *websocket.Dialer {
	return &websocket.Dialer{EnableCompression: compress, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, n}, nil
	}}
}

// TestStreamCompression: a client that offers permessage-deflate gets it
// and the same events in far fewer bytes, from the same shared message as
// a client that does not (which gets plain frames); with compression off,
// nobody gets it.
func TestStreamCompression(t *testing.T) {
	w := newStreamWorld(t, stream.Config{})
	var zipped, plain atomic.Int64
	open := func(d *websocket.Dialer) (*reader, string) {
		c, resp, err := w.dialWith(t, d, "a", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		r := &reader{c: c}
		go r.run()
		return r, resp.Header.Get("Sec-WebSocket-Extensions")
	}
	zr, zext := open(countingDialer(&zipped, true))
	pr, pext := open(countingDialer(&plain, false))
	if !strings.Contains(zext, "permessage-deflate") || pext != "" {
		t.Fatalf("extensions: %q for the client that offers deflate, %q for the other", zext, pext)
	}
	waitClients(t, w.hub, 2)
	zipped.Store(0)
	plain.Store(0)
	var want []string
	for i := range 200 {
		want = append(want, w.publish(t, "ws-a", fmt.Sprintf("lk_%d", i%7), sharelog.LinkOpened, 100))
		if i%50 == 49 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if got := zr.wait(t, 200); !slices.Equal(got, want) {
		t.Fatalf("compressed client got %d events, not the ones sent", len(got))
	}
	if got := pr.wait(t, 200); !slices.Equal(got, want) {
		t.Fatalf("plain client got %d events, not the ones sent", len(got))
	}
	if z, p := zipped.Load(), plain.Load(); z*4 > p {
		t.Fatalf("compressed client read %d bytes, plain %d: not 4 times fewer", z, p)
	} else {
		t.Logf("200 events: %d bytes compressed, %d plain", z, p)
	}
	prepared, written := counter(t, w.reg, "sharelog_stream_messages_prepared_total"), counter(t, w.reg, "sharelog_stream_messages_total")
	if written != 2*prepared {
		t.Fatalf("prepared %v messages, wrote %v: the two clients should share each", prepared, written)
	}

	off := newStreamWorld(t, stream.Config{Compression: stream.CompressionOff})
	_, resp, err := off.dialWith(t, countingDialer(&zipped, true), "a", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("compression off, yet extensions %q", ext)
	}
}

// TestStreamCompressedResumeAndFilter: the messages a compressing client
// gets outside the shared ones — the resume backlog and the answers to its
// filter messages, compressed on its own connection — arrive whole too,
// and it sends compressed filter messages the server reads.
func TestStreamCompressedResumeAndFilter(t *testing.T) {
	w := newStreamWorld(t, stream.Config{})
	var ids []string
	for i := range 6 {
		ids = append(ids, w.publish(t, "ws-a", fmt.Sprintf("lk_%d", i%2), sharelog.LinkOpened, 50))
	}
	var n atomic.Int64
	c, resp, err := w.dialWith(t, countingDialer(&n, true), "a", "link=lk_1&last_event_id="+ids[0], nil)
	if err != nil || !strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		t.Fatalf("dial: %v", err)
	}
	r := &reader{c: c}
	go r.run()
	waitClients(t, w.hub, 1)
	if got := r.wait(t, 3); !slices.Equal(got, []string{ids[1], ids[3], ids[5]}) {
		t.Fatalf("resumed %v", got)
	}
	c.EnableWriteCompression(true)
	if err := c.WriteJSON(map[string]string{"type": "filter", "params": "link=lk_0"}); err != nil {
		t.Fatal(err)
	}
	if ack := r.waitOther(t, 1)[0]; ack["type"] != "filter" || ack["ok"] != true {
		t.Fatalf("ack %v", ack)
	}
	w.publish(t, "ws-a", "lk_1", sharelog.LinkOpened, 0)
	want := w.publish(t, "ws-a", "lk_0", sharelog.LinkOpened, 0)
	if got := r.wait(t, 4); got[3] != want {
		t.Fatalf("after the filter change %v", got)
	}
}

func waitClients(t testing.TB, hub *stream.Hub, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for hub.Clients() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients, want %d", hub.Clients(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStreamFilterChange: a filter message narrows the stream without
// reconnecting; a wrong one is refused and the old filter stays.
func TestStreamFilterChange(t *testing.T) {
	w := newStreamWorld(t, stream.Config{})
	r := w.mustDial(t, "a", "")
	waitClients(t, w.hub, 1)
	first := w.publish(t, "ws-a", "lk_1", sharelog.LinkOpened, 0)
	r.wait(t, 1)
	r.c.WriteJSON(map[string]string{"type": "filter", "params": "link=lk_2"})
	ack := r.waitOther(t, 1)[0]
	if ack["type"] != "filter" || ack["ok"] != true {
		t.Fatalf("ack %v", ack)
	}
	r.c.WriteJSON(map[string]string{"type": "filter", "params": "workspace=ws-b"})
	r.c.WriteJSON(map[string]string{"type": "filter", "params": "result=maybe"})
	other := r.waitOther(t, 3)
	if other[1]["type"] != "error" || !strings.Contains(other[1]["error"].(string), `workspace: the token "a" may not read workspace "ws-b"`) ||
		other[2]["type"] != "error" || !strings.Contains(other[2]["error"].(string), "result") {
		t.Fatalf("errors %v", other)
	}
	w.publish(t, "ws-a", "lk_1", sharelog.LinkOpened, 0)
	want := w.publish(t, "ws-a", "lk_2", sharelog.LinkOpened, 0)
	got := r.wait(t, 2)
	time.Sleep(50 * time.Millisecond)
	got, _, _ = r.got()
	if !slices.Equal(got, []string{first, want}) {
		t.Fatalf("got %v, want %v", got, []string{first, want})
	}
}

// TestStreamTicketsAndOrigin: a browser opens the stream with a
// single-use ticket, never the token in the URL; foreign origins are
// refused.
func TestStreamTicketsAndOrigin(t *testing.T) {
	w := newStreamWorld(t, stream.Config{AllowedOrigins: []string{"https://console.example.com"}})
	ticket := func(token string) (int, string) {
		req, _ := http.NewRequest("POST", w.srv.URL+"/v1/stream/tickets", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+w.tokens[token])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct {
			Ticket    string `json:"ticket"`
			ExpiresIn int    `json:"expires_in"`
		}
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v.Ticket
	}
	if code, _ := ticket(""); code != 401 {
		t.Fatalf("ticket without a token: %d", code)
	}
	code, tk := ticket("b")
	if code != 201 || !strings.HasPrefix(tk, "st_") {
		t.Fatalf("ticket: %d %q", code, tk)
	}
	c, _, err := w.dial(t, "", "ticket="+tk, http.Header{"Origin": {"https://console.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	r := &reader{c: c}
	go r.run()
	waitClients(t, w.hub, 1)
	w.publish(t, "ws-a", "lk_1", sharelog.LinkOpened, 0)
	idB := w.publish(t, "ws-b", "lk_1", sharelog.LinkOpened, 0)
	if got := r.wait(t, 1); got[0] != idB {
		t.Fatalf("ticket of token b got %v", got)
	}
	if _, resp, err := w.dial(t, "", "ticket="+tk, nil); err == nil || resp.StatusCode != 401 {
		t.Fatal("a ticket was used twice")
	}
	if _, resp, err := w.dial(t, "", "", nil); err == nil || resp.StatusCode != 401 {
		t.Fatal("a stream without credentials")
	}
	if _, resp, err := w.dial(t, "a", "", http.Header{"Origin": {"https://evil.example.net"}}); err == nil || resp.StatusCode != 403 {
		t.Fatal("a foreign origin was let in")
	}
	if _, _, err := w.dial(t, "a", "", http.Header{"Origin": {w.srv.URL}}); err != nil {
		t.Fatalf("the API's own origin: %v", err)
	}
}

// TestStreamResume: reconnecting with the last id seen gets what was
// missed, filtered, then the live events; an id no longer kept gets a gap
// notice, then the live events.
func TestStreamResume(t *testing.T) {
	w := newStreamWorld(t, stream.Config{ResumeEvents: 5})
	var ids []string
	for i := range 8 {
		ids = append(ids, w.publish(t, "ws-a", fmt.Sprintf("lk_%d", i%2), sharelog.LinkOpened, 0))
	}
	// The buffer keeps the last 5: ids[3:]. Resume after ids[4], link lk_1.
	r := w.mustDial(t, "a", "link=lk_1&last_event_id="+ids[4])
	waitClients(t, w.hub, 1)
	live := w.publish(t, "ws-a", "lk_1", sharelog.LinkOpened, 0)
	got := r.wait(t, 3)
	if !slices.Equal(got, []string{ids[5], ids[7], live}) {
		t.Fatalf("resumed %v, want %v", got, []string{ids[5], ids[7], live})
	}
	g := w.mustDial(t, "a", "last_event_id="+ids[0])
	waitClients(t, w.hub, 2)
	gap := g.waitOther(t, 1)[0]
	if gap["type"] != "gap" || !strings.Contains(gap["message"].(string), ids[0]) {
		t.Fatalf("gap %v", gap)
	}
	next := w.publish(t, "ws-a", "lk_0", sharelog.LinkOpened, 0)
	if got := g.wait(t, 1); got[0] != next {
		t.Fatalf("after the gap %v", got)
	}
}

// TestStreamResumeForeignID: resuming after the id of an event in a
// workspace the token may not read answers exactly as resuming after an id
// that never existed (the same gap notice, no backlog, then the live
// events): the stream is no oracle of other workspaces' ids.
func TestStreamResumeForeignID(t *testing.T) {
	w := newStreamWorld(t, stream.Config{})
	foreign := w.publish(t, "ws-b", "lk_1", sharelog.LinkOpened, 0)
	w.publish(t, "ws-a", "lk_1", sharelog.LinkOpened, 0) // what a resume after foreign would bring back
	unknown := "0193a1b2-c3d4-7e5f-8a9b-999999999999"
	type answer struct {
		status int
		other  []map[string]any
		events int
	}
	resume := func(id string) answer {
		c, resp, err := w.dial(t, "a", "last_event_id="+id, nil)
		if err != nil {
			t.Fatalf("resume after %s: %v", id, err)
		}
		r := &reader{c: c}
		go r.run()
		waitClients(t, w.hub, 1)
		other := r.waitOther(t, 1)
		live := w.publish(t, "ws-a", "lk_2", sharelog.LinkOpened, 0)
		ids := r.wait(t, 1)
		time.Sleep(50 * time.Millisecond) // anything more would arrive now
		ids, other, _ = r.got()
		if ids[len(ids)-1] != live {
			t.Errorf("resume after %s: the live event is not the last: %v", id, ids)
		}
		c.Close()
		waitClients(t, w.hub, 0)
		for _, m := range other { // the notice names the id asked for
			if msg, ok := m["message"].(string); ok {
				m["message"] = strings.ReplaceAll(msg, id, "<id>")
			}
		}
		return answer{resp.StatusCode, other, len(ids)}
	}
	a, b := resume(foreign), resume(unknown)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("another workspace's id answers\n%v\nan unknown id answers\n%v", a, b)
	}
	if len(a.other) != 1 || a.other[0]["type"] != "gap" || a.events != 1 {
		t.Fatalf("want one gap notice and only the live event, got %v", a)
	}
	if v := counter(t, w.reg, "sharelog_stream_resumes_total"); v != 2 {
		t.Fatalf("resumes %v, want 2 (both gaps)", v)
	}
}

// TestSlowClientIsDropped: a client that stops reading is dropped with a
// close reason and a metric once its queue is full; the others get every
// event and Publish never waits.
func TestSlowClientIsDropped(t *testing.T) {
	w := newStreamWorld(t, stream.Config{ClientQueue: 64})
	fast := w.mustDial(t, "a", "")
	slow, _, err := w.dial(t, "a", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitClients(t, w.hub, 2)
	const n = 6000 // ~12 MB: more than the sockets buffer
	start := time.Now()
	for i := range n {
		w.publish(t, "ws-a", "lk_1", sharelog.LinkDownloaded, 2000)
		if i%32 == 31 {
			// A stream the fast client keeps up with, however slow the
			// machine: never more than 32 events ahead of it.
			fast.wait(t, i+1)
		}
	}
	publishing := time.Since(start)
	fast.wait(t, n)
	if v := counter(t, w.reg, "sharelog_stream_clients_dropped_total"); v != 1 {
		t.Fatalf("dropped %v clients, want the slow one", v)
	}
	// Reading now, the slow client gets what was in flight, then the
	// close frame with the reason.
	var closeErr *websocket.CloseError
	got := 0
	for {
		slow.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, data, err := slow.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				closeErr = ce
			}
			break
		}
		got += strings.Count(string(data), `"action":`)
	}
	if closeErr == nil || closeErr.Code != websocket.ClosePolicyViolation || !strings.Contains(closeErr.Text, "too slow") || got >= n {
		t.Fatalf("slow client: close %v after %d events", closeErr, got)
	}
	t.Logf("published %d events in %s; the slow client got %d before its close", n, publishing, got)
}

func counter(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	return counterWith(t, reg, name, "", "")
}

// counterWith is the sum of the counters name whose label has value (any,
// when label is "").
func counterWith(t testing.TB, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				match = match || (lp.GetName() == label && lp.GetValue() == value)
			}
			if match {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// TestStalledClientIsDropped: a client that stops reading while events
// flow is dropped as slow within about 1.5 × write_timeout, whether it
// negotiated compression or not — compressed frames are small, and the
// socket buffers would hold minutes of them before a write blocks, so the
// queue alone would never notice — counted as "slow", logged once, and,
// reading again, it finds the close frame with the reason. Clients that
// keep reading are not dropped.
func TestStalledClientIsDropped(t *testing.T) {
	for _, compress := range []bool{true, false} {
		t.Run(map[bool]string{true: "compressed", false: "plain"}[compress], func(t *testing.T) {
			w := newStreamWorld(t, stream.Config{WriteTimeout: time.Second})
			var n atomic.Int64
			stalled, resp, err := w.dialWith(t, countingDialer(&n, compress), "a", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate"); got != compress {
				t.Fatalf("compression negotiated: %v, want %v", got, compress)
			}
			readers := []*reader{w.mustDial(t, "a", "")}
			c, _, err := w.dialWith(t, countingDialer(&n, true), "a", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			readers = append(readers, &reader{c: c})
			go readers[1].run()
			waitClients(t, w.hub, 3)
			// Events flow, a few hundred a second, until the stalled client
			// is dropped: far too few to fill a queue or a socket buffer.
			published := 0
			deadline := time.Now().Add(10 * time.Second)
			for w.hub.Clients() == 3 {
				if time.Now().After(deadline) {
					t.Fatalf("the stalled client was not dropped in 10s; %d events published", published)
				}
				w.publish(t, "ws-a", "lk_1", sharelog.LinkDownloaded, 500)
				published++
				time.Sleep(2 * time.Millisecond)
			}
			for _, r := range readers {
				r.wait(t, published)
			}
			if v := counterWith(t, w.reg, "sharelog_stream_clients_dropped_total", "reason", "slow"); v != 1 {
				t.Fatalf("dropped{reason=slow} = %v, want 1", v)
			}
			var closeErr *websocket.CloseError
			got := 0
			for {
				stalled.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, data, err := stalled.ReadMessage()
				if err != nil {
					if !errors.As(err, &closeErr) {
						t.Logf("stalled client: %v", err)
					}
					break
				}
				got += strings.Count(string(data), `"action":`)
			}
			if closeErr == nil || closeErr.Code != websocket.ClosePolicyViolation || !strings.Contains(closeErr.Text, "too slow") {
				t.Fatalf("stalled client: close %v after %d events", closeErr, got)
			}
			time.Sleep(50 * time.Millisecond) // a second log line would be written now
			if logs := w.logs.String(); strings.Count(logs, "live stream client dropped") != 1 || !strings.Contains(logs, "too slow") {
				t.Fatalf("want the drop logged once, got:\n%s", logs)
			}
			if v := counter(t, w.reg, "sharelog_stream_clients_dropped_total"); v != 1 {
				t.Fatalf("dropped %v clients in all, want 1", v)
			}
			t.Logf("dropped after %d events published; reading again, it got %d of them, then the close frame", published, got)
		})
	}
}

// TestUnresponsiveClientIsDropped: a client that reads nothing while no
// event flows answers no ping; it is closed after two ping intervals,
// counted as "unresponsive" and logged.
func TestUnresponsiveClientIsDropped(t *testing.T) {
	w := newStreamWorld(t, stream.Config{PingInterval: time.Second})
	if _, _, err := w.dial(t, "a", "", nil); err != nil {
		t.Fatal(err)
	}
	waitClients(t, w.hub, 1)
	waitClients(t, w.hub, 0) // within two ping intervals, 2s (waits 5s)
	if v := counterWith(t, w.reg, "sharelog_stream_clients_dropped_total", "reason", "unresponsive"); v != 1 {
		t.Fatalf("dropped{reason=unresponsive} = %v, want 1", v)
	}
	if logs := w.logs.String(); strings.Count(logs, "live stream client dropped") != 1 {
		t.Fatalf("want the drop logged once, got:\n%s", logs)
	}
}

// TestStreamMaxClients: over max_clients, 503 before the upgrade.
func TestStreamMaxClients(t *testing.T) {
	w := newStreamWorld(t, stream.Config{MaxClients: 2})
	w.mustDial(t, "a", "")
	w.mustDial(t, "b", "")
	waitClients(t, w.hub, 2)
	if _, resp, err := w.dial(t, "all", "", nil); err == nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third client: %v %v", err, resp)
	}
}
