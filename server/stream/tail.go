package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sharelog/sharelog/internal/kafkax"
)

// Tailer feeds Publish with every message of every partition of Topic. It
// reads outside any consumer group and commits nothing: every API process
// sees every event.
type Tailer struct {
	Conn    *kafkax.Conn
	Topic   string
	From    time.Time    // the partitions there at start are read from their first message at or after From (by message time)
	Publish func([]byte) // called from one goroutine per partition
	Logger  *slog.Logger // nil: quiet
	// Rescan is how often the topic's partitions are listed again, so that
	// partitions added while it runs are read too, from their first
	// message. Default (0) 30s.
	Rescan time.Duration
}

// Run tails until ctx ends; it returns nil then. A topic that cannot be
// listed yet (the broker down, the topic not created) is retried.
func (t Tailer) Run(ctx context.Context) error {
	log := t.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rescan := t.Rescan
	if rescan <= 0 {
		rescan = 30 * time.Second
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	tailed := map[int]bool{}
	for {
		parts, err := t.partitions(ctx)
		if err != nil {
			log.Warn("live stream: cannot list the partitions; retrying", "topic", t.Topic, "err", err)
		}
		started := len(tailed) > 0
		for _, p := range parts {
			if tailed[p] {
				continue
			}
			from := t.From
			if started {
				from = time.Time{} // a partition added since: all of it is new
				log.Info("live stream: reading a new partition", "topic", t.Topic, "partition", p)
			}
			tailed[p] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				tailPartition(ctx, t.Conn, t.Topic, p, from, t.Publish, log)
			}()
		}
		wait := rescan
		if len(tailed) == 0 {
			wait = 2 * time.Second
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// partitions lists the topic's partition ids.
func (t Tailer) partitions(ctx context.Context) ([]int, error) {
	md, err := t.Conn.Client().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{t.Topic}})
	if err != nil {
		return nil, err
	}
	if len(md.Topics) != 1 {
		return nil, fmt.Errorf("metadata named %d topics", len(md.Topics))
	}
	if md.Topics[0].Error != nil {
		return nil, md.Topics[0].Error
	}
	var parts []int
	for _, p := range md.Topics[0].Partitions {
		parts = append(parts, p.ID)
	}
	return parts, nil
}

// tailPartition reads one partition from the first message at or after
// from (zero: its first message) until ctx ends.
func tailPartition(ctx context.Context, conn *kafkax.Conn, topic string, partition int, from time.Time, publish func([]byte), logger *slog.Logger) {
	r := conn.NewPartitionReader(topic, partition)
	defer r.Close()
	if from.IsZero() {
		r.SetOffset(kafka.FirstOffset)
	} else if err := r.SetOffsetAt(ctx, from); err != nil {
		logger.Warn("live stream: cannot seek by time; starting at the end", "partition", partition, "err", err)
		r.SetOffset(kafka.LastOffset)
	}
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return
			}
			logger.Warn("live stream: read failed; retrying", "partition", partition, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		publish(m.Value)
	}
}
