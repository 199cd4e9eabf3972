package slack

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sharelog/sharelog"
)

// botSink makes a sink posting with the bot token to srv, one route per
// channel, on the clock clk.
func botSink(t *testing.T, srv *slackServer, clk *clock, reg prometheus.Registerer, channels ...string) *Sink {
	t.Helper()
	cfg := Config{Token: envRef(t, "TEST_SLACK_BOT_TOKEN", testToken), APIURL: srv.GetAPIURL(), Timeout: 5 * time.Second}
	for _, ch := range channels {
		cfg.Routes = append(cfg.Routes, Route{Channel: ch})
	}
	return newTestSink(t, cfg, Deps{Now: clk.now, Registerer: reg})
}

func write(t *testing.T, s *Sink, evs ...*sharelog.Event) {
	t.Helper()
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func TestBotPostsTheAlert(t *testing.T) {
	srv := newSlackServer(t)
	reg := prometheus.NewPedanticRegistry()
	s := botSink(t, srv, newClock(), reg, "#security-alerts")
	ev := testAlert("0193a1b2-c3d4-7e5f-8a9b-000000000001", "link:lk_9", 12)
	write(t, s, ev)

	calls := srv.Calls()
	if len(calls) != 1 || calls[0].Method != "chat.postMessage" || calls[0].Channel != "#security-alerts" {
		t.Fatalf("calls = %+v; want one chat.postMessage to #security-alerts", calls)
	}
	c := calls[0]
	v := viewOf(t, c.Blocks)
	if !strings.Contains(v.Header, "HIGH") || !strings.Contains(v.Header, "brute-force") {
		t.Errorf("header %q: want the severity and the rule", v.Header)
	}
	if !strings.Contains(v.Summary, "Password brute force") || !strings.Contains(v.Summary, "12 wrong passwords on link lk_9 in 5 min") {
		t.Errorf("summary %q: want the type and the alert's summary", v.Summary)
	}
	want := map[string][]string{
		"What happened": {"Password brute force", "`password_brute_force`", "last event `0193a1b2-0000-7000-8000-000000000002`"},
		"Who":           {"mallory@example.org (anonymous)"},
		"File":          {"Q4 &lt;board&gt; &amp; budget.pdf", "`f-7`"},
		"Link":          {"`lk_9`"},
		"IP":            {"81.2.69.160", "Zürich, Switzerland (CH)"},
		"Platform":      {"Windows 10 · Chrome 131 · desktop", "client browser"},
		"Result":        {"denied: wrong_password"},
		"How many":      {"12 times in 5 min"},
		"Since":         {"2026-11-22 09:00:00 UTC"},
		"Time":          {"2026-11-22 09:04:05 UTC"},
	}
	for title, parts := range want {
		got, ok := v.Fields[title]
		if !ok {
			t.Errorf("no field %q; fields: %v", title, v.Fields)
			continue
		}
		for _, p := range parts {
			if !strings.Contains(got, p) {
				t.Errorf("field %q = %q; want it to hold %q", title, got, p)
			}
		}
	}
	if len(v.Fields) != len(want) {
		t.Errorf("fields %v; want exactly %d", v.Fields, len(want))
	}
	ctx := strings.Join(v.Context, " | ")
	for _, p := range []string{"Subject `link:lk_9`", "Workspace Acme `ws-acme`", "Alert `" + ev.ID + "`"} {
		if !strings.Contains(ctx, p) {
			t.Errorf("context %q: want %q", ctx, p)
		}
	}
	wantText := "[HIGH] brute-force: 12 wrong passwords on link lk_9 in 5 min — mallory@example.org from 81.2.69.160 (Zürich, Switzerland (CH))"
	if c.Text != wantText {
		t.Errorf("text\n%q\nwant\n%q", c.Text, wantText)
	}
	if c.Metadata.EventType != "sharelog_alert" || c.Metadata.EventPayload["alert_id"] != ev.ID || c.Metadata.EventPayload["subject"] != "link:lk_9" {
		t.Errorf("metadata = %+v", c.Metadata)
	}
	if n := testutil.ToFloat64(s.m.messages.WithLabelValues("#security-alerts", kindPosted)); n != 1 {
		t.Errorf("messages posted = %v, want 1", n)
	}
	if n, err := testutil.GatherAndCount(reg, "sharelog_slack_messages_total"); err != nil || n != 3 {
		t.Errorf("sharelog_slack_messages_total series = %d (%v), want 3 (posted, updated, suppressed)", n, err)
	}
}

func TestBotFloodControl(t *testing.T) {
	srv := newSlackServer(t)
	clk := newClock()
	s := botSink(t, srv, clk, nil, "#security-alerts")

	write(t, s, testAlert("a1", "link:lk_9", 3))
	clk.advance(time.Minute)
	write(t, s, testAlert("a2", "link:lk_9", 5)) // same rule and subject: update
	clk.advance(time.Minute)
	write(t, s, testAlert("a3", "link:lk_9", 8), testAlert("b1", "link:lk_10", 3)) // update; another subject: post
	calls := srv.Calls()
	if len(calls) != 4 {
		t.Fatalf("%d calls, want 4: %+v", len(calls), calls)
	}
	first := calls[0]
	if first.Method != "chat.postMessage" || alertID(first.Blocks) != "a1" {
		t.Fatalf("first call %s of %s, want chat.postMessage of a1", first.Method, alertID(first.Blocks))
	}
	for i, want := range []struct {
		id, count, alerts string
	}{{"a2", "5 times in 5 min", "*2 alerts*"}, {"a3", "8 times in 5 min", "*3 alerts*"}} {
		c := calls[1+i]
		if c.Method != "chat.update" || c.TS != first.TS || c.Channel != "CSECURITYALERTS" || alertID(c.Blocks) != want.id {
			t.Fatalf("call %d: %s %s ts %s of %s; want chat.update of message %s in CSECURITYALERTS for %s", 1+i, c.Method, c.Channel, c.TS, alertID(c.Blocks), first.TS, want.id)
		}
		v := viewOf(t, c.Blocks)
		if v.Fields["How many"] != want.count {
			t.Errorf("update %s: How many = %q, want %q", want.id, v.Fields["How many"], want.count)
		}
		if !strings.Contains(v.Summary, want.alerts+" for this rule and subject since 2026-11-22 10:00:00 UTC") {
			t.Errorf("update %s: summary %q does not give the running count %s", want.id, v.Summary, want.alerts)
		}
		if !strings.Contains(c.Text, want.alerts[1:len(want.alerts)-1]) {
			t.Errorf("update %s: text %q does not give the running count", want.id, c.Text)
		}
	}
	if c := calls[3]; c.Method != "chat.postMessage" || alertID(c.Blocks) != "b1" || c.TS == first.TS {
		t.Errorf("another subject: %s of %s ts %s, want a new chat.postMessage of b1", c.Method, alertID(c.Blocks), c.TS)
	}

	// The window (300 s from the first post) ends: a new message.
	clk.advance(3*time.Minute + time.Second)
	write(t, s, testAlert("a4", "link:lk_9", 2))
	calls = srv.Calls()
	if c := calls[len(calls)-1]; len(calls) != 5 || c.Method != "chat.postMessage" || alertID(c.Blocks) != "a4" {
		t.Fatalf("after the window: last call %s of %s (%d calls), want a new chat.postMessage of a4", c.Method, alertID(c.Blocks), len(calls))
	}
	if v := viewOf(t, calls[4].Blocks); strings.Contains(v.Summary, "alerts*") {
		t.Errorf("a new window's message says %q", v.Summary)
	}
	// And the next repeat updates the new message, not the old one.
	write(t, s, testAlert("a5", "link:lk_9", 3))
	calls = srv.Calls()
	if c := calls[len(calls)-1]; c.Method != "chat.update" || c.TS != calls[4].TS {
		t.Errorf("repeat in the new window: %s ts %s, want chat.update of %s", c.Method, c.TS, calls[4].TS)
	}
	posted := testutil.ToFloat64(s.m.messages.WithLabelValues("#security-alerts", kindPosted))
	updated := testutil.ToFloat64(s.m.messages.WithLabelValues("#security-alerts", kindUpdated))
	if posted != 3 || updated != 3 {
		t.Errorf("posted %v, updated %v; want 3 and 3", posted, updated)
	}
}

func TestBotFloodWindowIsAtLeastAMinute(t *testing.T) {
	srv := newSlackServer(t)
	clk := newClock()
	s := botSink(t, srv, clk, nil, "#security-alerts")
	mk := func(id string) *sharelog.Event {
		ev := testAlert(id, "ip:81.2.69.160", 1)
		ev.Alert.WindowSeconds = 0 // impossible travel has no window of its own
		return ev
	}
	write(t, s, mk("a1"))
	clk.advance(59 * time.Second)
	write(t, s, mk("a2"))
	clk.advance(2 * time.Second)
	write(t, s, mk("a3"))
	var methods []string
	for _, c := range srv.Calls() {
		methods = append(methods, c.Method)
	}
	if strings.Join(methods, " ") != "chat.postMessage chat.update chat.postMessage" {
		t.Errorf("calls %v; want post, update (within 60 s), post", methods)
	}
	if v := viewOf(t, srv.Calls()[0].Blocks); v.Fields["How many"] != "once" {
		t.Errorf("How many = %q for a count of 1 without a window", v.Fields["How many"])
	}
}

func TestBotPostsAnewWhenTheMessageIsGone(t *testing.T) {
	srv := newSlackServer(t)
	s := botSink(t, srv, newClock(), nil, "#security-alerts")
	write(t, s, testAlert("a1", "link:lk_9", 3))
	srv.deleteMessages()
	write(t, s, testAlert("a2", "link:lk_9", 4))
	calls := srv.Calls()
	if len(calls) != 2 || calls[1].Method != "chat.postMessage" || alertID(calls[1].Blocks) != "a2" {
		t.Fatalf("calls %+v; want a2 posted anew after message_not_found", calls)
	}
	write(t, s, testAlert("a3", "link:lk_9", 5))
	if c := srv.Calls()[2]; c.Method != "chat.update" || c.TS != calls[1].TS {
		t.Errorf("then %s ts %s; want chat.update of the new message %s", c.Method, c.TS, calls[1].TS)
	}
}

func TestBotRateLimited(t *testing.T) {
	srv := newSlackServer(t)
	reg := prometheus.NewPedanticRegistry()
	s := botSink(t, srv, newClock(), reg, "#security-alerts")
	srv.fail(failure{status: http.StatusTooManyRequests, retryAfter: "7"})
	ev := testAlert("a1", "link:lk_9", 3)
	err := s.Write(context.Background(), []*sharelog.Event{ev})
	after, retryable := sharelog.RetryAfter(err)
	if err == nil || !retryable || after != 7*time.Second || sharelog.IsPermanent(err) {
		t.Fatalf("Write = %v (retry after %s, retryable %v); want retryable after 7s", err, after, retryable)
	}
	if len(srv.Calls()) != 0 {
		t.Fatalf("the refused post was recorded")
	}
	write(t, s, ev) // the engine's retry
	write(t, s, ev) // and a repeat of it, after a restart of the batch
	calls := srv.Calls()
	if len(calls) != 1 || calls[0].Method != "chat.postMessage" || alertID(calls[0].Blocks) != "a1" {
		t.Fatalf("calls %+v; want exactly one post of a1", calls)
	}
	if n := testutil.ToFloat64(s.m.requests.WithLabelValues(methodPost, outcomeRateLimited)); n != 1 {
		t.Errorf("rate-limited requests = %v, want 1", n)
	}
	if n := testutil.ToFloat64(s.m.repeats); n != 1 {
		t.Errorf("repeats skipped = %v, want 1", n)
	}
}

func TestBotRetryAfterPartialSuccessPostsNoDuplicate(t *testing.T) {
	srv := newSlackServer(t)
	s := botSink(t, srv, newClock(), nil, "#security-alerts")
	batch := []*sharelog.Event{
		testAlert("a1", "link:lk_1", 3),
		{ID: "e-other", Action: sharelog.LinkOpened, Result: sharelog.Success}, // ignored
		testAlert("a2", "link:lk_2", 3),
		testAlert("a3", "link:lk_3", 3),
	}
	// a1 is accepted, a2 rate limited.
	srv.fail(failure{}, failure{status: http.StatusTooManyRequests, retryAfter: "2"})
	err := s.Write(context.Background(), batch)
	var be *sharelog.BatchError
	if !errors.As(err, &be) || be.Errs[0] != nil || be.Errs[1] != nil {
		t.Fatalf("Write = %v; want a BatchError accepting a1 and the other event", err)
	}
	for _, i := range []int{2, 3} {
		if after, ok := sharelog.RetryAfter(be.Errs[i]); !ok || after != 2*time.Second {
			t.Errorf("event %d: %v; want retryable after 2s", i, be.Errs[i])
		}
	}
	// The engine retries; here the whole batch, the worst case.
	write(t, s, batch...)
	var ids []string
	for _, c := range srv.Calls() {
		if c.Method != "chat.postMessage" {
			t.Errorf("unexpected %s", c.Method)
		}
		ids = append(ids, alertID(c.Blocks))
	}
	if strings.Join(ids, " ") != "a1 a2 a3" {
		t.Errorf("posted %v; want a1 a2 a3, each once", ids)
	}
}

func TestRetrySkipsTheRoutesDone(t *testing.T) {
	srv := newSlackServer(t)
	s := botSink(t, srv, newClock(), nil, "#first", "#second")
	srv.fail(failure{}, failure{status: http.StatusServiceUnavailable})
	ev := testAlert("a1", "link:lk_1", 3)
	err := s.Write(context.Background(), []*sharelog.Event{ev})
	if _, ok := sharelog.RetryAfter(err); !ok {
		t.Fatalf("Write = %v; want retryable (503)", err)
	}
	write(t, s, ev)
	var got []string
	for _, c := range srv.Calls() {
		got = append(got, c.Channel)
	}
	if strings.Join(got, " ") != "#first #second" {
		t.Errorf("posted to %v; want #first once, then #second", got)
	}
}

func TestBotErrors(t *testing.T) {
	httpDate := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	for _, c := range []struct {
		name      string
		f         failure
		kind      string // disabled, permanent, retryable
		after     time.Duration
		mentioned string
	}{
		{"invalid_auth", failure{code: "invalid_auth"}, "disabled", 0, "invalid_auth: the bot token is not valid"},
		{"account_inactive", failure{code: "account_inactive"}, "disabled", 0, "account_inactive"},
		{"token_revoked", failure{code: "token_revoked"}, "disabled", 0, "revoked"},
		{"missing_scope", failure{code: "missing_scope"}, "disabled", 0, "chat:write"},
		{"channel_not_found", failure{code: "channel_not_found"}, "permanent", 0, "routes[0] (#security-alerts): chat.postMessage: channel_not_found: the channel does not exist"},
		{"not_in_channel", failure{code: "not_in_channel"}, "permanent", 0, "/invite"},
		{"invalid_blocks", failure{code: "invalid_blocks"}, "permanent", 0, "invalid_blocks"},
		{"400", failure{status: 400}, "permanent", 0, "HTTP 400"},
		{"internal_error", failure{code: "internal_error"}, "retryable", 0, "internal_error"},
		{"500", failure{status: 500}, "retryable", 0, "HTTP 500"},
		{"503 retry-after", failure{status: 503, retryAfter: "4"}, "retryable", 4 * time.Second, "HTTP 503"},
		{"429 without Retry-After", failure{status: 429}, "retryable", 0, "rate limited"},
		{"429 with an HTTP date", failure{status: 429, retryAfter: httpDate}, "retryable", 90 * time.Second, "rate limited"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newSlackServer(t)
			s := botSink(t, srv, newClock(), nil, "#security-alerts")
			srv.fail(c.f)
			ev := testAlert("a1", "link:lk_9", 3)
			err := s.Write(context.Background(), []*sharelog.Event{ev})
			if err == nil || !strings.Contains(err.Error(), c.mentioned) {
				t.Fatalf("Write = %v; want an error mentioning %q", err, c.mentioned)
			}
			var de *sharelog.DisabledError
			after, retryable := sharelog.RetryAfter(err)
			switch c.kind {
			case "disabled":
				if !errors.As(err, &de) {
					t.Fatalf("Write = %T %v; want a DisabledError", err, err)
				}
				// No more requests: the same error at once.
				if err2 := s.Write(context.Background(), []*sharelog.Event{ev}); !errors.As(err2, &de) {
					t.Errorf("the next Write = %v; want the DisabledError again", err2)
				}
				if testutil.ToFloat64(s.m.disabled) != 1 {
					t.Errorf("sharelog_slack_disabled is not 1")
				}
			case "permanent":
				if !sharelog.IsPermanent(err) || errors.As(err, &de) {
					t.Fatalf("Write = %T %v; want a PermanentError", err, err)
				}
				write(t, s, testAlert("a2", "link:lk_9", 4)) // the next alert goes on
			case "retryable":
				if !retryable || sharelog.IsPermanent(err) || errors.As(err, &de) {
					t.Fatalf("Write = %T %v; want a RetryableError", err, err)
				}
				if after < c.after-2*time.Second || after > c.after {
					t.Errorf("retry after %s, want %s", after, c.after)
				}
				write(t, s, ev)
				if n := len(srv.Calls()); n != 1 {
					t.Errorf("%d messages after the retry, want 1", n)
				}
			}
		})
	}
}

