package query

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sharelog/sharelog"
	"golang.org/x/text/unicode/norm"
)

// CSVShape is the column layout of a CSV export. The two shapes keep the
// column names people already know (see DESIGN.md, "Exports").
type CSVShape string

// The CSV shapes.
const (
	// AccessLog is the access log of a link, as Tresorit exports it: one row
	// per visitor event. Its columns are
	//
	//	timestamp      event time (see CSVTimeLayout)
	//	linkSessionId  session.link_session_id
	//	event          the action (link.opened, link.downloaded, …)
	//	email          the visitor email, else the actor's email
	//	ipAddress      client.ip
	//	country        geo country name, else its ISO code
	//	city           geo city
	//	osName         platform OS name
	//	clientName     platform client (browser or tool) name
	//	fileName       file name
	AccessLog CSVShape = "access"
	// AuditLog is the audit log of a workspace: one row per event of any
	// action. Its columns are
	//
	//	timestamp  event time (see CSVTimeLayout)
	//	user       the actor's email, else "api_key:<id>", else the actor
	//	           type: "anonymous" (also when the type is missing), or
	//	           "system" for sharelog itself
	//	action     the action
	//	file       the file's path, else its name
	//	fileId     file id
	//	size       file size in bytes, in decimal (empty when no file)
	//	ipAddress  client.ip
	//	region     server region that handled the request
	//	device     platform device type (desktop, mobile, tablet, bot, cli)
	//	result     success, or denied / error followed by ":" and the reason
	//	           ("denied:wrong_password")
	//	workspace  the workspace's name, else its id
	AuditLog CSVShape = "audit"
)

// CSVTimeLayout is the layout of the timestamp column: RFC 3339 in UTC with
// exactly six fractional digits, the microsecond precision of the archive
// ("2026-11-22T08:15:03.123456Z"). Sub-microsecond digits are dropped. The
// fixed width makes the column sort as text in time order.
const CSVTimeLayout = "2006-01-02T15:04:05.000000Z"

var (
	accessHeader = []string{"timestamp", "linkSessionId", "event", "email", "ipAddress", "country", "city", "osName", "clientName", "fileName"}
	auditHeader  = []string{"timestamp", "user", "action", "file", "fileId", "size", "ipAddress", "region", "device", "result", "workspace"}
)

// ParseCSVShape returns the shape named s, "access" or "audit" (in any
// case). Any other value, the empty string included, is an error naming it.
func ParseCSVShape(s string) (CSVShape, error) {
	switch strings.ToLower(s) {
	case string(AccessLog):
		return AccessLog, nil
	case string(AuditLog):
		return AuditLog, nil
	}
	return "", fmt.Errorf("csv shape: %q is not one of %s, %s", truncate(s), AccessLog, AuditLog)
}

// Header returns the column names of the shape, in order, as a new slice the
// caller may modify; nil for a shape that is neither AccessLog nor AuditLog.
func (s CSVShape) Header() []string {
	switch s {
	case AccessLog:
		return append([]string(nil), accessHeader...)
	case AuditLog:
		return append([]string(nil), auditHeader...)
	}
	return nil
}

