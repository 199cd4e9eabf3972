// Package platform derives the OS, the client (browser, app, command-line
// tool or bot) and the device type from the HTTP User-Agent of an event.
//
// The parser is a hand-written table matcher, chosen over uap-go and
// mssola/useragent by measurement (docs/platform-parser.md): it is more
// accurate on the user agents a file and link sharing service sees, in
// particular command-line tools, SDKs and link-preview bots, and it parses
// an uncached user agent in about a microsecond. Parsed user agents are kept
// in a bounded cache.
//
// Names are normalised: browsers as "Chrome", "Firefox", "Safari" (also on
// iOS; DeviceType says it is mobile), "Edge", "Opera", "Samsung Internet",
// …; operating systems as "Windows", "macOS", "iOS", "iPadOS", "Android",
// "Linux" (any distribution), "ChromeOS"; Windows versions as "10" (also
// Windows 11, which sends the same "Windows NT 10.0"), "8.1", "7", "XP".
// Tools keep the name they give themselves ("curl", "Wget", "rclone",
// "python-requests", "aws-cli", "Boto3", "PowerShell", …).
package platform

import (
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog"
)

// Config configures the parser.
type Config struct {
	// CacheSize is how many distinct user agents are kept parsed. Default
	// 10000. Given to New as 0 (without SetDefaults), caching is off.
	CacheSize int `yaml:"cache_size"`
}

// DefaultCacheSize is the CacheSize SetDefaults fills in.
const DefaultCacheSize = 10000

// maxCacheSize bounds CacheSize; a parsed user agent costs a few hundred
// bytes, so this is some hundreds of megabytes.
const maxCacheSize = 10_000_000

// SetDefaults fills unset fields: CacheSize 0 becomes DefaultCacheSize.
func (c *Config) SetDefaults() {
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
}

// Validate reports a wrong field, the error naming it.
func (c Config) Validate() error {
	if c.CacheSize < 0 {
		return fmt.Errorf("cache_size: must be >= 0, is %d", c.CacheSize)
	}
	if c.CacheSize > maxCacheSize {
		return fmt.Errorf("cache_size: must be <= %d, is %d", maxCacheSize, c.CacheSize)
	}
	return nil
}

// maxCachedLen is the longest user agent the cache keeps: longer ones are
// rare, mostly abuse, and would let a few requests pin much memory.
const maxCachedLen = 512

// Parser derives a sharelog.Platform from a user agent. It is safe for
// concurrent use.
type Parser struct {
	cache   *cache // nil: caching off
	hits    prometheus.Counter
	misses  prometheus.Counter
	unknown prometheus.Counter
}

// New returns a Parser for cfg, which must be valid. With reg non-nil, it
// registers sharelog_platform_cache_hits_total,
// sharelog_platform_cache_misses_total and sharelog_platform_unknown_total
// there, and fails if they are already registered; with reg nil it keeps no
// metrics.
func New(cfg Config, reg prometheus.Registerer) (*Parser, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Parser{cache: newCache(cfg.CacheSize)}
	if reg != nil {
		p.hits = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_platform_cache_hits_total",
			Help: "User agents found parsed in the platform cache.",
		})
		p.misses = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_platform_cache_misses_total",
			Help: "User agents parsed because they were not in the platform cache (every one when the cache is off).",
		})
		p.unknown = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_platform_unknown_total",
			Help: "Non-empty user agents in which no client (browser, app, tool or bot) was recognised.",
		})
		for _, c := range []prometheus.Collector{p.hits, p.misses, p.unknown} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("platform: registering metrics: %w", err)
			}
		}
	}
	return p, nil
}

// Parse returns what ua says about the client. Fields the user agent does
// not reveal are empty; an empty ua gives the zero Platform. Every field is
// at most 64 bytes of printable ASCII, whatever ua holds, and only its first
// 1024 bytes are looked at. The result shares no memory with ua.
func (p *Parser) Parse(ua string) sharelog.Platform {
	if ua == "" {
		return sharelog.Platform{}
	}
	var pl sharelog.Platform
	if c := p.cache; c != nil && len(ua) <= maxCachedLen {
		var ok bool
		if pl, ok = c.get(ua); ok {
			inc(p.hits)
		} else {
			inc(p.misses)
			// The cache keeps its own copy of the key, and the result
			// points into it, so that no event's buffer stays alive.
			key := strings.Clone(ua)
			pl = parse(key)
			c.put(key, pl)
		}
	} else {
		inc(p.misses)
		pl = parse(strings.Clone(ua[:min(len(ua), maxParseLen)]))
	}
	if pl.ClientName == "" {
		inc(p.unknown)
	}
	return pl
}

// Enrich sets ev.Platform from ev.Client.UserAgent. It leaves ev.Platform
// as it is (nil on a raw event) when the user agent is empty, and changes
// no other field.
func (p *Parser) Enrich(ev *sharelog.Event) {
	if ev.Client.UserAgent == "" {
		return
	}
	pl := p.Parse(ev.Client.UserAgent)
	ev.Platform = &pl
}

func inc(c prometheus.Counter) {
	if c != nil {
		c.Inc()
	}
}
