package stream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sharelog/sharelog/internal/kafkax"
)

// Tail feeds publish with every message of every partition of topic, from
// the first message at or after from (by message time), until ctx ends. It
// reads outside any consumer group and commits nothing: every API process
// sees every event. Partitions added while it runs are not picked up.
func Tail(ctx context.Context, conn *kafkax.Conn, topic string, from time.Time, publish func([]byte), logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var parts []int
	for {
		md, err := conn.Client().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil {
			for _, p := range md.Topics[0].Partitions {
				parts = append(parts, p.ID)
			}
			break
		}
		if err == nil && len(md.Topics) == 1 {
			err = md.Topics[0].Error
		}
		logger.Warn("live stream: cannot list the partitions; retrying", "topic", topic, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tailPartition(ctx, conn, topic, p, from, publish, logger)
		}()
	}
	wg.Wait()
	return nil
}

func tailPartition(ctx context.Context, conn *kafkax.Conn, topic string, partition int, from time.Time, publish func([]byte), logger *slog.Logger) {
	r := conn.NewPartitionReader(topic, partition)
	defer r.Close()
	if err := r.SetOffsetAt(ctx, from); err != nil {
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