// CSVWriter writes events as CSV rows of one shape, with encoding/csv: fields
// separated by commas, records ended by "\n" (not CRLF), a field quoted with
// double quotes (doubled inside) when it holds a comma, a quote, a CR or LF,
// or starts with a space. The output is UTF-8 without a byte order mark. The
// first record is always the header (CSVShape.Header), even when no event is
// written. A cell of an absent value, or of an absent enriched group (geo,
// platform, session, server, file), is empty.
//
// Formula injection: a spreadsheet runs a cell that starts with "=", "+",
// "-" or "@" as a formula; leading blanks (spaces, tabs, line breaks, other
// control and invisible format characters) can hide such a start, some
// spreadsheets also read the full-width and small forms ("＝", "﹦", …) and
// the minus sign U+2212, and a spreadsheet that splits rows on another
// separator (";" in de/fr locales, tabs, a naive split on "," or on line
// breaks) starts a new cell after it. Following OWASP's advice on CSV
// injection, every cell goes through one guard, csvSafe, for both shapes:
//
//   - a cell whose first non-blank character is a formula character (any
//     character whose compatibility form, NFKC, starts with = + - @ or
//     U+2212), or whose first character is TAB, CR or LF, is written with a
//     leading apostrophe ("'=HYPERLINK(…)", "' =1"), which spreadsheets show
//     as text;
//   - inside a cell, a formula character whose nearest non-blank
//     predecessor is a separator ("," ";" TAB CR LF) gets an apostrophe
//     just before it ("x;'=cmd|…", "a, '-b"), so no piece a spreadsheet may
//     cut out of the cell starts a formula.
//
// Everything else is written as is: emails, file names with inner "-" or
// "=", IPv6 addresses ("::1"), cells that already start with an
// apostrophe. A guarded cell differs from the event's value by the
// apostrophes; a program that needs the exact values should read the JSON
// API instead. Timestamps, actions, addresses and results are never
// guarded; names, paths, emails and ids, which users choose, may be.
//
// Output is buffered: rows reach w when the buffer (4 KiB) fills and on
// Flush. Write and Flush report the first error of w; after it, nothing more
// is written and every call returns that error. A CSVWriter is not safe for
// concurrent use.
type CSVWriter struct {
	w      *csv.Writer
	shape  CSVShape
	header bool // the header has been handed to w
	rows   int64
	err    error
	rec    []string
}

// NewCSVWriter returns a writer of shape to w. The shape must be AccessLog or
// AuditLog; with any other, Write and Flush write nothing and return an
// error.
func NewCSVWriter(w io.Writer, shape CSVShape) *CSVWriter {
	c := &CSVWriter{w: csv.NewWriter(w), shape: shape}
	if shape.Header() == nil {
		c.err = fmt.Errorf("query: csv shape %q is not one of %s, %s", truncate(string(shape)), AccessLog, AuditLog)
	}
	return c
}

// Write writes ev as one row, after the header if this is the first row. A
// nil event is an error and writes nothing.
func (c *CSVWriter) Write(ev *sharelog.Event) error {
	if ev == nil {
		return errors.New("query: csv: nil event")
	}
	if err := c.writeHeader(); err != nil {
		return err
	}
	switch c.shape {
	case AccessLog:
		c.rec = accessRecord(c.rec[:0], ev)
	case AuditLog:
		c.rec = auditRecord(c.rec[:0], ev)
	}
	for i, v := range c.rec {
		c.rec[i] = csvSafe(v)
	}
	if err := c.w.Write(c.rec); err != nil {
		c.err = err
		return err
	}
	c.rows++
	return nil
}

