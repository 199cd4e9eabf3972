package kafkax

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// LagMonitor publishes a consumer group's lag per partition, computed the way
// Kafka's own tools compute it: the partition's high watermark minus the
// group's committed offset (minus the log start when nothing is committed).
type LagMonitor struct {
	conn     *Conn
	group    string
	topic    string
	interval time.Duration
	logger   *slog.Logger
	lag      *prometheus.GaugeVec
}

// NewLagMonitor registers sharelog_consumer_lag{group,topic,partition} on
// reg (nil: not exported) and returns a monitor that refreshes it every
// interval once Run is called.
func NewLagMonitor(conn *Conn, group, topic string, interval time.Duration, logger *slog.Logger, reg prometheus.Registerer) *LagMonitor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &LagMonitor{
		conn: conn, group: group, topic: topic, interval: interval, logger: logger,
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name:        "sharelog_consumer_lag",
			Help:        "Messages in the partition not yet committed by the consumer group (high watermark minus committed offset).",
			ConstLabels: prometheus.Labels{"group": group, "topic": topic},
		}, []string{"partition"}),
	}
	if reg != nil {
		reg.MustRegister(m.lag)
	}
	return m
}

// Run refreshes the gauge until ctx ends; it returns nil then.
func (m *LagMonitor) Run(ctx context.Context) error {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		if lags, err := m.Lag(ctx); err != nil {
			m.logger.Debug("consumer lag", "group", m.group, "err", err)
		} else {
			for p, l := range lags {
				m.lag.WithLabelValues(strconv.Itoa(p)).Set(float64(l))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Lag returns the group's lag on each partition of the topic.
func (m *LagMonitor) Lag(ctx context.Context) (map[int]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cl := m.conn.client
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{m.topic}})
	if err != nil {
		return nil, err
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return nil, fmt.Errorf("topic %s: no metadata", m.topic)
	}
	var parts []int
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		parts = append(parts, p.ID)
		reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	offs, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{m.topic: reqs}})
	if err != nil {
		return nil, err
	}
	committed, err := m.offsetFetch(ctx, parts)
	if err != nil {
		return nil, err
	}
	first, last := map[int]int64{}, map[int]int64{}
	for _, po := range offs.Topics[m.topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("partition %d: %w", po.Partition, po.Error)
		}
		first[po.Partition], last[po.Partition] = po.FirstOffset, po.LastOffset
	}
	lags := make(map[int]int64, len(parts))
	for _, p := range parts {
		lags[p] = last[p] - first[p]
	}
	for _, c := range committed.Topics[m.topic] {
		if c.Error == nil && c.CommittedOffset >= 0 {
			lags[c.Partition] = max(0, last[c.Partition]-c.CommittedOffset)
		}
	}
	return lags, nil
}

// offsetFetch asks the group's coordinator for its committed offsets,
// retrying while the coordinator is moving or still loading (as on a fresh
// cluster, whose offsets topic is created by the first group).
func (m *LagMonitor) offsetFetch(ctx context.Context, parts []int) (*kafka.OffsetFetchResponse, error) {
	backoff := 100 * time.Millisecond
	for {
		resp, err := m.conn.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: m.group, Topics: map[string][]int{m.topic: parts}})
		if err == nil {
			err = resp.Error
		}
		switch {
		case err == nil, errors.Is(err, kafka.GroupIdNotFound):
			return resp, nil
		case errors.Is(err, kafka.NotCoordinatorForGroup), errors.Is(err, kafka.GroupCoordinatorNotAvailable), errors.Is(err, kafka.GroupLoadInProgress):
		default:
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("offset fetch for group %s: %w", m.group, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}
