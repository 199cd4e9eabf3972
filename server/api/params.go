package api

import (
	"errors"
	"fmt"
	"mime"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/storage/query"
)

// ParseTimeBound parses the value of a from or to bound: RFC 3339
// ("2026-11-22T09:00:00Z", any offset, fractional seconds allowed) or a date
// ("2026-11-22", a UTC day). A date as the upper bound (upper set) includes
// that whole day: to=2026-11-22 ends at 2026-11-23T00:00:00Z, so that
// from=2026-11-01&to=2026-11-30 is all of November. An RFC 3339 upper bound is
// exclusive.
func ParseTimeBound(s string, upper bool) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		if upper {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-11-22T09:00:00Z) nor a date (2026-11-22)", truncate(s))
	}
	return t.UTC(), nil
}

// Output formats of GET /v1/events.
const (
	formatJSON = "json"
	formatCSV  = "csv"
)

// eventsRequest is a parsed GET /v1/events.
type eventsRequest struct {
	filter query.Filter // without the scope (Workspaces)
	// workspaces are the workspaces asked for; none: every one the token
	// may read.
	workspaces []string
	limit      int
	limitSet   bool
	cursor     *query.Cursor
	format     string
	shape      query.CSVShape
}

// params reads the query string, refusing parameters not in allowed and
// repeats of the single-valued ones.
type params struct {
	v    url.Values
	errs []error
}

func newParams(raw string, allowed, multi []string) (*params, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fmt.Errorf("the query string is not well-formed: %v", err)
	}
	p := &params{v: v}
	var unknown []string
	for name, vals := range v {
		switch {
		case !slices.Contains(allowed, name):
			unknown = append(unknown, strconv.Quote(truncate(name)))
		case len(vals) > 1 && !slices.Contains(multi, name):
			p.errs = append(p.errs, fmt.Errorf("%s: given %d times; it takes one value", name, len(vals)))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		p.errs = append(p.errs, fmt.Errorf("unknown parameter %s (known: %s)", strings.Join(unknown, ", "), strings.Join(allowed, ", ")))
	}
	return p, nil
}

func (p *params) get(name string) string { return strings.TrimSpace(p.v.Get(name)) }

func (p *params) list(name string) []string { return SplitList(p.v[name]) }

func (p *params) fail(name string, err error) {
	p.errs = append(p.errs, fmt.Errorf("%s: %w", name, err))
}

func (p *params) timeBound(name string, upper bool) time.Time {
	s := p.get(name)
	if s == "" {
		return time.Time{}
	}
	t, err := ParseTimeBound(s, upper)
	if err != nil {
		p.fail(name, err)
	}
	return t
}

func (p *params) err() error { return errors.Join(p.errs...) }

var (
	eventsParams   = []string{"workspace", "from", "to", "action", "user", "link", "file", "ip", "country", "result", "limit", "cursor", "format", "shape"}
	eventsMulti    = []string{"workspace", "action", "result"}
	activityParams = []string{"workspace", "from", "to"}
)

// DefaultLimit is the page size of GET /v1/events without limit.
const DefaultLimit = 100

// parseEvents parses GET /v1/events; accept is the Accept header.
func parseEvents(raw, accept string) (*eventsRequest, error) {
	p, err := newParams(raw, eventsParams, eventsMulti)
	if err != nil {
		return nil, err
	}
	req := &eventsRequest{workspaces: p.list("workspace"), limit: DefaultLimit}
	f := &req.filter
	f.From = p.timeBound("from", false)
	f.To = p.timeBound("to", true)
	f.Actions = p.list("action")
	for _, r := range p.list("result") {
		f.Results = append(f.Results, sharelog.Result(r))
	}
	f.User, f.Link, f.File, f.IP, f.Country = p.get("user"), p.get("link"), p.get("file"), p.get("ip"), p.get("country")
	if s := p.get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > query.MaxLimit {
			p.fail("limit", fmt.Errorf("%q is not a whole number from 1 to %d", truncate(s), query.MaxLimit))
		}
		req.limit, req.limitSet = n, true
	}
	if s := p.get("cursor"); s != "" {
		c, err := query.ParseCursor(s)
		if err != nil {
			p.errs = append(p.errs, err) // names the parameter
		} else {
			req.cursor = &c
		}
	}
	switch format := strings.ToLower(p.get("format")); format {
	case formatJSON, formatCSV:
		req.format = format
	case "":
		req.format = formatJSON
		if wantsCSV(accept) {
			req.format = formatCSV
		}
	default:
		p.fail("format", fmt.Errorf("%q is not json or csv", truncate(format)))
	}
	if s := p.get("shape"); s != "" {
		shape, err := query.ParseCSVShape(s)
		switch {
		case err != nil:
			p.fail("shape", fmt.Errorf("%q is not access or audit", truncate(s)))
		case req.format != formatCSV:
			p.fail("shape", errors.New("applies to CSV only (format=csv or Accept: text/csv)"))
		}
		req.shape = shape
	} else if f.Link != "" {
		req.shape = query.AccessLog
	} else {
		req.shape = query.AuditLog
	}
	if err := checkFilter(*f); err != nil {
		p.errs = append(p.errs, err)
	}
	return req, p.err()
}

// checkFilter validates f's conditions other than the scope, which the
// caller sets after authorization.
func checkFilter(f query.Filter) error {
	f.Workspaces = []string{"_"}
	return f.Validate()
}

// wantsCSV reports whether an Accept header prefers text/csv to JSON: it
// lists text/csv with a non-zero quality at least that of application/json.
func wantsCSV(accept string) bool {
	if accept == "" {
		return false
	}
	csvQ, jsonQ := -1.0, -1.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, ps, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := ps["q"]; ok {
			if v, err := strconv.ParseFloat(s, 64); err == nil {
				q = v
			}
		}
		switch mt {
		case "text/csv":
			csvQ = max(csvQ, q)
		case "application/json":
			jsonQ = max(jsonQ, q)
		}
	}
	return csvQ > 0 && csvQ >= jsonQ
}