// Flush writes the header if no row was written yet, then everything
// buffered, and returns the first error met by this or an earlier call.
// It may be called any number of times, for example after each page of a
// streamed export.
func (c *CSVWriter) Flush() error {
	if err := c.writeHeader(); err != nil {
		return err
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil && c.err == nil {
		c.err = err
	}
	return c.err
}

// Rows returns the number of events written as rows, not counting the
// header. Rows still in the buffer are counted.
func (c *CSVWriter) Rows() int64 { return c.rows }

func (c *CSVWriter) writeHeader() error {
	if c.err != nil {
		return c.err
	}
	if c.header {
		return nil
	}
	if err := c.w.Write(c.shape.Header()); err != nil {
		c.err = err
		return err
	}
	c.header = true
	return nil
}

// csvSafe neutralises a cell a spreadsheet could read as a formula, or cut
// into pieces one of which it could read as a formula (see CSVWriter). It is
// the one guard of every CSV cell. A cell that needs no guard is returned
// as is, without allocating. Invalid UTF-8 is kept byte for byte.
func csvSafe(v string) string {
	prefix := v != "" && (v[0] == '\t' || v[0] == '\r' || v[0] == '\n')
	var inner []int // offsets in v before which an apostrophe goes
	lead := true    // no non-blank character seen yet
	afterSep := false
	for i, r := range v {
		switch {
		case csvSeparator(r):
			afterSep = true
			if !csvBlank(r) {
				lead = false
			}
		case csvBlank(r):
		default:
			if csvFormula(r) {
				prefix = prefix || lead
				if afterSep {
					inner = append(inner, i)
				}
			}
			lead, afterSep = false, false
		}
	}
	if !prefix && inner == nil {
		return v
	}
	var b strings.Builder
	b.Grow(len(v) + len(inner) + 1)
	if prefix {
		b.WriteByte('\'')
	}
	last := 0
	for _, i := range inner {
		b.WriteString(v[last:i])
		b.WriteByte('\'')
		last = i
	}
	b.WriteString(v[last:])
	return b.String()
}

// csvSeparator reports whether a spreadsheet may start a new cell after r:
// the comma and semicolon separators, a tab (tab-separated imports) and a
// line break.
func csvSeparator(r rune) bool {
	switch r {
	case ',', ';', '\t', '\r', '\n':
		return true
	}
	return false
}

// csvBlank reports whether r is a character a spreadsheet may skip or not
// show before a formula: white space, control characters and invisible
// format characters (zero-width space, byte order mark, …).
func csvBlank(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// csvFormula reports whether r starts a formula: = + - @, the minus sign
// U+2212, or any character whose compatibility form (NFKC: full-width
// "＝", small "﹢", superscript "⁻", …) starts with one of them.
func csvFormula(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '=' || r == '+' || r == '-' || r == '@'
	}
	if r == '\u2212' {
		return true
	}
	f, _ := utf8.DecodeRuneInString(norm.NFKC.String(string(r)))
	switch f {
	case '=', '+', '-', '@', '\u2212':
		return true
	}
	return false
}

// csvTime formats an event time for the timestamp column.
func csvTime(ev *sharelog.Event) string {
	if ev.Time.IsZero() {
		return ""
	}
	return ev.Time.UTC().Format(CSVTimeLayout)
}

func accessRecord(rec []string, ev *sharelog.Event) []string {
	var session, country, city, osName, clientName, fileName string
	if ev.Session != nil {
		session = ev.Session.LinkSessionID
	}
	if ev.Geo != nil {
		country = cmp.Or(ev.Geo.CountryName, ev.Geo.CountryCode)
		city = ev.Geo.City
	}
	if ev.Platform != nil {
		osName, clientName = ev.Platform.OSName, ev.Platform.ClientName
	}
	if ev.File != nil {
		fileName = ev.File.Name
	}
	email := cmp.Or(ev.Actor.VisitorEmail, ev.Actor.Email)
	return append(rec, csvTime(ev), session, string(ev.Action), email, ev.Client.IP,
		country, city, osName, clientName, fileName)
}

func auditRecord(rec []string, ev *sharelog.Event) []string {
	var user string
	switch {
	case ev.Actor.Email != "":
		user = ev.Actor.Email
	case ev.Actor.APIKeyID != "":
		user = "api_key:" + ev.Actor.APIKeyID
	default:
		user = cmp.Or(string(ev.Actor.Type), string(sharelog.ActorAnonymous))
	}
	var file, fileID, size, region, device string
	if ev.File != nil {
		file = cmp.Or(ev.File.Path, ev.File.Name)
		fileID = ev.File.ID
		size = strconv.FormatInt(ev.File.Size, 10)
	}
	if ev.Server != nil {
		region = ev.Server.Region
	}
	if ev.Platform != nil {
		device = string(ev.Platform.DeviceType)
	}
	result := string(ev.Result)
	if ev.Reason != "" && ev.Result != sharelog.Success {
		result += ":" + ev.Reason
	}
	return append(rec, csvTime(ev), user, string(ev.Action), file, fileID, size, ev.Client.IP,
		region, device, result, cmp.Or(ev.Workspace.Name, ev.Workspace.ID))
}
