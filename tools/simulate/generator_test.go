package simulate

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

var fixedTime = time.Date(2026, 11, 3, 14, 30, 0, 0, time.UTC)

// fixedClock always says fixedTime.
func fixedClock() time.Time { return fixedTime }

// steppingClock returns a clock that starts at fixedTime and moves on by
// step at every reading, as if events came at a steady rate.
func steppingClock(step time.Duration) func() time.Time {
	t := fixedTime
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

func generate(t testing.TB, cfg Config, now func() time.Time, n int) []*sharelog.Event {
	t.Helper()
	g := NewGenerator(cfg, now)
	evs := make([]*sharelog.Event, n)
	for i := range evs {
		evs[i] = g.Next()
	}
	return evs
}

func TestEveryEventValid(t *testing.T) {
	for _, clock := range []struct {
		name string
		now  func() time.Time
	}{{"fixed", fixedClock}, {"stepping", steppingClock(20 * time.Millisecond)}} {
		t.Run(clock.name, func(t *testing.T) {
			evs := generate(t, Config{Seed: 7}, clock.now, 20000)
			for i, ev := range evs {
				if err := ev.Validate(); err != nil {
					t.Fatalf("event %d (%s) invalid: %v", i, ev.Action, err)
				}
				// What Validate does not check, the schema still says.
				if ev.Link != nil && ev.File == nil {
					t.Fatalf("event %d (%s) has a link but no file", i, ev.Action)
				}
				if strings.HasPrefix(string(ev.Action), "member.") && (ev.Link != nil || ev.File != nil) {
					t.Fatalf("event %d (%s) carries a link or file", i, ev.Action)
				}
				if ev.Action == sharelog.AccessBlocked && ev.Result != sharelog.Denied {
					t.Fatalf("event %d: access.blocked with result %s", i, ev.Result)
				}
				if ev.Server == nil || ev.Server.Region == "" || ev.Server.Node == "" {
					t.Fatalf("event %d has no server region and node", i)
				}
				if ev.Time.Location() != time.UTC {
					t.Fatalf("event %d time %v not UTC", i, ev.Time)
				}
			}
		})
	}
}

func TestActionMix(t *testing.T) {
	evs := generate(t, Config{Seed: 1}, steppingClock(5*time.Millisecond), 20000)
	count := map[sharelog.Action]int{}
	reasons := map[string]int{}
	for _, ev := range evs {
		count[ev.Action]++
		if ev.Reason != "" {
			reasons[ev.Reason]++
		}
	}
	for _, a := range sharelog.Actions {
		if a == sharelog.RetentionApplied || a == sharelog.AlertRaised {
			continue // made by sharelog itself, never by the link and file server
		}
		if count[a] == 0 {
			t.Errorf("no %s in 20,000 events", a)
		}
	}
	for _, r := range []string{"wrong_password", "expired", "revoked", "download_limit", "domain_restricted", "ip_blocked"} {
		if reasons[r] == 0 {
			t.Errorf("no event with reason %s", r)
		}
	}
	// Visitors' link traffic dominates; audit traffic is a minority but
	// present.
	visits := count[sharelog.LinkOpened] + count[sharelog.LinkViewed] + count[sharelog.LinkDownloaded] + count[sharelog.LinkSaved]
	if visits < len(evs)/2 {
		t.Errorf("visitor link events are %d of %d; want the majority", visits, len(evs))
	}
	if count[sharelog.LinkViewed] < count[sharelog.LinkSaved] || count[sharelog.LinkOpened] < count[sharelog.LinkDownloaded] {
		t.Errorf("implausible funnel: %v", count)
	}
	t.Logf("mix: %v", count)
	t.Logf("reasons: %v", reasons)
}

func TestDeterministic(t *testing.T) {
	encode := func(evs []*sharelog.Event) []byte {
		var b bytes.Buffer
		for _, ev := range evs {
			j, err := ev.Encode()
			if err != nil {
				t.Fatal(err)
			}
			b.Write(j)
			b.WriteByte('\n')
		}
		return b.Bytes()
	}
	a := encode(generate(t, Config{Seed: 42}, fixedClock, 3000))
	b := encode(generate(t, Config{Seed: 42}, fixedClock, 3000))
	if !bytes.Equal(a, b) {
		t.Fatal("two generators with seed 42 and a fixed clock made different events")
	}
	c := encode(generate(t, Config{Seed: 43}, fixedClock, 3000))
	if bytes.Equal(a, c) {
		t.Fatal("seeds 42 and 43 made the same events")
	}
	// Seed 0 is random.
	d := encode(generate(t, Config{}, fixedClock, 100))
	e := encode(generate(t, Config{}, fixedClock, 100))
	if bytes.Equal(d, e) {
		t.Fatal("two generators with seed 0 made the same events")
	}
}

// TestSessions checks that a visitor's views, downloads and saves come from
// the address and user agent that opened the link, and that sessions of
// several events are common.
func TestSessions(t *testing.T) {
	evs := generate(t, Config{Seed: 3}, steppingClock(10*time.Millisecond), 20000)
	type visitor struct{ link, ip, ua, actor string }
	key := func(ev *sharelog.Event) visitor {
		return visitor{ev.Link.ID, ev.Client.IP, ev.Client.UserAgent, ev.Actor.Name()}
	}
	opened := map[visitor]time.Time{}
	sessionLen := map[visitor]int{}
	for i, ev := range evs {
		switch ev.Action {
		case sharelog.LinkOpened:
			if ev.Result == sharelog.Success {
				opened[key(ev)] = ev.Time
				sessionLen[key(ev)] = 1
			}
		case sharelog.LinkViewed, sharelog.LinkDownloaded, sharelog.LinkSaved:
			k := key(ev)
			at, ok := opened[k]
			if !ok {
				t.Fatalf("event %d: %s on link %s from %s (%s) without a link.opened from the same address and agent", i, ev.Action, k.link, k.ip, k.ua)
			}
			if ev.Time.Before(at) {
				t.Fatalf("event %d: %s before its link.opened", i, ev.Action)
			}
			sessionLen[k]++
		}
	}
	long := 0
	for _, n := range sessionLen {
		if n >= 3 {
			long++
		}
	}
	// With a clock moving 10 ms an event, a session's events spread over
	// seconds to minutes, interleaved with other activities' events.
	spread := 0
	first := map[visitor]int{}
	for i, ev := range evs {
		switch ev.Action {
		case sharelog.LinkOpened, sharelog.LinkViewed, sharelog.LinkDownloaded, sharelog.LinkSaved:
		default:
			continue
		}
		k := key(ev)
		if j, ok := first[k]; !ok {
			first[k] = i
		} else if ev.Time.Sub(evs[j].Time) > 5*time.Second && i-j > 10 {
			spread++
		}
	}
	if long < 500 {
		t.Errorf("only %d sessions of 3 or more events in 20,000 events", long)
	}
	if spread < 500 {
		t.Errorf("only %d session events more than 5 s after their session's first, interleaved", spread)
	}
}

// TestPasswordBursts checks that wrong passwords come in bursts from one
// address, some of ten or more (brute force), which the server then blocks.
func TestPasswordBursts(t *testing.T) {
	evs := generate(t, Config{Seed: 5}, steppingClock(10*time.Millisecond), 30000)
	type src struct{ link, ip string }
	fails := map[src]int{}
	blockedAfterBurst := 0
	for _, ev := range evs {
		switch {
		case ev.Action == sharelog.LinkPasswordFailed:
			if ev.Result != sharelog.Denied || ev.Reason != "wrong_password" || ev.Link == nil {
				t.Fatalf("link.password_failed: %s/%s link %v", ev.Result, ev.Reason, ev.Link)
			}
			fails[src{ev.Link.ID, ev.Client.IP}]++
		case ev.Action == sharelog.AccessBlocked && ev.Reason == "ip_blocked" && ev.Link != nil:
			if fails[src{ev.Link.ID, ev.Client.IP}] >= 10 {
				blockedAfterBurst++
			}
		}
	}
	bursts, bruteForce := 0, 0
	for _, n := range fails {
		if n >= 3 {
			bursts++
		}
		if n >= 10 {
			bruteForce++
		}
	}
	if bursts < 20 || bruteForce < 10 {
		t.Errorf("%d bursts of 3+ wrong passwords, %d of 10+; want more", bursts, bruteForce)
	}
	if blockedAfterBurst == 0 {
		t.Error("no address blocked after 10+ wrong passwords")
	}
}

// TestClients checks that client.kind matches the user agent, that every
// address is public and in the prefix table (the server's own events aside),
// and that addresses of both families appear.
func TestClients(t *testing.T) {
	evs := generate(t, Config{Seed: 9}, steppingClock(10*time.Millisecond), 20000)
	v4, v6 := 0, 0
	kinds := map[sharelog.ClientKind]int{}
	for i, ev := range evs {
		c := ev.Client
		kinds[c.Kind]++
		want := expectedKind(c.UserAgent)
		switch {
		case ev.Actor.Type == sharelog.ActorAPIKey:
			want = sharelog.ClientAPI
		case ev.Action == sharelog.LinkExpired:
			want = sharelog.ClientAPI
		}
		if c.Kind != want {
			t.Fatalf("event %d (%s by %s): kind %s for %q, want %s", i, ev.Action, ev.Actor.Type, c.Kind, c.UserAgent, want)
		}
		a := netip.MustParseAddr(c.IP)
		if ev.Action == sharelog.LinkExpired {
			if !a.IsPrivate() {
				t.Fatalf("event %d: link.expired from %s; want the node's private address", i, a)
			}
			continue
		}
		if !inTable(a) {
			t.Fatalf("event %d (%s): address %s is in no block of prefixes.tsv", i, ev.Action, a)
		}
		if a.Is4() {
			v4++
		} else {
			v6++
		}
	}
	if v4 < len(evs)/5 || v6 < len(evs)/5 {
		t.Errorf("%d IPv4 and %d IPv6 clients; want a good share of both", v4, v6)
	}
	for _, k := range []sharelog.ClientKind{sharelog.ClientBrowser, sharelog.ClientCLI, sharelog.ClientSDK, sharelog.ClientAPI} {
		if kinds[k] == 0 {
			t.Errorf("no client of kind %s", k)
		}
	}
}

// expectedKind classifies a user agent independently of clientKind.
func expectedKind(ua string) sharelog.ClientKind {
	for _, p := range []string{"curl/", "Wget/", "rclone/"} {
		if strings.HasPrefix(ua, p) {
			return sharelog.ClientCLI
		}
	}
	if strings.Contains(ua, " PowerShell/") || strings.Contains(ua, " WindowsPowerShell/") {
		return sharelog.ClientCLI
	}
	for _, p := range []string{"python-requests/", "Go-http-client/", "aws-cli/"} {
		if strings.HasPrefix(ua, p) {
			return sharelog.ClientSDK
		}
	}
	if strings.HasPrefix(ua, "Mozilla/5.0 (") {
		return sharelog.ClientBrowser
	}
	return "unknown"
}

func inTable(a netip.Addr) bool {
	for _, p := range geo.prefixes {
		if p.Prefix.Contains(a) {
			return true
		}
	}
	return false
}

func TestUUIDv7(t *testing.T) {
	evs := generate(t, Config{Seed: 11}, steppingClock(300*time.Microsecond), 5000)
	prev := ""
	for i, ev := range evs {
		id := ev.ID
		if len(id) != 36 || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("event %d: %q is not a version 7, variant 10 UUID", i, id)
		}
		if id <= prev {
			t.Fatalf("event %d: id %s does not sort after %s", i, id, prev)
		}
		prev = id
		ms, err := strconv.ParseInt(strings.ReplaceAll(id[:13], "-", ""), 16, 64)
		if err != nil {
			t.Fatalf("event %d: id %q: %v", i, id, err)
		}
		if d := ms - ev.Time.UnixMilli(); d < 0 || d > 1 {
			t.Fatalf("event %d: id time %d ms, event time %d ms", i, ms, ev.Time.UnixMilli())
		}
	}
	// Monotonicity with a clock standing still is sharelog.UUIDv7's own
	// test.
}

