package pipeline

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// Run interrupts the HTTP server first and waits for its requests in
// flight before it cancels the other actors: a request that is being
// answered when the process is told to stop is answered, and the stages
// behind it still run meanwhile.
func TestRunStopsHTTPBeforeTheActors(t *testing.T) {
	cfg := testConfig(t)
	cfg.Kafka.Brokers = nil // the api role alone: no Kafka
	p, err := Start(context.Background(), cfg, API, Options{})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var answered atomic.Bool
	api := p.server.Handler
	p.server.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow" {
			api.ServeHTTP(w, r)
			return
		}
		close(entered)
		<-release
		answered.Store(true)
	})
	actorCtx := make(chan context.Context, 1)
	var cancelledAfterAnswer atomic.Bool
	p.add("recorder", runFunc(func(ctx context.Context) error {
		actorCtx <- ctx
		<-ctx.Done()
		cancelledAfterAnswer.Store(answered.Load())
		return nil
	}))

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- p.Run(ctx) }()
	addr := p.Addr()
	got := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
		got <- err
	}()
	<-entered
	rec := <-actorCtx
	stop()
	// The listener closes when the HTTP shutdown begins.
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the HTTP server still accepts connections after the stop")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rec.Err() != nil {
		t.Fatal("an actor was cancelled while a request was in flight")
	}
	close(release)
	if err := <-got; err != nil {
		t.Fatalf("the request in flight: %v", err)
	}
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !cancelledAfterAnswer.Load() {
		t.Error("the actor was cancelled before the request in flight was answered")
	}
}

// An actor that fails stops the process; the error names it.
func TestRunStopsWhenAnActorFails(t *testing.T) {
	cfg := testConfig(t)
	cfg.Kafka.Brokers = nil
	p, err := Start(context.Background(), cfg, API, Options{})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	p.add("breaker", runFunc(func(context.Context) error { return boom }))
	var stopped atomic.Bool
	p.add("bystander", runFunc(func(ctx context.Context) error { <-ctx.Done(); stopped.Store(true); return nil }))
	err = p.Run(context.Background())
	if !errors.Is(err, boom) || err.Error() != "breaker: boom" {
		t.Fatalf("Run: %v", err)
	}
	if !stopped.Load() {
		t.Error("the other actors were not stopped")
	}
}
