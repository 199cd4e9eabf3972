package slack

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/secret"
	"github.com/sharelog/sharelog/sinks/sinktest"
)

const testToken = "xoxb-test-0000-token"

// clock is an injected clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testAlert is an alert.raised event with every group set.
func testAlert(id, subject string, count int) *sharelog.Event {
	lat, lon := 47.3769, 8.5417
	return &sharelog.Event{
		ID:        id,
		Time:      time.Date(2026, 11, 22, 9, 4, 5, 0, time.UTC),
		Workspace: sharelog.Workspace{ID: "ws-acme", Name: "Acme"},
		Actor:     sharelog.Actor{Type: sharelog.ActorAnonymous, VisitorEmail: "mallory@example.org"},
		Action:    sharelog.AlertRaised,
		Result:    sharelog.Denied,
		Reason:    "wrong_password",
		File:      &sharelog.File{ID: "f-7", Name: "Q4 <board> & budget.pdf", Size: 1 << 20, Path: "/finance/Q4.pdf"},
		Link:      &sharelog.Link{ID: strings.TrimPrefix(subject, "link:")},
		Client:    sharelog.Client{IP: "81.2.69.160", UserAgent: "Mozilla/5.0", Kind: sharelog.ClientBrowser},
		Geo:       &sharelog.Geo{CountryCode: "CH", CountryName: "Switzerland", City: "Zürich", Latitude: &lat, Longitude: &lon},
		Platform:  &sharelog.Platform{OSName: "Windows", OSVersion: "10", ClientName: "Chrome", ClientVersion: "131", DeviceType: sharelog.DeviceDesktop},
		Alert: &sharelog.Alert{
			Rule: "brute-force", Type: "password_brute_force", Severity: sharelog.SeverityHigh, Action: sharelog.LinkPasswordFailed,
			Subject: subject, Count: count, WindowSeconds: 300,
			Since:    time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC),
			Evidence: []string{"0193a1b2-0000-7000-8000-000000000001", "0193a1b2-0000-7000-8000-000000000002"},
			Summary:  fmt.Sprintf("%d wrong passwords on link %s in 5 min", count, strings.TrimPrefix(subject, "link:")),
		},
	}
}

// envRef puts value in a new environment variable of the test and returns
// a secret.Ref naming it.
func envRef(t testing.TB, name, value string) secret.Ref {
	t.Helper()
	t.Setenv(name, value)
	return secret.Ref{Env: name}
}

// call is one chat.postMessage or chat.update the Slack server received.
type call struct {
	Method   string // chat.postMessage or chat.update
	Channel  string // as sent
	TS       string // the message's ts (answered, or the one updated)
	Text     string
	Blocks   slack.Blocks
	Metadata slack.SlackMetadata
}

// failure is an answer the Slack server gives instead of accepting.
type failure struct {
	status     int
	retryAfter string
	code       string // an error code answered {"ok":false,"error":code}
}

// slackServer is slack-go's slacktest server with chat.postMessage and
// chat.update handlers of the tests: they check the token, record what
// they receive (and the alert ids, for the shared suite), answer distinct
// message timestamps, resolve channel names to ids, and give the failures
// queued (429 with Retry-After, error codes, 5xx).
type slackServer struct {
	*slacktest.Server
	sinktest.Recorder
	mu       sync.Mutex
	calls    []call
	messages map[string]bool // channel id + ts of the messages posted
	seq      int
	failures []failure
	problems []string
}

func newSlackServer(t testing.TB) *slackServer {
	s := &slackServer{messages: map[string]bool{}}
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", s.handle)
		c.Handle("/chat.update", s.handle)
	})
	s.Start()
	t.Cleanup(func() {
		s.Stop()
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.problems) > 0 {
			t.Errorf("the Slack server found %d bad requests, the first: %s", len(s.problems), s.problems[0])
		}
	})
	return s
}

// channelID is the id the server gives a channel name.
func channelID(ch string) string {
	if !strings.HasPrefix(ch, "#") {
		return ch
	}
	return "C" + strings.ToUpper(strings.NewReplacer("-", "", "_", "", ".", "").Replace(ch[1:]))
}

func (s *slackServer) fail(f ...failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, f...)
}

func (s *slackServer) Calls() []call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]call(nil), s.calls...)
}

