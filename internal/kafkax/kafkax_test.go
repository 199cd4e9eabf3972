package kafkax

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
)

// testConn connects to the cluster of SHARELOG_TEST_KAFKA_BROKERS (with
// topic names of this test's own), else to a fresh embedded broker. (This
// package cannot use internal/kafkatest, which imports it.)
func testConn(t *testing.T) *Conn {
	t.Helper()
	brokers := strings.Split(os.Getenv("SHARELOG_TEST_KAFKA_BROKERS"), ",")
	prefix := fmt.Sprintf("kafkax-%d-%s", time.Now().UnixNano(), strings.ReplaceAll(t.Name(), "/", "-"))
	if brokers[0] == "" {
		b, err := StartEmbedded(EmbeddedConfig{Addr: "127.0.0.1:0"}, t.TempDir(), 3)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		brokers = []string{b.Addr()}
	}
	cfg := Config{TopicPrefix: prefix, Partitions: 3}
	cfg.SetDefaults()
	conn, err := NewConn(cfg, brokers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

func TestEnsureTopicsIsIdempotent(t *testing.T) {
	conn := testConn(t)
	ctx := context.Background()
	topics := conn.Config().Topics()
	for range 2 {
		if err := conn.EnsureTopics(ctx, topics.Raw, topics.Enriched); err != nil {
			t.Fatal(err)
		}
	}
	md, err := conn.Client().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topics.Raw, topics.Enriched}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range md.Topics {
		if tp.Error != nil || len(tp.Partitions) != 3 {
			t.Fatalf("topic %s: %v, %d partitions", tp.Name, tp.Error, len(tp.Partitions))
		}
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{Brokers: []string{"k1"}, TopicPrefix: "a b", Partitions: -1, Compression: "brotli"}
	c.SetDefaults()
	err := c.Validate()
	for _, want := range []string{`brokers[0]: "k1" is not host:port`, "topic_prefix:", "partitions: -1", `compression: "brotli"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

// TestLagMatchesCommittedOffsets produces to a topic, commits part of it in
// a group, and checks the monitor's lag per partition against what was
// produced and committed.
func TestLagMatchesCommittedOffsets(t *testing.T) {
	conn := testConn(t)
	ctx := context.Background()
	topic := conn.Config().Topics().Raw
	if err := conn.EnsureTopics(ctx, topic); err != nil {
		t.Fatal(err)
	}
	w := conn.NewWriter()
	defer w.Close()
	var msgs []kafka.Message
	for i := range 90 {
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(fmt.Sprint("k", i)), Value: []byte("v")})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	group := conn.Config().Group("lag")
	mon := NewLagMonitor(conn, group, topic, time.Hour, nil, reg)
	lag, err := mon.Lag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, l := range lag {
		total += l
	}
	if len(lag) != 3 || total != 90 {
		t.Fatalf("before any commit: lag %v (total %d), want 3 partitions totalling 90", lag, total)
	}

	r := conn.NewGroupReader(group, topic, nil)
	defer r.Close()
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	// Commit at least 30 messages, and at least one of every partition, so
	// that Kafka's own tool reports a lag for each.
	committedN, seen := 0, map[int]bool{}
	for committedN < 30 || len(seen) < 3 {
		m, err := r.FetchMessage(fctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.CommitMessages(fctx, m); err != nil {
			t.Fatal(err)
		}
		committedN++
		seen[m.Partition] = true
	}
	lag, err = mon.Lag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total = 0
	for _, l := range lag {
		total += l
	}
	if total != int64(90-committedN) {
		t.Fatalf("after committing %d of 90: lag %v (total %d), want %d", committedN, lag, total, 90-committedN)
	}
	// Against Apache Kafka, Kafka's own tool reports the same lag per partition.
	if os.Getenv("SHARELOG_TEST_KAFKA_BROKERS") != "" {
		reported := kafkaReportedLag(t, group, topic)
		for p, l := range lag {
			if reported[p] != l {
				t.Errorf("partition %d: monitor says %d, kafka-consumer-groups says %d (all: %v)", p, l, reported[p], reported)
			}
		}
		if len(reported) != len(lag) {
			t.Errorf("kafka-consumer-groups reports %v, the monitor %v", reported, lag)
		}
	}
	// The gauge shows the same numbers once Run has refreshed it.
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- mon.Run(rctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for testutil.CollectAndCount(reg, "sharelog_consumer_lag") < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	rcancel()
	<-done
	var sum float64
	for p := range 3 {
		sum += testutil.ToFloat64(mon.lag.WithLabelValues(fmt.Sprint(p)))
	}
	if sum != float64(90-committedN) {
		t.Fatalf("gauge totals %v, want %d", sum, 90-committedN)
	}
}

// kafkaReportedLag asks Apache Kafka's kafka-consumer-groups tool (through
// scripts/kafka-consumer-groups) for the group's lag per partition of topic.
func kafkaReportedLag(t *testing.T, group, topic string) map[int]int64 {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "kafka-consumer-groups")
	out, err := exec.Command(script, "--describe", "--group", group,
		"--bootstrap-server", strings.Split(os.Getenv("SHARELOG_TEST_KAFKA_BROKERS"), ",")[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("kafka-consumer-groups: %v\n%s", err, out)
	}
	lag := map[int]int64{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		// GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
		if len(f) >= 6 && f[0] == group && f[1] == topic {
			p, err1 := strconv.Atoi(f[2])
			l, err2 := strconv.ParseInt(f[5], 10, 64)
			if err1 == nil && err2 == nil {
				lag[p] = l
			}
		}
	}
	return lag
}
