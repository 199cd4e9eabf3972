package archive

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// python runs script with python3 and args, skipping the test when a module
// in modules is missing, and decodes the JSON the script prints into out.
func python(t *testing.T, modules []string, script string, out any, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found; install Python 3 and `pip install pyarrow duckdb` to run the interop tests")
	}
	for _, m := range modules {
		if err := exec.Command("python3", "-c", "import "+m).Run(); err != nil {
			t.Skipf("python3 cannot import %s (%v); run `pip install pyarrow duckdb` to run the interop tests", m, err)
		}
	}
	cmd := exec.Command("python3", append([]string{"-c", script}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("python3 printed %q: %v", b, err)
	}
}

const pyarrowScript = `
import json, sys
import pyarrow.parquet as pq
import pyarrow.compute as pc
path = sys.argv[1]
t = pq.read_table(path)
pf = pq.ParquetFile(path)
rg = pf.metadata.row_group(0)
print(json.dumps({
    "columns": t.column_names,
    "types": {f.name: str(f.type) for f in t.schema},
    "rows": t.num_rows,
    "downloads": pc.sum(pc.equal(t["action"], "link.downloaded")).as_py() or 0,
    "no_file": t["file_size"].null_count,
    "no_lat": t["geo_latitude"].null_count,
    "first_time": t["time"][0].as_py().isoformat(),
    "codecs": sorted({rg.column(i).compression for i in range(rg.num_columns)}),
    "sorting": [(pf.metadata.schema.column(s.column_index).name, s.descending, s.nulls_first) for s in rg.sorting_columns],
    "row_groups": pf.metadata.num_row_groups,
}))
`

// TestPyarrowReads reads a file with pyarrow, as an analyst's notebook does.
func TestPyarrowReads(t *testing.T) {
	events := largestPartition(generate(20_000, 8))
	path, _ := write(t, t.TempDir(), events, Options{RowGroupRows: 1000})
	var got struct {
		Columns   []string
		Types     map[string]string
		Rows      int
		Downloads int
		NoFile    int    `json:"no_file"`
		NoLat     int    `json:"no_lat"`
		FirstTime string `json:"first_time"`
		Codecs    []string
		Sorting   [][]any
		RowGroups int `json:"row_groups"`
	}
	python(t, []string{"pyarrow"}, pyarrowScript, &got, path)

	downloads, noFile, noLat := 0, 0, 0
	for _, ev := range events {
		if ev.Action == "link.downloaded" {
			downloads++
		}
		if ev.File == nil {
			noFile++
		}
		if ev.Geo == nil || ev.Geo.Latitude == nil {
			noLat++
		}
	}
	if strings.Join(got.Columns, ",") != strings.Join(wantColumns, ",") {
		t.Errorf("pyarrow columns %v", got.Columns)
	}
	for _, c := range []string{"time", "pipeline_enriched_at"} {
		if got.Types[c] != "timestamp[us, tz=UTC]" {
			t.Errorf("pyarrow type of %s = %s, want timestamp[us, tz=UTC]", c, got.Types[c])
		}
	}
	for c, want := range map[string]string{"id": "string", "file_size": "int64", "geo_latitude": "double",
		"geo_accuracy_radius_km": "int32", "session_started": "bool", "pipeline_offset": "int64"} {
		if got.Types[c] != want {
			t.Errorf("pyarrow type of %s = %s, want %s", c, got.Types[c], want)
		}
	}
	if got.Rows != len(events) || got.Downloads != downloads || got.NoFile != noFile || got.NoLat != noLat {
		t.Errorf("pyarrow: rows %d downloads %d null file_size %d null latitude %d; Go: %d %d %d %d",
			got.Rows, got.Downloads, got.NoFile, got.NoLat, len(events), downloads, noFile, noLat)
	}
	first, err := time.Parse(time.RFC3339Nano, got.FirstTime)
	if err != nil {
		t.Fatal(err)
	}
	if goEvents, err := ReadFile(path); err != nil || !first.Equal(goEvents[0].Time) {
		t.Errorf("pyarrow first time %v, Go %v (%v)", first, goEvents[0].Time, err)
	}
	if fmt.Sprint(got.Codecs) != "[ZSTD]" {
		t.Errorf("pyarrow codecs %v, want [ZSTD]", got.Codecs)
	}
	if fmt.Sprint(got.Sorting) != "[[link_id false true] [time false false] [id false false]]" {
		t.Errorf("pyarrow sorting columns %v", got.Sorting)
	}
	if got.RowGroups < 2 {
		t.Errorf("pyarrow sees %d row groups", got.RowGroups)
	}
}

