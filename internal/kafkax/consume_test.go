package kafkax

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// The commit rule is tested here once, against a real Kafka-protocol broker,
// for every stage that runs on the Consumer (enrich, the delivery engine,
// the archive sink). Each scenario returns what it found wrong instead of
// failing the test, so that the same scenarios also run against deliberately
// broken engines (brokenEngines), each of which must be caught: the
// scenarios can fail.

// engine is a variant of the Consumer under test.
type engine struct {
	name          string
	rule          commitRule
	noFinalCommit bool
}

var rightEngine = engine{name: "in order"}

// brokenEngines are the mistakes the scenarios must catch, each with the
// scenarios that catch it.
var brokenEngines = []struct {
	engine
	caughtBy []string
}{
	{engine{name: "commit on receipt", rule: ruleOnReceipt}, []string{"out of order acks", "crash"}},
	{engine{name: "commit highest acked", rule: ruleHighestAcked}, []string{"out of order acks", "crash"}},
	{engine{name: "no commit at shutdown", noFinalCommit: true}, []string{"shutdown"}},
}

// scenarios of the commit rule; each returns the violations it saw (nil:
// none) and fails t only when the test itself cannot run.
var scenarios = []struct {
	name string
	run  func(t *testing.T, env *consumeEnv, e engine) error
}{
	{"out of order acks", scenarioOutOfOrder},
	{"crash", scenarioCrash},
	{"shutdown", scenarioShutdown},
}

func TestConsumerCommitRule(t *testing.T) {
	env := newConsumeEnv(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			if err := sc.run(t, env, rightEngine); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestConsumerCommitRuleCatchesBrokenEngines is the mutation test: each
// broken engine must fail the scenarios named for it.
func TestConsumerCommitRuleCatchesBrokenEngines(t *testing.T) {
	if testing.Short() {
		t.Skip("mutation test: -short")
	}
	env := newConsumeEnv(t)
	for _, be := range brokenEngines {
		for _, sc := range scenarios {
			if !slices.Contains(be.caughtBy, sc.name) {
				continue
			}
			t.Run(be.name+"/"+sc.name, func(t *testing.T) {
				err := sc.run(t, env, be.engine)
				if err == nil {
					t.Fatalf("the broken engine %q passed scenario %q", be.name, sc.name)
				}
				t.Logf("caught: %v", err)
			})
		}
	}
}

// consumeEnv is a broker and a source of fresh topics.
type consumeEnv struct {
	conn *Conn
	seq  atomic.Int64
}

func newConsumeEnv(t *testing.T) *consumeEnv { return &consumeEnv{conn: testConn(t)} }

const scenarioMessages = 90

// topic creates a fresh topic of 3 partitions holding scenarioMessages
// messages, and returns it with a fresh group name.
func (env *consumeEnv) topic(t *testing.T) (topic, group string) {
	t.Helper()
	n := env.seq.Add(1)
	topic = fmt.Sprintf("%s.consume-%d", env.conn.Config().TopicPrefix, n)
	group = fmt.Sprintf("%s-consume-%d", env.conn.Config().TopicPrefix, n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := env.conn.EnsureTopics(ctx, topic); err != nil {
		t.Fatal(err)
	}
	msgs := make([]kafka.Message, scenarioMessages)
	for i := range msgs {
		msgs[i] = kafka.Message{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)}
	}
	w := env.conn.NewWriter()
	defer w.Close()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	return topic, group
}

// start runs the engine e on topic in group.
func (env *consumeEnv) start(ctx context.Context, e engine, topic, group string, interval time.Duration) *Consumer {
	k := env.conn.consume(ctx, ConsumeConfig{Group: group, Topic: topic, CommitInterval: interval}, e.rule)
	k.noFinalCommit = e.noFinalCommit
	return k
}

// take reads n messages, and returns them by partition in offset order.
func take(t *testing.T, k *Consumer, n int) map[int][]kafka.Message {
	t.Helper()
	got := map[int][]kafka.Message{}
	timeout := time.After(60 * time.Second)
	for range n {
		select {
		case m, ok := <-k.Messages():
			if !ok {
				t.Fatal("messages closed early")
			}
			got[m.Partition] = append(got[m.Partition], m)
		case <-timeout:
			t.Fatalf("timed out reading %d messages", n)
		}
	}
	if len(got) < 2 {
		t.Fatalf("the messages are on %d partition(s); the scenarios need several", len(got))
	}
	for p, ms := range got {
		if !slices.IsSortedFunc(ms, func(a, b kafka.Message) int { return int(a.Offset - b.Offset) }) {
			t.Fatalf("partition %d out of order", p)
		}
	}
	return got
}

// plan picks, per partition, the messages to acknowledge: on the partition
// with the fewest messages all of them; on the others a hole at the middle,
// with everything before it and every other message after it acknowledged.
// It returns them shuffled (so out of order within and across partitions)
// and, per partition, the first offset not acknowledged (the end when all
// are).
func plan(got map[int][]kafka.Message, seed uint64) (acks []kafka.Message, firstUnacked map[int]int64) {
	firstUnacked = map[int]int64{}
	full := -1
	for p, ms := range got {
		if full < 0 || len(ms) < len(got[full]) {
			full = p
		}
	}
	for p, ms := range got {
		if p == full {
			acks = append(acks, ms...)
			firstUnacked[p] = ms[len(ms)-1].Offset + 1
			continue
		}
		hole := len(ms) / 2
		firstUnacked[p] = ms[hole].Offset
		acks = append(acks, ms[:hole]...)
		for i := hole + 1; i < len(ms); i += 2 {
			acks = append(acks, ms[i])
		}
	}
	r := rand.New(rand.NewPCG(seed, 1))
	r.Shuffle(len(acks), func(i, j int) { acks[i], acks[j] = acks[j], acks[i] })
	return acks, firstUnacked
}

// ackConcurrently acknowledges acks from 4 goroutines, committing now and
// then meanwhile, as stages do when lanes or files finish.
func ackConcurrently(ctx context.Context, k *Consumer, acks []kafka.Message) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(acks); i += 4 {
				k.Ack(acks[i])
				if i%7 == 0 {
					k.Commit(ctx) //nolint:errcheck
				}
			}
		}()
	}
	wg.Wait()
}

