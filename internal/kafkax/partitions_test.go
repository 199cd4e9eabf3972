package kafkax

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// member is one member of a group run by ConsumePartitions in a test: what
// its handler is given, and its hooks' calls, in order.
type member struct {
	name   string
	got    chan delivery
	hooks  chan hook
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

type delivery struct {
	cl *Claim
	m  kafka.Message
}

// hook is a call of OnAssign (assign true) or OnRevoke.
type hook struct {
	assign bool
	parts  []int
}

func (h hook) String() string {
	if h.assign {
		return fmt.Sprintf("assign %v", h.parts)
	}
	return fmt.Sprintf("revoke %v", h.parts)
}

func startMember(t *testing.T, env *consumeEnv, name, topic, group string) *member {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	mb := &member{name: name, got: make(chan delivery, 1000), hooks: make(chan hook, 100), cancel: cancel, done: make(chan error, 1)}
	cfg := PartitionsConfig{
		ConsumeConfig: ConsumeConfig{Group: group, Topic: topic},
		OnAssign: func(_ context.Context, as []Assignment) error {
			var parts []int
			for _, a := range as {
				parts = append(parts, a.Partition)
			}
			mb.hooks <- hook{assign: true, parts: parts}
			return nil
		},
		OnRevoke: func(parts []int) { mb.hooks <- hook{parts: slices.Clone(parts)} },
	}
	go func() {
		mb.done <- env.conn.ConsumePartitions(ctx, cfg, func(ctx context.Context, cl *Claim, m kafka.Message) {
			select {
			case mb.got <- delivery{cl, m}:
			case <-ctx.Done():
			}
		})
	}()
	t.Cleanup(func() { mb.stop(t) })
	return mb
}

// stop makes the member leave the group and waits for it; later calls do
// nothing.
func (mb *member) stop(t *testing.T) {
	mb.once.Do(func() {
		mb.cancel()
		select {
		case err := <-mb.done:
			if err != nil {
				t.Errorf("%s: %v", mb.name, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop", mb.name)
		}
	})
}

// hook waits for the member's next hook call.
func (mb *member) hook(t *testing.T) hook {
	t.Helper()
	select {
	case h := <-mb.hooks:
		return h
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: no hook called within 60 s", mb.name)
		return hook{}
	}
}

// noHook checks that the member's hooks were not called since the last
// read.
func (mb *member) noHook(t *testing.T) {
	t.Helper()
	select {
	case h := <-mb.hooks:
		t.Fatalf("%s: unexpected %v", mb.name, h)
	default:
	}
}

// until reads what the members are given until each of parts had a message
// with value "marker" (from writeMarkers), acknowledging every message, and
// returns the offsets given before the markers per partition, and which
// member got each partition.
func until(t *testing.T, marker string, parts []int, members ...*member) (map[int][]int64, map[int]string) {
	t.Helper()
	out := map[int][]int64{}
	owner := map[int]string{}
	seen := map[int]bool{}
	timeout := time.After(60 * time.Second)
	for len(seen) < len(parts) {
		var d delivery
		var name string
		select {
		case d = <-members[0].got:
			name = members[0].name
		case d = <-last(members).got:
			name = last(members).name
		case <-timeout:
			t.Fatalf("timed out waiting for the markers %q (got %v)", marker, seen)
		}
		if o, ok := owner[d.m.Partition]; ok && o != name {
			t.Fatalf("partition %d given to %s and %s in one generation", d.m.Partition, o, name)
		}
		owner[d.m.Partition] = name
		d.cl.Ack(d.m)
		if string(d.m.Value) == marker {
			seen[d.m.Partition] = true
		} else if !seen[d.m.Partition] {
			out[d.m.Partition] = append(out[d.m.Partition], d.m.Offset)
		}
	}
	return out, owner
}

func last(ms []*member) *member { return ms[len(ms)-1] }

// writeMarkers appends a message of value marker to each partition.
func writeMarkers(t *testing.T, env *consumeEnv, topic, marker string, parts []int) {
	t.Helper()
	for _, p := range parts {
		c, err := kafka.DialLeader(context.Background(), "tcp", env.conn.Brokers()[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.WriteMessages(kafka.Message{Value: []byte(marker)})
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestConsumePartitionsRebalance: two members of one group. The hooks say
// which partitions each member owns when the second joins and when it
// leaves, and the commit rule holds across both rebalances: what was
// acknowledged before a revoke is committed then, nothing past an
// unacknowledged message is, and the next owners resume at the first
// unacknowledged message of each partition.
func TestConsumePartitionsRebalance(t *testing.T) {
	env := newConsumeEnv(t)
	topic, group := env.topic(t)
	all := []int{0, 1, 2}

	a := startMember(t, env, "a", topic, group)
	if h := a.hook(t); !h.assign || !slices.Equal(h.parts, all) {
		t.Fatalf("a alone: %v, want assign %v", h, all)
	}
	got := map[int][]kafka.Message{}
	claims := map[int]*Claim{}
	for range scenarioMessages {
		select {
		case d := <-a.got:
			got[d.m.Partition] = append(got[d.m.Partition], d.m)
			claims[d.m.Partition] = d.cl
		case <-time.After(60 * time.Second):
			t.Fatal("timed out reading the messages")
		}
	}
	for p, ms := range got {
		if !slices.IsSortedFunc(ms, func(x, y kafka.Message) int { return int(x.Offset - y.Offset) }) {
			t.Fatalf("partition %d out of order", p)
		}
	}
	if len(got) != 3 {
		t.Fatalf("messages on %d partitions, want 3", len(got))
	}
	acks, firstUnacked := plan(got, 3)
	for _, m := range acks {
		claims[m.Partition].Ack(m)
	}
	// Nothing is committed before the revoke: no commit interval.
	if c := env.committed(t, group, topic); len(c) != 0 {
		t.Fatalf("committed before any commit: %v", c)
	}

	// b joins: a's partitions are revoked (and committed), then shared.
	b := startMember(t, env, "b", topic, group)
	if h := a.hook(t); h.assign || !slices.Equal(h.parts, all) {
		t.Fatalf("a when b joins: %v, want revoke %v", h, all)
	}
	ha, hb := a.hook(t), b.hook(t)
	if !ha.assign || !hb.assign || len(ha.parts) == 0 || len(hb.parts) == 0 ||
		!slices.Equal(slices.Sorted(slices.Values(slices.Concat(ha.parts, hb.parts))), all) {
		t.Fatalf("after b joined: a %v, b %v; want both assigned, %v shared", ha, hb, all)
	}
	if err := checkCommitted(env.committed(t, group, topic), firstUnacked); err != nil {
		t.Fatalf("at the revoke: %v", err)
	}
	// Each partition's new owner resumes at its first unacknowledged
	// message: every message from there on comes again, nothing before.
	writeMarkers(t, env, topic, "m1", all)
	again, owner := until(t, "m1", all, a, b)
	for _, p := range all {
		var want []int64
		for _, m := range got[p] {
			if m.Offset >= firstUnacked[p] {
				want = append(want, m.Offset)
			}
		}
		if !slices.Equal(again[p], want) {
			t.Errorf("partition %d: given again %v, want %v", p, again[p], want)
		}
		wantOwner := "a"
		if slices.Contains(hb.parts, p) {
			wantOwner = "b"
		}
		if owner[p] != wantOwner {
			t.Errorf("partition %d read by %s, assigned to %s", p, owner[p], wantOwner)
		}
	}
	a.noHook(t)
	b.noHook(t)

	// b leaves: its partitions are revoked (what it acknowledged is
	// committed), a's too, and a gets them all.
	b.stop(t)
	if h := b.hook(t); h.assign || !slices.Equal(h.parts, hb.parts) {
		t.Fatalf("b leaving: %v, want revoke %v", h, hb.parts)
	}
	if h := a.hook(t); h.assign || !slices.Equal(h.parts, ha.parts) {
		t.Fatalf("a when b leaves: %v, want revoke %v", h, ha.parts)
	}
	if h := a.hook(t); !h.assign || !slices.Equal(h.parts, all) {
		t.Fatalf("a after b left: %v, want assign %v", h, all)
	}
	// Everything was acknowledged, the markers included: nothing comes
	// again.
	writeMarkers(t, env, topic, "m2", all)
	if again, _ := until(t, "m2", all, a); len(again) != 0 {
		t.Fatalf("given again after everything was acknowledged and committed: %v", again)
	}
}
