package platform

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sharelog/sharelog"
)

// TestParseExamples pins the exact result for a representative user agent
// of each kind.
func TestParseExamples(t *testing.T) {
	tests := []struct {
		ua   string
		want sharelog.Platform
	}{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
			sharelog.Platform{OSName: "Windows", OSVersion: "10", ClientName: "Chrome", ClientVersion: "124.0.0.0", DeviceType: "desktop"}},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
			sharelog.Platform{OSName: "Windows", OSVersion: "10", ClientName: "Edge", ClientVersion: "124.0.2478.80", DeviceType: "desktop"}},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0",
			sharelog.Platform{OSName: "macOS", OSVersion: "10.15", ClientName: "Firefox", ClientVersion: "125.0", DeviceType: "desktop"}},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
			sharelog.Platform{OSName: "macOS", OSVersion: "10.15.7", ClientName: "Safari", ClientVersion: "17.4.1", DeviceType: "desktop"}},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
			sharelog.Platform{OSName: "ChromeOS", OSVersion: "14541.0.0", ClientName: "Chrome", ClientVersion: "124.0.0.0", DeviceType: "desktop"}},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
			sharelog.Platform{OSName: "iOS", OSVersion: "17.4.1", ClientName: "Safari", ClientVersion: "17.4.1", DeviceType: "mobile"}},
		{"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
			sharelog.Platform{OSName: "iPadOS", OSVersion: "17.4", ClientName: "Chrome", ClientVersion: "124.0.6367.88", DeviceType: "tablet"}},
		{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
			sharelog.Platform{OSName: "Android", OSVersion: "10", ClientName: "Chrome", ClientVersion: "124.0.0.0", DeviceType: "mobile"}},
		{"Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.6312.118 Safari/537.36",
			sharelog.Platform{OSName: "Android", OSVersion: "13", ClientName: "Chrome", ClientVersion: "123.0.6312.118", DeviceType: "tablet"}},
		{"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
			sharelog.Platform{OSName: "Android", OSVersion: "14", ClientName: "Samsung Internet", ClientVersion: "24.0", DeviceType: "mobile"}},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 327.0.2.30.97 (iPhone15,2; iOS 17_4_1; en_US; en; scale=3.00; 1179x2556; 587471540)",
			sharelog.Platform{OSName: "iOS", OSVersion: "17.4.1", ClientName: "Instagram", ClientVersion: "327.0.2.30.97", DeviceType: "mobile"}},
		{"Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
			sharelog.Platform{OSName: "Windows", OSVersion: "10", ClientName: "Internet Explorer", ClientVersion: "11.0", DeviceType: "desktop"}},
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
			sharelog.Platform{ClientName: "Googlebot", ClientVersion: "2.1", DeviceType: "bot"}},
		{"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
			sharelog.Platform{ClientName: "Slackbot", ClientVersion: "1.0", DeviceType: "bot"}},
		{"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
			sharelog.Platform{ClientName: "LinkedInBot", ClientVersion: "1.0", DeviceType: "bot"}},
		{"WhatsApp/2.23.20.0 A",
			sharelog.Platform{ClientName: "WhatsApp", ClientVersion: "2.23.20.0", DeviceType: "bot"}},
		{"curl/8.5.0",
			sharelog.Platform{ClientName: "curl", ClientVersion: "8.5.0", DeviceType: "cli"}},
		{"rclone/v1.66.0",
			sharelog.Platform{ClientName: "rclone", ClientVersion: "1.66.0", DeviceType: "cli"}},
		{"aws-cli/1.32.69 Python/3.10.12 Linux/5.15.0-101-generic botocore/1.34.69",
			sharelog.Platform{OSName: "Linux", ClientName: "aws-cli", ClientVersion: "1.32.69", DeviceType: "cli"}},
		{"Python/3.11 aiohttp/3.9.3",
			sharelog.Platform{ClientName: "aiohttp", ClientVersion: "3.9.3", DeviceType: "cli"}},
		{"Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.22621.2506",
			sharelog.Platform{OSName: "Windows", OSVersion: "10", ClientName: "PowerShell", ClientVersion: "5.1.22621.2506", DeviceType: "cli"}},
		{"Cyberduck/8.8.0.41154 (Mac OS X/14.4.1) (aarch64)",
			sharelog.Platform{OSName: "macOS", OSVersion: "14.4.1", ClientName: "Cyberduck", ClientVersion: "8.8.0.41154", DeviceType: "cli"}},
		{"SomeInternalService/2.3",
			sharelog.Platform{ClientName: "SomeInternalService", ClientVersion: "2.3", DeviceType: "cli"}},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
			sharelog.Platform{OSName: "Windows", OSVersion: "10", DeviceType: "desktop"}},
		{"", sharelog.Platform{}},
		{"   ", sharelog.Platform{}},
		{"-", sharelog.Platform{ClientName: "-", DeviceType: "cli"}},
	}
	p, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if got := p.Parse(tt.ua); got != tt.want {
			t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.ua, got, tt.want)
		}
	}
}

