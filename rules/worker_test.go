package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/kafkatest"
	"github.com/sharelog/sharelog/internal/kafkax"
)

// env is a broker with sharelog's topics and a producer of enriched events.
type env struct {
	conn *kafkax.Conn
	tp   kafkax.Topics
	n    int
}

func newEnv(t *testing.T) *env {
	cfg := kafkax.Config{TopicPrefix: kafkatest.Prefix(t), Partitions: 4}
	cfg.SetDefaults()
	conn, err := kafkax.NewConn(cfg, kafkatest.Brokers(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	tp := cfg.Topics()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.EnsureTopics(ctx, tp.Enriched); err != nil {
		t.Fatal(err)
	}
	return &env{conn: conn, tp: tp}
}

// produce writes events to the enriched topic.
func (e *env) produce(t *testing.T, evs ...*sharelog.Event) {
	t.Helper()
	w := e.conn.NewWriter()
	defer w.Close()
	var msgs []kafka.Message
	for _, ev := range evs {
		v, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: e.tp.Enriched, Key: []byte(ev.Key()), Value: v})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// failures makes n wrong passwords on link, continuing the numbering.
func (e *env) failures(n int, link string) []*sharelog.Event {
	var out []*sharelog.Event
	for range n {
		e.n++
		out = append(out, ev(e.n, float64(e.n), sharelog.LinkPasswordFailed, link))
	}
	return out
}

// start runs a worker until the returned stop is called.
func (e *env) start(t *testing.T, rs ...Rule) (stop func()) {
	t.Helper()
	for i := range rs {
		rs[i].SetDefaults()
	}
	w, err := NewWorker(rs, Deps{Conn: e.conn})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once bool
	stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(30 * time.Second):
			t.Error("worker did not stop")
		}
	}
	t.Cleanup(stop)
	return stop
}

// settle waits until the rules group has committed everything in the
// enriched topic (its lag is 0 on every partition).
func (e *env) settle(t *testing.T) {
	t.Helper()
	mon := kafkax.NewLagMonitor(e.conn, e.conn.Config().Group("rules"), e.tp.Enriched, time.Hour, nil, nil)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		lag, err := mon.Lag(context.Background())
		total := int64(0)
		for _, l := range lag {
			total += l
		}
		if err == nil && len(lag) > 0 && total == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the rules did not catch up within 60 s")
}

