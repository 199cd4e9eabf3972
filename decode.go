package sharelog

import "unsafe"

// This file holds the event decoder: a JSON scanner specialised to the event
// schema, used by DecodeRaw and DecodeEnriched in place of encoding/json.
// Here are its contract and the readers of the schema's objects;
// decode_scalar.go reads scalar fields, scan.go is the scanner.
//
// Contract: for any input, the lenient decoder (DecodeEnriched) accepts
// exactly what json.Unmarshal into an Event accepts and yields an Event that
// reflect.DeepEqual's the one json.Unmarshal yields. The strict decoder
// (DecodeRaw) accepts a subset of what a json.Decoder with
// DisallowUnknownFields accepts, yielding the same Event: it also refuses,
// so that no other JSON reader of the raw topic can see a different event,
// a key that matches a field only case-insensitively (an unknown field,
// its message naming the field it resembles), a known key given twice in
// one object ("is given more than once"), and a string that is not valid
// UTF-8 or holds an unpaired \u surrogate escape ("is not valid UTF-8");
// these are saved errors, like a type mismatch. Otherwise, as encoding/json:
//
//   - Syntax is checked over the whole input before any other error counts: a
//     *SyntaxError wins, with Offset the index of the offending byte plus one
//     (the input's length for unexpected end), and data after the top-level
//     value is a syntax error. Nesting deeper than 10,000 is a syntax error.
//   - Keys are unescaped, then matched to field names (leniently:
//     case-insensitively with Unicode simple folding, bytes.EqualFold: "ID"
//     and "Id" are "id", and "ſ" (U+017F) and "K" (U+212A) fold to s and k).
//     Leniently, of duplicate keys the last wins and an object given twice
//     is merged into the same struct.
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