// committed returns the group's committed offset per partition (absent:
// none).
func (env *consumeEnv) committed(t *testing.T, group, topic string) map[int]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := env.conn.Client().OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0, 1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error == nil && p.CommittedOffset >= 0 {
			out[p.Partition] = p.CommittedOffset
		}
	}
	return out
}

// checkCommitted compares the committed offsets with want.
func checkCommitted(got, want map[int]int64) error {
	var errs []error
	for p, w := range want {
		if g, ok := got[p]; !ok && w > 0 || ok && g != w {
			errs = append(errs, fmt.Errorf("partition %d: committed %d (absent: %v), want %d", p, g, !ok, w))
		}
	}
	return errors.Join(errs...)
}

// redelivered starts a right engine in group after a stop, appends a marker
// to every partition, and returns the offsets it was given before the
// markers, per partition.
func (env *consumeEnv) redelivered(t *testing.T, topic, group string, parts []int) map[int][]int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k := env.start(ctx, rightEngine, topic, group, 0)
	defer k.crash()
	// The markers go to each partition directly, past the balancer.
	for _, p := range parts {
		c, err := kafka.DialLeader(ctx, "tcp", env.conn.Brokers()[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.WriteMessages(kafka.Message{Value: []byte("marker")})
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	out := map[int][]int64{}
	seen := map[int]bool{}
	timeout := time.After(60 * time.Second)
	for len(seen) < len(parts) {
		select {
		case m := <-k.Messages():
			if string(m.Value) == "marker" {
				seen[m.Partition] = true
			} else {
				out[m.Partition] = append(out[m.Partition], m.Offset)
			}
		case <-timeout:
			t.Fatalf("timed out waiting for the markers (got %v)", seen)
		}
	}
	return out
}

// scenarioOutOfOrder: acknowledgements out of order within and across
// partitions, with commits in between, never commit past an unacknowledged
// message, and commit up to it.
func scenarioOutOfOrder(t *testing.T, env *consumeEnv, e engine) error {
	topic, group := env.topic(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k := env.start(ctx, e, topic, group, 0)
	defer k.crash()
	got := take(t, k, scenarioMessages)
	acks, firstUnacked := plan(got, 1)
	ackConcurrently(ctx, k, acks)
	if err := k.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return checkCommitted(env.committed(t, group, topic), firstUnacked)
}

// scenarioCrash: after a crash (no shutdown), a new member of the group is
// given again exactly the messages from the first unacknowledged one of each
// partition on, so every unacknowledged message, and nothing on a partition
// that was acknowledged whole.
func scenarioCrash(t *testing.T, env *consumeEnv, e engine) error {
	topic, group := env.topic(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k := env.start(ctx, e, topic, group, 20*time.Millisecond)
	got := take(t, k, scenarioMessages)
	acks, firstUnacked := plan(got, 2)
	ackConcurrently(ctx, k, acks)
	if err := k.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	k.crash()

	var parts []int
	want := map[int][]int64{}
	for p, ms := range got {
		parts = append(parts, p)
		for _, m := range ms {
			if m.Offset >= firstUnacked[p] {
				want[p] = append(want[p], m.Offset)
			}
		}
	}
	again := env.redelivered(t, topic, group, parts)
	var errs []error
	for _, p := range parts {
		if !slices.Equal(again[p], want[p]) {
			errs = append(errs, fmt.Errorf("partition %d: redelivered %v, want %v", p, again[p], want[p]))
		}
	}
	return errors.Join(errs...)
}

// scenarioShutdown: a clean shutdown commits what was acknowledged, also
// acknowledgements that arrive after ctx ended (the stage finishing its
// batch), and the next member is given nothing again.
func scenarioShutdown(t *testing.T, env *consumeEnv, e engine) error {
	topic, group := env.topic(t)
	ctx, cancel := context.WithCancel(context.Background())
	k := env.start(ctx, e, topic, group, time.Hour)
	got := take(t, k, scenarioMessages)
	var all []kafka.Message
	var parts []int
	end := map[int]int64{}
	for p, ms := range got {
		all = append(all, ms...)
		parts = append(parts, p)
		end[p] = ms[len(ms)-1].Offset + 1
	}
	half := len(all) / 2
	ackConcurrently(context.Background(), k, all[half:])
	cancel() // shutdown begins; the rest becomes durable meanwhile
	for range k.Messages() {
	}
	k.Ack(all[:half]...)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if err := checkCommitted(env.committed(t, group, topic), end); err != nil {
		return err
	}
	if again := env.redelivered(t, topic, group, parts); len(again) > 0 {
		return fmt.Errorf("redelivered after a clean shutdown: %v", again)
	}
	return nil
}

// TestOffsetsWatermark checks Offsets against a plain model over random
// orders of acknowledgement, a restart of a partition included.
func TestOffsetsWatermark(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 100 {
		o := NewOffsets()
		type msg struct {
			p   int
			off int64
		}
		var msgs []msg
		for p := range 3 {
			off := int64(r.IntN(50))
			for range r.IntN(3000) {
				off += 1 + int64(r.IntN(3)) // gaps, as compaction and transactions leave
				msgs = append(msgs, msg{p, off})
				o.Take(p, off)
			}
		}
		taken := map[int][]int64{} // in offset order
		for _, m := range msgs {
			taken[m.p] = append(taken[m.p], m.off)
		}
		r.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
		done := map[msg]bool{}
		synced := map[int]int64{}
		for i, m := range msgs {
			o.Done(m.p, m.off)
			done[m] = true
			if i%(len(msgs)/20+1) != 0 && i != len(msgs)-1 {
				continue
			}
			// The model: per partition, the first offset not done.
			want := map[int]int64{}
			inFlight := 0
			for p := range 3 {
				offs := taken[p]
				first := 0
				for first < len(offs) && done[msg{p, offs[first]}] {
					first++
				}
				inFlight += len(offs) - first
				if first > 0 && offs[first-1]+1 > synced[p] {
					want[p] = offs[first-1] + 1
				}
			}
			got := o.Committable()
			if len(got) != len(want) {
				t.Fatalf("round %d after %d acks: committable %v, want %v", round, i+1, got, want)
			}
			for p, w := range want {
				synced[p] = w
				if got[p] != w {
					t.Fatalf("round %d after %d acks: partition %d committable %d, want %d", round, i+1, p, got[p], w)
				}
			}
			if n := o.InFlight(); n != inFlight {
				t.Fatalf("round %d: in flight %d, want %d", round, n, inFlight)
			}
			o.Committed(got)
			if again := o.Committable(); len(again) != 0 {
				t.Fatalf("committable again after Committed: %v", again)
			}
		}
	}

	// A partition consumed again from an earlier offset (reassigned) forgets
	// what was in flight: the old acknowledgements do not move it.
	o := NewOffsets()
	for off := int64(10); off < 20; off++ {
		o.Take(0, off)
	}
	o.Done(0, 10)
	o.Take(0, 11) // restarted at the committed 11
	o.Done(0, 15) // a late acknowledgement of the first round
	if got := o.Committable()[0]; got != 11 {
		t.Fatalf("after a restart: committable %d, want 11", got)
	}
	o.Done(0, 11)
	if got := o.Committable()[0]; got != 12 {
		t.Fatalf("after a restart: committable %d, want 12", got)
	}
}

// BenchmarkOffsets is the commit bookkeeping per message: taken, then done
// in batches of 500 out of order across 4 partitions, as enrich acknowledges.
func BenchmarkOffsets(b *testing.B) {
	o := NewOffsets()
	parts, offs := make([]int, 500), make([]int64, 500)
	var next [4]int64
	b.ReportAllocs()
	for i := 0; i < b.N; i += 500 {
		for j := range 500 {
			p := j % 4
			o.Take(p, next[p])
			parts[499-j], offs[499-j] = p, next[p]
			next[p]++
		}
		o.DoneAll(parts, offs)
		o.Committed(o.Committable())
	}
}
