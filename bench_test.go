package sharelog

import (
	"os"
	"testing"
	"time"
)

func benchEvents(b *testing.B) [][]byte {
	data, err := os.ReadFile("testdata/valid-events.ndjson")
	if err != nil {
		b.Fatal(err)
	}
	items, err := ParseBatch(data)
	if err != nil {
		b.Fatal(err)
	}
	out := make([][]byte, len(items))
	for i, it := range items {
		out[i] = it.Raw
	}
	return out
}

func BenchmarkDecodeRaw(b *testing.B) {
	raws := benchEvents(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := DecodeRaw(raws[i%len(raws)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	raws := benchEvents(b)
	ev, _ := DecodeRaw(raws[0])
	b.ReportAllocs()
	for b.Loop() {
		if err := ev.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	raws := benchEvents(b)
	ev, _ := DecodeRaw(raws[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ev.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBatch(b *testing.B) {
	data, _ := os.ReadFile("testdata/valid-events.ndjson")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBatch(data); err != nil {
			b.Fatal(err)
		}
	}
}

// enrichedEvent is a raw event from testdata with every enriched group set,
// as the enrich workers produce it.
func enrichedEvent(b testing.TB) *Event {
	data, err := os.ReadFile("testdata/valid-events.ndjson")
	if err != nil {
		b.Fatal(err)
	}
	items, err := ParseBatch(data)
	if err != nil || items[0].Err != nil {
		b.Fatal(err, items[0].Err)
	}
	ev := items[0].Event
	lat, lon := 47.3769, 8.5417
	ev.Geo = &Geo{CountryCode: "CH", CountryName: "Switzerland", Subdivision: "Zurich", City: "Zürich",
		Latitude: &lat, Longitude: &lon, AccuracyRadiusKM: 20, Database: "GeoLite2-City", DatabaseBuild: "2026-11-18"}
	ev.Platform = &Platform{OSName: "Windows", OSVersion: "10", ClientName: "Chrome", ClientVersion: "131.0.0.0", DeviceType: DeviceDesktop}
	ev.Session = &Session{LinkSessionID: "ls_9f2c4e7a1b3d5f60", Seq: 3, Started: false}
	ev.Pipeline = &Pipeline{EnrichedAt: time.Date(2026, 11, 22, 9, 0, 0, 412345678, time.UTC), SchemaVersion: SchemaVersion,
		Topic: "sharelog.events.raw", Partition: 7, Offset: 1234567}
	return ev
}

func BenchmarkEncodeEnriched(b *testing.B) {
	ev := enrichedEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ev.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEnriched(b *testing.B) {
	data, err := enrichedEvent(b).Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEnriched(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendJSONEnriched is BenchmarkEncodeEnriched into a reused buffer,
// as a worker that encodes event after event can do.
func BenchmarkAppendJSONEnriched(b *testing.B) {
	ev := enrichedEvent(b)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = ev.AppendJSON(buf[:0])
	}
}
