package sharelog

import (
	"errors"
	"fmt"
	"time"
)

// PermanentError marks a failure that retrying cannot mend: the destination
// refused the event itself (bad request, unknown index, gone). The event goes
// to the dead-letter topic with the reason.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// RetryableError marks a failure that may pass: a timeout, an unavailable
// broker or destination, a rate limit. After, when not zero, is how long the
// other side asked us to wait (Retry-After).
type RetryableError struct {
	Err   error
	After time.Duration
}

func (e *RetryableError) Error() string { return "retryable: " + e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError; nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// Retryable wraps err as a RetryableError with the wait the other side asked
// for (0 if none); nil stays nil.
func Retryable(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &RetryableError{Err: err, After: after}
}

// IsPermanent reports whether err, or an error it wraps, is a PermanentError.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}

// RetryAfter returns the wait a RetryableError in err's chain asks for.
func RetryAfter(err error) (time.Duration, bool) {
	var re *RetryableError
	if errors.As(err, &re) {
		return re.After, true
	}
	return 0, false
}

// BatchError is the answer of a destination that judges the events of a
// batch one by one (Elasticsearch _bulk): Errs[i] is nil when event i of the
// batch was accepted, else why it was not (a *PermanentError or a
// *RetryableError). Errs has one entry per event of the batch.
type BatchError struct{ Errs []error }

func (e *BatchError) Error() string {
	failed := 0
	var first error
	for _, err := range e.Errs {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if first == nil {
		return "batch: every event accepted"
	}
	return fmt.Sprintf("batch: %d of %d events not accepted, first: %v", failed, len(e.Errs), first)
}

// DisabledError means the destination asked not to be called again (a
// webhook receiver answering 410 Gone). The delivery engine stops delivering
// to that sink, commits nothing more, says so in its logs and metrics, and
// leaves the backlog in Kafka until the sink is re-enabled (restarted).
type DisabledError struct{ Err error }

func (e *DisabledError) Error() string { return "disabled: " + e.Err.Error() }
func (e *DisabledError) Unwrap() error { return e.Err }

// DeliverEach is Write for a sink that sends a batch one event at a time:
// it calls deliver for each event, in order, and turns the outcome into what
// Write returns. nil when every call succeeded; the error itself for a
// one-event batch or a *DisabledError; otherwise a *BatchError in which a
// permanent failure concerns its event alone (the next are still sent) and
// any other failure stops the batch, the events after it marked retryable
// with the failure's Retry-After.
func DeliverEach(batch []*Event, deliver func(i int, ev *Event) error) error {
	var errs []error
	for i, ev := range batch {
		err := deliver(i, ev)
		if err == nil {
			continue
		}
		var de *DisabledError
		if errors.As(err, &de) || len(batch) == 1 {
			return err
		}
		if errs == nil {
			errs = make([]error, len(batch))
		}
		errs[i] = err
		if IsPermanent(err) {
			continue
		}
		after, _ := RetryAfter(err)
		for j := i + 1; j < len(batch); j++ {
			errs[j] = Retryable(fmt.Errorf("not sent: event %d of the batch before it failed: %w", i, err), after)
		}
		break
	}
	if errs != nil {
		return &BatchError{Errs: errs}
	}
	return nil
}
