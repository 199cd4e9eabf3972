package elasticsearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func f64(v float64) *float64 { return &v }

// fixture returns events that between them use every field of the event:
// an enriched visitor download, a failed password on IPv6 without
// enrichment, a member's upload with a name that needs escaping, an API
// key's invitation, and sharelog's own retention record.
func fixture() []*sharelog.Event {
	enrichedAt := time.Date(2026, 11, 22, 23, 59, 59, 250_000_000, time.UTC)
	return []*sharelog.Event{
		{
			ID:        "0193a1b2-c3d4-7e5f-8a9b-000000000001",
			Time:      time.Date(2026, 11, 22, 23, 59, 58, 123_456_000, time.UTC),
			Workspace: sharelog.Workspace{ID: "ws-acme", Name: "Acme AG"},
			Actor:     sharelog.Actor{Type: sharelog.ActorAnonymous, VisitorEmail: "visitor@example.org"},
			Action:    sharelog.LinkDownloaded,
			Result:    sharelog.Success,
			File:      &sharelog.File{ID: "f-1", Name: "Q3 report.pdf", Size: 1048576, Path: "/Finance/Q3 report.pdf"},
			Link:      &sharelog.Link{ID: "lnk-7f3a"},
			Client:    sharelog.Client{IP: "81.2.69.160", UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36", Kind: sharelog.ClientBrowser},
			Server:    &sharelog.Server{Region: "eu-central-2", Node: "web-3"},
			Geo: &sharelog.Geo{CountryCode: "CH", CountryName: "Switzerland", Subdivision: "Zurich", City: "Zürich",
				Latitude: f64(47.3769), Longitude: f64(8.5417), AccuracyRadiusKM: 20, Database: "GeoLite2-City", DatabaseBuild: "2026-11-18"},
			Platform: &sharelog.Platform{OSName: "Windows", OSVersion: "10", ClientName: "Chrome", ClientVersion: "131.0.0.0", DeviceType: sharelog.DeviceDesktop},
			Session:  &sharelog.Session{LinkSessionID: "ls_9c1e", Seq: 3, Started: false},
			Pipeline: &sharelog.Pipeline{EnrichedAt: enrichedAt, SchemaVersion: 1, Topic: "sharelog.raw", Partition: 2, Offset: 81723},
		},
		{
			// Just after midnight UTC: the next day's index.
			ID:        "01JD4X8ZK9Q2W3E4R5T6Y7V8H9",
			Time:      time.Date(2026, 11, 23, 0, 0, 1, 0, time.UTC),
			Workspace: sharelog.Workspace{ID: "ws-acme"},
			Actor:     sharelog.Actor{Type: sharelog.ActorAnonymous},
			Action:    sharelog.LinkPasswordFailed,
			Result:    sharelog.Denied,
			Reason:    "wrong_password",
			Link:      &sharelog.Link{ID: "lnk-7f3a"},
			Client:    sharelog.Client{IP: "2a02:8100::1", UserAgent: "curl/8.5.0", Kind: sharelog.ClientCLI},
		},
		{
			// Given in another zone: 01:30 on the 23rd at +02:00 is the
			// 22nd in UTC, which names the index.
			ID:        "0193a1b2-c3d4-7e5f-8a9b-000000000003",
			Time:      time.Date(2026, 11, 23, 1, 30, 0, 0, time.FixedZone("CEST", 2*3600)),
			Workspace: sharelog.Workspace{ID: "ws-acme", Name: "Acme <Legal> & Co"},
			Actor:     sharelog.Actor{Type: sharelog.ActorUser, Email: "alice@acme.example"},
			Action:    sharelog.FileUploaded,
			Result:    sharelog.Success,
			File:      &sharelog.File{ID: "f-2", Name: "plan \"final\"\\v2\t.dwg", Path: "/Design/plan.dwg"},
			Client:    sharelog.Client{IP: "198.51.100.4", Kind: sharelog.ClientBrowser},
			Server:    &sharelog.Server{Region: "eu-central-2"},
			Platform:  &sharelog.Platform{DeviceType: sharelog.DeviceMobile},
		},
		{
			ID:        "0193a1b2-c3d4-7e5f-8a9b-000000000004",
			Time:      time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC),
			Workspace: sharelog.Workspace{ID: "ws-acme"},
			Actor:     sharelog.Actor{Type: sharelog.ActorAPIKey, APIKeyID: "key_31ab"},
			Action:    sharelog.MemberInvited,
			Result:    sharelog.Error,
			Reason:    "seat_limit",
			Client:    sharelog.Client{IP: "192.0.2.10", UserAgent: "sharelog-sdk-go/1.4", Kind: sharelog.ClientSDK},
			Server:    &sharelog.Server{Node: "api-1"},
			Geo:       &sharelog.Geo{CountryCode: "US", Latitude: f64(37.751), Longitude: f64(-97.822)},
		},
		{
			ID:        "0193a1b2-c3d4-7e5f-8a9b-000000000005",
			Time:      time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC),
			Workspace: sharelog.Workspace{ID: "ws-acme"},
			Actor:     sharelog.Actor{Type: sharelog.ActorSystem},
			Action:    sharelog.RetentionApplied,
			Result:    sharelog.Success,
			Reason:    "max_age: 1200 events before 2026-07-25",
			Client:    sharelog.Client{IP: "127.0.0.1", Kind: sharelog.ClientAPI},
		},
	}
}

func ids(batch []*sharelog.Event) []string {
	out := make([]string, len(batch))
	for i, ev := range batch {
		out[i] = ev.ID
	}
	return out
}

// newSink defaults cfg, makes the sink and closes it at the end of the test.
func newSink(t testing.TB, cfg Config, deps Deps) *Sink {
	t.Helper()
	cfg.SetDefaults()
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
		for i := range max(len(gl), len(wl)) {
			var g, w []byte
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if !bytes.Equal(g, w) {
				t.Fatalf("%s differs at line %d:\n got %s\nwant %s", path, i+1, g, w)
			}
		}
	}
}

// writeFile writes content to a new file in a temporary directory.
func writeFile(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkJSON says whether b is one JSON value with no object holding a key
// twice (Elasticsearch refuses duplicate keys).
func checkJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := walkJSON(dec); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("trailing data after the value")
	}
	return nil
}

func walkJSON(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key := k.(string)
			if seen[key] {
				return fmt.Errorf("key %q twice", key)
			}
			seen[key] = true
			if err := walkJSON(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('['):
		for dec.More() {
			if err := walkJSON(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}
