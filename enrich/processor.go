package enrich

import (
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/enrich/session"
	"github.com/sharelog/sharelog/internal/kafkax"
)

// Processor turns one raw message into an enriched or a dead-letter message.
// Shared enrichers (geo, platform) are safe for concurrent use; the session
// trackers are per partition, so a Processor belongs to one worker and is not
// safe for concurrent use.
type Processor struct {
	topics   Topics
	shared   []sharelog.Enricher
	newTrack func() *session.Tracker
	sessions map[int]*session.Tracker
	now      func() time.Time
	arena    []byte

	reportedStarted uint64 // sessions started, as of the last Sessions call
}

// Topics are the topics a Processor writes to.
type Topics struct{ Enriched, DLQ string }

// NewProcessor returns a Processor applying shared in order, then a session
// tracker of the message's partition (made by newTracker on first use; nil:
// no sessions).
func NewProcessor(topics Topics, shared []sharelog.Enricher, newTracker func() *session.Tracker, now func() time.Time) *Processor {
	if now == nil {
		now = time.Now
	}
	return &Processor{topics: topics, shared: shared, newTrack: newTracker, sessions: map[int]*session.Tracker{}, now: now}
}

// Process returns the message to produce for m: the enriched event, keyed
// like m, on the enriched topic; or, when m's value is not a valid raw event,
// m's value unchanged on the DLQ topic with the reason and the source
// position in headers (dlq is then true).
func (p *Processor) Process(m *kafka.Message) (out kafka.Message, dlq bool) {
	ev, err := sharelog.DecodeRawOwned(m.Value) // kafka-go gives each message its own value
	if err != nil {
		return kafkax.DeadLetter(p.topics.DLQ, "enrich", m, err), true
	}
	for _, e := range p.shared {
		e.Enrich(ev)
	}
	if p.newTrack != nil {
		t := p.sessions[m.Partition]
		if t == nil {
			t = p.newTrack()
			p.sessions[m.Partition] = t
		}
		t.Enrich(ev)
	}
	ev.Pipeline = &sharelog.Pipeline{
		EnrichedAt:    p.now().UTC(),
		SchemaVersion: sharelog.SchemaVersion,
		Topic:         m.Topic,
		Partition:     m.Partition,
		Offset:        m.Offset,
	}
	// Encode into the batch's arena: one growing buffer instead of an
	// allocation per event. Values stay valid when it grows (they keep the
	// old array); Release starts it over once the batch is delivered.
	start := len(p.arena)
	p.arena = ev.AppendJSON(p.arena)
	value := p.arena[start:len(p.arena):len(p.arena)]
	key := m.Key
	if len(key) == 0 {
		key = []byte(ev.Key())
	}
	return kafka.Message{
		Topic:   p.topics.Enriched,
		Key:     key,
		Value:   value,
		Headers: []kafka.Header{{Key: kafkax.HeaderSchema, Value: schemaVersion}},
	}, false
}

var schemaVersion = []byte(strconv.Itoa(sharelog.SchemaVersion))

// Release tells the Processor that the messages it returned so far are no
// longer used (produced, or dropped), so their memory can be reused.
func (p *Processor) Release() { p.arena = p.arena[:0] }

// Sessions returns the number of visitors tracked over all partitions, and
// the sessions opened since the previous call.
func (p *Processor) Sessions() (visitors int, started uint64) {
	var total uint64
	for _, t := range p.sessions {
		visitors += t.Len()
		total += t.Started()
	}
	started, p.reportedStarted = total-p.reportedStarted, total
	return visitors, started
}
