package query

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// cond is one condition on string columns: the row matches when any of its
// columns holds one of values (or, with match set, a value match accepts).
type cond struct {
	columns []string
	values  [][]byte
	// match replaces the values test for conditions that are not
	// equalities (an IP prefix); such a condition prunes nothing.
	match func([]byte) bool
}

// compiled is a Filter turned into conditions on columns.
type compiled struct {
	from, to int64 // microseconds; [from, to)
	conds    []cond
	dir      int // 1: newest first; -1: oldest first
}

func compile(f Filter, after *Cursor) (*compiled, error) {
	c := &compiled{from: math.MinInt64, to: math.MaxInt64, dir: 1}
	if !f.From.IsZero() {
		c.from = f.From.UnixMicro()
		if f.From.Truncate(0).Nanosecond()%1000 != 0 {
			c.from++ // the first whole microsecond at or after From
		}
	}
	if !f.To.IsZero() {
		c.to = f.To.UnixMicro()
		if f.To.Nanosecond()%1000 != 0 {
			c.to++ // times are archived in whole microseconds
		}
	}
	if after != nil {
		// Rows at the cursor's time are kept; the id decides, later.
		c.to = min(c.to, after.Time.UnixMicro()+1)
	}
	eq := func(cols []string, vals ...string) {
		cd := cond{columns: cols}
		for _, v := range vals {
			cd.values = append(cd.values, []byte(v))
		}
		c.conds = append(c.conds, cd)
	}
	if len(f.Workspaces) > 0 {
		// Partitions already select the workspaces; a file of the wrong
		// workspace in a partition (copied by hand) is still filtered out.
		eq([]string{"workspace_id"}, dedupe(f.Workspaces)...)
	}
	if f.Link != "" {
		eq([]string{"link_id"}, f.Link)
	}
	if f.File != "" {
		eq([]string{"file_id"}, f.File)
	}
	if f.User != "" {
		eq([]string{"actor_email", "actor_visitor_email"}, f.User)
	}
	if f.Country != "" {
		eq([]string{"geo_country_code"}, strings.ToUpper(f.Country))
	}
	if len(f.Actions) > 0 {
		eq([]string{"action"}, dedupe(f.actions())...)
	}
	if len(f.Results) > 0 {
		rs := make([]string, len(f.Results))
		for i, r := range f.Results {
			rs[i] = string(r)
		}
		eq([]string{"result"}, dedupe(rs)...)
	}
	if f.IP != "" {
		p, err := parseIP(f.IP)
		if err != nil {
			return nil, fmt.Errorf("ip: %q is neither an IP address nor a CIDR prefix", f.IP)
		}
		if p.IsSingleIP() {
			// The address as sent and in canonical form.
			eq([]string{"client_ip"}, dedupe([]string{f.IP, p.Addr().String()})...)
		} else {
			c.conds = append(c.conds, cond{columns: []string{"client_ip"}, match: func(b []byte) bool {
				a, err := netip.ParseAddr(string(b))
				return err == nil && (p.Contains(a) || p.Contains(a.Unmap()))
			}})
		}
	}
	return c, nil
}

// scanFile appends the hits of one file.
func (c *compiled) scanFile(pf *parquet.File, file int32, hits []hit, st *Stats) ([]hit, error) {
	schema := pf.Schema()
	timeCol, ok := schema.Lookup("time")
	if !ok {
		return hits, errors.New("no time column: not an archive file")
	}
	cols := make([][]int, len(c.conds))
	for i, cd := range c.conds {
		for _, name := range cd.columns {
			if leaf, ok := schema.Lookup(name); ok {
				cols[i] = append(cols[i], leaf.ColumnIndex)
			}
		}
	}
	groups := pf.RowGroups()
	skipped := 0
	for g, rg := range groups {
		chunks := rg.ColumnChunks()
		lo, hi, ok := c.rows(chunks, timeCol.ColumnIndex, cols)
		if !ok {
			skipped++
			continue
		}
		var err error
		hits, err = c.scanGroup(chunks, timeCol.ColumnIndex, cols, lo, hi, file, int32(g), hits, st)
		if err != nil {
			return hits, err
		}
	}
	st.RowGroups += len(groups)
	st.RowGroupsSkipped += skipped
	if skipped == len(groups) {
		st.FilesSkipped++
	}
	return hits, nil
}

