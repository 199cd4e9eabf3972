package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sharelog/sharelog/server/pipeline"
	"github.com/sharelog/sharelog/tools/bench/archivebench"
)

// benchArchiveCmd is `sharelog bench archive`: the archive's write rate,
// bytes per event and query latency against DuckDB (internal/bench/archivebench).
func benchArchiveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sharelog bench archive", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := archivebench.Options{Progress: stderr}
	fs.IntVar(&o.Events, "events", 10_000_000, "events in the dataset")
	fs.IntVar(&o.Days, "days", 30, "days the events are spread over")
	end := fs.String("end", "2026-11-22", "the day after the last day of the dataset (UTC)")
	fs.StringVar(&o.Dir, "dir", ".cache/bench-archive", "where the dataset is made (kept for --reuse; never in git)")
	fs.IntVar(&o.Queries, "queries", 20, "values of each kind (link, user, IP) to query for")
	fs.BoolVar(&o.Reuse, "reuse", false, "keep the dataset in --dir if it was made with the same parameters")
	fs.Int64Var(&o.Seed, "seed", 1, "simulation seed")
	fs.IntVar(&o.Workspaces, "workspaces", 0, "simulated workspaces (default: the simulator's, 20)")
	fs.DurationVar(&o.LiveAge, "live-age", 0, "max_file_age for the last day, written as if live (default: the sink's, 1m; negative: like the other days)")
	geo := fs.String("geoip", strings.Join(pipeline.DefaultGeoIP("./data"), ","), "city databases, comma-separated (default: ./data/geoip, as `make geoip` fetches it; none: synthetic geo)")
	fs.StringVar(&o.Python, "python", "python3", "Python with the duckdb and pyarrow modules")
	fs.IntVar(&o.DuckDBThreads, "threads", 2, "DuckDB threads")
	fs.BoolVar(&o.AllWorkspaces, "all-workspaces", true, "also ask without the workspace scope (compacted layout)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the query phase to this file (go tool pprof)")
	jsonOut := fs.String("json", "", "also write the full result as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	e, err := time.Parse(time.DateOnly, *end)
	if err != nil {
		return fmt.Errorf("--end: %w", err)
	}
	o.End = e
	if *geo != "" {
		o.GeoIP = strings.Split(*geo, ",")
	} else {
		fmt.Fprintln(stderr, "bench archive: no GeoIP database (run make geoip): geo is filled synthetically")
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		o.CPUProfile = f
	}
	res, err := archivebench.Run(ctx, o)
	if res != nil && res.Manifest != nil {
		fmt.Fprint(stdout, res.Markdown())
	}
	if *jsonOut != "" && res != nil {
		data, jerr := json.MarshalIndent(res, "", "  ")
		if jerr == nil {
			jerr = os.WriteFile(*jsonOut, append(data, '\n'), 0o644)
		}
		if jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}
