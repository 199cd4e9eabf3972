package kafkax

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/segmentio/kafka-go"
)

// Conn builds Kafka clients for one cluster. Each Conn has its own transport
// (kafka-go's DefaultTransport, shared process-wide, fails once after a broker
// restart). A Conn is safe for concurrent use.
type Conn struct {
	cfg       Config
	brokers   []string
	transport *kafka.Transport
	dialer    *kafka.Dialer
	client    *kafka.Client

	// readerWarnAfter and readerQuiet govern the level of a group reader's
	// error log (see readerLog); tests shorten them.
	readerWarnAfter, readerQuiet time.Duration
}

// NewConn returns a Conn to brokers (which override cfg.Brokers, so that the
// embedded broker's address can be passed in).
//
// cfg.TLS and cfg.SASL apply to every connection; a certificate or password
// file that cannot be read is an error naming the field.
func NewConn(cfg Config, brokers []string) (*Conn, error) {
	if len(brokers) == 0 {
		return nil, errors.New("kafka: no brokers")
	}
	tlsCfg, err := cfg.TLS.build()
	if err != nil {
		return nil, err
	}
	mech, err := cfg.SASL.build()
	if err != nil {
		return nil, err
	}
	transport := NewTransport(cfg.ClientID, tlsCfg, mech)
	return &Conn{
		cfg:       cfg,
		brokers:   brokers,
		transport: transport,
		dialer: &kafka.Dialer{ClientID: cfg.ClientID, Timeout: 5 * time.Second, DualStack: true,
			TLS: tlsCfg, SASLMechanism: mech},
		client: &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport, Timeout: 10 * time.Second},

		readerWarnAfter: defaultReaderWarnAfter,
		readerQuiet:     defaultReaderQuiet,
	}, nil
}

// fetchWait is how long the broker holds a fetch that finds nothing new
// before it answers empty (a long poll). A message that arrives meanwhile
// is answered at once (MinBytes 1), so it costs no latency; it bounds how
// long closing a reader or leaving a rebalance waits for the fetch in
// flight.
const fetchWait = 250 * time.Millisecond

// ReaderMaxWait is the kafka-go ReaderConfig.MaxWait of every sharelog
// reader (a Conn's readers, and any kafka.Reader made elsewhere, such as the
// bench's probe): it makes the broker wait fetchWait. kafka-go's reader
// sets the connection's read deadline to MaxWait and asks the broker to
// wait MaxWait − 1 s, keeping a second for the round trip —
// but below 1 s it keeps only MaxWait/4 (MaxWait 250 ms: the broker waits
// 187 ms and the answer has 62 ms to arrive). A broker that pauses longer
// (the embedded one collecting garbage or writing its files under load)
// then answers after the deadline: kafka-go logs "unknown error … i/o
// timeout", closes the connection and dials again, though nothing was
// wrong. With fetchWait + 1 s the broker waits fetchWait and its answer has
// a second of margin. (kafka-go v0.4.51: reader.read, Conn.ReadBatchWith,
// adjustDeadlineForRTT.)
const ReaderMaxWait = fetchWait + time.Second

// Brokers returns the bootstrap addresses.
func (c *Conn) Brokers() []string { return c.brokers }

// Config returns the configuration the Conn was made with.
func (c *Conn) Config() Config { return c.cfg }

// Client returns the admin client.
func (c *Conn) Client() *kafka.Client { return c.client }

// Close releases idle connections.
func (c *Conn) Close() { c.transport.CloseIdleConnections() }

// NewWriter returns a producer through the Conn's transport, as the
// package's NewWriter makes it (acks from all in-sync replicas, murmur2 by
// key, synchronous WriteMessages), with cfg.Linger, cfg.Compression and
// cfg.WriteTimeout. The caller closes it.
func (c *Conn) NewWriter() *kafka.Writer {
	return NewWriter(c.brokers, c.transport, WriterSettings{
		Linger:      c.cfg.Linger,
		Compression: CompressionCodec(c.cfg.Compression),
		Timeout:     c.cfg.WriteTimeout,
	})
}

// NewGroupReader returns a consumer-group reader of topic that never commits
// on its own: the caller fetches (FetchMessage), processes, and commits
// (CommitMessages) in offset order. A new group starts at the oldest offset.
func (c *Conn) NewGroupReader(group, topic string, logger *slog.Logger) *kafka.Reader {
	rc := kafka.ReaderConfig{
		Brokers:           c.brokers,
		GroupID:           group,
		Topic:             topic,
		Dialer:            c.dialer,
		MinBytes:          1,
		MaxBytes:          16 << 20,
		MaxWait:           ReaderMaxWait,
		QueueCapacity:     1000,
		CommitInterval:    0, // synchronous commits, only when asked
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: 2 * time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  500 * time.Millisecond,
		// kafka-go sleeps errcount² × ReadBackoffMin after a failed fetch:
		// a large minimum adds that sleep to the latency of the next message
		// after a hiccup. Errors that persist still back off up to the
		// maximum.
		ReadBackoffMin: 2 * time.Millisecond,
		ReadBackoffMax: time.Second,
		MaxAttempts:    3,
	}
	if logger != nil {
		// Errors kafka-go heals by retrying are DEBUG; WARN once they have
		// gone on for readerWarnAfter.
		rc.ErrorLogger = newReaderLog(logger, c.readerWarnAfter, c.readerQuiet, "group", group, "topic", topic)
		if logger.Enabled(context.Background(), slog.LevelDebug) {
			rc.Logger = kafka.LoggerFunc(func(msg string, args ...any) {
				logger.Debug("kafka reader", "group", group, "topic", topic, "msg", fmt.Sprintf(msg, args...))
			})
		}
	}
	return kafka.NewReader(rc)
}

