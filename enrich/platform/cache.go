package platform

import (
	"math/rand/v2"
	"sync"

	"github.com/sharelog/sharelog"
)

// cache is a bounded map from user agent to its parsed platform, safe for
// concurrent use. It is split into shards, each behind its own lock, and
// each shard evicts in two generations: new entries go into the current
// generation; when that is full it becomes the old one and the previous old
// one is dropped; a hit in the old generation moves the entry back into the
// current one. Entries used within the last generation therefore survive,
// and no shard ever holds more than two generations.
type cache struct {
	seed    uint64
	shards  []shard
	mask    uint64
	genSize int
}

type shard struct {
	mu       sync.RWMutex
	cur, old map[string]sharelog.Platform
	_        [64]byte // keep shards' locks off each other's cache lines
}

// newCache returns a cache holding at most size entries (at most 2 when
// size is 1), or nil when size is 0.
func newCache(size int) *cache {
	if size <= 0 {
		return nil
	}
	n := 16
	for n > 1 && size/(2*n) < 64 {
		n /= 2
	}
	c := &cache{
		seed:    rand.Uint64(),
		shards:  make([]shard, n),
		mask:    uint64(n - 1),
		genSize: max(1, size/(2*n)),
	}
	for i := range c.shards {
		c.shards[i].cur = make(map[string]sharelog.Platform)
	}
	return c
}

func (c *cache) shard(ua string) *shard {
	if c.mask == 0 || ua == "" {
		return &c.shards[0]
	}
	// Only spreads the load over the locks; the maps hash the whole key.
	h := uint64(len(ua))*0x9E3779B97F4A7C15 ^ uint64(ua[len(ua)/2])<<8 ^ uint64(ua[len(ua)-1]) ^ uint64(ua[len(ua)*3/4])<<16
	h ^= c.seed
	h *= 0xff51afd7ed558ccd
	return &c.shards[(h>>32)&c.mask]
}

func (c *cache) get(ua string) (sharelog.Platform, bool) {
	s := c.shard(ua)
	s.mu.RLock()
	p, ok := s.cur[ua]
	if ok {
		s.mu.RUnlock()
		return p, true
	}
	p, ok = s.old[ua]
	s.mu.RUnlock()
	if ok {
		s.mu.Lock()
		c.putLocked(s, ua, p)
		s.mu.Unlock()
	}
	return p, ok
}

// put stores p under ua; ua must not share memory with anything larger.
func (c *cache) put(ua string, p sharelog.Platform) {
	s := c.shard(ua)
	s.mu.Lock()
	c.putLocked(s, ua, p)
	s.mu.Unlock()
}

func (c *cache) putLocked(s *shard, ua string, p sharelog.Platform) {
	if _, ok := s.cur[ua]; ok {
		return
	}
	if len(s.cur) >= c.genSize {
		s.old, s.cur = s.cur, make(map[string]sharelog.Platform, c.genSize)
	}
	s.cur[ua] = p
}
