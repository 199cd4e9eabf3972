package kafkax

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// PartitionsConfig configures ConsumePartitions: the Consumer's settings,
// where Queue is per partition (default 100), and the rebalance hooks.
type PartitionsConfig struct {
	ConsumeConfig
	// OnAssign is called when the member is given partitions (a generation
	// of the group starts), before any of their messages is handled, with
	// each partition and the offset it resumes at (the committed one, or
	// kafka.FirstOffset when none is). A stage rebuilds its state for
	// them here. An error is logged and ends the generation after a
	// second: the group rebalances and the hook is called again.
	OnAssign func(ctx context.Context, assigned []Assignment) error
	// OnRevoke is called when the generation ends (a member joined or
	// left, or ctx ended), after the handlers returned and what they
	// acknowledged was committed, with the partitions OnAssign was given.
	OnRevoke func(partitions []int)
}

// Assignment is a partition given to the member and the offset its
// consumption resumes at.
type Assignment struct {
	Partition int
	Offset    int64
}

// Claim is one partition held by the member for one generation, as its
// handler sees it: the messages it acknowledges are committed by the rule
// of Offsets, at the latest when the partition is revoked.
type Claim struct {
	Partition int
	gen       *generation
}

// Ack records that m is durable downstream (or deliberately dropped).
// Safe from any goroutine; an acknowledgement after the partition was
// revoked is ignored (the new owner is given the message again).
func (c *Claim) Ack(m kafka.Message) { c.gen.offs.Done(c.Partition, m.Offset) }

// Commit commits at once what the generation's partitions acknowledged.
// An error leaves it committable: the next commit retries.
func (c *Claim) Commit() error { return c.gen.commit() }

// ConsumePartitions consumes cfg.Topic as a member of cfg.Group until ctx
// ends, and returns nil then (or an error when the group cannot be set up).
// Unlike Consume, it tells the stage which partitions it owns: at each
// generation of the group (each rebalance) OnAssign is called with the
// partitions assigned, then each partition is read by a reader of its own
// and handle is called with its messages, in offset order, from one
// goroutine per partition, with ctx ending when the partition is revoked;
// then what was acknowledged is committed and OnRevoke is called. A
// rebalance revokes every partition of the member and assigns them anew
// (kafka-go's eager protocol). The commit rule is Offsets': never past a
// message not acknowledged, so the next owner of a partition resumes at its
// first unacknowledged message.
func (c *Conn) ConsumePartitions(ctx context.Context, cfg PartitionsConfig, handle func(ctx context.Context, cl *Claim, m kafka.Message)) error {
	if cfg.Queue <= 0 {
		cfg.Queue = 100
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cg, err := c.NewConsumerGroup(cfg.Group, cfg.Topic)
	if err != nil {
		return err
	}
	// Close waits for the generation running, its final commit included.
	defer cg.Close()
	for {
		gen, err := cg.Next(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Warn("joining the consumer group failed; retrying", "group", cfg.Group, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		g := &generation{conn: c, cfg: &cfg, log: log, gen: gen, offs: NewOffsets()}
		gen.Start(func(gctx context.Context) {
			// The generation ends at a rebalance or when ctx ends.
			runCtx, cancel := context.WithCancel(gctx)
			defer cancel()
			stop := context.AfterFunc(ctx, cancel)
			defer stop()
			g.run(runCtx, handle)
		})
	}
}

// generation is one generation of the group as the member lives it.
type generation struct {
	conn     *Conn
	cfg      *PartitionsConfig
	log      *slog.Logger
	gen      *kafka.Generation
	offs     *Offsets
	commitMu sync.Mutex
}

// run assigns, consumes and revokes the generation's partitions.
func (g *generation) run(ctx context.Context, handle func(context.Context, *Claim, kafka.Message)) {
	var assigned []Assignment
	var parts []int
	for _, pa := range g.gen.Assignments[g.cfg.Topic] {
		assigned = append(assigned, Assignment{Partition: pa.ID, Offset: pa.Offset})
	}
	slices.SortFunc(assigned, func(a, b Assignment) int { return a.Partition - b.Partition })
	for _, a := range assigned {
		parts = append(parts, a.Partition)
	}
	if len(assigned) == 0 {
		// Nothing to do, but returning would end the generation.
		<-ctx.Done()
		return
	}
	if g.cfg.OnRevoke != nil {
		defer g.cfg.OnRevoke(parts)
	}
	if g.cfg.OnAssign != nil {
		if err := g.cfg.OnAssign(ctx, assigned); err != nil {
			if ctx.Err() == nil {
				g.log.Error("assigning the partitions failed; rejoining the group", "group", g.cfg.Group, "partitions", parts, "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			return
		}
	}
	var wg sync.WaitGroup
	if g.cfg.CommitInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(g.cfg.CommitInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					g.commit() //nolint:errcheck // logged and counted; the next commit retries
				}
			}
		}()
	}
	for _, a := range assigned {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.partition(ctx, a, handle)
		}()
	}
	wg.Wait()
	// The generation's connection is open until run returns, and the
	// coordinator accepts its commits while the group rebalances.
	g.commit() //nolint:errcheck // logged and counted; the next owner gets the rest again
}

// partition reads one partition from its assigned offset and hands its
// messages to handle until ctx ends.
func (g *generation) partition(ctx context.Context, a Assignment, handle func(context.Context, *Claim, kafka.Message)) {
	r := g.conn.NewPartitionReader(g.cfg.Topic, a.Partition)
	defer r.Close()
	if err := r.SetOffset(a.Offset); err != nil {
		g.log.Error("cannot start the partition", "topic", g.cfg.Topic, "partition", a.Partition, "err", err)
		return
	}
	cl := &Claim{Partition: a.Partition, gen: g}
	out := make(chan kafka.Message, g.cfg.Queue)
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	var logger *slog.Logger
	if g.cfg.Logger != nil {
		logger = g.cfg.Logger.With("partition", a.Partition)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		take := func(m *kafka.Message) { g.offs.Take(m.Partition, m.Offset) }
		fetch(fctx, r, out, logger, g.cfg.OnFetchError, take,
			episode{warnAfter: defaultReaderWarnAfter, quiet: defaultReaderQuiet})
	}()
	defer func() { stop(); <-done }()
	for m := range out {
		if ctx.Err() != nil {
			return
		}
		handle(ctx, cl, m)
	}
}

// commit commits, per partition, the offset below which every message is
// acknowledged, if it moved.
func (g *generation) commit() error {
	g.commitMu.Lock()
	defer g.commitMu.Unlock()
	next := g.offs.Committable()
	if len(next) == 0 {
		return nil
	}
	if err := g.gen.CommitOffsets(map[string]map[int]int64{g.cfg.Topic: next}); err != nil {
		if g.cfg.OnCommitError != nil {
			g.cfg.OnCommitError(err)
		}
		g.log.Warn("commit failed; what is done will be committed with the next, or delivered again",
			"group", g.cfg.Group, "topic", g.cfg.Topic, "err", err)
		return err
	}
	g.offs.Committed(next)
	return nil
}
