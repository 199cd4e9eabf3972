// Package session groups one visitor's events on one link into sessions and
// gives each an opaque, keyed id (link_session_id).
//
// A visitor is the (link, IP, user agent) triple. A session lasts until the
// visitor has been inactive for the timeout (30 minutes by default), measured
// on the events' own times so that a replay gives the same sessions. The id is
// an HMAC-SHA256 under a secret key over the triple and the session's start,
// truncated to 128 bits: it reveals neither IP nor user agent, and without the
// key nobody can tell whether two ids belong to the same visitor.
package session

import (
	"container/list"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

// Config configures sessionisation.
type Config struct {
	// Secret is the HMAC key (at least 32 bytes). Every enrich worker of a
	// deployment needs the same one. Prefer SecretFile or the environment
	// (SHARELOG_ENRICH_SESSION_SECRET); empty: one is generated and kept in
	// the data directory.
	Secret string `yaml:"secret" secret:"true"`
	// SecretFile is a file holding the secret.
	SecretFile string `yaml:"secret_file"`
	// Timeout is the inactivity that ends a session; default 30m.
	Timeout time.Duration `yaml:"timeout"`
	// MaxVisitors bounds the visitors tracked per partition; the least
	// recently seen is forgotten first. Default 100000.
	MaxVisitors int `yaml:"max_visitors"`
}

// MinSecretLen is the shortest accepted secret, in bytes.
const MinSecretLen = 32

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Minute
	}
	if c.MaxVisitors == 0 {
		c.MaxVisitors = 100000
	}
}

// Validate reports every wrong field. The secret's value never appears in
// an error.
func (c Config) Validate() error {
	var errs []error
	if c.Secret != "" && len(c.Secret) < MinSecretLen {
		errs = append(errs, fmt.Errorf("secret: is %d bytes, shorter than %d", len(c.Secret), MinSecretLen))
	}
	if c.Secret != "" && c.SecretFile != "" {
		errs = append(errs, errors.New("secret_file: give either secret or secret_file, not both"))
	}
	if c.Timeout < time.Minute || c.Timeout > 24*time.Hour {
		errs = append(errs, fmt.Errorf("timeout: %s is not between 1m and 24h", c.Timeout))
	}
	if c.MaxVisitors < 1 {
		errs = append(errs, fmt.Errorf("max_visitors: %d must be at least 1", c.MaxVisitors))
	}
	return errors.Join(errs...)
}

// Tracker keeps the sessions of one partition. It is not safe for
// concurrent use: each partition's worker owns one. Its memory is bounded by
// MaxVisitors entries.
type Tracker struct {
	mac      hash.Hash
	seed     maphash.Seed
	timeout  time.Duration
	max      int
	visitors map[visitorKey]*list.Element
	lru      *list.List // of *visitor, least recently seen first
	buf      []byte
	started  uint64
}

type visitorKey struct{ a, b uint64 }

type visitor struct {
	key     visitorKey
	id      string
	seq     int
	last    time.Time
	expires time.Time
}

// NewTracker returns a Tracker keyed with secret. It panics if secret is
// shorter than MinSecretLen: configuration validation refuses that earlier.
func NewTracker(secret []byte, timeout time.Duration, maxVisitors int) *Tracker {
	if len(secret) < MinSecretLen {
		panic("session: secret shorter than MinSecretLen")
	}
	return &Tracker{
		mac:      hmac.New(sha256.New, secret),
		seed:     maphash.MakeSeed(),
		timeout:  timeout,
		max:      max(1, maxVisitors),
		visitors: make(map[visitorKey]*list.Element),
		lru:      list.New(),
	}
}

// Len returns the number of visitors tracked.
func (t *Tracker) Len() int { return len(t.visitors) }

// Started returns how many sessions the tracker has opened.
func (t *Tracker) Started() uint64 { return t.started }

// Enrich sets ev.Session for events on a link; events without a link get
// none.
func (t *Tracker) Enrich(ev *sharelog.Event) {
	if ev.Link == nil || ev.Link.ID == "" {
		return
	}
	s := t.Observe(ev.Link.ID, ev.Client.IP, ev.Client.UserAgent, ev.Time)
	ev.Session = &s
}

// Observe records one event of the visitor (link, ip, userAgent) at time at
// and returns its session.
func (t *Tracker) Observe(link, ip, userAgent string, at time.Time) sharelog.Session {
	key := t.key(link, ip, userAgent)
	t.expire(at)
	if el, ok := t.visitors[key]; ok {
		v := el.Value.(*visitor)
		if !at.After(v.last.Add(t.timeout)) {
			v.seq++
			if at.After(v.last) {
				v.last = at
				v.expires = at.Add(t.timeout)
			}
			t.lru.MoveToBack(el)
			return sharelog.Session{LinkSessionID: v.id, Seq: v.seq}
		}
		t.lru.Remove(el)
		delete(t.visitors, key)
	}
	for len(t.visitors) >= t.max {
		t.evict(t.lru.Front())
	}
	v := &visitor{key: key, id: t.sessionID(link, ip, userAgent, at), seq: 1, last: at, expires: at.Add(t.timeout)}
	t.visitors[key] = t.lru.PushBack(v)
	t.started++
	return sharelog.Session{LinkSessionID: v.id, Seq: 1, Started: true}
}

// expire forgets visitors whose session ended before at. The LRU order is
// by last event seen, which matches expiry order for events arriving in time
// order; stragglers are caught when their visitor returns.
func (t *Tracker) expire(at time.Time) {
	for el := t.lru.Front(); el != nil; el = t.lru.Front() {
		if v := el.Value.(*visitor); v.expires.Before(at) {
			t.evict(el)
			continue
		}
		return
	}
}

func (t *Tracker) evict(el *list.Element) {
	delete(t.visitors, el.Value.(*visitor).key)
	t.lru.Remove(el)
}

func (t *Tracker) key(link, ip, ua string) visitorKey {
	var h maphash.Hash
	h.SetSeed(t.seed)
	h.WriteString(link)
	h.WriteByte(0)
	h.WriteString(ip)
	h.WriteByte(0)
	h.WriteString(ua)
	a := h.Sum64()
	h.WriteByte(1)
	return visitorKey{a, h.Sum64()}
}

// sessionID is base64url(HMAC-SHA256(secret, link 0 ip 0 ua 0 start)[:16]),
// prefixed "ls_".
func (t *Tracker) sessionID(link, ip, ua string, start time.Time) string {
	b := t.buf[:0]
	b = append(b, link...)
	b = append(b, 0)
	b = append(b, ip...)
	b = append(b, 0)
	b = append(b, ua...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(start.UnixNano()))
	t.buf = b
	t.mac.Reset()
	t.mac.Write(b)
	sum := t.mac.Sum(b[len(b):len(b)]) // reuse the buffer's spare capacity
	return "ls_" + base64.RawURLEncoding.EncodeToString(sum[:16])
}
