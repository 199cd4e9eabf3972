package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/sinks/delivery"
	"github.com/sharelog/sharelog/sinks/registry"
	"github.com/sharelog/sharelog/storage/archive"
	"github.com/sharelog/sharelog/storage/query"
)

// replayCmd re-sends archived events to one configured sink, oldest first,
// a day at a time, through the delivery engine's batching and retries.
func replayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sharelog replay", flag.ContinueOnError)
	var ff filterFlags
	ff.register(fs, true)
	name := fs.String("sink", "", "the sink to send to (the name of an entry of sinks:)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: sharelog replay --sink NAME --from T --to T [--workspace ID] [filters]\n\nRe-sends archived events (archive.dir) to one sink, oldest first; the sink's own filter applies too.")
		fs.PrintDefaults()
	}
	cfg, logger, err := loadConfig(fs, args, stderr)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("replay: unexpected argument %q", fs.Arg(0))
	}
	if ff.from == "" || ff.to == "" {
		return errors.New("replay: --from and --to are required (a replay re-sends a time range)")
	}
	selected, err := registry.Select(cfg.Sinks, []string{*name})
	if err != nil {
		return fmt.Errorf("replay: --sink: %w", err)
	}
	sc := selected[0]
	scope := []string(ff.workspaces)
	if len(scope) == 0 {
		if scope, err = archive.Workspaces(cfg.Archive.Dir); err != nil {
			return err
		}
	}
	f, err := ff.filter(scope)
	if err != nil {
		return err
	}
	days, err := exportDays(cfg.Archive.Dir, f)
	if err != nil {
		return err
	}
	slices.Reverse(days) // oldest first
	sink, err := registry.New(sc, registry.Deps{Logger: logger})
	if err != nil {
		return err
	}
	engine := query.New(cfg.Archive.Dir)
	prog := newProgress(stderr, isTerminal(stderr), len(days))
	var skipped int64
	each := func(fn func(*sharelog.Event) error) error {
		for d, day := range days {
			df := f
			df.From, df.To = day, day.AddDate(0, 0, 1)
			if f.From.After(day) {
				df.From = f.From
			}
			if !f.To.IsZero() && f.To.Before(df.To) {
				df.To = f.To
			}
			if _, err := engine.EachOldestFirst(ctx, df, func(ev *sharelog.Event) error {
				if !sc.Filter.Match(ev) {
					skipped++
					return nil
				}
				return fn(ev)
			}); err != nil {
				return err
			}
			prog.days = d + 1
		}
		return nil
	}
	var refused int64
	st, err := delivery.Replay(ctx, sink, sc.Delivery, logger, each,
		func(ev *sharelog.Event, reason error) {
			refused++
			prog.clear()
			fmt.Fprintf(stderr, "refused by %s: event %s: %v\n", sc.Name, ev.ID, reason)
		},
		func(s delivery.ReplayStats) { prog.update(prog.days, s.Accepted+s.Refused) })
	prog.clear()
	elapsed := time.Since(prog.start)
	fmt.Fprintf(stderr, "replayed %s events to %s in %s: %s accepted, %s refused, %s outside the sink's filter\n",
		thousands(st.Read), sc.Name, elapsed.Round(time.Millisecond), thousands(st.Accepted), thousands(st.Refused), thousands(skipped))
	if err != nil {
		return err
	}
	if refused > 0 {
		return fmt.Errorf("replay: %d events refused by %s (listed above)", refused, sc.Name)
	}
	return nil
}
