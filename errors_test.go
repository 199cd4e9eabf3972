package sharelog

import (
	"errors"
	"testing"
	"time"
)

// TestDeliverEach: a permanent failure concerns its event alone, any other
// stops the batch with the rest retryable after the same wait, a disabled
// destination or a one-event batch gets the error itself.
func TestDeliverEach(t *testing.T) {
	batch := []*Event{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}}
	var sent []string
	err := DeliverEach(batch, func(i int, ev *Event) error {
		sent = append(sent, ev.ID)
		switch ev.ID {
		case "b":
			return Permanent(errors.New("refused"))
		case "c":
			return Retryable(errors.New("busy"), 7*time.Second)
		}
		return nil
	})
	var be *BatchError
	if !errors.As(err, &be) || len(be.Errs) != 4 || be.Errs[0] != nil || !IsPermanent(be.Errs[1]) || IsPermanent(be.Errs[2]) {
		t.Fatalf("%v", err)
	}
	if after, ok := RetryAfter(be.Errs[3]); !ok || after != 7*time.Second || len(sent) != 3 {
		t.Fatalf("event after the retryable failure: %v (sent %v)", be.Errs[3], sent)
	}
	gone := &DisabledError{Err: errors.New("410")}
	if err := DeliverEach(batch, func(int, *Event) error { return gone }); err != gone {
		t.Fatalf("disabled: %v", err)
	}
	one := Retryable(errors.New("x"), 0)
	if err := DeliverEach(batch[:1], func(int, *Event) error { return one }); err != one {
		t.Fatalf("one event: %v", err)
	}
	if err := DeliverEach(batch, func(int, *Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
}
