package archive

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/kafkatest"
	"github.com/sharelog/sharelog/internal/kafkax"
	"github.com/sharelog/sharelog/storage/archive"
	"github.com/sharelog/sharelog/tools/simulate"
)

type fixture struct {
	conn *kafkax.Conn
	cfg  Config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	kc := kafkax.Config{TopicPrefix: kafkatest.Prefix(t), Partitions: 3}
	kc.SetDefaults()
	conn, err := kafkax.NewConn(kc, kafkatest.Brokers(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	tp := kc.Topics()
	if err := conn.EnsureTopics(context.Background(), tp.Enriched, tp.DLQ); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dir: t.TempDir(), MaxFileAge: 200 * time.Millisecond}
	cfg.SetDefaults("")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &fixture{conn: conn, cfg: cfg}
}

// produce writes n simulated events, enriched as the enrich workers leave
// them, to the enriched topic and returns their ids.
func (f *fixture) produce(t *testing.T, n int, extra ...kafka.Message) []string {
	t.Helper()
	gen := simulate.NewGenerator(simulate.Config{Seed: 9, Workspaces: 4}, nil)
	w := f.conn.NewWriter()
	defer w.Close()
	topic := f.conn.Config().Topics().Enriched
	var ids []string
	var msgs []kafka.Message
	for i, ev := range gen.Batch(n) {
		ev.Pipeline = &sharelog.Pipeline{EnrichedAt: time.Now().UTC(), SchemaVersion: 1, Topic: "raw", Offset: int64(i)}
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(ev.Key()), Value: ev.AppendJSON(nil)})
		ids = append(ids, ev.ID)
	}
	for i := range extra {
		extra[i].Topic = topic
	}
	if err := w.WriteMessages(context.Background(), append(msgs, extra...)...); err != nil {
		t.Fatal(err)
	}
	return ids
}

// archived reads every file of the archive and counts each event id.
func archived(t *testing.T, root string) map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "workspace=*", "date=*", "*"+archive.Ext))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, f := range files {
		if err := archive.ReadEach(f, func(ev *sharelog.Event) error {
			dir := filepath.Dir(f)
			want := fmt.Sprintf("workspace=%s/date=%s", ev.Workspace.ID, ev.Time.UTC().Format(time.DateOnly))
			if !strings.HasSuffix(dir, want) {
				t.Fatalf("event %s in %s, want …/%s", ev.ID, dir, want)
			}
			seen[ev.ID]++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return seen
}

func run(t *testing.T, s *Sink) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("Run did not return within 60s")
		}
	}
}

