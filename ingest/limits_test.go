package ingest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

const otherKey = "second-key-abcdefghijkl" // the second key of newHandler

// slowPost opens a connection to srv and sends the headers of a POST
// announcing contentLength bytes, and the first bytes of the body only.
func slowPost(t *testing.T, srv *httptest.Server, bearer string, contentLength int, first string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_, err = fmt.Fprintf(conn, "POST /v1/events HTTP/1.1\r\nHost: sharelog\r\nAuthorization: Bearer %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n%s", bearer, contentLength, first)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// readAnswer reads the answer on conn, waiting up to 10s for it.
func readAnswer(t *testing.T, conn net.Conn) (*http.Response, string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// post sends one valid event (of now) with bearer and returns the status.
func post(t *testing.T, srv *httptest.Server, bearer string) (int, string) {
	t.Helper()
	ev := validEvent(fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012x", time.Now().UnixNano()&0xffffffffffff))
	ev.Time = time.Now().UTC().Truncate(time.Millisecond)
	raw, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/v1/events", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}

// TestStalledBodiesOfOneKeyLeaveRoomForOthers: requests whose bodies
// never come hold at most max_in_flight_per_key slots; the next of that
// key is refused 429 naming the limit, and another key is served.
func TestStalledBodiesOfOneKeyLeaveRoomForOthers(t *testing.T) {
	h := newHandler(t, func(c *Config) {
		c.MaxInFlight, c.MaxInFlightPerKey = 4, 2
		c.BodyTimeout, c.BodyRateGrace = time.Minute, time.Minute // they hang for the whole test
	})
	srv := newServer(t, h)
	defer srv.Close()
	var stalled []net.Conn
	for range 2 {
		stalled = append(stalled, slowPost(t, srv, key, 100000, "{"))
	}
	waitFor(t, "the stalled requests to take their slots", func() bool { return len(h.slots) == 2 })

	resp, body := readAnswer(t, slowPost(t, srv, key, 100000, "{"))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || !strings.Contains(body, "ingest.max_in_flight_per_key") {
		t.Fatalf("third request of the stalled key: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if code, body := post(t, srv, otherKey); code != http.StatusAccepted {
		t.Fatalf("another key while the first stalls: %d %s", code, body)
	}
	for _, c := range stalled {
		c.Close()
	}
	waitFor(t, "the stalled requests to end", func() bool { return len(h.slots) == 0 })
	if code, body := post(t, srv, key); code != http.StatusAccepted {
		t.Fatalf("the first key once its requests ended: %d %s", code, body)
	}
}

// TestSlowBodiesAreCutOff: a body that stops coming falls behind
// min_body_rate; one that trickles in fast enough for the rate but never
// ends hits body_timeout. Both are answered 408 naming the limit, counted,
// and free their slots.
func TestSlowBodiesAreCutOff(t *testing.T) {
	h := newHandler(t, func(c *Config) {
		c.MaxInFlight, c.MaxInFlightPerKey = 2, 2
		c.BodyTimeout, c.BodyRateGrace, c.MinBodyRate = 500*time.Millisecond, 100*time.Millisecond, 100
	})
	srv := newServer(t, h)
	defer srv.Close()

	// 10 bytes, then nothing: due by 100ms + 10/100 s.
	stopped := slowPost(t, srv, key, 100000, strings.Repeat(" ", 10))
	// 50 bytes every 100ms (500 bytes/s): the rate is kept, the body never ends.
	trickling := slowPost(t, srv, key, 100000, strings.Repeat(" ", 50))
	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if _, err := trickling.Write([]byte(strings.Repeat(" ", 50))); err != nil {
					return
				}
			}
		}
	}()

	for _, tc := range []struct {
		conn  net.Conn
		limit string
	}{{stopped, "ingest.min_body_rate"}, {trickling, "ingest.body_timeout"}} {
		resp, body := readAnswer(t, tc.conn)
		if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(body, tc.limit) || !resp.Close {
			t.Errorf("%s: %d (close %v) %s", tc.limit, resp.StatusCode, resp.Close, body)
		}
	}
	if got := testutil.ToFloat64(h.metrics.requests.WithLabelValues("408")); got != 2 {
		t.Errorf("408 counted %v times, want 2", got)
	}
	waitFor(t, "the slots to be free", func() bool { return len(h.slots) == 0 })
	if code, body := post(t, srv, key); code != http.StatusAccepted {
		t.Fatalf("after the cut-off: %d %s", code, body)
	}
}

// TestWholeBodyInTimeIsServed: a body that arrives in pieces within the
// limits is read whole (the deadline moves with it and is lifted before
// Kafka is waited for).
func TestWholeBodyInTimeIsServed(t *testing.T) {
	h := newHandler(t, func(c *Config) {
		c.BodyTimeout, c.BodyRateGrace, c.MinBodyRate = 5*time.Second, 2*time.Second, 100
	})
	srv := newServer(t, h)
	defer srv.Close()
	ev := validEvent("0193a1b2-c3d4-7e5f-8a9b-0000000000c1")
	ev.Time = time.Now().UTC().Truncate(time.Millisecond)
	raw, _ := ev.Encode()
	conn := slowPost(t, srv, key, len(raw), string(raw[:10]))
	time.Sleep(50 * time.Millisecond) // a pause well within the grace
	if _, err := conn.Write(raw[10:]); err != nil {
		t.Fatal(err)
	}
	if resp, body := readAnswer(t, conn); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestConfigValidateLimits(t *testing.T) {
	c := Config{MaxInFlight: 8, MaxInFlightPerKey: 9, BodyTimeout: time.Second, BodyRateGrace: 2 * time.Second, MinBodyRate: -1}
	c.SetDefaults()
	err := c.Validate()
	for _, want := range []string{"max_in_flight_per_key: 9 is not between 1 and max_in_flight (8)", "body_rate_grace: 2s is not between 0 and body_timeout (1s)", "min_body_rate: -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	var d Config
	d.SetDefaults()
	if d.MaxInFlightPerKey != 16 || d.BodyTimeout != 30*time.Second || d.MinBodyRate != 1024 || d.BodyRateGrace != 5*time.Second {
		t.Errorf("defaults %+v", d)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	small := Config{MaxInFlight: 2}
	small.SetDefaults()
	if small.MaxInFlightPerKey != 1 {
		t.Errorf("max_in_flight_per_key of max_in_flight 2: %d", small.MaxInFlightPerKey)
	}
}