func TestBotIgnoresOtherEvents(t *testing.T) {
	srv := newSlackServer(t)
	s := botSink(t, srv, newClock(), nil, "#security-alerts")
	ev := testAlert("e1", "link:lk_9", 3)
	ev.Action = sharelog.LinkOpened
	noAlert := testAlert("e2", "link:lk_9", 3)
	noAlert.Alert = nil
	write(t, s, ev, noAlert)
	write(t, s)
	if n := len(srv.Calls()); n != 0 {
		t.Errorf("%d messages for events that are not alerts", n)
	}
}

func TestBotWrongTokenDisables(t *testing.T) {
	srv := newSlackServer(t)
	cfg := Config{Token: envRef(t, "TEST_SLACK_BOT_TOKEN", "xoxb-revoked"), APIURL: srv.GetAPIURL(), Routes: []Route{{Channel: "C0123456789"}}}
	s := newTestSink(t, cfg, Deps{})
	err := s.Write(context.Background(), []*sharelog.Event{testAlert("a1", "link:lk_9", 3)})
	var de *sharelog.DisabledError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "routes[0] (C0123456789): chat.postMessage: invalid_auth") {
		t.Fatalf("Write = %v; want a DisabledError naming the route and invalid_auth", err)
	}
	if strings.Contains(err.Error(), "xoxb-") {
		t.Errorf("the error shows the token: %v", err)
	}
}

func TestConcurrentWritesPostOneMessagePerKey(t *testing.T) {
	srv := newSlackServer(t)
	s := botSink(t, srv, newClock(), nil, "#security-alerts")
	const writers, each = 8, 10
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			var batch []*sharelog.Event
			for i := range each {
				batch = append(batch, testAlert(strings.Repeat("x", w+1)+string(rune('a'+i)), "ip:81.2.69.160", i+1))
			}
			errs <- s.Write(context.Background(), batch)
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	posts, updates := 0, 0
	for _, c := range srv.Calls() {
		switch c.Method {
		case "chat.postMessage":
			posts++
		case "chat.update":
			updates++
		}
	}
	if posts != 1 || updates != writers*each-1 {
		t.Errorf("%d posts, %d updates; want 1 and %d", posts, updates, writers*each-1)
	}
}
