package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/storage/archive"
	"github.com/sharelog/sharelog/tools/simulate"
)

// TestArchiveSurvivesKill SIGKILLs `sharelog run` (embedded broker, ingest,
// enrich, archive) while events stream in and files are being written, starts
// it again on the same data directory, and checks that every event answered
// 202 is in the Parquet archive afterwards.
func TestArchiveSurvivesKill(t *testing.T) {
	work := t.TempDir()
	httpAddr, kafkaAddr := freeAddr(t), freeAddr(t)
	env := append(os.Environ(), "SHARELOG_HTTP_ADDR="+httpAddr, "SHARELOG_KAFKA_EMBEDDED_ADDR="+kafkaAddr,
		"SHARELOG_LOG_LEVEL=warn", "SHARELOG_INGEST_KEYS="+itestKey, "SHARELOG_ARCHIVE_MAX_FILE_AGE=300ms")
	start := func() *exec.Cmd {
		cmd := exec.Command(binary, "run")
		cmd.Dir, cmd.Env = work, env
		out := new(syncBuffer)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if resp, err := http.Get("http://" + httpAddr + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return cmd
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("not ready:\n%s", out.String())
			}
		}
	}

	var (
		mu    sync.Mutex
		acked []string
	)
	send := func(d time.Duration, seed int64) {
		gen := simulate.NewGenerator(simulate.Config{Seed: seed}, nil)
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			batch := gen.Batch(50)
			var body bytes.Buffer
			for _, ev := range batch {
				body.Write(append(ev.AppendJSON(nil), '\n'))
			}
			req, _ := http.NewRequest("POST", "http://"+httpAddr+"/v1/events", &body)
			req.Header.Set("Authorization", "Bearer "+itestKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue // the process is being killed
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 202 {
				mu.Lock()
				for _, ev := range batch {
					acked = append(acked, ev.ID)
				}
				mu.Unlock()
			}
		}
	}

	cmd := start()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); send(3*time.Second, 1) }()
	time.Sleep(2 * time.Second)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	wg.Wait()
	killedAt := len(acked)

	cmd = start()
	send(time.Second, 2)
	root := filepath.Join(work, "data", "archive")
	var missing int
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		seen := map[string]bool{}
		files, _ := filepath.Glob(filepath.Join(root, "workspace=*", "date=*", "*"+archive.Ext))
		for _, f := range files {
			if err := archive.ReadEach(f, func(ev *sharelog.Event) error { seen[ev.ID] = true; return nil }); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		missing = 0
		for _, id := range acked {
			if !seen[id] {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "*", "*", archive.TempPrefix+"*"))
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	t.Logf("%d events acknowledged (%d before the kill), %d missing from the archive, %d temp files seen", len(acked), killedAt, missing, len(leftovers))
	if killedAt == 0 || len(acked) == killedAt {
		t.Fatal("no traffic on one side of the kill")
	}
	if missing > 0 {
		t.Fatalf("%d acknowledged events are not in the archive", missing)
	}
	// The restarted sink removed what the killed one left half-written, and
	// with every event archived it writes nothing more.
	if len(leftovers) > 0 {
		t.Errorf("temp files left: %v", leftovers)
	}
}

