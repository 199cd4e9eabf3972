// Package archivebench measures the event archive: how fast events are
// written into Parquet files, how many bytes they take against the same
// events as NDJSON and as zstd NDJSON, and how long the query engine
// (storage/query) takes to find one link's, one user's and one IP's events,
// against DuckDB answering the same question on the same files in the same
// run. It backs `sharelog bench archive`.
//
// The dataset is made the way the pipeline makes it: simulated events
// (internal/simulate) on a clock that spreads them over the days, encoded as
// raw JSON and run through an enrich.Processor (GeoIP, platform, session),
// decoded from the enriched JSON as the archive sink decodes it, and written
// with archive.WriteFile in files rolled by the sink's rules and defaults.
// Nothing holds more events than the sink's own buffer bound.
//
// DuckDB runs in one long-lived python3 process (duckdb_driver.py) that
// times each query inside Python, so process start-up is not counted.
package archivebench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	sinkarchive "github.com/sharelog/sharelog/sinks/archive"
	"github.com/sharelog/sharelog/storage/archive"
)

// Options say what to build and measure. Zero fields take the defaults
// noted.
type Options struct {
	Dir        string    // where the dataset lives (required)
	Events     int       // default 10,000,000
	Days       int       // default 30
	End        time.Time // midnight UTC after the last day; default 2026-11-22
	Seed       int64     // default 1
	Workspaces int       // default: the simulator's (20)
	// LiveAge is the archive sink's max_file_age, applied to the last day
	// as if its events arrived live; negative: the last day is written like
	// the others. Zero: the sink's default (1m).
	LiveAge time.Duration
	GeoIP   []string // city databases; empty: synthetic geo
	Queries int      // values of each kind to query for; default 20
	// Reuse keeps a dataset Dir already holds if it was made with the
	// same parameters.
	Reuse bool
	// Python runs DuckDB (default python3); DuckDBThreads is its thread
	// count (default 2).
	Python        string
	DuckDBThreads int
	// AllWorkspaces adds the questions without the workspace scope (every
	// workspace of the dataset), on the compacted layout only.
	AllWorkspaces bool
	// CPUProfile, if set, receives a CPU profile of the query phase (the
	// engine's side; DuckDB runs in another process).
	CPUProfile io.Writer
	// Progress gets a line now and then; nil: quiet.
	Progress io.Writer
}

// Result is everything one run measured.
type Result struct {
	Manifest       *Manifest         `json:"manifest"`
	Reused         bool              `json:"reused"`
	DuckDBVersion  string            `json:"duckdb_version"`
	DuckDBSettings map[string]string `json:"duckdb_settings"`
	GOMAXPROCS     int               `json:"gomaxprocs"`
	GoVersion      string            `json:"go_version"`
	Rows           []Row             `json:"rows"`
	QueryWall      float64           `json:"query_wall_seconds"`
}

// params returns the dataset parameters of o, defaults applied.
func (o *Options) params() (DatasetParams, error) {
	if o.Dir == "" {
		return DatasetParams{}, errors.New("archivebench: no directory given")
	}
	if o.Events == 0 {
		o.Events = 10_000_000
	}
	if o.Days == 0 {
		o.Days = 30
	}
	if o.Events < o.Days || o.Days < 1 {
		return DatasetParams{}, fmt.Errorf("archivebench: %d events over %d days: need at least a day and an event per day", o.Events, o.Days)
	}
	if o.End.IsZero() {
		o.End = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Queries <= 0 {
		o.Queries = 20
	}
	if o.Python == "" {
		o.Python = "python3"
	}
	if o.DuckDBThreads <= 0 {
		o.DuckDBThreads = 2
	}
	var sink sinkarchive.Config
	sink.SetDefaults("")
	switch {
	case o.LiveAge == 0:
		o.LiveAge = sink.MaxFileAge
	case o.LiveAge < 0:
		o.LiveAge = 0
	}
	if sink.Parquet.RowGroupRows == 0 {
		sink.Parquet.RowGroupRows = archive.DefaultRowGroupRows
	}
	end := o.End.UTC().Truncate(24 * time.Hour)
	return DatasetParams{
		Events: o.Events, Days: o.Days, Start: end.AddDate(0, 0, -o.Days), Seed: o.Seed,
		Workspaces: o.Workspaces, Geo: geoBuild(o.GeoIP), LiveAge: o.LiveAge,
		MaxFileEvents: sink.MaxFileEvents, MaxFileBytes: sink.MaxFileBytes,
		MaxBufferedEvents: sink.MaxBufferedEvents, RowGroupRows: sink.Parquet.RowGroupRows,
	}, nil
}

// Dataset makes the dataset o describes under o.Dir, or with o.Reuse
// returns the one there if it was made with the same parameters.
func Dataset(ctx context.Context, o Options) (m *Manifest, reused bool, err error) {
	p, err := o.params()
	if err != nil {
		return nil, false, err
	}
	if o.Reuse {
		old, err := readManifest(o.Dir)
		if err != nil {
			return nil, false, err
		}
		if old != nil {
			a, _ := json.Marshal(old.Params)
			b, _ := json.Marshal(p)
			if bytes.Equal(a, b) {
				if o.Progress != nil {
					fmt.Fprintf(o.Progress, "archivebench: reusing the dataset in %s (made %s)\n", o.Dir, old.Created.Format(time.RFC3339))
				}
				return old, true, nil
			}
			if o.Progress != nil {
				fmt.Fprintf(o.Progress, "archivebench: the dataset in %s was made with other parameters; making it again\n", o.Dir)
			}
		}
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "archivebench: generating %d events over %d days from %s into %s (geo: %s)\n",
			p.Events, p.Days, p.Start.Format(time.DateOnly), o.Dir, p.Geo)
	}
	m, err = generate(ctx, o.Dir, p, o.GeoIP, o.Queries, o.Progress)
	return m, false, err
}

// Run makes (or reuses) the dataset and times the questions on both
// layouts with both engines. It fails when the engines disagree.
func Run(ctx context.Context, o Options) (*Result, error) {
	m, reused, err := Dataset(ctx, o)
	if err != nil {
		return nil, err
	}
	_, _ = o.params() // defaults into o
	res := &Result{Manifest: m, Reused: reused, GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}
	trim := func(s []Sample) []Sample { return s[:min(len(s), o.Queries)] }
	m.Links, m.Users, m.IPs = trim(m.Links), trim(m.Users), trim(m.IPs)

	d, err := startDuckDB(o.Python, o.DuckDBThreads)
	if err != nil {
		return res, err
	}
	defer d.Close()
	res.DuckDBVersion, res.DuckDBSettings = d.Version, d.Settings
	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return res, err
		}
		defer pprof.StopCPUProfile()
	}
	t0 := time.Now()
	for _, layout := range []string{LayoutSteady, LayoutCompacted} {
		scopes := []string{ScopeWorkspace}
		if o.AllWorkspaces && layout == LayoutCompacted {
			scopes = append(scopes, ScopeAll)
		}
		rows, err := runQueries(ctx, filepath.Join(o.Dir, layout), layout, m, d, scopes, o.Progress)
		res.Rows = append(res.Rows, rows...)
		if err != nil {
			return res, err
		}
	}
	res.QueryWall = time.Since(t0).Seconds()
	return res, nil
}
