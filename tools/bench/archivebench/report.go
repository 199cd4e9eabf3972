package archivebench

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Markdown renders the result as tables for docs/BENCHMARKS.md.
func (r *Result) Markdown() string {
	m := r.Manifest
	p := m.Params
	n := float64(p.Events)
	var b strings.Builder
	pf := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	last := p.Start.AddDate(0, 0, p.Days-1)
	pf("Dataset: %s simulated events (seed %d) over %d days, %s to %s, %d workspaces, enriched with %s, platform and session; ",
		num(int64(p.Events)), p.Seed, p.Days, p.Start.Format(time.DateOnly), last.Format(time.DateOnly), len(m.Workspaces), p.Geo)
	pf("files rolled by the archive sink's defaults (%s events or %d MiB of JSON per file, %s events buffered in all, largest buffer written first; ",
		num(int64(p.MaxFileEvents)), p.MaxFileBytes>>20, num(int64(p.MaxBufferedEvents)))
	if p.LiveAge > 0 {
		pf("the last day written as it would arrive live, a file per workspace every max_file_age = %s of event time), ", p.LiveAge)
	} else {
		pf("no age rule), ")
	}
	pf("row groups of %s rows.", num(int64(p.RowGroupRows)))
	if r.Reused {
		pf(" Dataset reused from an earlier run (made %s); the write figures are that run's.", m.Created.Format(time.RFC3339))
	}
	pf("\n\n")

	// Storage.
	pf("| format | bytes | bytes/event | of NDJSON |\n|---|---|---|---|\n")
	row := func(name string, bytes int64) {
		pf("| %s | %s | %.1f | %.1f %% |\n", name, num(bytes), float64(bytes)/n, 100*float64(bytes)/float64(m.NDJSONBytes))
	}
	row("NDJSON (the enriched JSON on the Kafka topic, one event a line)", m.NDJSONBytes)
	row("NDJSON, zstd (one stream, default level)", m.NDJSONZstdBytes)
	w := m.WriteStatsTotal()
	row(fmt.Sprintf("Parquet as the sink wrote it (%s files)", num(int64(w.Files))), w.Bytes)
	st, all := m.Layouts[LayoutSteady], m.Layouts[LayoutCompacted]
	row(fmt.Sprintf("Parquet, steady layout: past days compacted, last day as written (%s files)", num(int64(st.Files))), st.Bytes)
	row(fmt.Sprintf("Parquet, every day compacted (%s files, one per workspace and day)", num(int64(all.Files))), all.Bytes)
	pf("\n")

	// Writing.
	pf("| writing | events | files | wall s | events/s | CPU s | CPU µs/event |\n|---|---|---|---|---|---|---|\n")
	wrow := func(name string, events int64, files int, wall, cpu float64) {
		if events == 0 {
			pf("| %s | 0 | 0 | | | | |\n", name)
			return
		}
		pf("| %s | %s | %s | %.1f | %s | %.1f | %.1f |\n", name, num(events), num(int64(files)), wall,
			num(int64(float64(events)/max(wall, 1e-9))), cpu, 1e6*cpu/float64(events))
	}
	wrow("`WriteFile`, days before the last (a backlog: buffer limits roll the files)", m.WriteReplay.Events, m.WriteReplay.Files, m.WriteReplay.Wall, m.WriteReplay.CPU)
	if m.WriteLive.Files > 0 {
		wrow(fmt.Sprintf("`WriteFile`, last day (live: a file per workspace per %s)", p.LiveAge), m.WriteLive.Events, m.WriteLive.Files, m.WriteLive.Wall, m.WriteLive.CPU)
	}
	wrow("`WriteFile`, all", w.Events, w.Files, w.Wall, w.CPU)
	pf("| the sink's work: decode the enriched JSON + `WriteFile` (wall only) | %s | %s | %.1f | %s | | |\n",
		num(w.Events), num(int64(w.Files)), w.Wall+m.DecodeSeconds, num(int64(float64(w.Events)/max(w.Wall+m.DecodeSeconds, 1e-9))))
	wrow("whole generation: simulate, raw JSON, enrich (GeoIP, platform, session), enriched JSON, zstd, decode, write", int64(p.Events), w.Files, m.GenerationWall, m.GenerationCPU)
	c := m.CompactPast
	wrow(fmt.Sprintf("`CompactBefore` the days before the last: partitions of 2+ files (%s files → %s)", num(int64(c.FilesBefore)), num(int64(c.FilesAfter))), c.EventsBefore, c.FilesBefore, c.Wall, c.CPU)
	c = m.CompactAll
	wrow(fmt.Sprintf("`CompactBefore` the last day (%s files → %s)", num(int64(c.FilesBefore)), num(int64(c.FilesAfter))), c.EventsBefore, c.FilesBefore, c.Wall, c.CPU)
	pf("\nMax RSS of the generation: %.0f MiB.\n\n", m.MaxRSSMiB)

	// Queries.
	pf("Queries: %d sampled values of each kind (drawn from the events, so busy values come up more often), each asked once untimed, then timed once, by each engine in turn. ", len(m.Links))
	pf("sharelog: `query.Engine` `Search` (limit %s) and `Each` (counting), in this process (GOMAXPROCS %d, %s). ", num(PageSize), r.GOMAXPROCS, r.GoVersion)
	pf("DuckDB %s from Python (threads = %s, external file cache %s, Parquet metadata cache %s): `SELECT * … ORDER BY time DESC, id DESC LIMIT %d` fetched as an Arrow table, and `count(DISTINCT id)`, over `read_parquet('<root>/workspace=<ws>/*/*.parquet', hive_partitioning=true)`; timed inside Python. ",
		r.DuckDBVersion, r.DuckDBSettings["threads"], r.DuckDBSettings["enable_external_file_cache"], r.DuckDBSettings["parquet_metadata_cache"], PageSize)
	pf("Every answer was checked: the same ids in the same order, the same count.\n\n")
	pf("| layout | scope | question | of | sharelog p50 / p95 / max | DuckDB p50 / p95 / max | DuckDB p50 ÷ sharelog p50 | matches: median (max) | sharelog per query: files, row groups read of total, rows scanned |\n")
	pf("|---|---|---|---|---|---|---|---|---|\n")
	for _, q := range r.Rows {
		k := float64(max(len(q.Engine), 1))
		s := q.Stats
		pf("| %s | %s | %s | %s | %s / %s / %s | %s / %s / %s | %.2f | %s (%s) | %.0f, %.1f of %.0f, %s |\n",
			q.Layout, q.Scope, q.Question, q.Kind,
			msec(quantile(q.Engine, .5)), msec(quantile(q.Engine, .95)), msec(quantile(q.Engine, 1)),
			msec(quantile(q.DuckDB, .5)), msec(quantile(q.DuckDB, .95)), msec(quantile(q.DuckDB, 1)),
			quantile(q.DuckDB, .5)/max(quantile(q.Engine, .5), 1e-9),
			num(medianInt(q.Matches)), num(slices.Max(append([]int64{0}, q.Matches...))),
			float64(s.Files)/k, float64(s.RowGroups-s.RowGroupsSkipped)/k, float64(s.RowGroups)/k, num(int64(float64(s.RowsScanned)/k)))
	}
	pf("\n")

	// The aims.
	pf("Aims: stored size under 10 %% of NDJSON: compacted %.1f %%, steady %.1f %%. ",
		100*float64(all.Bytes)/float64(m.NDJSONBytes), 100*float64(st.Bytes)/float64(m.NDJSONBytes))
	pf("One link, one workspace, p50 sharelog vs DuckDB:")
	sep := " "
	for _, q := range r.Rows {
		if q.Kind == KindLink && q.Scope == ScopeWorkspace {
			pf("%s%s, %s: %s vs %s", sep, q.Layout, q.Question, msec(quantile(q.Engine, .5)), msec(quantile(q.DuckDB, .5)))
			sep = "; "
		}
	}
	pf(".\n")
	return b.String()
}

func medianInt(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// num formats n with thousands separators.
func num(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
