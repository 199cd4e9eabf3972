package sharelog

import (
	"os"
	"testing"
)

func addSeeds(f *testing.F) {
	data, err := os.ReadFile("testdata/valid-events.ndjson")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	// sharelog's own audit event: a system actor, a summary as the reason.
	f.Add([]byte(`{"id":"019b4c1e-2f00-7a00-8000-000000000001","time":"2026-11-22T03:00:00Z","workspace":{"id":"ws-acme"},"actor":{"type":"system"},"action":"retention.applied","result":"success","reason":"max_age: 1200 events before 2026-07-25; erasure: 4 events","client":{"ip":"127.0.0.1","kind":"api"},"server":{"node":"archive-1"}}`))
	for _, s := range []string{"", "[]", "{}", "[{}]", "[1,2]", `{"id":"x"}`, "\n\n{\n", `[{"time":"2026-11-22T09:00:00Z"}`, "\xff\xfe", `{"client":{"ip":"::ffff:1.2.3.4%eth0"}}`} {
		f.Add([]byte(s))
	}
}

// FuzzDecodeRaw: any input gives a valid event or an error, never a panic,
// and an accepted event passes Validate and survives re-encoding.
func FuzzDecodeRaw(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := DecodeRaw(data)
		if err != nil {
			if ev != nil {
				t.Fatal("event and error both returned")
			}
			return
		}
		if verr := ev.Validate(); verr != nil {
			t.Fatalf("accepted an invalid event: %v", verr)
		}
		out, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeRaw(out); err != nil {
			t.Fatalf("re-encoded event refused: %v\n%s", err, out)
		}
	})
}

// FuzzParseBatch: the batch reader never panics, numbers items in order,
// and each item has either an event or an error.
func FuzzParseBatch(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := ParseBatch(data)
		if err != nil {
			if items != nil {
				t.Fatal("items and error both returned")
			}
			return
		}
		line := 0
		for i, it := range items {
			if it.Index != i || it.Line < line || it.Line < 1 {
				t.Fatalf("item %d: index %d line %d after line %d", i, it.Index, it.Line, line)
			}
			line = it.Line
			if (it.Event == nil) == (it.Err == nil) {
				t.Fatalf("item %d: event %v, err %v", i, it.Event, it.Err)
			}
		}
	})
}
