package archive

import (
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestSizePerEvent reports the bytes per event of 100,000 realistic enriched
// events (one file per partition, as the archive stores them) as Parquet,
// as NDJSON and as zstd-compressed NDJSON. It asserts only that Parquet is
// smaller than NDJSON; the numbers go to README.md.
func TestSizePerEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 events")
	}
	const n = 100_000
	events := generate(n, 1)
	root := t.TempDir()
	var parquetBytes int64
	files := 0
	for _, part := range byPartition(events) {
		_, stats := write(t, root, part, Options{})
		parquetBytes += stats.Bytes
		files++
	}
	var ndjson []byte
	for _, ev := range events {
		ndjson = append(ev.AppendJSON(ndjson), '\n')
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	compressed := enc.EncodeAll(ndjson, nil)
	// One file per partition: the largest partition alone, like a busy
	// workspace's day, shows what bigger files gain.
	big := largestPartition(events)
	_, bigStats := write(t, t.TempDir(), big, Options{})

	perEvent := func(b int64, k int) float64 { return float64(b) / float64(k) }
	t.Logf("%d events in %d partition files: Parquet %.1f B/event, NDJSON %.1f B/event, NDJSON+zstd %.1f B/event",
		n, files, perEvent(parquetBytes, n), perEvent(int64(len(ndjson)), n), perEvent(int64(len(compressed)), n))
	t.Logf("largest partition alone (%d events, one file): Parquet %.1f B/event", len(big), perEvent(bigStats.Bytes, len(big)))
	if parquetBytes >= int64(len(ndjson)) {
		t.Errorf("Parquet (%d bytes) is not smaller than NDJSON (%d bytes)", parquetBytes, len(ndjson))
	}
}

// BenchmarkWriteFile measures WriteFile of one partition's events, fsync
// included.
func BenchmarkWriteFile(b *testing.B) {
	events := largestPartition(generate(200_000, 1))
	root := b.TempDir()
	b.ResetTimer()
	var bytes int64
	for b.Loop() {
		_, stats := write(b, root, events, Options{})
		bytes = stats.Bytes
	}
	b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(bytes)/float64(len(events)), "B/event")
}

// BenchmarkReadFile measures ReadEach over one partition file.
func BenchmarkReadFile(b *testing.B) {
	events := largestPartition(generate(200_000, 1))
	path, _ := write(b, b.TempDir(), events, Options{})
	for b.Loop() {
		if _, err := ReadFile(path); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
