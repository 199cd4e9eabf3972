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

// Sink delivers enriched events to one destination. The delivery engine
// (package sinks/delivery) owns consuming, batching, retrying, the
// dead-letter topic and committing; a Sink only talks to its destination.
//
// Write delivers a batch, in order, and returns nil only once the
// destination has accepted every event of it. Otherwise it returns:
//   - a *BatchError when the destination answered event by event, so that
//     only the events that failed are retried or dead-lettered;
//   - a *PermanentError when retrying cannot help (the destination refused
//     the request itself): the engine splits the batch to find the events
//     refused and sends those, alone, to the dead-letter topic;
//   - a *DisabledError when the destination asked not to be called again;
//   - any other error, typically a *RetryableError (with Retry-After), when
//     the same batch should be tried again later.
//
// The context bounds the call, including its network round trips. The
// caller owns the batch; the sink must not keep it or change its events
// after Write returns. Write may be called concurrently (the engine runs
// several batches at once, never two of one link); Close is called once,
// after the last Write has returned.
type Sink interface {
	Write(ctx context.Context, batch []*Event) error
	Close() error
}
