package archive

import (
	"cmp"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// openParquet opens path with parquet-go itself, below this package's reader.
func openParquet(t testing.TB, path string) *parquet.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

// readRows returns the rows of path in file order.
func readRows(t testing.TB, path string) []Row {
	t.Helper()
	r := parquet.NewGenericReader[Row](openParquet(t, path))
	defer r.Close()
	rows := make([]Row, r.NumRows())
	n, err := r.Read(rows)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return rows[:n]
}

// wantColumns is the schema contract: the column names in order.
var wantColumns = []string{"id", "time", "workspace_id", "workspace_name", "actor_type", "actor_email",
	"actor_api_key_id", "actor_visitor_email", "action", "result", "reason", "file_id", "file_name",
	"file_size", "file_path", "link_id", "client_ip", "client_user_agent", "client_kind", "server_region",
	"server_node", "geo_country_code", "geo_country_name", "geo_subdivision", "geo_city", "geo_latitude",
	"geo_longitude", "geo_accuracy_radius_km", "geo_database", "geo_database_build", "platform_os_name",
	"platform_os_version", "platform_client_name", "platform_client_version", "platform_device_type",
	"session_link_session_id", "session_seq", "session_started", "pipeline_enriched_at",
	"pipeline_schema_version", "pipeline_topic", "pipeline_partition", "pipeline_offset",
	"alert_rule", "alert_type", "alert_severity", "alert_action", "alert_subject", "alert_count", "alert_window_seconds",
	"alert_since", "alert_evidence", "alert_summary"}

// requiredColumns are the columns that are never NULL; all others are
// optional.
var requiredColumns = []string{"id", "time", "workspace_id", "workspace_name", "actor_type", "actor_email",
	"actor_api_key_id", "actor_visitor_email", "action", "result", "reason", "client_ip",
	"client_user_agent", "client_kind"}

func TestFileSchema(t *testing.T) {
	events := generate(20_000, 2)
	part := largestPartition(events)
	if len(part) < 2500 {
		t.Fatalf("partition too small for the test: %d", len(part))
	}
	const groupRows = 1000
	path, stats := write(t, t.TempDir(), part, Options{RowGroupRows: groupRows})
	pf := openParquet(t, path)

	// Columns, their logical types and repetition.
	var names []string
	for _, field := range pf.Schema().Fields() {
		names = append(names, field.Name())
		if field.Optional() == slices.Contains(requiredColumns, field.Name()) {
			t.Errorf("column %s: optional = %t", field.Name(), field.Optional())
		}
		lt := field.Type().LogicalType()
		switch field.Name() {
		case "time", "pipeline_enriched_at":
			if lt == nil || lt.String() != "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)" {
				t.Errorf("column %s: logical type %v, want TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)", field.Name(), lt)
			}
		case "id", "action", "link_id", "geo_country_code":
			if lt == nil || lt.String() != "STRING" {
				t.Errorf("column %s: logical type %v, want STRING", field.Name(), lt)
			}
		}
	}
	if !slices.Equal(names, wantColumns) {
		t.Errorf("columns:\n got %v\nwant %v", names, wantColumns)
	}

	// Row groups: bounded, ZSTD, bloom filters where wanted, dictionaries
	// where wanted, sorting columns declared.
	md := pf.Metadata()
	if md.NumRows != int64(len(part)) || stats.Rows != md.NumRows {
		t.Errorf("rows: metadata %d, stats %d, wrote %d", md.NumRows, stats.Rows, len(part))
	}
	if len(md.RowGroups) < 3 || stats.RowGroups != len(md.RowGroups) {
		t.Errorf("row groups: %d in file, %d in stats; want ≥ 3 for %d rows at %d per group", len(md.RowGroups), stats.RowGroups, len(part), groupRows)
	}
	for i, rg := range md.RowGroups {
		if rg.NumRows > groupRows || rg.NumRows == 0 {
			t.Errorf("row group %d has %d rows, want 1..%d", i, rg.NumRows, groupRows)
		}
		var sorting []string
		for _, sc := range rg.SortingColumns {
			sorting = append(sorting, wantColumns[sc.ColumnIdx])
			if sc.Descending || sc.NullsFirst != (wantColumns[sc.ColumnIdx] == "link_id") {
				t.Errorf("row group %d: sorting column %s: descending %t nulls first %t", i, wantColumns[sc.ColumnIdx], sc.Descending, sc.NullsFirst)
			}
		}
		if !slices.Equal(sorting, []string{"link_id", "time", "id"}) {
			t.Errorf("row group %d: sorting columns %v, want link_id, time, id", i, sorting)
		}
		for _, cc := range rg.Columns {
			name := strings.Join(cc.MetaData.PathInSchema, ".")
			if got := cc.MetaData.Codec.String(); got != "ZSTD" {
				t.Errorf("row group %d column %s: codec %s, want ZSTD", i, name, got)
			}
			hasBloom := cc.MetaData.BloomFilterOffset > 0
			if want := slices.Contains(BloomColumns[:], name); hasBloom != want {
				t.Errorf("row group %d column %s: bloom filter %t, want %t", i, name, hasBloom, want)
			}
			var encodings []string
			for _, e := range cc.MetaData.Encoding {
				encodings = append(encodings, e.String())
			}
			dict := slices.Contains(encodings, "RLE_DICTIONARY") || slices.Contains(encodings, "PLAIN_DICTIONARY")
			if want := name == "action" || name == "result" || name == "geo_country_code" || name == "server_region" || name == "link_id"; want && !dict {
				t.Errorf("row group %d column %s: encodings %v, want dictionary", i, name, encodings)
			}
		}
	}

	// The bloom filters answer: a link id in the group is found, one that
	// is not is (almost always) not.
	linkCol, _ := pf.Schema().Lookup("link_id")
	rg := pf.RowGroups()[0]
	bf := rg.ColumnChunks()[linkCol.ColumnIndex].BloomFilter()
	if bf == nil {
		t.Fatal("no bloom filter on link_id through parquet-go")
	}
	rows := readRows(t, path)
	var present string
	for _, row := range rows[:rg.NumRows()] {
		if row.LinkID != nil {
			present = *row.LinkID
		}
	}
	if ok, err := bf.Check(parquet.ValueOf(present)); err != nil || !ok {
		t.Errorf("bloom filter of link_id misses %q (err %v)", present, err)
	}
	misses := 0
	for i := range 100 {
		if ok, _ := bf.Check(parquet.ValueOf("lnk_absent_" + string(rune('a'+i%26)) + strings.Repeat("x", i))); !ok {
			misses++
		}
	}
	if misses < 90 {
		t.Errorf("bloom filter of link_id says yes to %d of 100 absent ids", 100-misses)
	}

	// Rows are sorted by link (NULL first), then time, then id.
	for i := 1; i < len(rows); i++ {
		a, b := rows[i-1], rows[i]
		if c := compareEvents(a.Event(), b.Event()); c > 0 {
			t.Fatalf("rows %d and %d out of order: (%v, %s) > (%v, %s)", i-1, i, str(a.LinkID), utc(a.Time), str(b.LinkID), utc(b.Time))
		}
	}
	if rows[0].LinkID != nil || rows[len(rows)-1].LinkID == nil {
		t.Errorf("events without a link should come first")
	}
	if !stats.MinTime.Equal(minTime(rows)) || !stats.MaxTime.Equal(maxTime(rows)) {
		t.Errorf("stats times %v..%v, rows %v..%v", stats.MinTime, stats.MaxTime, minTime(rows), maxTime(rows))
	}
}

func minTime(rows []Row) time.Time {
	return utc(slices.MinFunc(rows, func(a, b Row) int { return cmp.Compare(a.Time, b.Time) }).Time)
}

func maxTime(rows []Row) time.Time {
	return utc(slices.MaxFunc(rows, func(a, b Row) int { return cmp.Compare(a.Time, b.Time) }).Time)
}