func (s *slackServer) bad(w http.ResponseWriter, why string) {
	s.mu.Lock()
	s.problems = append(s.problems, why)
	s.mu.Unlock()
	reply(w, map[string]any{"ok": false, "error": "invalid_arguments"})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *slackServer) handle(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		s.bad(w, "body is not a form: "+err.Error())
		return
	}
	if v.Get("token") != testToken {
		reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	c := call{Method: method, Channel: v.Get("channel"), Text: v.Get("text")}
	if err := json.Unmarshal([]byte(v.Get("blocks")), &c.Blocks); err != nil {
		s.bad(w, method+": blocks: "+err.Error())
		return
	}
	if m := v.Get("metadata"); m != "" {
		if err := json.Unmarshal([]byte(m), &c.Metadata); err != nil {
			s.bad(w, method+": metadata: "+err.Error())
			return
		}
	}
	id := alertID(c.Blocks)
	if id == "" || c.Text == "" || c.Channel == "" {
		s.bad(w, method+": no alert block id, text or channel")
		return
	}
	fail, err := s.Begin(r.Context())
	if err != nil {
		return // the sink gave up
	}
	if fail { // the shared suite's transient failure
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) > 0 && s.failures[0] == (failure{}) {
		s.failures = s.failures[1:] // accepted
	} else if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		if f.code != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(max(f.status, 200))
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": f.code})
			return
		}
		w.WriteHeader(f.status)
		return
	}
	if s.Rejected(id) {
		reply(w, map[string]any{"ok": false, "error": "invalid_blocks"})
		return
	}
	switch method {
	case "chat.postMessage":
		s.seq++
		c.TS = fmt.Sprintf("1795341600.%06d", s.seq)
		s.messages[channelID(c.Channel)+"/"+c.TS] = true
	case "chat.update":
		c.TS = v.Get("ts")
		if strings.HasPrefix(c.Channel, "#") {
			s.problems = append(s.problems, "chat.update with a channel name: it takes the channel id")
		}
		if !s.messages[c.Channel+"/"+c.TS] {
			reply(w, map[string]any{"ok": false, "error": "message_not_found"})
			return
		}
	}
	s.calls = append(s.calls, c)
	s.Accept(id)
	reply(w, map[string]any{"ok": true, "channel": channelID(c.Channel), "ts": c.TS, "text": c.Text})
}

// deleteMessages forgets every message, as if someone deleted them.
func (s *slackServer) deleteMessages() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = map[string]bool{}
}

// alertID is the alert id of a message: its block id with BlockIDPrefix.
func alertID(b slack.Blocks) string {
	for _, bl := range b.BlockSet {
		if id, ok := strings.CutPrefix(bl.ID(), BlockIDPrefix); ok {
			return id
		}
	}
	return ""
}

// view is a message's blocks as text: header, summary, fields by title,
// context.
type view struct {
	Header  string
	Summary string
	Fields  map[string]string
	Context []string
}

func viewOf(t testing.TB, b slack.Blocks) view {
	t.Helper()
	v := view{Fields: map[string]string{}}
	for _, bl := range b.BlockSet {
		switch x := bl.(type) {
		case *slack.HeaderBlock:
			v.Header = x.Text.Text
		case *slack.SectionBlock:
			if x.Text != nil {
				v.Summary = x.Text.Text
			}
			for _, f := range x.Fields {
				title, value, ok := strings.Cut(f.Text, "\n")
				if !ok || f.Type != slack.MarkdownType {
					t.Fatalf("field %q is not \"*title*\\nvalue\" mrkdwn", f.Text)
				}
				v.Fields[strings.Trim(title, "*")] = value
			}
		case *slack.ContextBlock:
			for _, e := range x.ContextElements.Elements {
				if tb, ok := e.(*slack.TextBlockObject); ok {
					v.Context = append(v.Context, tb.Text)
				}
			}
		default:
			t.Fatalf("unexpected block %T", bl)
		}
	}
	return v
}

// webhookServer is an incoming webhook: it decodes the JSON body, records
// it, and gives the failures queued.
type webhookServer struct {
	*httptest.Server
	sinktest.Recorder
	mu       sync.Mutex
	bodies   []slack.WebhookMessage
	failures []failure
	problems []string
}

func newWebhookServer(t testing.TB) *webhookServer {
	s := &webhookServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(func() {
		s.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.problems) > 0 {
			t.Errorf("the webhook server found %d bad requests, the first: %s", len(s.problems), s.problems[0])
		}
	})
	return s
}

func (s *webhookServer) fail(f ...failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, f...)
}

func (s *webhookServer) Bodies() []slack.WebhookMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]slack.WebhookMessage(nil), s.bodies...)
}

func (s *webhookServer) handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var m slack.WebhookMessage
	if err := json.Unmarshal(body, &m); err != nil || r.Header.Get("Content-Type") != "application/json" || r.Method != http.MethodPost || r.URL.Path != "/services/T000/B000/XXXX" {
		s.mu.Lock()
		s.problems = append(s.problems, fmt.Sprintf("%s %s %s: %v", r.Method, r.URL.Path, r.Header.Get("Content-Type"), err))
		s.mu.Unlock()
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	var id string
	if m.Blocks != nil {
		id = alertID(*m.Blocks)
	}
	fail, err := s.Begin(r.Context())
	if err != nil {
		return
	}
	if fail {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) > 0 && s.failures[0] == (failure{}) {
		s.failures = s.failures[1:] // accepted
	} else if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.code)
		return
	}
	if s.Rejected(id) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "invalid_blocks")
		return
	}
	s.bodies = append(s.bodies, m)
	s.Accept(id)
	_, _ = io.WriteString(w, "ok")
}

// hookURL is the webhook URL of the server.
func (s *webhookServer) hookURL() string { return s.URL + "/services/T000/B000/XXXX" }

// newTestSink makes a sink, failing the test on error.
func newTestSink(t testing.TB, cfg Config, deps Deps) *Sink {
	t.Helper()
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
