package slack

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/slack-go/slack"

	"github.com/sharelog/sharelog"
)

func hookSink(t *testing.T, srv *webhookServer, clk *clock) *Sink {
	t.Helper()
	cfg := Config{Routes: []Route{{Name: "secops", WebhookURL: envRef(t, "TEST_SLACK_WEBHOOK", srv.hookURL())}}}
	return newTestSink(t, cfg, Deps{Now: clk.now})
}

func bodyView(t *testing.T, m slack.WebhookMessage) view {
	t.Helper()
	if m.Blocks == nil {
		t.Fatal("a webhook body without blocks")
	}
	return viewOf(t, *m.Blocks)
}

func TestWebhookPostsTheAlert(t *testing.T) {
	srv := newWebhookServer(t)
	clk := newClock()
	s := hookSink(t, srv, clk)
	write(t, s, testAlert("a1", "link:lk_9", 12))
	bodies := srv.Bodies()
	if len(bodies) != 1 {
		t.Fatalf("%d bodies, want 1", len(bodies))
	}
	b := bodies[0]
	wantText := "[HIGH] brute-force: 12 wrong passwords on link lk_9 in 5 min — mallory@example.org from 81.2.69.160 (Zürich, Switzerland (CH))"
	if b.Text != wantText {
		t.Errorf("text %q, want %q", b.Text, wantText)
	}
	if b.UnfurlLinks == nil || *b.UnfurlLinks || b.UnfurlMedia == nil || *b.UnfurlMedia {
		t.Errorf("unfurl_links/unfurl_media not false")
	}
	v := bodyView(t, b)
	for title, want := range map[string]string{
		"Who":      "mallory@example.org (anonymous)",
		"File":     "Q4 &lt;board&gt; &amp; budget.pdf\n`f-7`",
		"Link":     "`lk_9`",
		"IP":       "81.2.69.160\nZürich, Switzerland (CH)",
		"Platform": "Windows 10 · Chrome 131 · desktop\nclient browser",
		"Result":   "denied: wrong_password",
		"How many": "12 times in 5 min",
		"Since":    "2026-11-22 09:00:00 UTC",
		"Time":     "2026-11-22 09:04:05 UTC",
	} {
		if v.Fields[title] != want {
			t.Errorf("%s = %q, want %q", title, v.Fields[title], want)
		}
	}
	if !strings.Contains(v.Header, "HIGH · brute-force") || alertID(*b.Blocks) != "a1" {
		t.Errorf("header %q, alert id %q", v.Header, alertID(*b.Blocks))
	}

	// Repeats within the window are dropped: a webhook cannot update.
	clk.advance(2 * time.Minute)
	write(t, s, testAlert("a2", "link:lk_9", 13), testAlert("a3", "link:lk_9", 14))
	if n := len(srv.Bodies()); n != 1 {
		t.Fatalf("%d bodies after two repeats, want still 1", n)
	}
	if n := testutil.ToFloat64(s.m.messages.WithLabelValues("secops", kindSuppressed)); n != 2 {
		t.Errorf("suppressed = %v, want 2", n)
	}
	// Another subject posts.
	write(t, s, testAlert("b1", "link:lk_10", 3))
	// The window ends 300 s after the first post.
	clk.advance(3 * time.Minute)
	write(t, s, testAlert("a4", "link:lk_9", 2))
	var ids []string
	for _, b := range srv.Bodies() {
		ids = append(ids, alertID(*b.Blocks))
	}
	if strings.Join(ids, " ") != "a1 b1 a4" {
		t.Errorf("posted %v, want a1 b1 a4", ids)
	}
	if n := testutil.ToFloat64(s.m.messages.WithLabelValues("secops", kindPosted)); n != 3 {
		t.Errorf("posted = %v, want 3", n)
	}
}