func TestConfig(t *testing.T) {
	var c Config
	c.SetDefaults()
	if c.CacheSize != DefaultCacheSize {
		t.Errorf("default CacheSize = %d, want %d", c.CacheSize, DefaultCacheSize)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	c = Config{CacheSize: 5}
	c.SetDefaults()
	if c.CacheSize != 5 {
		t.Errorf("SetDefaults changed CacheSize 5 to %d", c.CacheSize)
	}
	for _, bad := range []int{-1, maxCacheSize + 1} {
		err := Config{CacheSize: bad}.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "cache_size: ") {
			t.Errorf("Validate(CacheSize %d) = %v, want an error naming cache_size", bad, err)
		}
		if _, err := New(Config{CacheSize: bad}, nil); err == nil {
			t.Errorf("New(CacheSize %d) succeeded", bad)
		}
	}
}

func TestEnrich(t *testing.T) {
	p, err := New(Config{CacheSize: 100}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := &sharelog.Event{ID: "e1", Client: sharelog.Client{IP: "192.0.2.1", Kind: sharelog.ClientBrowser}}
	p.Enrich(ev)
	if ev.Platform != nil {
		t.Errorf("empty user agent: Platform = %+v, want nil", ev.Platform)
	}
	ev.Client.UserAgent = "curl/8.5.0"
	before := *ev
	p.Enrich(ev)
	want := sharelog.Platform{ClientName: "curl", ClientVersion: "8.5.0", DeviceType: sharelog.DeviceCLI}
	if ev.Platform == nil || *ev.Platform != want {
		t.Fatalf("Platform = %+v, want %+v", ev.Platform, want)
	}
	before.Platform = ev.Platform
	if *ev != before {
		t.Errorf("Enrich changed more than Platform")
	}
}

// cacheLen is the number of distinct entries the cache holds.
func cacheLen(c *cache) int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.cur)
		for k := range s.old {
			if _, ok := s.cur[k]; !ok {
				n++
			}
		}
		s.mu.RUnlock()
	}
	return n
}

func TestCacheBounded(t *testing.T) {
	for _, size := range []int{2, 10, 1000, 10000} {
		p, err := New(Config{CacheSize: size}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5*size+100; i++ {
			p.Parse(fmt.Sprintf("tool%d/1.%d", i, i))
			if i%97 == 0 {
				p.Parse("curl/8.5.0") // a hot entry
			}
		}
		if n := cacheLen(p.cache); n > size || n == 0 {
			t.Errorf("CacheSize %d: cache holds %d entries", size, n)
		}
		if size >= 1000 {
			if _, ok := p.cache.get("curl/8.5.0"); !ok {
				t.Errorf("CacheSize %d: the hot entry was evicted", size)
			}
		}
	}
	p, err := New(Config{CacheSize: 0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.cache != nil {
		t.Error("CacheSize 0: cache is on")
	}
	if got := p.Parse("curl/8.5.0"); got.ClientName != "curl" {
		t.Errorf("uncached Parse = %+v", got)
	}
	p, _ = New(Config{CacheSize: 10}, nil)
	long := "Mozilla/5.0 (Windows NT 10.0) " + strings.Repeat("x", maxCachedLen) + " Chrome/1.0"
	p.Parse(long)
	if n := cacheLen(p.cache); n != 0 {
		t.Errorf("a %d-byte user agent was cached", len(long))
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	p, err := New(Config{CacheSize: 100}, reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, ua := range []string{"curl/8.5.0", "curl/8.5.0", "curl/8.5.0", "(", "(", ""} {
		p.Parse(ua)
	}
	for _, m := range []struct {
		name string
		c    prometheus.Counter
		want float64
	}{
		{"sharelog_platform_cache_hits_total", p.hits, 3},
		{"sharelog_platform_cache_misses_total", p.misses, 2},
		{"sharelog_platform_unknown_total", p.unknown, 2},
	} {
		if got := testutil.ToFloat64(m.c); got != m.want {
			t.Errorf("%s = %v, want %v", m.name, got, m.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 3 {
		t.Errorf("gathered %d metrics (%v), want 3", n, err)
	}
	if _, err := New(Config{CacheSize: 100}, reg); err == nil {
		t.Error("registering the metrics twice succeeded")
	}
}

// TestConcurrent runs Parse from many goroutines on a small cache, for the
// race detector, and checks the answers match uncached parsing.
func TestConcurrent(t *testing.T) {
	rows := loadLabelled(t)
	p, err := New(Config{CacheSize: 64}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				r := rows[(i*7+g*13)%len(rows)]
				if got, want := p.Parse(r.ua), parse(r.ua); got != want {
					t.Errorf("Parse(%q) = %+v, want %+v", r.ua, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestCompatibleRobot(t *testing.T) {
	got := parse("Mozilla/5.0 (compatible; Google-Site-Verification/1.0)")
	want := sharelog.Platform{ClientName: "Google-Site-Verification", ClientVersion: "1.0", DeviceType: sharelog.DeviceBot}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
