package kafkax

import (
	"slices"
	"sync"
)

// Offsets is the at-least-once commit rule, in one place: a Kafka offset is
// committed only once every message before it on its partition is done
// (durable downstream: produced with acks=all, in a fsynced file, accepted
// by the destination, or dead-lettered), whatever order the messages are
// done in. kafka-go keeps the highest offset committed, so committing past
// an unfinished message would lose it in a crash; Offsets never says to.
//
// The stage, or the Consumer on its behalf, calls Take for each message in
// the order Kafka gives it (increasing offsets per partition), Done once the
// message is durable (in any order, from any goroutine), and commits what
// Committable returns, reporting it with Committed. It is safe for
// concurrent use.
type Offsets struct {
	mu    sync.Mutex
	parts map[int]*partOffsets
	rule  commitRule // only tests set another
}

// commitRule selects the rule Offsets applies. Only ruleInOrder is right;
// the others are the mistakes the tests must catch (consume_test.go).
type commitRule int

const (
	ruleInOrder      commitRule = iota // the watermark below which all is done
	ruleOnReceipt                      // broken: a message counts as done when taken
	ruleHighestAcked                   // broken: the highest offset done, holes or not
)

// partOffsets is one partition's messages in flight, in offset order.
type partOffsets struct {
	offs []int64 // taken, offs[head:] not yet below the watermark
	done []bool  // done[i]: offs[i] is done
	head int
	// safe: every offset below is done (-1: nothing yet); synced: safe
	// as last committed.
	safe, synced int64
}

// NewOffsets returns an empty Offsets.
func NewOffsets() *Offsets { return &Offsets{parts: map[int]*partOffsets{}} }

func (o *Offsets) part(partition int) *partOffsets {
	p := o.parts[partition]
	if p == nil {
		p = &partOffsets{safe: -1, synced: -1}
		o.parts[partition] = p
	}
	return p
}

// Take records that the message at offset of partition is in flight.
// Offsets of a partition are taken in increasing order; one not above the
// last taken means consumption restarted from an earlier offset (the
// partition was reassigned): what was in flight is forgotten, as it will
// be taken again.
func (o *Offsets) Take(partition int, offset int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.part(partition)
	if n := len(p.offs); n > p.head && offset <= p.offs[n-1] {
		p.offs, p.done, p.head = p.offs[:0], p.done[:0], 0
	}
	if o.rule == ruleOnReceipt {
		p.safe = offset + 1
		return
	}
	p.offs = append(p.offs, offset)
	p.done = append(p.done, false)
}

// Done records that the message at offset of partition is durable
// downstream. An offset not in flight (already below the watermark, or
// taken before a restart of the partition) is ignored.
func (o *Offsets) Done(partition int, offset int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done(partition, offset)
}

// DoneAll is Done for a batch, under one lock.
func (o *Offsets) DoneAll(partitions []int, offsets []int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range partitions {
		o.done(partitions[i], offsets[i])
	}
}

func (o *Offsets) done(partition int, offset int64) {
	p := o.parts[partition]
	if p == nil {
		return
	}
	if o.rule == ruleHighestAcked {
		p.safe = max(p.safe, offset+1)
		return
	}
	live := p.offs[p.head:]
	i, found := slices.BinarySearch(live, offset)
	if !found {
		return
	}
	p.done[p.head+i] = true
	if i != 0 {
		return
	}
	for p.head < len(p.offs) && p.done[p.head] {
		p.safe = p.offs[p.head] + 1
		p.head++
	}
	switch {
	case p.head == len(p.offs):
		p.offs, p.done, p.head = p.offs[:0], p.done[:0], 0
	case p.head >= 1024 && 2*p.head >= len(p.offs):
		n := copy(p.offs, p.offs[p.head:])
		copy(p.done, p.done[p.head:])
		p.offs, p.done, p.head = p.offs[:n], p.done[:n], 0
	}
}

// Committable returns, per partition, the next offset to commit (the first
// not done) where it moved since the last Committed.
func (o *Offsets) Committable() map[int]int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out map[int]int64
	for part, p := range o.parts {
		if p.safe > p.synced {
			if out == nil {
				out = map[int]int64{}
			}
			out[part] = p.safe
		}
	}
	return out
}

// Committed records that next (as from Committable) was committed.
func (o *Offsets) Committed(next map[int]int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for part, off := range next {
		if p := o.parts[part]; p != nil && off > p.synced {
			p.synced = off
		}
	}
}

// InFlight is how many messages are taken and not yet below a watermark.
func (o *Offsets) InFlight() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, p := range o.parts {
		n += len(p.offs) - p.head
	}
	return n
}