// TestRetentionCommand erases one visitor's events with `sharelog retention
// --erase`, first dry: the dry run writes no audit event, the real one
// writes one retention.applied event into the archive, without the email.
func TestRetentionCommand(t *testing.T) {
	dataDir := t.TempDir()
	root := filepath.Join(dataDir, "archive")
	gen := simulate.NewGenerator(simulate.Config{Seed: 8, Workspaces: 1}, nil)
	var target string
	var evs []*sharelog.Event
	for _, ev := range gen.Batch(2000) {
		if target == "" && ev.Actor.Email != "" {
			target = ev.Actor.Email
		}
		evs = append(evs, ev)
	}
	byDir := map[string][]*sharelog.Event{}
	want := 0
	for _, ev := range evs {
		dir, _ := archive.PartitionDir(root, ev.Workspace.ID, ev.Time)
		byDir[dir] = append(byDir[dir], ev)
		if ev.Actor.Email == target || ev.Actor.VisitorEmail == target {
			want++
		}
	}
	for dir, part := range byDir {
		if _, _, err := archive.WriteFile(dir, part, archive.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, dry := range []bool{true, false} {
		args := []string{"retention", "--erase", target}
		if dry {
			args = append(args, "--dry-run")
		}
		rm := runRetention(t, dataDir, args...)
		if rm.DryRun != dry || rm.Events["erasure"] != int64(want) || want == 0 {
			t.Fatalf("dry=%v: %+v, want %d events of %s", dry, rm, want, target)
		}
		audit := archivedAudit(t, root)
		if dry {
			if len(rm.AuditEventIDs) != 0 || len(audit) != 0 {
				t.Fatalf("dry run: audit events %v, %d in the archive", rm.AuditEventIDs, len(audit))
			}
			continue
		}
		if len(rm.AuditEventIDs) != 1 {
			t.Fatalf("audit event ids %v, want one (one workspace)", rm.AuditEventIDs)
		}
		ev := audit[rm.AuditEventIDs[0]]
		if ev == nil {
			t.Fatalf("audit event %s not in the archive", rm.AuditEventIDs[0])
		}
		summary := fmt.Sprintf("erasure: %d events", want)
		if want == 1 {
			summary = "erasure: 1 event"
		}
		if ev.Reason != summary || strings.Contains(ev.Reason, "@") || ev.Workspace.ID != evs[0].Workspace.ID || ev.Validate() != nil {
			t.Fatalf("audit event %+v", ev)
		}
	}
	left := 0
	files, _ := filepath.Glob(filepath.Join(root, "*", "*", "*"+archive.Ext))
	for _, f := range files {
		archive.ReadEach(f, func(ev *sharelog.Event) error {
			if ev.Actor.Email == target || ev.Actor.VisitorEmail == target {
				left++
			}
			return nil
		})
	}
	if left != 0 {
		t.Fatalf("%d events of %s left after erasure", left, target)
	}
}

// TestRetentionCommandAudit: `sharelog retention` removes the days past the
// maximum age and writes one retention.applied event per workspace that lost
// events into that workspace's partition of the day, valid and readable with
// archive.ReadFile; --dry-run writes none.
func TestRetentionCommandAudit(t *testing.T) {
	dataDir := t.TempDir()
	root := filepath.Join(dataDir, "archive")
	gen := simulate.NewGenerator(simulate.Config{Seed: 3, Workspaces: 3}, nil)
	old := map[string]int{} // events past the maximum age, by workspace
	byDir := map[string][]*sharelog.Event{}
	for i, ev := range gen.Batch(600) {
		if i%3 != 0 {
			ev.Time = ev.Time.AddDate(0, 0, -200)
			old[ev.Workspace.ID]++
		}
		dir, _ := archive.PartitionDir(root, ev.Workspace.ID, ev.Time)
		byDir[dir] = append(byDir[dir], ev)
	}
	for dir, part := range byDir {
		if _, _, err := archive.WriteFile(dir, part, archive.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	dry := runRetention(t, dataDir, "retention", "--dry-run")
	if len(dry.AuditEventIDs) != 0 || len(archivedAudit(t, root)) != 0 || len(dry.Workspaces) != len(old) {
		t.Fatalf("dry run: %+v, %d audit events in the archive", dry, len(archivedAudit(t, root)))
	}
	start := time.Now().UTC()
	rm := runRetention(t, dataDir, "retention")
	end := time.Now().UTC()
	if len(rm.AuditEventIDs) != len(old) {
		t.Fatalf("audit event ids %v, want one per workspace of %v", rm.AuditEventIDs, old)
	}
	// Read them back where they belong: the workspace's partition of the
	// run's day.
	found := map[string]*sharelog.Event{}
	for ws := range old {
		for _, day := range []time.Time{start, end} {
			dir, _ := archive.PartitionDir(root, ws, day)
			files, _ := archive.Files(dir)
			for _, f := range files {
				evs, err := archive.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					if ev.Action == sharelog.RetentionApplied {
						found[ev.ID] = ev
					}
				}
			}
		}
	}
	for _, id := range rm.AuditEventIDs {
		ev := found[id]
		if ev == nil {
			t.Fatalf("audit event %s not in its workspace's partition of today", id)
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("audit event %s: %v", id, err)
		}
		if !strings.HasPrefix(ev.Reason, fmt.Sprintf("max_age: %d events before ", old[ev.Workspace.ID])) ||
			ev.Actor.Type != sharelog.ActorSystem || ev.Time.Before(start.Truncate(time.Microsecond)) || ev.Time.After(end) {
			t.Fatalf("audit event %+v (run between %v and %v)", ev, start, end)
		}
	}
	if len(found) != len(rm.AuditEventIDs) {
		t.Fatalf("%d audit events in the archive, %d reported", len(found), len(rm.AuditEventIDs))
	}
}

// runRetention runs the sharelog command with args on dataDir and returns
// its report.
func runRetention(t *testing.T, dataDir string, args ...string) archive.Removal {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "SHARELOG_DATA_DIR="+dataDir, "SHARELOG_LOG_LEVEL=warn")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	var rm archive.Removal
	if err := json.Unmarshal(out, &rm); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	return rm
}

// archivedAudit reads every retention.applied event of the archive, by id.
func archivedAudit(t *testing.T, root string) map[string]*sharelog.Event {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "*", "*", "*"+archive.Ext))
	out := map[string]*sharelog.Event{}
	for _, f := range files {
		evs, err := archive.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Action == sharelog.RetentionApplied {
				out[ev.ID] = ev
			}
		}
	}
	return out
}
