package slack

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/sharelog/sharelog"
)

func TestLRUEvictsTheLeastRecent(t *testing.T) {
	c := newLRU[string, int](3)
	for i, k := range []string{"a", "b", "c"} {
		c.add(k, i)
	}
	if got := c.getOrAdd("a", func() int { return -1 }); got != 0 { // a is now the most recent
		t.Fatalf("a = %d", got)
	}
	c.add("d", 3) // evicts b, the least recent
	if c.has("b") || !c.has("a") || !c.has("c") || !c.has("d") || c.len() != 3 {
		t.Errorf("after adding d to a full cache: a %v b %v c %v d %v, len %d", c.has("a"), c.has("b"), c.has("c"), c.has("d"), c.len())
	}
	if got := c.getOrAdd("b", func() int { return 9 }); got != 9 || c.has("c") {
		t.Errorf("b made anew = %d; c (now the least recent) kept: %v", got, c.has("c"))
	}
}

type countingTransport struct {
	n    atomic.Int32
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func TestDepsHTTPClientLendsItsTransport(t *testing.T) {
	srv := newSlackServer(t)
	hook := newWebhookServer(t)
	tr := &countingTransport{next: http.DefaultTransport}
	cfg := Config{
		Token: envRef(t, "TEST_SLACK_BOT_TOKEN", testToken), APIURL: srv.GetAPIURL(),
		Routes: []Route{{Channel: "#sec"}, {WebhookURL: envRef(t, "TEST_SLACK_WEBHOOK", hook.hookURL())}},
	}
	s := newTestSink(t, cfg, Deps{HTTPClient: &http.Client{Transport: tr}})
	if err := s.Write(context.Background(), []*sharelog.Event{testAlert("a1", "link:lk_9", 3)}); err != nil {
		t.Fatal(err)
	}
	if n := tr.n.Load(); n != 2 || len(srv.Calls()) != 1 || len(hook.Bodies()) != 1 {
		t.Errorf("%d requests through the lent transport, %d posts, %d webhook bodies; want 2, 1, 1", n, len(srv.Calls()), len(hook.Bodies()))
	}
}
