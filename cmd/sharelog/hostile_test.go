package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/ingest"
	"github.com/sharelog/sharelog/internal/kafkax"
	"github.com/sharelog/sharelog/storage/archive"
)

// TestPoisonEventsDoNotStopTheServer posts every kind of poison event the
// hardening review found to `sharelog run`, and writes others straight to
// the raw and enriched topics as a careless producer could: the process
// stays up, the poison ones are refused (400, naming the field) or in the
// DLQ with their reason, and the valid events after them reach the archive.
func TestPoisonEventsDoNotStopTheServer(t *testing.T) {
	work := t.TempDir()
	httpAddr, kafkaAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(binary, "run")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "SHARELOG_HTTP_ADDR="+httpAddr, "SHARELOG_KAFKA_EMBEDDED_ADDR="+kafkaAddr,
		"SHARELOG_LOG_LEVEL=warn", "SHARELOG_INGEST_KEYS="+itestKey, "SHARELOG_ARCHIVE_MAX_FILE_AGE=300ms")
	out := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
		}
	}()
	ready := func() bool {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	for deadline := time.Now().Add(30 * time.Second); !ready(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not ready:\n%s", out.String())
		}
	}

	now := time.Now().UTC()
	fresh := now.Add(-time.Minute).Format(time.RFC3339Nano)
	n := 0
	event := func(workspace, tm, extra string) (id, line string) {
		n++
		id = fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012x", n)
		return id, `{"id":"` + id + `","time":"` + tm + `","workspace":{"id":"` + workspace + `"},"actor":{"type":"anonymous"},` +
			`"action":"link.opened","result":"success","link":{"id":"lnk-1"},"client":{"ip":"192.0.2.1","user_agent":"curl/8.5.0","kind":"cli"}` + extra + `}`
	}
	post := func(body string) (int, ingest.Response) {
		req, _ := http.NewRequest("POST", "http://"+httpAddr+"/v1/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+itestKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("post: %v\n%s", err, out.String())
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var r ingest.Response
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("%d %s", resp.StatusCode, raw)
		}
		return resp.StatusCode, r
	}

	// 1. Over HTTP: every poison line refused, naming its field.
	var body strings.Builder
	poison := []struct{ extra, workspace, time, field string }{
		{"", "..", fresh, "workspace.id"}, {"", ".", fresh, "workspace.id"}, {"", "...", fresh, "workspace.id"}, {"", "a..b", fresh, "workspace.id"},
		{`,"WORKSPACE":{"id":"ws-b"}`, "ws-a", fresh, "WORKSPACE"}, {`,"workspace":{"id":"ws-b"}`, "ws-a", fresh, "workspace"},
		{"", "ws-a", "0000-01-01T00:00:00Z", "time"}, {"", "ws-a", "0001-01-01T00:00:00Z", "time"},
		{"", "ws-a", "2300-01-01T00:00:00Z", "time"}, {"", "ws-a", "9999-12-31T23:59:59Z", "time"},
		{",\"server\":{\"node\":\"n\xff\"}", "ws-a", fresh, "server.node"},
	}
	for _, p := range poison {
		_, line := event(p.workspace, p.time, p.extra)
		body.WriteString(line + "\n")
	}
	validID, valid := event("ws-a", fresh, "")
	body.WriteString(valid + "\n")
	code, resp := post(body.String())
	if code != 400 || resp.Accepted != 1 || len(resp.Errors) != len(poison) {
		t.Fatalf("%d %+v", code, resp)
	}
	for i, p := range poison {
		if f := resp.Errors[i].Fields; len(f) != 1 || f[0].Field != p.field {
			t.Errorf("poison %d: %+v, want field %s", i, resp.Errors[i], p.field)
		}
	}

	// 2. Straight to the topics, past ingest: the enrich workers and the
	// archive sink put them in the DLQ.
	topics := kafkax.Config{TopicPrefix: "sharelog"}.Topics()
	w := &kafka.Writer{Addr: kafka.TCP(kafkaAddr), RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	defer w.Close()
	_, rawDots := event("..", fresh, "")
	_, rawDup := event("ws-a", fresh, `,"WORKSPACE":{"id":"ws-b"}`)
	enrichedDots := strings.Replace(rawDots, `"id":"0193`, `"id":"0293`, 1)
	enrichedEmpty := strings.Replace(enrichedDots, `"workspace":{"id":".."}`, `"workspace":{"id":""}`, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx,
		kafka.Message{Topic: topics.Raw, Value: []byte(rawDots)}, kafka.Message{Topic: topics.Raw, Value: []byte(rawDup)},
		kafka.Message{Topic: topics.Raw, Value: []byte("\x00not json")},
		kafka.Message{Topic: topics.Enriched, Value: []byte(enrichedDots)}, kafka.Message{Topic: topics.Enriched, Value: []byte(enrichedEmpty)},
	); err != nil {
		t.Fatal(err)
	}

	// 3. Valid events after the poison ones reach the archive.
	var later []string
	for i := 0; i < 5; i++ {
		id, line := event("ws-a", now.Format(time.RFC3339Nano), "")
		later = append(later, id)
		if code, resp := post(line); code != 202 {
			t.Fatalf("valid event after the poison: %d %+v\n%s", code, resp, out.String())
		}
	}
	want := append([]string{validID}, later...)
	root := filepath.Join(work, "data", "archive")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		seen := map[string]bool{}
		files, _ := filepath.Glob(filepath.Join(root, "workspace=*", "date=*", "*"+archive.Ext))
		for _, f := range files {
			archive.ReadEach(f, func(ev *sharelog.Event) error { seen[ev.ID] = true; return nil })
		}
		missing := 0
		for _, id := range want {
			if !seen[id] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d valid events not archived:\n%s", missing, len(want), out.String())
		}
		select {
		case err := <-exited:
			t.Fatalf("sharelog run exited (%v):\n%s", err, out.String())
		default:
		}
	}

	// The DLQ holds the five with their stage and reason.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{kafkaAddr}, Topic: topics.DLQ, GroupID: "poison-check", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	reasons := map[string]string{}
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	for len(reasons) < 5 {
		m, err := r.ReadMessage(rctx)
		if err != nil {
			t.Fatalf("DLQ: %d of 5 messages: %v %v", len(reasons), reasons, err)
		}
		h := map[string]string{}
		for _, x := range m.Headers {
			h[x.Key] = string(x.Value)
		}
		reasons[string(m.Value)] = h[kafkax.HeaderStage] + ": " + h[kafkax.HeaderError]
	}
	for value, want := range map[string]string{
		rawDots: "enrich: workspace.id", rawDup: "enrich: WORKSPACE", "\x00not json": "enrich: invalid JSON",
		enrichedDots: "sink:archive: archive: workspace id", enrichedEmpty: "sink:archive: archive: empty workspace id",
	} {
		if got := reasons[value]; !strings.HasPrefix(got, want) {
			t.Errorf("DLQ reason of %.60q: %q, want %q…", value, got, want)
		}
	}
	if !ready() {
		t.Fatalf("not ready after the poison:\n%s", out.String())
	}
}
