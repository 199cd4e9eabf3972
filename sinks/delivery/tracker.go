package delivery

import "sync"

// tracker finds, per partition, the offset below which every message is
// done (delivered, dead-lettered or filtered out), although lanes finish
// their messages out of offset order. Safe for concurrent use.
type tracker struct {
	mu    sync.Mutex
	parts map[int]*partTrack
}

// partTrack is one partition's messages in flight, in offset order.
type partTrack struct {
	offsets []int64 // taken, not yet below the watermark
	done    map[int64]bool
	safe    int64 // every offset below is done; -1: nothing yet
	synced  int64 // safe as last committed
}

func newTracker() *tracker { return &tracker{parts: map[int]*partTrack{}} }

// take records that a message is in flight; offsets of a partition must be
// taken in increasing order (as Kafka delivers them).
func (t *tracker) take(partition int, offset int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.parts[partition]
	if p == nil {
		p = &partTrack{done: map[int64]bool{}, safe: -1, synced: -1}
		t.parts[partition] = p
	}
	if len(p.offsets) > 0 && offset <= p.offsets[len(p.offsets)-1] {
		// The partition was reassigned and consumption restarted from
		// an earlier offset: forget what was in flight before.
		p.offsets, p.done = p.offsets[:0], map[int64]bool{}
	}
	p.offsets = append(p.offsets, offset)
}

// finish records that a message is done.
func (t *tracker) finish(partition int, offset int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.parts[partition]
	if p == nil {
		return
	}
	p.done[offset] = true
	n := 0
	for n < len(p.offsets) && p.done[p.offsets[n]] {
		delete(p.done, p.offsets[n])
		p.safe = p.offsets[n] + 1
		n++
	}
	if n > 0 {
		p.offsets = append(p.offsets[:0], p.offsets[n:]...)
	}
}

// committable returns, per partition, the next offset to commit when it moved
// since the last call to synced.
func (t *tracker) committable() map[int]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[int]int64{}
	for part, p := range t.parts {
		if p.safe > p.synced {
			out[part] = p.safe
		}
	}
	return out
}

// synced records a successful commit.
func (t *tracker) synced(commits map[int]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for part, off := range commits {
		if p := t.parts[part]; p != nil && off > p.synced {
			p.synced = off
		}
	}
}

// inFlight is how many messages are taken and not below a watermark.
func (t *tracker) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range t.parts {
		n += len(p.offsets)
	}
	return n
}
