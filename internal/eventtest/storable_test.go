package eventtest

import (
	"testing"

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
