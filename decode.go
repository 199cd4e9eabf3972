package sharelog

import (
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// This file holds the event decoder: a JSON scanner specialised to the event
// schema, used by DecodeRaw and DecodeEnriched in place of encoding/json.
//
// Contract: for any input, decode accepts exactly what json.Unmarshal into an
// Event accepts (with DisallowUnknownFields when strict) and yields an Event
// that reflect.DeepEqual's the one json.Unmarshal yields. In detail, as
// encoding/json:
//
//   - Syntax is checked over the whole input before any other error counts: a
//     *SyntaxError wins, with Offset the index of the offending byte plus one
//     (the input's length for unexpected end), and data after the top-level
//     value is a syntax error. Nesting deeper than 10,000 is a syntax error.
//   - Keys are unescaped, then matched to field names case-insensitively with
//     Unicode simple folding (bytes.EqualFold): "ID" and "Id" are "id", and
//     "ſ" (U+017F) and "K" (U+212A) fold to s and k. Of duplicate keys, the
//     last wins; an object given twice is merged into the same struct.
//   - Strings are unescaped with all JSON escapes; a \u surrogate that is not
//     half of a valid pair, and every byte that is not valid UTF-8, become
//     U+FFFD.
//   - null leaves strings, numbers, booleans, times and the non-pointer
//     groups (workspace, actor, client) as they are, and sets the pointer
//     groups and the latitude/longitude pointers to nil.
//   - Integers must be integer literals in range (1.0, 1e3 are refused; -0 is 0
//     for signed fields and refused for the unsigned accuracy_radius_km);
//     floats are parsed by strconv.ParseFloat, so 1e400 is refused and 1e-400
//     is 0.
//   - Times are parsed by time.Time.UnmarshalJSON from the raw, still
//     escaped JSON string: strict RFC 3339, and an escape inside a time is
//     refused.
//   - Of several errors, a time error wins, else the first type mismatch or
//     unknown field in input order.
//
// Errors are reported as a *SyntaxError or as FieldErrors holding one
// *FieldError whose Field is the JSON path of the field ("file.size"), the
// full path also for unknown fields ("client.colour"; encoding/json names only
// the key), and "(event)" when the input is not an object.
//
// Strings of the decoded event share one copy of the input when it is at most
// maxSharedInput bytes: a decoded event keeps that copy alive, and nothing more.
type decoder struct {
	data   []byte
	text   string // data as a string when shared (see maxSharedInput), else ""
	pos    int    // index of the next byte to read
	depth  int    // nesting of objects and arrays at pos
	strict bool   // refuse unknown fields

	saved *FieldError // the first type mismatch or unknown field
	fatal *FieldError // the first time error; it wins over saved

	// timeGiven says that the event's last "time" key held a string, so
	// that a zero time was given (0001-01-01T00:00:00Z), not left out.
	timeGiven bool

	keyBuf  []byte // scratch for unescaped keys
	foldBuf []byte // scratch for case-folded keys

	// The event and the groups it may point to, allocated in two blocks
	// rather than one by one.
	raw      *rawBlock
	enriched *enrichedBlock
}

type rawBlock struct {
	ev     Event
	file   File
	link   Link
	server Server
}

type enrichedBlock struct {
	geo      Geo
	lat, lon float64
	platform Platform
	session  Session
	pipeline Pipeline
	alert    Alert
}

// enrichedGroups returns the block of the enriched groups, allocated on first
// use: raw events have none.
func (d *decoder) enrichedGroups() *enrichedBlock {
	if d.enriched == nil {
		d.enriched = new(enrichedBlock)
	}
	return d.enriched
}

const (
	// maxDepth is encoding/json's limit on nesting.
	maxDepth = 10000
	// maxSharedInput is the largest input whose decoded strings share one copy
	// of it; the strings of a larger input are copied one by one, so that a
	// big unknown field is not kept alive by the event.
	maxSharedInput = 16 << 10
)

// decode decodes one event. strict refuses unknown fields. owned says that
// the caller hands data over: its strings may point into it, uncopied.
func decode(data []byte, strict, owned bool) (*Event, error) {
	d := decoder{data: data, strict: strict, raw: new(rawBlock)}
	return d.run(owned)
}

// run decodes the event in d.data; see decode.
func (d *decoder) run(owned bool) (*Event, error) {
	data := d.data
	switch {
	case owned && len(data) > 0:
		d.text = unsafe.String(&data[0], len(data))
	case len(data) <= maxSharedInput:
		d.text = string(data)
	}
	ev := &d.raw.ev
	d.skipSpace()
	var err error
	switch d.peek() {
	case '{':
		err = d.event(ev)
	case 'n':
		err = d.literal("null")
	default:
		err = d.mismatch("(event)", "an object")
	}
	if err == nil {
		d.skipSpace()
		if d.pos < len(d.data) {
			err = d.syntaxError("after top-level value")
		}
	}
	switch {
	case err != nil:
		return nil, err
	case d.fatal != nil:
		return nil, FieldErrors{d.fatal}
	case d.saved != nil:
		return nil, FieldErrors{d.saved}
	}
	return ev, nil
}

// valid reports whether data is one well-formed JSON value, as json.Valid.
func valid(data []byte) bool {
	d := decoder{data: data}
	d.skipSpace()
	if d.skipValue() != nil {
		return false
	}
	d.skipSpace()
	return d.pos == len(d.data)
}

// The readers of the schema's objects. Each is called with pos at the first
// byte of its value and returns a *SyntaxError or nil, having saved any
// other error.

func (d *decoder) event(ev *Event) error {
	if err := d.enter(); err != nil {
		return err
	}
	var seen uint32
	for first := true; ; first = false {
		key, name, ok, err := d.next(first)
		if err != nil || !ok {
			return err
		}
		switch string(name) {
		case "id":
			d.once(&seen, 0, "id")
			err = d.string(&ev.ID, "id")
		case "time":
			d.once(&seen, 1, "time")
			d.timeGiven = d.peek() == '"'
			err = d.time(&ev.Time, "time")
		case "workspace":
			d.once(&seen, 2, "workspace")
			err = d.workspace(&ev.Workspace)
		case "actor":
			d.once(&seen, 3, "actor")
			err = d.actor(&ev.Actor)
		case "action":
			d.once(&seen, 4, "action")
			err = d.string((*string)(&ev.Action), "action")
		case "result":
			d.once(&seen, 5, "result")
			err = d.string((*string)(&ev.Result), "result")
		case "reason":
			d.once(&seen, 6, "reason")
			err = d.string(&ev.Reason, "reason")
		case "file":
			d.once(&seen, 7, "file")
			err = d.file(&ev.File)
		case "link":
			d.once(&seen, 8, "link")
			err = d.link(&ev.Link)
		case "client":
			d.once(&seen, 9, "client")
			err = d.client(&ev.Client)
		case "server":
			d.once(&seen, 10, "server")
			err = d.server(&ev.Server)
		case "geo":
			d.once(&seen, 11, "geo")
			err = d.geo(&ev.Geo)
		case "platform":
			d.once(&seen, 12, "platform")
			err = d.platform(&ev.Platform)
		case "session":
			d.once(&seen, 13, "session")
			err = d.session(&ev.Session)
		case "pipeline":
			d.once(&seen, 14, "pipeline")
			err = d.pipeline(&ev.Pipeline)
		case "alert":
			d.once(&seen, 15, "alert")
			err = d.alert(&ev.Alert)
		default:
			err = d.unknown("", key)
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) workspace(w *Workspace) error {
	if ok, err := d.openStruct("workspace"); !ok {
		return err
	}
	var seen uint32
	for first := true; ; first = false {
		key, name, ok, err := d.next(first)
		if err != nil || !ok {
			return err
		}
		switch string(name) {
		case "id":
			d.once(&seen, 0, "workspace.id")
			err = d.string(&w.ID, "workspace.id")
		case "name":
			d.once(&seen, 1, "workspace.name")
			err = d.string(&w.Name, "workspace.name")
		default:
			err = d.unknown("workspace", key)
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) actor(a *Actor) error {
	if ok, err := d.openStruct("actor"); !ok {
		return err
	}
	var seen uint32
	for first := true; ; first = false {
		key, name, ok, err := d.next(first)
		if err != nil || !ok {
			return err
		}
		switch string(name) {
		case "type":
			d.once(&seen, 0, "actor.type")
			err = d.string((*string)(&a.Type), "actor.type")
		case "email":
			d.once(&seen, 1, "actor.email")
			err = d.string(&a.Email, "actor.email")
		case "api_key_id":
			d.once(&seen, 2, "actor.api_key_id")
			err = d.string(&a.APIKeyID, "actor.api_key_id")
		case "visitor_email":
			d.once(&seen, 3, "actor.visitor_email")
			err = d.string(&a.VisitorEmail, "actor.visitor_email")
		default:
			err = d.unknown("actor", key)
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) file(p **File) error {
	if ok, err := openPointer(d, p, &d.raw.file, "file"); !ok {
		return err
	}
	f := *p
	var seen uint32
	for first := true; ; first = false {
		key, name, ok, err := d.next(first)
		if err != nil || !ok {
			return err
		}
		switch string(name) {
		case "id":
			d.once(&seen, 0, "file.id")
			err = d.string(&f.ID, "file.id")
		case "name":
			d.once(&seen, 1, "file.name")
			err = d.string(&f.Name, "file.name")
		case "size":
			d.once(&seen, 2, "file.size")
			err = d.int64(&f.Size, "file.size")
		case "path":
			d.once(&seen, 3, "file.path")
			err = d.string(&f.Path, "file.path")
		default:
			err = d.unknown("file", key)
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) link(p **Link) error {
	if ok, err := openPointer(d, p, &d.raw.link, "link"); !ok {
		return err
	}
	l := *p
	var seen uint32
	for first := true; ; first = false {
		key, name, ok, err := d.next(first)
		if err != nil || !ok {
			return err
		}
		switch string(name) {
		case "id":
			d.once(&seen, 0, "link.id")
			err = d.string(&l.ID, "link.id")
		default:
			err = d.unknown("link", key)
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) client(c *Client) error {
	if ok, err := d.openStruct("client"); !ok {
		return err
	}
	var seen uint32
	for first := true; ; first = false {
		key, name, ok, err := d.next(first)
		if err != nil || !ok {
			return err
		}
		switch string(name) {
		case "ip":
			d.once(&seen, 0, "client.ip")
			err = d.string(&c.IP, "client.ip")
		case "user_agent":
			d.once(&seen, 1, "client.user_agent")
			err = d.string(&c.UserAgent, "client.user_agent")
		case "kind":
			d.once(&seen, 2, "client.kind")
			err = d.string((*string)(&c.Kind), "client.kind")
		default:
			err = d.unknown("client", key)
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) server(p **Server) error {
	if ok, err := openPointer(d, p, &d.raw.server, "server"); !ok {
		return err
	}
	s := *p
	var seen uint32
	for first := true; ; first = false {
		key, name, ok, err := d.next(first)
		if err != nil || !ok {
			return err
		}
		switch string(name) {
		case "region":
			d.once(&seen, 0, "server.region")
			err = d.string(&s.Region, "server.region")
		case "node":
			d.once(&seen, 1, "server.node")
			err = d.string(&s.Node, "server.node")
		default:
			err = d.unknown("server", key)
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) geo(p **Geo) error {
	if ok, err := openPointer(d, p, &d.enrichedGroups().geo, "geo"); !ok {
		return err
	}
	g := *p
	var seen uint32
	for first := true; ; first = false {
		key, name, ok, err := d.next(first)
		if err != nil || !ok {
			return err
		}
		switch string(name) {
		case "country_code":
			d.once(&seen, 0, "geo.country_code")
			err = d.string(&g.CountryCode, "geo.country_code")
		case "country_name":
			d.once(&seen, 1, "geo.country_name")
			err = d.string(&g.CountryName, "geo.country_name")
		case "subdivision":
			d.once(&seen, 2, "geo.subdivision")
			err = d.string(&g.Subdivision, "geo.subdivision")
		case "city":
			d.once(&seen, 3, "geo.city")
			err = d.string(&g.City, "geo.city")
		case "latitude":
			d.once(&seen, 4, "geo.latitude")
			err = d.float64(&g.Latitude, &d.enrichedGroups().lat, "geo.latitude")
		case "longitude":
			d.once(&seen, 5, "geo.longitude")
			err = d.float64(&g.Longitude, &d.enrichedGroups().lon, "geo.longitude")
		case "accuracy_radius_km":
			d.once(&seen, 6, "geo.accuracy_radius_km")
			err = d.uint16(&g.AccuracyRadiusKM, "geo.accuracy_radius_km")
		case "database":
			d.once(&seen, 7, "geo.database")
			err = d.string(&g.Database, "geo.database")
		case "database_build":
			d.once(&seen, 8, "geo.database_build")
			err = d.string(&g.DatabaseBuild, "geo.database_build")
		default:
			err = d.unknown("geo", key)
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) platform(p **Platform) error {
	if ok, err := openPointer(d, p, &d.enrichedGroups().platform, "platform"); !ok {
		return err
	}
	pl := *p
	var seen uint32
	for first := true; ; first = false {
		key, name, ok, err := d.next(first)
		if err != nil || !ok {
			return err
		}
		switch string(name) {
		case "os_name":
			d.once(&seen, 0, "platform.os_name")
			err = d.string(&pl.OSName, "platform.os_name")
		case "os_version":
			d.once(&seen, 1, "platform.os_version")
			err = d.string(&pl.OSVersion, "platform.os_version")
		case "client_name":
			d.once(&seen, 2, "platform.client_name")
			err = d.string(&pl.ClientName, "platform.client_name")
		case "client_version":
			d.once(&seen, 3, "platform.client_version")
			err = d.string(&pl.ClientVersion, "platform.client_version")
		case "device_type":
			d.once(&seen, 4, "platform.device_type")
			err = d.string((*string)(&pl.DeviceType), "platform.device_type")
		default:
			err = d.unknown("platform", key)
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) session(p **Session) error {
	if ok, err := openPointer(d, p, &d.enrichedGroups().session, "session"); !ok {
		return err
	}
	s := *p
	var seen uint32
	for first := true; ; first = false {
		key, name, ok, err := d.next(first)
		if err != nil || !ok {
			return err
		}
		switch string(name) {
		case "link_session_id":
			d.once(&seen, 0, "session.link_session_id")
			err = d.string(&s.LinkSessionID, "session.link_session_id")
		case "seq":
			d.once(&seen, 1, "session.seq")
			err = d.int(&s.Seq, "session.seq")
		case "started":
			d.once(&seen, 2, "session.started")
			err = d.bool(&s.Started, "session.started")
		default:
			err = d.unknown("session", key)
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) pipeline(p **Pipeline) error {
	if ok, err := openPointer(d, p, &d.enrichedGroups().pipeline, "pipeline"); !ok {
		return err
	}
	pl := *p
	var seen uint32
	for first := true; ; first = false {
		key, name, ok, err := d.next(first)
		if err != nil || !ok {
			return err
		}
		switch string(name) {
		case "enriched_at":
			d.once(&seen, 0, "pipeline.enriched_at")
			err = d.time(&pl.EnrichedAt, "pipeline.enriched_at")
		case "schema_version":
			d.once(&seen, 1, "pipeline.schema_version")
			err = d.int(&pl.SchemaVersion, "pipeline.schema_version")
		case "topic":
			d.once(&seen, 2, "pipeline.topic")
			err = d.string(&pl.Topic, "pipeline.topic")
		case "partition":
			d.once(&seen, 3, "pipeline.partition")
			err = d.int(&pl.Partition, "pipeline.partition")
		case "offset":
			d.once(&seen, 4, "pipeline.offset")
			err = d.int64(&pl.Offset, "pipeline.offset")
		default:
			err = d.unknown("pipeline", key)
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) alert(p **Alert) error {
	if ok, err := openPointer(d, p, &d.enrichedGroups().alert, "alert"); !ok {
		return err
	}
	a := *p
	var seen uint32
	for first := true; ; first = false {
		key, name, ok, err := d.next(first)
		if err != nil || !ok {
			return err
		}
		switch string(name) {
		case "rule":
			d.once(&seen, 0, "alert.rule")
			err = d.string(&a.Rule, "alert.rule")
		case "type":
			d.once(&seen, 1, "alert.type")
			err = d.string(&a.Type, "alert.type")
		case "severity":
			d.once(&seen, 2, "alert.severity")
			err = d.string((*string)(&a.Severity), "alert.severity")
		case "action":
			d.once(&seen, 3, "alert.action")
			err = d.string((*string)(&a.Action), "alert.action")
		case "subject":
			d.once(&seen, 4, "alert.subject")
			err = d.string(&a.Subject, "alert.subject")
		case "count":
			d.once(&seen, 5, "alert.count")
			err = d.int(&a.Count, "alert.count")
		case "window_seconds":
			d.once(&seen, 6, "alert.window_seconds")
			err = d.int64(&a.WindowSeconds, "alert.window_seconds")
		case "since":
			d.once(&seen, 7, "alert.since")
			err = d.time(&a.Since, "alert.since")
		case "evidence":
			d.once(&seen, 8, "alert.evidence")
			err = d.strings(&a.Evidence, "alert.evidence")
		case "summary":
			d.once(&seen, 9, "alert.summary")
			err = d.string(&a.Summary, "alert.summary")
		default:
			err = d.unknown("alert", key)
		}
		if err != nil {
			return err
		}
	}
}

// strings reads an array of strings as encoding/json reads it into a
// []string: null sets it to nil; an array is decoded into the slice's own
// elements, grown as needed (an element of the wrong type keeps what it
// held, the error saved), then cut to the array's length; an empty array is
// an empty, non-nil slice.
func (d *decoder) strings(dst *[]string, path string) error {
	switch d.peek() {
	case 'n':
		*dst = nil
		return d.literal("null")
	case '[':
	default:
		return d.mismatch(path, "an array")
	}
	if err := d.enter(); err != nil {
		return err
	}
	s := *dst
	d.skipSpace()
	if d.peek() == ']' {
		d.pos++
		d.depth--
		*dst = []string{}
		return nil
	}
	for i := 0; ; i++ {
		if i >= len(s) {
			if i < cap(s) {
				s = s[:i+1]
			} else {
				s = append(s, "")
			}
		}
		if err := d.string(&s[i], path); err != nil {
			return err
		}
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.pos++
			d.skipSpace()
		case ']':
			d.pos++
			d.depth--
			*dst = s[:i+1]
			return nil
		default:
			return d.syntaxError("after array element")
		}
	}
}

// openStruct starts the value of a non-pointer group. It reports true when
// the value is an object, its '{' consumed; otherwise the value (null, which
// leaves the group as it is, or a wrong type, saved as an error) has been
// read.
func (d *decoder) openStruct(path string) (bool, error) {
	switch d.peek() {
	case '{':
		return true, d.enter()
	case 'n':
		return false, d.literal("null")
	}
	return false, d.mismatch(path, "an object")
}

// openPointer is openStruct for a pointer group: null sets it to nil, and an
// object is decoded into the group it points to, or, when nil, into slot.
// *p is nil or slot, and slot is zero while *p is nil: an object after null
// starts afresh, as in encoding/json, which allocates a new group.
func openPointer[T any](d *decoder, p **T, slot *T, path string) (bool, error) {
	switch d.peek() {
	case '{':
		if *p == nil {
			*p = slot
		}
		return true, d.enter()
	case 'n':
		if *p != nil {
			**p = *new(T) // for a later object
		}
		*p = nil
		return false, d.literal("null")
	}
	return false, d.mismatch(path, "an object")
}

// Readers of scalar fields.

func (d *decoder) string(dst *string, path string) error {
	switch d.peek() {
	case '"':
		start := d.pos + 1
		end, plain, err := d.scanString()
		if err != nil {
			return err
		}
		switch {
		case !plain:
			b, replaced := unescape(make([]byte, 0, end-start), d.data[start:end])
			if replaced && d.strict {
				d.save(path, "is not valid UTF-8 (an invalid byte or an unpaired \\u surrogate escape)")
			}
			*dst = string(b)
		case d.text != "":
			*dst = d.text[start:end]
		default:
			*dst = string(d.data[start:end])
		}
		return nil
	case 'n':
		return d.literal("null")
	}
	return d.mismatch(path, "a string")
}

// time reads a time with time.Time.UnmarshalJSON, as encoding/json does: it
// sees the JSON string as it is in the input, escapes included.
func (d *decoder) time(dst *time.Time, path string) error {
	switch d.peek() {
	case '"':
		start := d.pos
		end, _, err := d.scanString()
		if err != nil {
			return err
		}
		var t time.Time
		if err := t.UnmarshalJSON(d.data[start:d.pos]); err != nil {
			d.fail(path, strconv.Quote(truncate(string(d.data[start+1:end])))+" is not an RFC 3339 time")
			return nil
		}
		*dst = t
		return nil
	case 'n':
		return d.literal("null")
	}
	got := kindOf(d.peek())
	if err := d.skipValue(); err != nil {
		return err
	}
	d.fail(path, "must be an RFC 3339 time string, not a JSON "+got)
	return nil
}

func (d *decoder) bool(dst *bool, path string) error {
	switch d.peek() {
	case 't':
		*dst = true
		return d.literal("true")
	case 'f':
		*dst = false
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	return d.mismatch(path, "a boolean")
}

// number reads a number for a field of the given Go type, reporting whether
// there was one: false for null, a wrong type or a number out of range (the
// error is saved).
func (d *decoder) number(path string) (lit []byte, ok bool, err error) {
	switch c := d.peek(); {
	case c == '-' || '0' <= c && c <= '9':
		lit, err = d.scanNumber()
		return lit, err == nil, err
	case c == 'n':
		return nil, false, d.literal("null")
	}
	return nil, false, d.mismatch(path, "a number")
}

func (d *decoder) int64(dst *int64, path string) error {
	lit, ok, err := d.number(path)
	if ok {
		if n, perr := strconv.ParseInt(string(lit), 10, 64); perr == nil {
			*dst = n
		} else {
			d.badNumber(path, lit, "an integer", perr)
		}
	}
	return err
}

func (d *decoder) int(dst *int, path string) error {
	lit, ok, err := d.number(path)
	if ok {
		if n, perr := strconv.ParseInt(string(lit), 10, strconv.IntSize); perr == nil {
			*dst = int(n)
		} else {
			d.badNumber(path, lit, "an integer", perr)
		}
	}
	return err
}

func (d *decoder) uint16(dst *uint16, path string) error {
	lit, ok, err := d.number(path)
	if ok {
		if n, perr := strconv.ParseUint(string(lit), 10, 16); perr == nil {
			*dst = uint16(n)
		} else {
			d.badNumber(path, lit, "an integer from 0 to 65535", perr)
		}
	}
	return err
}

// float64 reads an optional float: null sets it to nil, a number is stored
// where it points or, when nil, in slot.
func (d *decoder) float64(p **float64, slot *float64, path string) error {
	if d.peek() == 'n' {
		*p = nil
		return d.literal("null")
	}
	lit, ok, err := d.number(path)
	if ok {
		if f, perr := strconv.ParseFloat(string(lit), 64); perr == nil {
			if *p == nil {
				*p = slot
			}
			**p = f
		} else {
			d.badNumber(path, lit, "a number", perr)
		}
	}
	return err
}

// Errors other than syntax errors.

// save records a type mismatch or unknown field unless one is recorded.
func (d *decoder) save(path, msg string) {
	if d.saved == nil {
		d.saved = &FieldError{Field: path, Message: msg}
	}
}

// fail records a time error, which wins over saved errors.
func (d *decoder) fail(path, msg string) {
	if d.fatal == nil {
		d.fatal = &FieldError{Field: path, Message: msg}
	}
}

// mismatch skips a value of the wrong type and saves the error.
func (d *decoder) mismatch(path, want string) error {
	got := kindOf(d.peek())
	if err := d.skipValue(); err != nil {
		return err
	}
	if d.saved == nil {
		d.save(path, "must be "+want+", not a JSON "+got)
	}
	return nil
}

func (d *decoder) badNumber(path string, lit []byte, want string, err error) {
	if d.saved == nil {
		msg := "must be " + want + ", not " + truncate(string(lit))
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			msg = truncate(string(lit)) + " is out of range"
		}
		d.save(path, msg)
	}
}

// unknown skips the value of a key that is no field, and saves the error
// when unknown fields are refused.
func (d *decoder) unknown(parent string, key []byte) error {
	if d.strict && d.saved == nil {
		path := string(key)
		if parent != "" {
			path = parent + "." + path
		}
		msg := "is not a field of the event schema"
		folded := string(d.fold(key))
		for _, f := range schemaFields(parent) {
			if f == folded {
				msg += " (field names are case-sensitive: " + strconv.Quote(f) + ")"
				break
			}
		}
		d.save(path, msg)
	}
	return d.skipValue()
}

// once records that the field of bit i of its object was given and, when
// decoding strictly, saves an error if it was given before. A raw event with
// a duplicate key is refused rather than read last-wins: other JSON readers
// of the raw topic may take the first, and must see the same event.
func (d *decoder) once(seen *uint32, i uint, path string) {
	if *seen&(1<<i) != 0 && d.strict {
		d.save(path, "is given more than once (duplicate keys are refused)")
	}
	*seen |= 1 << i
}

// kindOf names the JSON type of the value that starts with c.
func kindOf(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// The scanner.

func (d *decoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0 // also for a NUL byte, which no caller accepts
}

func (d *decoder) skipSpace() {
	data, i := d.data, d.pos
	for i < len(data) && data[i] <= ' ' && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	d.pos = i
}

// syntaxError reports the byte at pos as unexpected in context, or the
// unexpected end of the input, with encoding/json's offsets and messages.
func (d *decoder) syntaxError(context string) error {
	if d.pos >= len(d.data) {
		return &SyntaxError{Offset: int64(len(d.data)), Msg: "unexpected end of JSON input"}
	}
	return &SyntaxError{Offset: int64(d.pos) + 1, Msg: "invalid character " + quoteChar(d.data[d.pos]) + " " + context}
}

func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// enter consumes the '{' or '[' at pos.
func (d *decoder) enter() error {
	if d.depth++; d.depth > maxDepth {
		return d.syntaxError("exceeded max depth")
	}
	d.pos++
	return nil
}

// next reads the next key of an object up to its value: the key unescaped,
// its name folded for matching field names (see fold), both valid until the
// next call, and ok. At the end of the object it consumes the '}' and
// reports !ok.
func (d *decoder) next(first bool) (key, name []byte, ok bool, err error) {
	d.skipSpace()
	c := d.peek()
	switch {
	case c == '}':
		d.pos++
		d.depth--
		return nil, nil, false, nil
	case first:
	case c == ',':
		d.pos++
		d.skipSpace()
		c = d.peek()
	default:
		return nil, nil, false, d.syntaxError("after object key:value pair")
	}
	if c != '"' {
		return nil, nil, false, d.syntaxError("looking for beginning of object key string")
	}
	// The fast path: a key as the schema spells them is its own name.
	data := d.data
	start, i := d.pos+1, d.pos+1
	for i < len(data) && (data[i]-'a' < 26 || data[i] == '_') {
		i++
	}
	if i < len(data) && data[i] == '"' {
		d.pos = i + 1
		key = data[start:i]
		name = key
	} else {
		end, plain, err := d.scanString()
		if err != nil {
			return nil, nil, false, err
		}
		if plain {
			key = d.data[start:end]
		} else {
			d.keyBuf, _ = unescape(d.keyBuf[:0], d.data[start:end])
			key = d.keyBuf
		}
		name = key
		if !d.strict {
			name = d.fold(key)
		}
	}
	d.skipSpace()
	if d.peek() != ':' {
		return nil, nil, false, d.syntaxError("after object key")
	}
	d.pos++
	d.skipSpace()
	return key, name, true, nil
}

// fold returns key folded for matching the schema's field names, which are
// lower-case ASCII letters and '_': ASCII upper case to lower case, and the
// two non-ASCII runes whose simple fold is an ASCII letter, U+017F (ſ) and
// U+212A (Kelvin sign), to s and k. A folded key equals a field name exactly
// when bytes.EqualFold(key, name), which is how encoding/json matches.
func (d *decoder) fold(key []byte) []byte {
	for _, c := range key {
		if (c < 'a' || c > 'z') && c != '_' {
			return d.foldSlow(key)
		}
	}
	return key
}

func (d *decoder) foldSlow(key []byte) []byte {
	b := d.foldBuf[:0]
	for i := 0; i < len(key); {
		c := key[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(key[i:])
		switch r {
		case '\u017f':
			b = append(b, 's')
		case '\u212a':
			b = append(b, 'k')
		default:
			b = append(b, key[i:i+n]...)
		}
		i += n
	}
	d.foldBuf = b
	return b
}

// scanString checks the string at pos and moves past it. end is the index of
// its closing quote; plain reports that it has no escapes and is valid
// UTF-8, so that its bytes are its value.
func (d *decoder) scanString() (end int, plain bool, err error) {
	data := d.data
	start := d.pos + 1
	plain = true
	high := false
	for i := start; i < len(data); {
		for i < len(data) && byteClass[data[i]] <= '1' {
			i++
		}
		if i == len(data) {
			break
		}
		c := data[i]
		switch {
		case c == '"':
			if high && plain && !utf8.Valid(data[start:i]) {
				plain = false
			}
			d.pos = i + 1
			return i, plain, nil
		case c == '\\':
			plain = false
			i++
			if i >= len(data) {
				break
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				i++
				for k := 0; k < 4; k++ {
					if i >= len(data) {
						break
					}
					if !isHex(data[i]) {
						d.pos = i
						return 0, false, d.syntaxError(`in \u hexadecimal character escape`)
					}
					i++
				}
			default:
				d.pos = i
				return 0, false, d.syntaxError("in string escape code")
			}
		case c < ' ':
			d.pos = i
			return 0, false, d.syntaxError("in string literal")
		default:
			if c >= utf8.RuneSelf {
				high = true
			}
			i++
		}
	}
	d.pos = len(data)
	return 0, false, d.syntaxError("")
}

// unescape appends the value of the checked JSON string content s to dst,
// as encoding/json unquotes it, and reports whether it replaced an invalid
// byte or an unpaired surrogate escape with U+FFFD.
func unescape(dst, s []byte) (_ []byte, replaced bool) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch s[i+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(s[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if pair := utf16.DecodeRune(r, hex4(s[i+2:])); pair != utf8.RuneError {
							dst = utf8.AppendRune(dst, pair)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
					replaced = true
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				replaced = true
			}
			dst = utf8.AppendRune(dst, r) // U+FFFD for an invalid byte
			i += n
		}
	}
	return dst, replaced
}

// hex4 decodes the four checked hex digits that begin s.
func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// scanNumber checks the number at pos, moves past it and returns it.
func (d *decoder) scanNumber() ([]byte, error) {
	data, start, i := d.data, d.pos, d.pos
	digits := func() {
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
	}
	fail := func(context string) ([]byte, error) {
		d.pos = i
		return nil, d.syntaxError(context)
	}
	if data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return fail("")
	case data[i] == '0':
		i++
	case '1' <= data[i] && data[i] <= '9':
		digits()
	default:
		return fail("in numeric literal")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			return fail("after decimal point in numeric literal")
		}
		digits()
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			return fail("in exponent of numeric literal")
		}
		digits()
	}
	d.pos = i
	return data[start:i], nil
}

// literal checks that the literal lit (true, false or null) is at pos and
// moves past it.
func (d *decoder) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if d.pos >= len(d.data) || d.data[d.pos] != lit[i] {
			if i == 0 {
				return d.syntaxError("looking for beginning of value")
			}
			return d.syntaxError("in literal " + lit + " (expecting " + quoteChar(lit[i]) + ")")
		}
		d.pos++
	}
	return nil
}

// skipValue checks the value at pos and moves past it.
func (d *decoder) skipValue() error {
	switch c := d.peek(); {
	case c == '{':
		if err := d.enter(); err != nil {
			return err
		}
		for first := true; ; first = false {
			_, _, ok, err := d.next(first)
			if err != nil || !ok {
				return err
			}
			if err := d.skipValue(); err != nil {
				return err
			}
		}
	case c == '[':
		if err := d.enter(); err != nil {
			return err
		}
		d.skipSpace()
		if d.peek() == ']' {
			d.pos++
			d.depth--
			return nil
		}
		for {
			if err := d.skipValue(); err != nil {
				return err
			}
			d.skipSpace()
			switch d.peek() {
			case ',':
				d.pos++
				d.skipSpace()
			case ']':
				d.pos++
				d.depth--
				return nil
			default:
				return d.syntaxError("after array element")
			}
		}
	case c == '"':
		_, _, err := d.scanString()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		_, err := d.scanNumber()
		return err
	}
	return d.syntaxError("looking for beginning of value")
}

// schemaFields returns the field names of the object at path parent of the
// event ("" for the event itself).
func schemaFields(parent string) []string {
	switch parent {
	case "":
		return []string{"id", "time", "workspace", "actor", "action", "result", "reason", "file", "link", "client", "server", "geo", "platform", "session", "pipeline", "alert"}
	case "workspace":
		return []string{"id", "name"}
	case "actor":
		return []string{"type", "email", "api_key_id", "visitor_email"}
	case "file":
		return []string{"id", "name", "size", "path"}
	case "link":
		return []string{"id"}
	case "client":
		return []string{"ip", "user_agent", "kind"}
	case "server":
		return []string{"region", "node"}
	case "geo":
		return []string{"country_code", "country_name", "subdivision", "city", "latitude", "longitude", "accuracy_radius_km", "database", "database_build"}
	case "platform":
		return []string{"os_name", "os_version", "client_name", "client_version", "device_type"}
	case "session":
		return []string{"link_session_id", "seq", "started"}
	case "pipeline":
		return []string{"enriched_at", "schema_version", "topic", "partition", "offset"}
	case "alert":
		return []string{"rule", "type", "severity", "action", "subject", "count", "window_seconds", "since", "evidence", "summary"}
	}
	return nil
}
