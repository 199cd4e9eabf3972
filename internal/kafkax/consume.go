package kafkax

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// ConsumeConfig configures a Consumer.
type ConsumeConfig struct {
	// Group is the consumer group; Topic the topic it reads.
	Group, Topic string
	// Queue is how many fetched messages wait for the stage (default
	// 1000): fetching stops while it is full, so a slow stage lags in
	// Kafka instead of growing memory.
	Queue int
	// CommitInterval is how often what is done is committed in the
	// background; 0 commits only on Commit and Close.
	CommitInterval time.Duration
	// Logger gets the fetch and commit errors (nil: quiet).
	Logger *slog.Logger
	// OnFetchError and OnCommitError count the errors (nil: not counted).
	// A fetch error is retried by the fetch loop (see Fetch); a failed
	// commit by the next one, as the offsets stay committable.
	OnFetchError, OnCommitError func(error)
}

// Consumer is the consume-and-commit engine every stage runs on: it
// fetches a topic in a consumer group (with Fetch's healing loop), hands the
// messages to the stage in offset order per partition (Messages), takes the
// stage's word that a message is durable downstream (Ack, in any order,
// from any goroutine, at any time), and commits by the rule of Offsets:
// never past a message not acknowledged. Commit commits at once what may
// be; CommitInterval does it in the background; Close stops fetching and
// commits what was acknowledged before closing the reader, so a clean
// shutdown redelivers only what was not durable, and a crash redelivers at
// most what came after the last commit.
//
// kafka-go's group reader rebalances by itself and does not tell who owns
// which partition; after a reassignment, consumption of a partition starts
// again at its committed offset, and Offsets forgets what was in flight
// there (see Offsets.Take). A stage that must rebuild state when it gets a
// partition (the rules) runs on ConsumePartitions instead, which has
// rebalance hooks and commits by the same rule.
type Consumer struct {
	cfg    ConsumeConfig
	conn   *Conn
	reader *kafka.Reader
	offs   *Offsets
	log    *slog.Logger
	out    chan kafka.Message

	stopFetch context.CancelFunc
	wg        sync.WaitGroup
	commitMu  sync.Mutex
	closeOnce sync.Once
	closeErr  error

	dlqMu sync.Mutex
	dlq   *kafka.Writer // made by the first DeadLetter

	// noFinalCommit makes Close skip its commit: a broken engine that the
	// tests must catch (consume_test.go).
	noFinalCommit bool
}

// Consume joins cfg.Group and starts fetching cfg.Topic until ctx ends or
// Close is called. The caller reads Messages, acknowledges each message
// once it is durable downstream, and calls Close once it is done with
// them (after ctx ended, too: Close makes the final commit).
func (c *Conn) Consume(ctx context.Context, cfg ConsumeConfig) *Consumer {
	return c.consume(ctx, cfg, ruleInOrder)
}

func (c *Conn) consume(ctx context.Context, cfg ConsumeConfig, rule commitRule) *Consumer {
	if cfg.Queue <= 0 {
		cfg.Queue = 1000
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	k := &Consumer{
		cfg:    cfg,
		conn:   c,
		reader: c.NewGroupReader(cfg.Group, cfg.Topic, cfg.Logger),
		offs:   NewOffsets(),
		log:    log,
		out:    make(chan kafka.Message, cfg.Queue),
	}
	k.offs.rule = rule
	fctx, stop := context.WithCancel(ctx)
	k.stopFetch = stop
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		// Each message is taken into the offsets before the stage sees
		// it, so that one waiting in the queue holds back the commits
		// like one in the stage's hands.
		take := func(m *kafka.Message) { k.offs.Take(m.Partition, m.Offset) }
		fetch(fctx, k.reader, k.out, cfg.Logger, cfg.OnFetchError, take,
			episode{warnAfter: defaultReaderWarnAfter, quiet: defaultReaderQuiet})
	}()
	if cfg.CommitInterval > 0 {
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			t := time.NewTicker(cfg.CommitInterval)
			defer t.Stop()
			for {
				select {
				case <-fctx.Done():
					return
				case <-t.C:
					k.Commit(fctx) //nolint:errcheck // logged and counted; the next commit retries
				}
			}
		}()
	}
	return k
}

// Messages gives the fetched messages in offset order per partition; it is
// closed when ctx ends or Close is called.
func (k *Consumer) Messages() <-chan kafka.Message { return k.out }

