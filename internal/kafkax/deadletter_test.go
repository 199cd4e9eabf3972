package kafkax

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestConsumerDeadLetter: messages dead-lettered through the Consumer are in
// the DLQ with their reasons, stage and source, and count as done: the
// commit passes them.
func TestConsumerDeadLetter(t *testing.T) {
	env := newConsumeEnv(t)
	topic, group := env.topic(t)
	dlq := env.conn.Config().Topics().DLQ
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := env.conn.EnsureTopics(ctx, dlq); err != nil {
		t.Fatal(err)
	}
	k := env.start(ctx, rightEngine, topic, group, 0)
	defer k.crash()
	got := take(t, k, scenarioMessages)
	end := map[int]int64{}
	var refused []kafka.Message
	for p, ms := range got {
		end[p] = ms[len(ms)-1].Offset + 1
		if len(refused) == 0 {
			// Two in the middle of a partition: nothing after them is
			// committable unless they count as done.
			refused = append(refused, ms[1], ms[2])
			k.Ack(ms[:1]...)
			k.Ack(ms[3:]...)
			continue
		}
		k.Ack(ms...)
	}
	if err := k.DeadLetter(ctx, "sink:test", refused, errors.New("first"), errors.New("second")); err != nil {
		t.Fatal(err)
	}
	if err := k.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := checkCommitted(env.committed(t, group, topic), end); err != nil {
		t.Fatal(err)
	}

	want := map[string]string{} // source offset -> reason
	for i, m := range refused {
		want[strconv.FormatInt(m.Offset, 10)] = []string{"first", "second"}[i]
	}
	// The DLQ has partitions of its own: read them all.
	seen := 0
	for p := range 3 {
		pr := env.conn.NewPartitionReader(dlq, p)
		for {
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			m, err := pr.ReadMessage(rctx)
			rcancel()
			if err != nil {
				break
			}
			h := map[string]string{}
			for _, x := range m.Headers {
				h[x.Key] = string(x.Value)
			}
			if h[HeaderStage] != "sink:test" || h[HeaderSourceTopic] != topic ||
				h[HeaderSourcePartition] != strconv.Itoa(refused[0].Partition) || want[h[HeaderSourceOffset]] != h[HeaderError] {
				t.Errorf("DLQ message %q with headers %v", m.Value, h)
			}
			seen++
		}
		pr.Close()
	}
	if seen != len(refused) {
		t.Fatalf("%d messages in the DLQ, want %d", seen, len(refused))
	}
}
