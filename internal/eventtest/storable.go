// Package eventtest holds what the tests of several packages share about
// events: the seed corpus of hostile raw events, and the storability
// property that every stage after ingest is tested against.
package eventtest

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

// Corpus returns the lines of the repository's event corpora: the valid
// events of testdata/valid-events.ndjson and the hostile but valid ones of
// testdata/hostile-events.ndjson (formula prefixes, CEF/LEEF/syslog
// delimiters, markup, the longest strings allowed, IPv6, odd Unicode).
func Corpus(tb testing.TB) [][]byte {
	tb.Helper()
	root := moduleRoot(tb)
	var lines [][]byte
	for _, name := range []string{"valid-events.ndjson", "hostile-events.ndjson"} {
		data, err := os.ReadFile(filepath.Join(root, "testdata", name))
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 && line[0] == '{' {
				lines = append(lines, bytes.Clone(line))
			}
		}
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	return lines
}

func moduleRoot(tb testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("eventtest: no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Storable is the property "anything ingest accepts, every later stage
// accepts": it fuzzes raw event JSON, seeded with Corpus, and hands every
// input that sharelog.DecodeRaw accepts to check, enriched (Enrich), so that
// check runs a stage's encoder on it and asserts that it accepts the event
// and that the event's id and workspace survive the round trip. Inputs that
// DecodeRaw refuses are skipped: ingest never lets them in.
func Storable(f *testing.F, check func(t *testing.T, ev *sharelog.Event)) {
	for _, line := range Corpus(f) {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := sharelog.DecodeRaw(data)
		if err != nil {
			return
		}
		check(t, Enrich(ev))
	})
}

// Enrich fills the enriched groups of a raw event as the enrich workers
// would, with the event's own strings in the free-text fields (the file
// name as the city, the user agent as the client name), so that hostile
// text reaches every column and every sink field.
func Enrich(ev *sharelog.Event) *sharelog.Event {
	lat, lon := 47.3769, 8.5417
	fileName := ""
	if ev.File != nil {
		fileName = ev.File.Name
	}
	ev.Geo = &sharelog.Geo{CountryCode: "CH", CountryName: "Switzerland", Subdivision: ev.Workspace.Name, City: fileName,
		Latitude: &lat, Longitude: &lon, AccuracyRadiusKM: 20, Database: "DB-IP City Lite", DatabaseBuild: "2026-12-01"}
	ev.Platform = &sharelog.Platform{OSName: "Windows", OSVersion: "10", ClientName: ev.Client.UserAgent, ClientVersion: ev.Reason,
		DeviceType: sharelog.DeviceDesktop}
	ev.Session = &sharelog.Session{LinkSessionID: "ls_0123456789abcdef", Seq: 1, Started: true}
	ev.Pipeline = &sharelog.Pipeline{EnrichedAt: ev.Time.Add(time.Millisecond), SchemaVersion: sharelog.SchemaVersion,
		Topic: "sharelog.raw", Partition: 0, Offset: 42}
	return ev
}
