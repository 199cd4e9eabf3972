package stream

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sharelog/sharelog/internal/kafkatest"
	"github.com/sharelog/sharelog/internal/kafkax"
)

// TestTailerReadsPartitionsAddedLater: the tail reads the partitions there
// at start from From, and a partition added while it runs from its first
// message, so that no event of the topic is missed by the live stream.
func TestTailerReadsPartitionsAddedLater(t *testing.T) {
	cfg := kafkax.Config{TopicPrefix: kafkatest.Prefix(t), Partitions: 1}
	cfg.SetDefaults()
	conn, err := kafkax.NewConn(cfg, kafkatest.Brokers(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	ctx := context.Background()
	topic := cfg.Topics().Enriched
	if err := conn.EnsureTopics(ctx, topic); err != nil {
		t.Fatal(err)
	}
	produce := func(partition int, at time.Time, values ...string) {
		t.Helper()
		// A writer of its own: the connection's metadata cache would not
		// know the new partitions yet.
		w := &kafka.Writer{Addr: kafka.TCP(conn.Brokers()...), Topic: topic, RequiredAcks: kafka.RequireAll,
			Transport: &kafka.Transport{}, BatchTimeout: time.Millisecond,
			Balancer: kafka.BalancerFunc(func(kafka.Message, ...int) int { return partition })}
		defer w.Close()
		var msgs []kafka.Message
		for _, v := range values {
			msgs = append(msgs, kafka.Message{Value: []byte(v), Time: at})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatalf("produce to partition %d: %v", partition, err)
		}
	}
	from := time.Now()
	hourAgo := from.Add(-time.Hour)
	produce(0, hourAgo, "old") // before From: not read
	produce(0, from, "a1")

	var mu sync.Mutex
	var got []string
	tctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Tailer{Conn: conn, Topic: topic, From: from, Rescan: 200 * time.Millisecond,
			Publish: func(b []byte) { mu.Lock(); got = append(got, string(b)); mu.Unlock() }}.Run(tctx)
	}()
	waitFor := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second) // the client's metadata cache lives 10 s
		for {
			mu.Lock()
			g := slices.Clone(got)
			mu.Unlock()
			slices.Sort(g)
			if slices.Equal(g, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("published %q, want %q", g, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("a1")

	resp, err := conn.Client().CreatePartitions(ctx, &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: topic, Count: 3}}})
	if err == nil && len(resp.Errors) > 0 {
		err = resp.Errors[topic]
	}
	if err != nil {
		t.Fatalf("create partitions: %v", err)
	}
	// Older than From, and before the tail has seen partition 2: read all
	// the same, the partition is new.
	produce(2, hourAgo, "c1", "c2")
	waitFor("a1", "c1", "c2")
	produce(1, time.Now(), "b1")
	produce(0, time.Now(), "a2")
	waitFor("a1", "a2", "b1", "c1", "c2")

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
