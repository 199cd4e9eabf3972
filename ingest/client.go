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
// server embeds, and what the HTTP endpoint uses. Each event goes with its
// key (the link id, else the workspace id), so that one link's events stay
// in order on one partition. Concurrent Publish calls are batched together
// per partition (for the linger). Every produce waits for acks from all
// in-sync replicas. A Client is safe for concurrent use.
type Client struct {
	topic  string
	writer *kafka.Writer
	window sharelog.TimeWindow
	now    func() time.Time
	// own is the transport the client made, closed by Close; nil when it
	// came from WithTransport.
	own *kafka.Transport
}

// NewClient returns a Client producing to <prefix>.raw on the Kafka cluster
// reached through brokers (bootstrap host:port addresses), configured by
// opts (defaults: topic prefix "sharelog", client id "sharelog", linger
// 2 ms, lz4, 10 s a request, plain TCP, no SASL, no time window). It
// connects lazily: a broker that cannot be reached shows in Publish, as a
// *sharelog.RetryableError. The error, if any, names each wrong option.
// Close the Client to flush and release it.
func NewClient(brokers []string, opts ...Option) (*Client, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	if err := o.validate(brokers); err != nil {
		return nil, fmt.Errorf("ingest.NewClient: %w", err)
	}
	c := &Client{topic: o.prefix + ".raw", window: o.window, now: o.now}
	if c.now == nil {
		c.now = time.Now
	}
	rt := o.rt
	if rt == nil {
		mech := o.mech
		if cr := o.saslCred; cr != nil {
			m, err := kafkax.SASLMechanism(cr.mechanism, cr.username, cr.password)
			if err != nil {
				return nil, fmt.Errorf("ingest.NewClient: WithSASLCredentials: %w", err)
			}
			mech = m
		}
		c.own = kafkax.NewTransport(o.clientID, o.tls, mech)
		rt = c.own
	}
	c.writer = kafkax.NewWriter(append([]string(nil), brokers...), rt, kafkax.WriterSettings{
		Linger: o.linger, Compression: o.codec, Timeout: o.timeout,
	})
	return c, nil
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

// Close flushes what is buffered, waits for it to be acknowledged and
// releases the producer (and the connections of the client's own
// transport). Publish must not be called after Close.
func (c *Client) Close() error {
	err := c.writer.Close()
	if c.own != nil {
		c.own.CloseIdleConnections()
	}
	return err
}

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