// rows returns the rows [lo, hi) of a row group that can hold a match, by
// the page index of the time column and of every equality condition, and the
// bloom filters; ok is false when none can.
func (c *compiled) rows(chunks []parquet.ColumnChunk, timeCol int, cols [][]int) (lo, hi int64, ok bool) {
	n := numRows(chunks[timeCol])
	lo, hi = 0, n
	narrow := func(l, h int64) {
		lo, hi = max(lo, l), min(hi, h)
	}
	narrow(pageSpan(chunks[timeCol], n, func(minV, maxV parquet.Value) bool {
		return maxV.Int64() >= c.from && minV.Int64() < c.to
	}))
	for i, cd := range c.conds {
		if cd.match != nil || lo >= hi {
			continue
		}
		// The condition holds when any of its columns matches, so the
		// rows it allows are the union over its columns.
		ul, uh := int64(math.MaxInt64), int64(math.MinInt64)
		for _, col := range cols[i] {
			if !bloomMayContain(chunks[col], cd.values) {
				continue
			}
			l, h := pageSpan(chunks[col], n, func(minV, maxV parquet.Value) bool {
				for _, v := range cd.values {
					if bytes.Compare(v, minV.ByteArray()) >= 0 && bytes.Compare(v, maxV.ByteArray()) <= 0 {
						return true
					}
				}
				return false
			})
			ul, uh = min(ul, l), max(uh, h)
		}
		narrow(ul, uh)
	}
	return lo, hi, lo < hi
}

// numRows is the number of rows of the row group a column chunk belongs to
// (the columns of the archive are not repeated, so one value per row).
func numRows(cc parquet.ColumnChunk) int64 { return cc.NumValues() }

// pageSpan returns the smallest row range covering the pages of cc that
// may hold a match; the whole row group when the chunk has no page index.
// A page of nulls only never matches.
func pageSpan(cc parquet.ColumnChunk, n int64, may func(minV, maxV parquet.Value) bool) (lo, hi int64) {
	ci, err := cc.ColumnIndex()
	if err != nil {
		return 0, n
	}
	oi, err := cc.OffsetIndex()
	if err != nil || oi.NumPages() != ci.NumPages() {
		return 0, n
	}
	lo, hi = n, 0
	for p := range ci.NumPages() {
		if ci.NullPage(p) || !may(ci.MinValue(p), ci.MaxValue(p)) {
			continue
		}
		end := n
		if p+1 < oi.NumPages() {
			end = oi.FirstRowIndex(p + 1)
		}
		lo, hi = min(lo, oi.FirstRowIndex(p)), max(hi, end)
	}
	return lo, hi
}

// bloomMayContain reports whether the chunk's bloom filter allows one of
// values; true when the chunk has no filter.
func bloomMayContain(cc parquet.ColumnChunk, values [][]byte) bool {
	bf := cc.BloomFilter()
	if bf == nil {
		return true
	}
	for _, v := range values {
		ok, err := bf.Check(parquet.ByteArrayValue(v))
		if err != nil || ok {
			return true
		}
	}
	return false
}

// scanGroup decodes the condition columns of rows [lo, hi) of one row group
// and appends a hit for every row that passes them all.
func (c *compiled) scanGroup(chunks []parquet.ColumnChunk, timeCol int, cols [][]int, lo, hi int64, file, group int32, hits []hit, st *Stats) ([]hit, error) {
	n := int(hi - lo)
	st.RowsScanned += int64(n)
	times := make([]int64, n)
	keep := make([]bool, n)
	alive := 0
	err := readColumn(chunks[timeCol], lo, hi, func(i int, v parquet.Value) {
		if v.IsNull() {
			return
		}
		t := v.Int64()
		if t >= c.from && t < c.to {
			times[i], keep[i] = t, true
			alive++
		}
	})
	if err != nil {
		return hits, err
	}
	for i, cd := range c.conds {
		if alive == 0 {
			return hits, nil
		}
		if len(cols[i]) == 0 {
			return hits, nil // the file lacks the column: nothing can match
		}
		pass := make([]bool, n)
		for _, col := range cols[i] {
			err := readColumn(chunks[col], lo, hi, func(r int, v parquet.Value) {
				if !keep[r] || pass[r] || v.IsNull() {
					return
				}
				b := v.ByteArray()
				if cd.match != nil {
					pass[r] = cd.match(b)
					return
				}
				for _, want := range cd.values {
					if bytes.Equal(b, want) {
						pass[r] = true
						return
					}
				}
			})
			if err != nil {
				return hits, err
			}
		}
		alive = 0
		for r := range keep {
			keep[r] = keep[r] && pass[r]
			if keep[r] {
				alive++
			}
		}
	}
	for r, k := range keep {
		if k {
			hits = append(hits, hit{micros: times[r], file: file, group: group, row: lo + int64(r)})
		}
	}
	return hits, nil
}

// readColumn calls fn with the values of rows [lo, hi) of a column chunk,
// numbered from 0 (row lo).
func readColumn(cc parquet.ColumnChunk, lo, hi int64, fn func(i int, v parquet.Value)) error {
	pages := cc.Pages()
	defer pages.Close()
	if lo > 0 {
		if err := pages.SeekToRow(lo); err != nil {
			return err
		}
	}
	buf := make([]parquet.Value, 512)
	i, n := 0, int(hi-lo)
	for i < n {
		p, err := pages.ReadPage()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		vals := p.Values()
		for i < n {
			k, err := vals.ReadValues(buf)
			for _, v := range buf[:k] {
				if i == n {
					break
				}
				fn(i, v)
				i++
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				parquet.Release(p)
				return err
			}
			if k == 0 {
				break
			}
		}
		parquet.Release(p)
	}
	return nil
}
