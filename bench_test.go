package sharelog

import (
	"os"
	"testing"
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