// Ack records that msgs are durable downstream (or dead-lettered, or
// deliberately dropped). Only their partitions and offsets count.
func (k *Consumer) Ack(msgs ...kafka.Message) {
	if len(msgs) == 1 {
		k.offs.Done(msgs[0].Partition, msgs[0].Offset)
		return
	}
	k.offs.mu.Lock()
	defer k.offs.mu.Unlock()
	for i := range msgs {
		k.offs.done(msgs[i].Partition, msgs[i].Offset)
	}
}

// AckOffset is Ack for one message known by its partition and offset.
func (k *Consumer) AckOffset(partition int, offset int64) { k.offs.Done(partition, offset) }

// AckOffsets is Ack for the messages at offsets[i] of partitions[i].
func (k *Consumer) AckOffsets(partitions []int, offsets []int64) { k.offs.DoneAll(partitions, offsets) }

// InFlight is how many messages are fetched and not yet acknowledged.
func (k *Consumer) InFlight() int { return k.offs.InFlight() }

// Commit commits, per partition, the offset below which every message is
// acknowledged, if it moved. An error leaves the offsets committable: the
// next Commit retries, and a crash meanwhile only redelivers.
func (k *Consumer) Commit(ctx context.Context) error {
	k.commitMu.Lock()
	defer k.commitMu.Unlock()
	next := k.offs.Committable()
	if len(next) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, 0, len(next))
	for p, off := range next {
		// kafka-go commits the offset after the message given.
		msgs = append(msgs, kafka.Message{Topic: k.cfg.Topic, Partition: p, Offset: off - 1})
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := k.reader.CommitMessages(cctx, msgs...); err != nil {
		if k.cfg.OnCommitError != nil {
			k.cfg.OnCommitError(err)
		}
		if ctx.Err() == nil {
			k.log.Warn("commit failed; what is done will be committed with the next, or delivered again",
				"group", k.cfg.Group, "topic", k.cfg.Topic, "err", err)
		}
		return err
	}
	k.offs.Committed(next)
	return nil
}

// Close stops fetching, commits what was acknowledged (within 10 s) and
// leaves the group. Call it once the stage has acknowledged what it could:
// an unacknowledged message is not committed and comes again. Later calls
// return the first's result.
func (k *Consumer) Close() error {
	k.closeOnce.Do(func() {
		k.stopFetch()
		k.wg.Wait()
		var err error
		if !k.noFinalCommit {
			err = k.Commit(context.Background())
		}
		k.closeErr = errors.Join(err, k.reader.Close())
		k.dlqMu.Lock()
		if k.dlq != nil {
			k.closeErr = errors.Join(k.closeErr, k.dlq.Close())
		}
		k.dlqMu.Unlock()
	})
	return k.closeErr
}

// DeadLetter writes msgs to the dead-letter topic (<prefix>.dlq, see the
// package's DeadLetter) as refused by stage, msgs[i] for reasons[i] (the
// last reason for the rest), retrying with a back-off from 100 ms to 5 s
// until Kafka takes them, and then acknowledges them: a refused message
// counts as done once it is durable in the DLQ. It returns an error only
// when ctx ends first; the messages are not acknowledged then, and come
// again.
func (k *Consumer) DeadLetter(ctx context.Context, stage string, msgs []kafka.Message, reasons ...error) error {
	if len(msgs) == 0 {
		return nil
	}
	if len(reasons) == 0 {
		return errors.New("kafkax: DeadLetter without a reason")
	}
	topic := k.conn.Config().Topics().DLQ
	dead := make([]kafka.Message, len(msgs))
	for i := range msgs {
		dead[i] = DeadLetter(topic, stage, &msgs[i], reasons[min(i, len(reasons)-1)])
	}
	k.dlqMu.Lock()
	if k.dlq == nil {
		k.dlq = k.conn.NewWriter()
	}
	w := k.dlq
	k.dlqMu.Unlock()
	backoff := 100 * time.Millisecond
	for {
		err := w.WriteMessages(ctx, dead...)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		k.log.Warn("writing to the DLQ failed; retrying", "stage", stage, "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	k.Ack(msgs...)
	return nil
}

// crash ends the consumer as a killed process would: no final commit, the
// connection dropped. Tests only.
func (k *Consumer) crash() {
	k.noFinalCommit = true
	k.Close() //nolint:errcheck
}