func TestBoundedMemory(t *testing.T) {
	g := NewGenerator(Config{Seed: 2, Workspaces: 3, LinksPerWorkspace: 20, UsersPerWorkspace: 5}, steppingClock(time.Microsecond))
	for range 200000 {
		g.Next()
		if len(g.flows) > maxFlows {
			t.Fatalf("%d flows in flight, cap %d", len(g.flows), maxFlows)
		}
	}
	if len(g.free) > maxFlows {
		t.Errorf("free list of %d", len(g.free))
	}
	for _, ws := range g.workspaces {
		if len(ws.links) != 20 || len(ws.files) != 40 || len(ws.members) != 5 || len(ws.trash) > maxTrash {
			t.Errorf("workspace %s grew: %d links, %d files, %d members, %d in trash", ws.ID, len(ws.links), len(ws.files), len(ws.members), len(ws.trash))
		}
		refs := make([]int32, len(ws.files))
		for _, l := range ws.links {
			refs[l.File]++
		}
		for i, f := range ws.files {
			if f.Refs != refs[i] {
				t.Fatalf("file %d has %d refs counted, %d links point at it", i, f.Refs, refs[i])
			}
		}
	}
}

func TestWorld(t *testing.T) {
	g := NewGenerator(Config{Seed: 4, Workspaces: 30}, fixedClock)
	ids := map[string]bool{}
	domains := map[string]bool{}
	for _, ws := range g.workspaces {
		if ids[ws.ID] || domains[ws.Domain] {
			t.Fatalf("duplicate workspace %s / %s", ws.ID, ws.Domain)
		}
		ids[ws.ID], domains[ws.Domain] = true, true
		for _, m := range ws.members {
			if !strings.HasSuffix(m.Email, "@"+ws.Domain) {
				t.Fatalf("member %s not on the workspace's domain %s", m.Email, ws.Domain)
			}
		}
		pw, email := 0, 0
		for _, l := range ws.links {
			if l.Password {
				pw++
			}
			if l.RequireEmail {
				email++
			}
		}
		if pw == 0 || email == 0 || pw == len(ws.links) || email == len(ws.links) {
			t.Errorf("workspace %s: %d password and %d email links of %d", ws.Name, pw, email, len(ws.links))
		}
	}
	// File sizes are log-normal: a wide spread with a long tail.
	var small, large int
	for _, ws := range g.workspaces {
		for _, f := range ws.files {
			if f.Size <= 0 {
				t.Fatalf("file %s has size %d", f.Name, f.Size)
			}
			if f.Size < mib {
				small++
			}
			if f.Size > gib {
				large++
			}
		}
	}
	if small == 0 || large == 0 {
		t.Errorf("%d files under 1 MiB, %d over 1 GiB: sizes not spread", small, large)
	}
}

func TestBatch(t *testing.T) {
	g := NewGenerator(Config{Seed: 8}, nil)
	b := g.Batch(500)
	if len(b) != 500 {
		t.Fatalf("Batch(500) returned %d events", len(b))
	}
	seen := map[string]bool{}
	for _, ev := range b {
		if seen[ev.ID] {
			t.Fatalf("duplicate id %s", ev.ID)
		}
		seen[ev.ID] = true
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(ev.Time); d < 0 || d > time.Minute {
			t.Fatalf("event time %v is not now", ev.Time)
		}
	}
	// Events share no memory a consumer might change.
	if b[0].Server == b[1].Server {
		t.Fatal("events share a Server")
	}
}

func BenchmarkNext(b *testing.B) {
	g := NewGenerator(Config{Seed: 1}, nil)
	for range 10000 { // reach the steady state of sessions in flight
		g.Next()
	}
	b.ReportAllocs()
	for b.Loop() {
		g.Next()
	}
}

func BenchmarkNextFixedClock(b *testing.B) {
	g := NewGenerator(Config{Seed: 1}, fixedClock)
	for range 10000 {
		g.Next()
	}
	b.ReportAllocs()
	for b.Loop() {
		g.Next()
	}
}