// read returns every message of topic now in it.
func (e *env) read(t *testing.T, topic string) []kafka.Message {
	t.Helper()
	w := &Worker{conn: e.conn}
	ends, err := w.endOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	for p, end := range ends {
		if err := w.read(context.Background(), topic, p, kafka.FirstOffset, end, func(m kafka.Message) { out = append(out, m) }); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func (e *env) alerts(t *testing.T, topic string) []*sharelog.Event {
	var out []*sharelog.Event
	for _, m := range e.read(t, topic) {
		a, err := sharelog.DecodeEnriched(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if a.Action == sharelog.AlertRaised {
			if string(m.Key) != a.Key() {
				t.Errorf("alert keyed %q, want %q", m.Key, a.Key())
			}
			out = append(out, a)
		}
	}
	return out
}

// TestWorkerRaisesAlertsAndCommandsOnce: alerts reach <prefix>.alerts and
// the enriched topic, the brute-force command reaches <prefix>.commands, and
// a restart in the middle of a burst neither loses the count nor raises an
// alert twice.
func TestWorkerRaisesAlertsAndCommandsOnce(t *testing.T) {
	e := newEnv(t)
	rule := Rule{Type: PasswordBruteForce, Threshold: 10, Window: 10 * time.Minute, Severity: sharelog.SeverityCritical}
	e.produce(t, e.failures(12, "lk_bf")...)
	e.produce(t, ev(1000, 1, sharelog.LinkOpened, "lk_other"))
	stop := e.start(t, rule)
	e.settle(t)
	stop()
	alerts := e.alerts(t, e.tp.Alerts)
	if len(alerts) != 1 || alerts[0].Alert.Count != 10 || alerts[0].Alert.Severity != sharelog.SeverityCritical || alerts[0].Link.ID != "lk_bf" {
		t.Fatalf("alerts after the first run: %v", summaries(alerts))
	}
	if got := e.alerts(t, e.tp.Enriched); len(got) != 1 || got[0].ID != alerts[0].ID {
		t.Fatalf("alerts in the enriched topic: %v", summaries(got))
	}
	cmds := e.read(t, e.tp.Commands)
	var cmd Command
	if len(cmds) != 1 || string(cmds[0].Key) != "lk_bf" || json.Unmarshal(cmds[0].Value, &cmd) != nil ||
		cmd.Type != "link.deactivate" || cmd.Link != "lk_bf" || cmd.AlertID != alerts[0].ID || len(cmd.Evidence) != 10 {
		t.Fatalf("commands: %d %+v", len(cmds), cmds)
	}

	// Restarted with 5 more failures (15): no new multiple of 10, no alert.
	e.produce(t, e.failures(5, "lk_bf")...)
	stop = e.start(t, rule)
	e.settle(t)
	if got := e.alerts(t, e.tp.Alerts); len(got) != 1 {
		t.Fatalf("after the restart: %v", summaries(got))
	}
	// 3 more (20): the running count's next alert, which needs the 17
	// before it: the state was rebuilt.
	e.produce(t, e.failures(3, "lk_bf")...)
	e.settle(t)
	stop()
	got := e.alerts(t, e.tp.Alerts)
	if len(got) != 2 || got[1].Alert.Count != 20 || got[1].ID == got[0].ID {
		t.Fatalf("after 20 failures: %v", summaries(got))
	}
	if n := len(e.read(t, e.tp.Commands)); n != 1 {
		t.Fatalf("%d commands, want the first alert's only", n)
	}
}

// TestWorkerKeepsCountriesAcrossRestart: the countries seen on a link come
// back from the state topic, not from a replay.
func TestWorkerKeepsCountriesAcrossRestart(t *testing.T) {
	e := newEnv(t)
	at := func(i int, cc string) *sharelog.Event {
		x := ev(i, float64(i), sharelog.LinkOpened, "lk_nc")
		x.Geo = &sharelog.Geo{CountryCode: cc, CountryName: cc}
		return x
	}
	e.produce(t, at(1, "CH"), at(2, "DE"))
	stop := e.start(t, Rule{Type: NewCountry})
	e.settle(t)
	stop()
	if got := e.alerts(t, e.tp.Alerts); len(got) != 1 || got[0].Geo.CountryCode != "DE" {
		t.Fatalf("%v", summaries(got))
	}
	e.produce(t, at(3, "CH"), at(4, "DE"), at(5, "BR"))
	stop = e.start(t, Rule{Type: NewCountry})
	e.settle(t)
	stop()
	got := e.alerts(t, e.tp.Alerts)
	if len(got) != 2 || got[1].Geo.CountryCode != "BR" {
		t.Fatalf("%v", summaries(got))
	}
	state := map[string]string{}
	for _, m := range e.read(t, e.tp.RulesState) {
		state[string(m.Key)] = string(m.Value)
	}
	if state["new_country/lk_nc"] != "CH,DE,BR" {
		t.Fatalf("state topic %v", state)
	}
}

func TestWorkerNeedsAConnection(t *testing.T) {
	if _, err := NewWorker(Defaults(), Deps{}); err == nil {
		t.Fatal("no error without Kafka")
	}
	rs := []Rule{{Type: "nope"}}
	rs[0].SetDefaults()
	if _, err := NewWorker(rs, Deps{Conn: &kafkax.Conn{}}); err == nil || err.Error() != fmt.Sprintf("rules[0].type: %q is not a rule type (one of %v)", "nope", Types) {
		t.Fatalf("%v", err)
	}
}