const duckdbScript = `
import json, sys
import duckdb
root, link = sys.argv[1], sys.argv[2]
src = "read_parquet('%s/**/*.parquet', hive_partitioning=true)" % root.replace("'", "''")
con = duckdb.connect()
parts = con.execute("SELECT workspace::VARCHAR, date::VARCHAR, count(*) FROM " + src + " GROUP BY ALL").fetchall()
link_count = con.execute("SELECT count(*) FROM " + src + " WHERE link_id = ?", [link]).fetchone()[0]
types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM " + src + ")").fetchall())
window = con.execute("SELECT count(*) FROM " + src + " WHERE time >= ?::TIMESTAMPTZ AND time < ?::TIMESTAMPTZ",
    [sys.argv[3], sys.argv[4]]).fetchone()[0]
print(json.dumps({"parts": {w + "/" + d: n for w, d, n in parts}, "link": link_count, "types": types, "window": window}))
`

// TestDuckDBReadsArchive reads a whole archive root with DuckDB's Hive
// partitioning, as the analysts and the SQL examples do.
func TestDuckDBReadsArchive(t *testing.T) {
	events := generate(20_000, 9)
	// Spread the events over two days so the date partition matters.
	for i, ev := range events {
		if i%3 == 0 {
			ev.Time = ev.Time.Add(-24 * time.Hour)
		}
	}
	root := t.TempDir()
	want := map[string]int{}
	for k, part := range byPartition(events) {
		write(t, root, part, Options{RowGroupRows: 2000})
		want[k.workspace+"/"+k.date] = len(part)
	}
	links := map[string]int{}
	for _, ev := range events {
		if ev.Link != nil {
			links[ev.Link.ID]++
		}
	}
	link, most := "", 0
	for id, n := range links {
		if n > most || (n == most && id < link) {
			link, most = id, n
		}
	}
	from, to := day.Add(8*time.Hour), day.Add(8*time.Hour+5*time.Second)
	inWindow := 0
	for _, ev := range events {
		if !ev.Time.Before(from) && ev.Time.Before(to) {
			inWindow++
		}
	}
	var got struct {
		Parts  map[string]int
		Link   int
		Types  map[string]string
		Window int
	}
	python(t, []string{"duckdb"}, duckdbScript, &got, root, link, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	if fmt.Sprint(got.Parts) != fmt.Sprint(want) {
		t.Errorf("DuckDB counts per workspace/date:\n got %v\nwant %v", got.Parts, want)
	}
	if got.Link != most {
		t.Errorf("DuckDB: %d events of link %s, Go: %d", got.Link, link, most)
	}
	if got.Window != inWindow || inWindow == 0 {
		t.Errorf("DuckDB: %d events in [%v, %v), Go: %d", got.Window, from, to, inWindow)
	}
	if got.Types["time"] != "TIMESTAMP WITH TIME ZONE" {
		t.Errorf("DuckDB type of time = %q, want TIMESTAMP WITH TIME ZONE", got.Types["time"])
	}
	if len(got.Parts) < 4 {
		t.Errorf("only %d partitions; the test wants several workspaces and days", len(got.Parts))
	}
}
