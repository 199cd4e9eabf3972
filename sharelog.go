package sharelog

import "context"

// Enricher adds one group of enriched fields to an event in place, never
// changing a raw field. Enrich does not fail: what it cannot find it leaves
// empty (and counts). Whether an Enricher is safe for concurrent use is said by
// its type; the per-partition ones (session) are not and are owned by one
// partition's worker.
type Enricher interface {
	Enrich(ev *Event)
}

// Sink delivers enriched events to one destination.
//
// Write delivers a batch in order and returns only once the destination has
// accepted every event durably, or with an error: a *PermanentError for the
// events the destination refused (they go to the dead-letter topic), any
// other error, typically a *RetryableError, when the batch should be tried
// again. The context bounds the whole call. The caller owns the batch; the
// sink must not keep it after Write returns. Write is not called
// concurrently on one Sink; Close is called once, after the last Write.
type Sink interface {
	Write(ctx context.Context, batch []*Event) error
	Close() error
}