// NewPartitionReader returns a reader of one partition of topic, outside any
// consumer group, starting at the oldest offset (SetOffset and SetOffsetAt
// move it). The caller closes it.
func (c *Conn) NewPartitionReader(topic string, partition int) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:        c.brokers,
		Topic:          topic,
		Partition:      partition,
		Dialer:         c.dialer,
		MinBytes:       1,
		MaxBytes:       16 << 20,
		MaxWait:        ReaderMaxWait,
		ReadBackoffMin: 2 * time.Millisecond,
		ReadBackoffMax: time.Second,
		MaxAttempts:    3,
	})
}

// NewConsumerGroup returns a member of the consumer group on topics, for a
// caller that manages its partitions itself (Next, then a reader per
// assigned partition, CommitOffsets); a new group starts at the oldest
// offset. The caller closes it.
func (c *Conn) NewConsumerGroup(group string, topics ...string) (*kafka.ConsumerGroup, error) {
	return kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                group,
		Brokers:           c.brokers,
		Dialer:            c.dialer,
		Topics:            topics,
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: 2 * time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  500 * time.Millisecond,
		Timeout:           10 * time.Second,
	})
}

// EnsureTopics creates the topics that are missing, with the configured
// partition count and replication factor, retrying until ctx ends while the
// brokers are not reachable yet. Existing topics are left unchanged. It
// returns once every partition of the topics has a leader that answers, so
// that the first writes are not refused (at most 30 s).
func (c *Conn) EnsureTopics(ctx context.Context, topics ...string) error {
	return c.ensureTopics(ctx, nil, topics)
}

// EnsureCompactedTopics is EnsureTopics for topics that keep the last value
// of each key (cleanup.policy=compact), such as the rules' state.
func (c *Conn) EnsureCompactedTopics(ctx context.Context, topics ...string) error {
	return c.ensureTopics(ctx, []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}, topics)
}

func (c *Conn) ensureTopics(ctx context.Context, entries []kafka.ConfigEntry, topics []string) error {
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{
			Topic:             t,
			NumPartitions:     c.cfg.Partitions,
			ReplicationFactor: c.cfg.ReplicationFactor,
			ConfigEntries:     entries,
		})
	}
	backoff := 100 * time.Millisecond
	for {
		err := c.createTopics(ctx, req)
		if err == nil {
			return c.waitLeaders(ctx, topics)
		}
		var te *topicError
		if errors.As(err, &te) {
			return err // the broker refused: retrying will not help
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka: creating topics %v: %w (last error: %v)", topics, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// leaderWait bounds how long EnsureTopics waits for new partitions' leaders.
const leaderWait = 30 * time.Second

// waitLeaders returns once every partition of topics answers a ListOffsets
// request from its leader: a topic just created refuses writes for a moment
// (NOT_LEADER_OR_FOLLOWER) while its partitions load, more than a writer's
// few attempts may cover.
func (c *Conn) waitLeaders(ctx context.Context, topics []string) error {
	deadline := time.Now().Add(leaderWait)
	for {
		err := c.leadersReady(ctx, topics)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kafka: topics created, but not every partition has a leader after %s: %w", leaderWait, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka: waiting for the leaders of %v: %w (last error: %v)", topics, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// leadersReady asks every partition of topics for its first offset.
func (c *Conn) leadersReady(ctx context.Context, topics []string) error {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	md, err := c.client.Metadata(rctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return err
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, t := range md.Topics {
		if t.Error != nil {
			return fmt.Errorf("%s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			if p.Error != nil {
				return fmt.Errorf("%s[%d]: %w", t.Name, p.ID, p.Error)
			}
			req.Topics[t.Name] = append(req.Topics[t.Name], kafka.FirstOffsetOf(p.ID))
		}
	}
	for _, t := range topics {
		if len(req.Topics[t]) == 0 {
			return fmt.Errorf("%s: no partitions in the metadata yet", t)
		}
	}
	resp, err := c.client.ListOffsets(rctx, req)
	if err != nil {
		return err
	}
	for t, parts := range resp.Topics {
		for _, p := range parts {
			if p.Error != nil {
				return fmt.Errorf("%s[%d]: %w", t, p.Partition, p.Error)
			}
		}
	}
	return nil
}

type topicError struct {
	topic string
	err   error
}

func (e *topicError) Error() string {
	return fmt.Sprintf("kafka: creating topic %s: %v", e.topic, e.err)
}

func (c *Conn) createTopics(ctx context.Context, req *kafka.CreateTopicsRequest) error {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := c.client.CreateTopics(rctx, req)
	if err != nil {
		return err
	}
	var errs []error
	for topic, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			errs = append(errs, &topicError{topic: topic, err: terr})
		}
	}
	return errors.Join(errs...)
}

// Ping reports whether the cluster answers a metadata request within d.
func (c *Conn) Ping(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, err := c.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	return err
}

// WaitReachable waits until a TCP connection to one of the brokers succeeds,
// or ctx ends.
func (c *Conn) WaitReachable(ctx context.Context) error {
	var d net.Dialer
	for {
		for _, b := range c.brokers {
			conn, err := d.DialContext(ctx, "tcp", b)
			if err == nil {
				conn.Close()
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka: no broker of %v reachable: %w", c.brokers, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
