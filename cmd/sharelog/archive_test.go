package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/simulate"
	"github.com/sharelog/sharelog/storage/archive"
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
// --erase`, first dry.
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
		if rm.DryRun != dry || rm.Events["erasure"] != int64(want) || want == 0 {
			t.Fatalf("dry=%v: %+v, want %d events of %s", dry, rm, want, target)
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
