package eventtest

import (
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

// TestCorpusIsValid: every line of both corpora is a valid raw event, so
// that the seeds of Storable reach the stages rather than being skipped.
func TestCorpusIsValid(t *testing.T) {
	lines := Corpus(t)
	if len(lines) < 40 {
		t.Fatalf("only %d events in the corpora", len(lines))
	}
	for i, line := range lines {
		if _, err := sharelog.DecodeRaw(line); err != nil {
			t.Errorf("corpus line %d: %v\n%s", i+1, err, line)
		}
	}
}

// TestEventIsValid: the builder's event and its options give valid events.
func TestEventIsValid(t *testing.T) {
	for i, ev := range []*sharelog.Event{
		Event(0), Event(7, Workspace("ws-a", "A"), Action(sharelog.FileDownloaded), User("u@example.com"), Link("")),
		Event(1, Result(sharelog.Denied, "wrong_password"), Action(sharelog.LinkPasswordFailed), Visitor("v@example.org"), Client("2001:db8::1", "curl/8")),
	} {
		if err := ev.Validate(); err != nil {
			t.Errorf("event %d: %v", i, err)
		}
	}
	if Event(3).ID != "0193a1b2-c3d4-7e5f-8a9b-000000000003" || !Event(3).Time.Equal(Base.Add(3*time.Second)) {
		t.Errorf("event 3: %+v", Event(3))
	}
	if a := Raised(Event(2)); a.Alert == nil || a.Alert.Evidence[0] != ID(2) || a.Action != sharelog.AlertRaised {
		t.Errorf("raised: %+v", a)
	}
}
