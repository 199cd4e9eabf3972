package rules

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
)

// BenchmarkObserve is the cost of evaluating one event against the six
// default rules: a realistic mix of opens, downloads, wrong passwords and
// blocked accesses over 10,000 links and 2,000 visitors.
func BenchmarkObserve(b *testing.B) {
	e, err := New(Defaults())
	if err != nil {
		b.Fatal(err)
	}
	evs := mix(100_000)
	b.ReportAllocs()
	b.ResetTimer()
	alerts := 0
	for i := range b.N {
		alerts += len(e.Observe(evs[i%len(evs)]).Alerts)
	}
	b.ReportMetric(float64(alerts)*1e6/float64(b.N), "alerts/1M-events")
}

// BenchmarkStatePerLink measures the memory the rules hold per tracked
// link: 100,000 links, each opened from two countries, with three wrong
// passwords and two downloads (so every rule keeps state for it).
func BenchmarkStatePerLink(b *testing.B) {
	const links = 100_000
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e, _ := New(Defaults())
		for l := range links {
			link := fmt.Sprintf("lk_%07d", l)
			for j, a := range []sharelog.Action{sharelog.LinkOpened, sharelog.LinkOpened, sharelog.LinkPasswordFailed, sharelog.LinkPasswordFailed, sharelog.LinkPasswordFailed, sharelog.LinkDownloaded, sharelog.LinkDownloaded} {
				x := ev(l*10+j, float64(l)/100, a, link)
				if j == 1 {
					x.Geo = &sharelog.Geo{CountryCode: "DE"}
				}
				x.File = &sharelog.File{ID: fmt.Sprintf("f%d", j)}
				x.Session = &sharelog.Session{LinkSessionID: "ls_" + link}
				e.Observe(x)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/links, "B/link")
		runtime.KeepAlive(e)
	}
}

// mix makes n events of a busy server: 10,000 links, 2,000 visitors.
func mix(n int) []*sharelog.Event {
	evs := make([]*sharelog.Event, n)
	actions := []sharelog.Action{sharelog.LinkOpened, sharelog.LinkViewed, sharelog.LinkViewed, sharelog.LinkDownloaded,
		sharelog.LinkPasswordFailed, sharelog.AccessBlocked, sharelog.LinkOpened, sharelog.FileUploaded}
	countries := []string{"CH", "DE", "FR", "US", "BR", "JP"}
	for i := range evs {
		a := actions[i%len(actions)]
		x := ev(i, float64(i)/50, a, fmt.Sprintf("lk_%d", i%10_000))
		// A visitor stays in one place (a traveller is the exception).
		lat, lon := float64(i%2000%90), float64(i%2000%180)
		x.Geo = &sharelog.Geo{CountryCode: countries[i%len(countries)], Latitude: &lat, Longitude: &lon}
		x.Actor.VisitorEmail = fmt.Sprintf("v%d@example.com", i%2000)
		x.File = &sharelog.File{ID: fmt.Sprintf("f%d", i%300)}
		x.Session = &sharelog.Session{LinkSessionID: fmt.Sprintf("ls_%d", i%5000)}
		x.Client.IP = fmt.Sprintf("198.51.%d.%d", i%250, i%200)
		x.Time = t0.Add(time.Duration(i) * 20 * time.Millisecond)
		evs[i] = x
	}
	return evs
}
