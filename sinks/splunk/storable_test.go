package splunk

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/eventtest"
)

// FuzzStorable: for every event ingest accepts (see eventtest.Storable),
// the request body, plain and gzipped, alone and after another event, is a
// stream of HEC event objects that encoding/json (and compress/gzip) read
// one by one: each has the event's time in epoch seconds with milliseconds
// and the metadata, and its "event" holds the event's id and workspace (id
// and name) as they were.
func FuzzStorable(f *testing.F) {
	plainCfg := testConfig(f, "https://splunk.example.com:8088")
	plainCfg.Index = "security"
	gzipCfg := plainCfg
	gzipCfg.Gzip = true
	sinks := []*Sink{newTestSink(f, plainCfg, Deps{}), newTestSink(f, gzipCfg, Deps{})}
	other := fullEvent(1)
	eventtest.Storable(f, func(t *testing.T, ev *sharelog.Event) {
		for _, s := range sinks {
			for _, batch := range [][]*sharelog.Event{{ev}, {other, ev}} {
				checkHEC(t, s, batch)
			}
		}
	})
}

// checkHEC encodes batch as s does and reads it back as a collector would.
func checkHEC(t *testing.T, s *Sink, batch []*sharelog.Event) {
	t.Helper()
	body := s.encode(batch)
	raw, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Gzip {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gzip: %v", err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for i, want := range batch {
		var got struct {
			Time       json.Number `json:"time"`
			Host       string      `json:"host"`
			Source     string      `json:"source"`
			Sourcetype string      `json:"sourcetype"`
			Index      string      `json:"index"`
			Event      struct {
				ID        string `json:"id"`
				Workspace struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"workspace"`
			} `json:"event"`
		}
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("HEC event %d of %d (gzip %v): %v\n%s", i, len(batch), s.cfg.Gzip, err, raw)
		}
		ms := want.Time.UnixMilli()
		epoch := strconv.FormatInt(ms/1000, 10) + "." + strconv.FormatInt(1000+ms%1000, 10)[1:]
		if ms < 0 {
			epoch = "-" + strconv.FormatInt(-ms/1000, 10) + "." + strconv.FormatInt(1000+(-ms)%1000, 10)[1:]
		}
		if got.Time.String() != epoch {
			t.Fatalf("HEC event %d: time %s, want %s (%s)", i, got.Time, epoch, want.Time)
		}
		if got.Host != s.cfg.Host || got.Source != s.cfg.Source || got.Sourcetype != s.cfg.Sourcetype || got.Index != s.cfg.Index {
			t.Fatalf("HEC event %d: metadata %q %q %q %q", i, got.Host, got.Source, got.Sourcetype, got.Index)
		}
		e := got.Event
		if e.ID != want.ID || e.Workspace.ID != want.Workspace.ID || e.Workspace.Name != want.Workspace.Name {
			t.Fatalf("HEC event %d read back as id %q workspace %q/%q, want %q %q/%q", i, e.ID, e.Workspace.ID, e.Workspace.Name, want.ID, want.Workspace.ID, want.Workspace.Name)
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("data after %d HEC events: %v\n%s", len(batch), err, raw)
	}
}
