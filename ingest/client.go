package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/kafkax"
)

// Client produces raw events to <prefix>.raw. It is what the link and file
// server embeds, and what the HTTP endpoint uses. Concurrent Publish calls
// are batched together per partition (for the configured linger). A Client is
// safe for concurrent use.
type Client struct {
	topic  string
	writer *kafka.Writer
	window sharelog.TimeWindow
	now    func() time.Time
}

// Option configures a Client.
type Option func(*Client)

// WithTimeWindow makes Publish refuse events whose time is outside w around
// the clock now (nil: time.Now), as the HTTP endpoint does with
// ingest.max_past and ingest.max_future. Default: no window.
func WithTimeWindow(w sharelog.TimeWindow, now func() time.Time) Option {
	return func(c *Client) { c.window, c.now = w, now }
}

// NewClient returns a Client producing through conn. Close it to flush.
func NewClient(conn *kafkax.Conn, opts ...Option) *Client {
	c := &Client{topic: conn.Config().Topics().Raw, writer: conn.NewWriter(), now: time.Now}
	for _, o := range opts {
		o(c)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Topic is the topic the client produces to.
func (c *Client) Topic() string { return c.topic }

// Publish validates the events and produces them, returning once Kafka has
// acknowledged all of them (acks from all in-sync replicas), or an error.
// An invalid event fails the call before anything is produced, with an
// *InvalidEventError naming it and its fields. A Kafka failure is a
// *sharelog.RetryableError; some events may then have been written, so a
// retry can duplicate them (their ids let readers drop the repeats). ctx
// bounds the wait.
func (c *Client) Publish(ctx context.Context, events ...*sharelog.Event) error {
	msgs := make([]kafka.Message, len(events))
	for i, ev := range events {
		if err := ev.Validate(); err != nil {
			return &InvalidEventError{Index: i, ID: ev.ID, Err: err}
		}
		if fe := c.window.Check(ev.Time, c.now()); fe != nil {
			return &InvalidEventError{Index: i, ID: ev.ID, Err: sharelog.FieldErrors{fe}}
		}
		value, err := ev.Encode()
		if err != nil {
			return &InvalidEventError{Index: i, ID: ev.ID, Err: err}
		}
		msgs[i] = kafka.Message{Key: []byte(ev.Key()), Value: value}
	}
	return c.produce(ctx, msgs)
}

// produce writes messages that are already valid raw events.
func (c *Client) produce(ctx context.Context, msgs []kafka.Message) error {
	for i := range msgs {
		msgs[i].Topic = c.topic
	}
	if err := c.writer.WriteMessages(ctx, msgs...); err != nil {
		var we kafka.WriteErrors
		if errors.As(err, &we) {
			err = fmt.Errorf("kafka acknowledged %d of %d events: %w", len(we)-we.Count(), len(we), firstError(we))
		}
		return sharelog.Retryable(fmt.Errorf("producing to %s: %w", c.topic, err), 0)
	}
	return nil
}

func firstError(we kafka.WriteErrors) error {
	for _, e := range we {
		if e != nil {
			return e
		}
	}
	return nil
}

// Close flushes what is buffered and releases the producer.
func (c *Client) Close() error { return c.writer.Close() }

// InvalidEventError says which event of a Publish call is invalid and why.
type InvalidEventError struct {
	Index int    // position in the call's arguments
	ID    string // the event's id, if any
	Err   error  // sharelog.FieldErrors
}

func (e *InvalidEventError) Error() string {
	return fmt.Sprintf("event %d (id %q): %v", e.Index, e.ID, e.Err)
}

func (e *InvalidEventError) Unwrap() error { return e.Err }
