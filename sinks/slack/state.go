package slack

import (
	"container/list"
	"sync"
	"time"
)

// Bounds of the sink's memory.
const (
	// MaxTracked is how many route, rule and subject keys flood control
	// remembers; past it the least recently used is forgotten (its next
	// alert posts a new message).
	MaxTracked = 10_000
	// MaxDelivered is how many (alert id, route) pairs are remembered as
	// delivered, so that a batch retried after partial success does not
	// post an alert twice.
	MaxDelivered = 50_000
	// MinWindow is the shortest flood-control window: an alert of a rule
	// without a window (or a shorter one) still folds the repeats of a
	// minute into one message.
	MinWindow = time.Minute
)

// floodKey is what one message stands for: a route, a rule and a subject.
type floodKey struct {
	route   int
	rule    string
	subject string
}

// flood is the message of one key's current window. Its mutex is held for
// the whole of a delivery on the key (network round trip included), so that
// two concurrent alerts of a key never post two messages.
type flood struct {
	mu      sync.Mutex
	posted  bool      // a message of the window exists
	channel string    // bot mode: the channel id Slack answered
	ts      string    // bot mode: the message's timestamp (its id)
	first   time.Time // when it was posted
	until   time.Time // the end of its window
	alerts  int       // alerts it stands for
}

// open reports whether the window of the message is still open at now.
func (f *flood) open(now time.Time) bool { return f.posted && now.Before(f.until) }

// lru is a bounded map, the least recently used entry dropped first. It is
// safe for concurrent use.
type lru[K comparable, V any] struct {
	mu  sync.Mutex
	max int
	m   map[K]*list.Element
	l   *list.List // of *entry[K, V], most recent first
}

type entry[K comparable, V any] struct {
	key K
	val V
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	return &lru[K, V]{max: max, m: map[K]*list.Element{}, l: list.New()}
}

// getOrAdd returns the value of key, made by mk if missing, as the most
// recent.
func (c *lru[K, V]) getOrAdd(key K, mk func() V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		c.l.MoveToFront(el)
		return el.Value.(*entry[K, V]).val
	}
	c.evict()
	e := &entry[K, V]{key: key, val: mk()}
	c.m[key] = c.l.PushFront(e)
	return e.val
}

// add sets key as the most recent.
func (c *lru[K, V]) add(key K, val V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		el.Value.(*entry[K, V]).val = val
		c.l.MoveToFront(el)
		return
	}
	c.evict()
	c.m[key] = c.l.PushFront(&entry[K, V]{key: key, val: val})
}

// has reports whether key is there, without making it recent.
func (c *lru[K, V]) has(key K) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[key]
	return ok
}

func (c *lru[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.l.Len()
}

// evict drops the least recent entries until one more fits. c.mu is held.
func (c *lru[K, V]) evict() {
	for c.l.Len() >= c.max {
		old := c.l.Back()
		c.l.Remove(old)
		delete(c.m, old.Value.(*entry[K, V]).key)
	}
}

// sent is a delivered (alert id, route) pair.
type sent struct {
	id    string
	route int
}