func lag(t *testing.T, f *fixture, group string) int64 {
	t.Helper()
	m := kafkax.NewLagMonitor(f.conn, group, f.conn.Config().Topics().Enriched, time.Hour, nil, nil)
	l, err := m.Lag(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, v := range l {
		total += v
	}
	return total
}

// TestArchivesEverythingAndCommitsAfterFiles: every event lands once in the
// file of its workspace and date; offsets are committed once the files are
// there; a message that is not an event goes to the DLQ.
func TestArchivesEverythingAndCommitsAfterFiles(t *testing.T) {
	f := newFixture(t)
	s, err := New(f.cfg, Deps{Conn: f.conn})
	if err != nil {
		t.Fatal(err)
	}
	ids := f.produce(t, 3000, kafka.Message{Key: []byte("x"), Value: []byte("not json")})
	stop := run(t, s)
	deadline := time.Now().Add(60 * time.Second)
	for {
		seen := archived(t, f.cfg.Dir)
		if len(seen) == len(ids) {
			for _, id := range ids {
				if seen[id] != 1 {
					t.Fatalf("event %s archived %d times", id, seen[id])
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events archived after 60s", len(seen), len(ids))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Everything written: the group has nothing left to read.
	for deadline := time.Now().Add(20 * time.Second); lag(t, f, s.Group()) != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("lag %d after every event was archived", lag(t, f, s.Group()))
		}
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: f.conn.Brokers(), Topic: f.conn.Config().Topics().DLQ, GroupID: s.Group() + "-check", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := r.FetchMessage(ctx)
	if err != nil || string(m.Value) != "not json" {
		t.Fatalf("DLQ: %q %v", m.Value, err)
	}
	for _, h := range m.Headers {
		if h.Key == kafkax.HeaderStage && string(h.Value) != "sink:archive" {
			t.Fatalf("stage %q", h.Value)
		}
	}
}

// TestNothingCommittedBeforeItIsInAFile: with files rolled only at
// shutdown, the group's lag stays whole while the events are buffered, and
// shutdown writes them and commits.
func TestNothingCommittedBeforeItIsInAFile(t *testing.T) {
	f := newFixture(t)
	f.cfg.MaxFileAge = time.Hour
	s, err := New(f.cfg, Deps{Conn: f.conn})
	if err != nil {
		t.Fatal(err)
	}
	ids := f.produce(t, 500)
	stop := run(t, s)
	time.Sleep(3 * time.Second) // the sink takes everything into its buffers
	if got := archived(t, f.cfg.Dir); len(got) != 0 {
		t.Fatalf("%d events in files before any roll", len(got))
	}
	if l := lag(t, f, s.Group()); l != int64(len(ids)) {
		t.Fatalf("lag %d while nothing is in a file, want %d", l, len(ids))
	}
	stop()
	if got := archived(t, f.cfg.Dir); len(got) != len(ids) {
		t.Fatalf("after shutdown %d of %d events archived", len(got), len(ids))
	}
	if l := lag(t, f, s.Group()); l != 0 {
		t.Fatalf("lag %d after shutdown", l)
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{MaxFileEvents: -1, MaxFileAge: time.Millisecond}
	c.SetDefaults("/data")
	err := c.Validate()
	if c.Dir != "/data/archive" || err == nil || !strings.Contains(err.Error(), "max_file_events: -1") || !strings.Contains(err.Error(), "max_file_age: 1ms") {
		t.Fatalf("dir %s, err %v", c.Dir, err)
	}
}

// TestScheduledRetentionRecordsAudit: the sink's scheduled retention removes
// the days past the maximum age and writes a retention.applied event per
// workspace concerned into that workspace's partition of the day, with the
// sink's node; a pass that removes nothing writes none.
func TestScheduledRetentionRecordsAudit(t *testing.T) {
	f := newFixture(t)
	f.cfg.RetentionInterval = 100 * time.Millisecond // Validate's minute is for production
	root := f.cfg.Dir
	gen := simulate.NewGenerator(simulate.Config{Seed: 4, Workspaces: 2}, nil)
	old := map[string]int{}
	newest := map[string]time.Time{} // of the old events, by workspace
	byDir := map[string][]*sharelog.Event{}
	for _, ev := range gen.Batch(300) {
		ev.Time = ev.Time.AddDate(0, 0, -200)
		old[ev.Workspace.ID]++
		if ev.Time.After(newest[ev.Workspace.ID]) {
			newest[ev.Workspace.ID] = ev.Time
		}
		dir, _ := archive.PartitionDir(root, ev.Workspace.ID, ev.Time)
		byDir[dir] = append(byDir[dir], ev)
	}
	for dir, part := range byDir {
		if _, _, err := archive.WriteFile(dir, part, archive.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	s, err := New(f.cfg, Deps{Conn: f.conn, Node: "archive-7", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	audit := func() map[string]*sharelog.Event {
		out := map[string]*sharelog.Event{}
		for ws := range old {
			dir, _ := archive.PartitionDir(root, ws, now)
			files, _ := archive.Files(dir)
			for _, file := range files {
				evs, err := archive.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					out[ev.Workspace.ID+" "+ev.ID] = ev
				}
			}
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(audit()) < len(old) {
		if time.Now().After(deadline) {
			t.Fatalf("%d audit events after 30s, want %d", len(audit()), len(old))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // more passes, with nothing left to remove
	stop()
	got := audit()
	if len(got) != len(old) {
		t.Fatalf("%d audit events, want one per workspace (%d): later passes wrote more", len(got), len(old))
	}
	for _, ev := range got {
		want := fmt.Sprintf("max_age: %d events before %s", old[ev.Workspace.ID], newest[ev.Workspace.ID].AddDate(0, 0, 1).Format(time.DateOnly))
		if err := ev.Validate(); err != nil || ev.Action != sharelog.RetentionApplied || ev.Reason != want ||
			!ev.Time.Equal(now.Truncate(time.Microsecond)) || ev.Server == nil || ev.Server.Node != "archive-7" {
			t.Fatalf("audit event %+v (%v), want reason %q", ev, err, want)
		}
	}
	if left := archived(t, root); len(left) != len(old) {
		t.Fatalf("%d events left, want only the %d audit events", len(left), len(old))
	}
}

// TestScheduledCompactionIncludesToday: the sink's scheduled pass merges the
// small files of today's partitions too (the sink writes one a minute), not
// only past days', keeping every event.
func TestScheduledCompactionIncludesToday(t *testing.T) {
	f := newFixture(t)
	f.cfg.RetentionInterval = 100 * time.Millisecond
	root := f.cfg.Dir
	now := time.Now().UTC()
	gen := simulate.NewGenerator(simulate.Config{Seed: 6, Workspaces: 1}, nil)
	want := map[string]int{}
	for _, day := range []time.Time{now, now.AddDate(0, 0, -1)} {
		for range 5 {
			evs := gen.Batch(40)
			for _, ev := range evs {
				ev.Time = day.Truncate(24 * time.Hour).Add(time.Duration(len(want)) * time.Second)
			}
			dir, _ := archive.PartitionDir(root, evs[0].Workspace.ID, evs[0].Time)
			if _, _, err := archive.WriteFile(dir, evs, archive.Options{}); err != nil {
				t.Fatal(err)
			}
			want[dir] += len(evs)
		}
	}
	s, err := New(f.cfg, Deps{Conn: f.conn, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	defer stop()
	deadline := time.Now().Add(30 * time.Second)
	for dir, n := range want {
		for {
			files, _ := archive.Files(dir)
			if len(files) == 1 {
				evs, err := archive.ReadFile(files[0])
				if err != nil || len(evs) != n {
					t.Fatalf("%s: %d events after compaction, want %d (%v)", dir, len(evs), n, err)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still has %d files", dir, len(files))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
