package archive

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/tools/simulate"
)

// day is the fixed day the test events happen on.
var day = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

// generate returns n realistic events of seed's simulator, enriched as the
// pipeline would enrich them, all on day, with the geo, platform, session and
// pipeline groups set on most of them and some absent or partial, so that
// every column and its NULLs are exercised.
func generate(n int, seed int64) []*sharelog.Event {
	clock := day.Add(8 * time.Hour)
	g := simulate.NewGenerator(simulate.Config{Seed: seed}, func() time.Time {
		clock = clock.Add(time.Duration(400+clock.UnixNano()%700) * time.Microsecond)
		return clock
	})
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	countries := []struct{ code, name, sub, city string }{
		{"CH", "Switzerland", "Zurich", "Zurich"},
		{"DE", "Germany", "Bavaria", "Munich"},
		{"US", "United States", "California", "San Francisco"},
		{"HU", "Hungary", "Budapest", "Budapest"},
		{"FR", "France", "Île-de-France", "Paris"},
	}
	sessions := map[string]int{}
	events := g.Batch(n)
	for i, ev := range events {
		if r.IntN(20) != 0 { // 5% have no geo (private address)
			c := countries[int(uint32(len(ev.Client.IP)*31+i%7))%len(countries)]
			geo := &sharelog.Geo{CountryCode: c.code, CountryName: c.name, Subdivision: c.sub, City: c.city,
				AccuracyRadiusKM: uint16(5 + r.IntN(200)), Database: "GeoLite2-City", DatabaseBuild: "2026-11-18"}
			if r.IntN(10) != 0 {
				lat, lon := 40+r.Float64()*10, r.Float64()*20
				geo.Latitude, geo.Longitude = &lat, &lon
			}
			ev.Geo = geo
		}
		if ev.Client.UserAgent != "" {
			ev.Platform = &sharelog.Platform{OSName: "macOS", OSVersion: "15.1", ClientName: "Safari",
				ClientVersion: "18.1", DeviceType: sharelog.DeviceDesktop}
		}
		if ev.Link != nil {
			id := fmt.Sprintf("ls_%x", uint32(len(ev.Link.ID))*2654435761^uint32(len(ev.Client.IP)))
			key := ev.Link.ID + ev.Client.IP
			sessions[key]++
			ev.Session = &sharelog.Session{LinkSessionID: id + ev.Link.ID[:4], Seq: sessions[key], Started: sessions[key] == 1}
		}
		ev.Pipeline = &sharelog.Pipeline{EnrichedAt: ev.Time.Add(3 * time.Millisecond), SchemaVersion: sharelog.SchemaVersion,
			Topic: "sharelog.raw", Partition: i % 12, Offset: int64(1000 + i)}
	}
	return events
}

// fill sets every field of the value v points to to a non-zero value drawn
// from r, allocating every pointer, so that a round trip that drops or mixes
// up a field fails. Times are UTC and whole microseconds.
func fill(v reflect.Value, r *rand.Rand) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), r)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			// From year 1 to 9999, beyond what time.UnixNano can hold.
			t := time.UnixMicro(r.Int64N(3e17) - 62e15).UTC()
			v.Set(reflect.ValueOf(t))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i), r)
		}
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d-é", r.Uint32()))
	case reflect.Int, reflect.Int64:
		v.SetInt(r.Int64() | 1)
	case reflect.Uint16:
		v.SetUint(uint64(r.IntN(65535) + 1))
	case reflect.Float64:
		v.SetFloat(r.NormFloat64() * 100)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice: // alert.evidence
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0), r)
		fill(v.Index(1), r)
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

// byID returns events sorted by id, for comparing sets of events.
func byID(events []*sharelog.Event) []*sharelog.Event {
	out := slices.Clone(events)
	slices.SortFunc(out, func(a, b *sharelog.Event) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// write writes events to the partition of the first event under root.
func write(t testing.TB, root string, events []*sharelog.Event, opts Options) (string, FileStats) {
	t.Helper()
	dir, err := PartitionDir(root, events[0].Workspace.ID, events[0].Time)
	if err != nil {
		t.Fatal(err)
	}
	path, stats, err := WriteFile(dir, events, opts)
	if err != nil {
		t.Fatal(err)
	}
	return path, stats
}

// largestPartition returns the events of the partition with the most events.
func largestPartition(events []*sharelog.Event) []*sharelog.Event {
	var best []*sharelog.Event
	for _, part := range byPartition(events) {
		if len(part) > len(best) {
			best = part
		}
	}
	return best
}

// byPartition groups events by workspace and UTC date.
func byPartition(events []*sharelog.Event) map[partitionKey][]*sharelog.Event {
	m := map[partitionKey][]*sharelog.Event{}
	for _, ev := range events {
		k := keyOf(ev)
		m[k] = append(m[k], ev)
	}
	return m
}
