package email

import (
	"hash/maphash"
	"strings"
	"sync"
)

// rememberSize bounds how many (recipient, event) deliveries the sink
// remembers: far more than the events of the batches being retried at once
// (the engine holds at most two batches per lane).
const rememberSize = 1 << 16

// accepted remembers, bounded and first in first out, the (recipient,
// event id) pairs the SMTP server accepted, so that a batch retried after a
// partial success does not mail anyone twice. Keys are 64-bit hashes.
type accepted struct {
	mu   sync.Mutex
	seed maphash.Seed
	set  map[uint64]struct{}
	ring []uint64
	next int
	full bool
}

func newAccepted(size int) *accepted {
	return &accepted{seed: maphash.MakeSeed(), set: make(map[uint64]struct{}, size), ring: make([]uint64, size)}
}

func (a *accepted) key(rcpt, eventID string) uint64 {
	var h maphash.Hash
	h.SetSeed(a.seed)
	h.WriteString(strings.ToLower(rcpt))
	h.WriteByte(0)
	h.WriteString(eventID)
	return h.Sum64()
}

// has reports whether rcpt was sent eventID already.
func (a *accepted) has(rcpt, eventID string) bool {
	k := a.key(rcpt, eventID)
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.set[k]
	return ok
}

// add remembers that rcpt was sent each of eventIDs.
func (a *accepted) add(rcpt string, eventIDs []string) {
	keys := make([]uint64, len(eventIDs))
	for i, id := range eventIDs {
		keys[i] = a.key(rcpt, id)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range keys {
		if _, ok := a.set[k]; ok {
			continue
		}
		if a.full {
			delete(a.set, a.ring[a.next])
		}
		a.ring[a.next] = k
		a.set[k] = struct{}{}
		a.next++
		if a.next == len(a.ring) {
			a.next, a.full = 0, true
		}
	}
}
