package enrich

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/kafkatest"
	"github.com/sharelog/sharelog/internal/kafkax"
)

// TestServiceStopsCleanly runs the workers against the embedded broker,
// stops them, and checks that no goroutine of theirs is left behind.
func TestServiceStopsCleanly(t *testing.T) {
	brokers := kafkatest.Brokers(t, 2)
	opts := goleak.IgnoreCurrent() // the embedded broker's own goroutines

	kc := kafkax.Config{TopicPrefix: kafkatest.Prefix(t), Partitions: 2}
	kc.SetDefaults()
	conn, err := kafkax.NewConn(kc, brokers)
	if err != nil {
		t.Fatal(err)
	}
	topics := kc.Topics()
	if err := conn.EnsureTopics(context.Background(), topics.Raw, topics.Enriched, topics.DLQ); err != nil {
		t.Fatal(err)
	}
	cfg := Config{}
	cfg.SetDefaults()
	svc, err := New(cfg, Deps{Conn: conn, Enrichers: []sharelog.Enricher{}, SessionSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- svc.Run(ctx) }()
	time.Sleep(500 * time.Millisecond) // let the workers join the group
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of cancel")
	}
	conn.Close()
	goleak.VerifyNone(t, opts)
}
