package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sharelog/sharelog/internal/kafkatest"
)

// binary is the sharelog command built once for the process-level tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sharelog-cmd-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "sharelog")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string { return kafkatest.FreeAddr(t) }

// TestRunAsAUserWould starts `sharelog run` with no configuration file, as
// the README says, sends traffic with `sharelog simulate`, reads the
// enriched topic, stops it with SIGTERM and starts it again.
func TestRunAsAUserWould(t *testing.T) {
	work := t.TempDir()
	httpAddr, kafkaAddr := freeAddr(t), freeAddr(t)
	env := append(os.Environ(), "SHARELOG_HTTP_ADDR="+httpAddr, "SHARELOG_KAFKA_EMBEDDED_ADDR="+kafkaAddr, "SHARELOG_LOG_LEVEL=warn")

	start := func() (*exec.Cmd, *syncBuffer) {
		cmd := exec.Command(binary, "run")
		cmd.Dir, cmd.Env = work, env
		out := new(syncBuffer)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get("http://" + httpAddr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return cmd, out
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("not ready within 30s:\n%s", out.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	stop := func(cmd *exec.Cmd, out *syncBuffer) {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, out.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("no exit within 30s of SIGTERM:\n%s", out.String())
		}
	}

	cmd, out := start()
	key, err := os.ReadFile(filepath.Join(work, "data", "ingest.key"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), strings.TrimSpace(string(key))) {
		t.Fatalf("the generated key is not printed:\n%s", out.String())
	}

	sim := exec.Command(binary, "simulate", "--rate", "400", "--duration", "2s", "--seed", "5")
	sim.Dir, sim.Env = work, env
	simOut, err := sim.CombinedOutput()
	if err != nil || !strings.Contains(string(simOut), "sent 800 events (0 failed)") {
		t.Fatalf("simulate: %v\n%s", err, simOut)
	}
	if n := countMessages(t, kafkaAddr, "sharelog.enriched", 800); n != 800 {
		t.Fatalf("%d enriched events, want 800", n)
	}
	stop(cmd, out)

	// Started again on the same data directory: the key is kept and not
	// printed, the events are still there.
	cmd, out = start()
	if strings.Contains(out.String(), strings.TrimSpace(string(key))) {
		t.Fatal("the key was printed a second time")
	}
	if n := countMessages(t, kafkaAddr, "sharelog.enriched", 800); n != 800 {
		t.Fatalf("after restart: %d enriched events, want 800", n)
	}
	stop(cmd, out)
}

// countMessages reads topic from the start until want messages or 30s.
func countMessages(t *testing.T, broker, topic string, want int) int {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, GroupID: fmt.Sprint("count-", time.Now().UnixNano()),
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := 0
	for n < want {
		if _, err := r.FetchMessage(ctx); err != nil {
			break
		}
		n++
	}
	return n
}

func TestInvalidConfigurationIsRefused(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(cfg, []byte("kafka:\n  partitions: -1\nhttp:\n  addr: nowhere\n"), 0o644)
	cmd := exec.Command(binary, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "SHARELOG_DATA_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("started with an invalid configuration")
	}
	for _, want := range []string{"kafka.partitions: -1 is not between 1 and 10000", `http.addr: "nowhere" is not host:port`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestConfigCommandHidesSecrets(t *testing.T) {
	cmd := exec.Command(binary, "config")
	cmd.Env = append(os.Environ(), "SHARELOG_INGEST_KEYS=super-secret-ingest-key-1", "SHARELOG_ENRICH_SESSION_SECRET=another-secret-of-at-least-32-bytes!!",
		"SHARELOG_KAFKA_SASL_MECHANISM=PLAIN", "SHARELOG_KAFKA_SASL_USERNAME=u", "SHARELOG_KAFKA_SASL_PASSWORD=third-secret-sasl")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("super-secret")) || bytes.Contains(out, []byte("another-secret")) || bytes.Contains(out, []byte("third-secret")) {
		t.Fatalf("a secret is shown:\n%s", out)
	}
	if !bytes.Contains(out, []byte("SHARELOG_KAFKA_EMBEDDED_ADDR")) || !bytes.Contains(out, []byte("(hidden)")) {
		t.Fatalf("unexpected output:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer the child's output goroutine and the test
// can use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