func TestWebhookRateLimited(t *testing.T) {
	httpDate := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	for _, c := range []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"seconds", "3", 3 * time.Second},         // slack-go: *slack.RateLimitedError
		{"none", "", 0},                           // slack-go: slack.StatusCodeError{429}
		{"http date", httpDate, 30 * time.Second}, // slack-go: a strconv error
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newWebhookServer(t)
			s := hookSink(t, srv, newClock())
			srv.fail(failure{status: http.StatusTooManyRequests, retryAfter: c.retryAfter, code: "rate_limited"})
			ev := testAlert("a1", "link:lk_9", 3)
			err := s.Write(context.Background(), []*sharelog.Event{ev})
			after, ok := sharelog.RetryAfter(err)
			if !ok || sharelog.IsPermanent(err) || after > c.want || after < c.want-2*time.Second {
				t.Fatalf("Write = %v (after %s); want retryable after %s", err, after, c.want)
			}
			write(t, s, ev)
			write(t, s, ev)
			if n := len(srv.Bodies()); n != 1 {
				t.Errorf("%d bodies after the retry, want exactly 1", n)
			}
			if n := testutil.ToFloat64(s.m.requests.WithLabelValues(methodWebhook, outcomeRateLimited)); n != 1 {
				t.Errorf("rate limited = %v, want 1", n)
			}
		})
	}
}

func TestWebhookErrors(t *testing.T) {
	for _, c := range []struct {
		f         failure
		kind      string
		mentioned string
	}{
		{failure{status: 404, code: "no_service"}, "disabled", "no_service: the incoming webhook is disabled or was removed"},
		{failure{status: 403, code: "invalid_token"}, "disabled", "invalid_token"},
		{failure{status: 410, code: "channel_is_archived"}, "permanent", "channel_is_archived: the channel is archived"},
		{failure{status: 404, code: "channel_not_found"}, "permanent", "channel_not_found"},
		{failure{status: 403, code: "action_prohibited"}, "permanent", "action_prohibited"},
		{failure{status: 400, code: "invalid_payload"}, "permanent", "HTTP 400: invalid_payload"},
		{failure{status: 500, code: "rollup_error"}, "retryable", "rollup_error"},
		{failure{status: 502, code: "<html>bad gateway</html>"}, "retryable", "HTTP 502: <html>bad gateway</html>"},
	} {
		t.Run(c.f.code, func(t *testing.T) {
			srv := newWebhookServer(t)
			s := hookSink(t, srv, newClock())
			srv.fail(c.f)
			err := s.Write(context.Background(), []*sharelog.Event{testAlert("a1", "link:lk_9", 3)})
			if err == nil || !strings.Contains(err.Error(), c.mentioned) || !strings.Contains(err.Error(), "routes[0] (secops): webhook") {
				t.Fatalf("Write = %v; want an error naming the route and %q", err, c.mentioned)
			}
			if strings.Contains(err.Error(), "XXXX") || strings.Contains(err.Error(), "services") {
				t.Errorf("the error shows the webhook URL: %v", err)
			}
			var de *sharelog.DisabledError
			switch c.kind {
			case "disabled":
				if !errors.As(err, &de) {
					t.Errorf("%T, want a DisabledError", err)
				}
			case "permanent":
				if !sharelog.IsPermanent(err) {
					t.Errorf("%T, want a PermanentError", err)
				}
			case "retryable":
				if _, ok := sharelog.RetryAfter(err); !ok {
					t.Errorf("%T, want a RetryableError", err)
				}
			}
		})
	}
}

func TestWebhookUnreachableIsRetryableAndHidesTheURL(t *testing.T) {
	srv := newWebhookServer(t)
	s := hookSink(t, srv, newClock())
	srv.Close()
	err := s.Write(context.Background(), []*sharelog.Event{testAlert("a1", "link:lk_9", 3)})
	if _, ok := sharelog.RetryAfter(err); !ok {
		t.Fatalf("Write = %v; want retryable", err)
	}
	if strings.Contains(err.Error(), "XXXX") {
		t.Errorf("the error shows the webhook URL: %v", err)
	}
}
