package sharelog

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The codec is tested against encoding/json, which it replaces: for any
// input, the decoder must accept what json.Unmarshal accepts and yield the
// same Event, and the encoder must write what json.Marshal writes.

// referenceDecode decodes as the codec did with encoding/json: Unmarshal
// (DecodeEnriched), or a Decoder with DisallowUnknownFields over one
// well-formed value (DecodeRaw before Validate).
func referenceDecode(data []byte, strict bool) (*Event, error) {
	ev := new(Event)
	if !strict || !json.Valid(data) {
		return ev, json.Unmarshal(data, ev)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return ev, dec.Decode(ev)
}

// checkDecode compares decode with referenceDecode on data: both accept and
// the events are deeply equal, or both refuse with the same kind of error: a
// syntax error at the same offset, or an error naming the same field.
func checkDecode(t *testing.T, data []byte, strict bool) {
	t.Helper()
	got, err := decode(data, strict, false)
	want, wantErr := referenceDecode(data, strict)
	// Decoding in place (the input handed over) gives the same answer.
	owned, ownedErr := decode(bytes.Clone(data), strict, true)
	if (ownedErr == nil) != (err == nil) || (err == nil && !reflect.DeepEqual(owned, got)) ||
		(err != nil && ownedErr.Error() != err.Error()) {
		t.Fatalf("strict=%v %q: owned decoding differs: %v / %v", strict, data, ownedErr, err)
	}
	if err != nil && strict && strictOnly(t, data, err) {
		return // refused as encoding/json would not: checked by strictOnly
	}
	switch {
	case err == nil && wantErr == nil:
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("strict=%v %q:\ndecoded   %s\nreference %s", strict, data, dump(got), dump(want))
		}
		return
	case err == nil:
		t.Fatalf("strict=%v %q: accepted, reference refuses: %v", strict, data, wantErr)
	case wantErr == nil:
		t.Fatalf("strict=%v %q: refused (%v), reference accepts %s", strict, data, err, dump(want))
	case got != nil:
		t.Fatalf("event and error both returned")
	}

	var (
		jse     *json.SyntaxError
		jte     *json.UnmarshalTypeError
		se      *SyntaxError
		fe      FieldErrors
		unknown = "json: unknown field "
	)
	if errors.As(wantErr, &jse) {
		if !errors.As(err, &se) || se.Offset != jse.Offset {
			t.Fatalf("strict=%v %q: error %v, reference %v at %d", strict, data, err, wantErr, jse.Offset)
		}
		return
	}
	if !errors.As(err, &fe) || len(fe) != 1 {
		t.Fatalf("strict=%v %q: error %#v, reference %v", strict, data, err, wantErr)
	}
	field := fe[0].Field
	switch {
	case errors.As(wantErr, &jte):
		want := jte.Field
		if want == "" {
			want = "(event)"
		}
		if field != want {
			t.Fatalf("strict=%v %q: error %v, reference %v", strict, data, err, wantErr)
		}
	case strings.HasPrefix(wantErr.Error(), unknown):
		// encoding/json names the key; we name its path.
		key, _ := strconv.Unquote(strings.TrimPrefix(wantErr.Error(), unknown))
		if !strings.HasSuffix(field, key) || field != key && !strings.HasSuffix(field, "."+key) || !strings.Contains(fe[0].Message, "not a field") {
			t.Fatalf("strict=%v %q: error %v, reference %v", strict, data, err, wantErr)
		}
	default: // time.Time.UnmarshalJSON's error
		if field != "time" && field != "pipeline.enriched_at" && field != "alert.since" {
			t.Fatalf("strict=%v %q: error %v, reference %v", strict, data, err, wantErr)
		}
	}
}

// strictOnly reports whether err is one that only the strict decoder gives,
// where encoding/json reads on: a duplicate or case-variant key, or a string
// that is not valid UTF-8. It fails the test when data does not hold what
// the error says.
func strictOnly(t *testing.T, data []byte, err error) bool {
	t.Helper()
	var fe FieldErrors
	if !errors.As(err, &fe) || len(fe) != 1 {
		return false
	}
	msg := fe[0].Message
	switch {
	case strings.Contains(msg, "is given more than once"), strings.Contains(msg, "case-sensitive"):
		if !hasKeyVariant(data) {
			t.Fatalf("%q: %v, but no key is given twice or in another case", data, err)
		}
	case strings.Contains(msg, "not valid UTF-8"):
		if utf8.Valid(data) && !loneSurrogate.Match(data) {
			t.Fatalf("%q: %v, but the input is UTF-8 without surrogate escapes", data, err)
		}
	default:
		return false
	}
	return true
}

// loneSurrogate matches a \u escape of a UTF-16 surrogate, paired or not.
var loneSurrogate = regexp.MustCompile(`\\u[dD][89a-fA-F][0-9a-fA-F]{2}`)

// hasKeyVariant reports whether some object of the JSON data has two keys
// that match case-insensitively (as encoding/json matches), or a key that
// matches a field of the schema only case-insensitively.
func hasKeyVariant(data []byte) bool {
	var names []string
	for _, parent := range []string{"", "workspace", "actor", "file", "link", "client", "server", "geo", "platform", "session", "pipeline", "alert"} {
		names = append(names, schemaFields(parent)...)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	type object struct {
		keys    []string
		wantKey bool
	}
	var stack []*object
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := (*object)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if key, ok := tok.(string); ok && top != nil && top.wantKey {
			for _, k := range top.keys {
				if bytes.EqualFold([]byte(k), []byte(key)) {
					return true
				}
			}
			for _, n := range names {
				if key != n && bytes.EqualFold([]byte(key), []byte(n)) {
					return true
				}
			}
			top.keys = append(top.keys, key)
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &object{wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, nil)
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: the object around it wants a key next.
		if len(stack) > 0 && stack[len(stack)-1] != nil {
			stack[len(stack)-1].wantKey = true
		}
	}
}

func dump(ev *Event) string {
	b, _ := json.Marshal(ev)
	return string(b)
}

// decodeSeeds are inputs on the edges of JSON and of the schema.
var decodeSeeds = []string{
	``, ` `, `{}`, ` {} `, "\t{\n}\r\n", `null`, ` null `, `[]`, `"x"`, `1`, `-0`, `true`, `false`, `{`, `}`, `{]`, `[}`, `nul`, `tru`, `nulx`,
	`{} {}`, `{}]`, `{}}`, `{} x`, `{"id":"x"}}`, "\xef\xbb\xbf{}", `{,}`, `{"id":"a",}`, `{"id" "a"}`, `{"id":}`, `{id:"a"}`, `{'id':'a'}`,
	// strings and escapes
	`{"id":"a\"b\\c\/d\b\f\n\r\t"}`, `{"id":"\u0041\u00e9\u20ac\ud83d\ude00"}`, `{"id":"\ud83d"}`, `{"id":"\ude00\ud83d"}`,
	`{"id":"\ud83d\u0041"}`, `{"id":"\ud83dx"}`, `{"id":"\ud83d\ud83d\ude00"}`, `{"id":"\uDBFF\uDFFF\uD800\uDC00"}`, `{"id":"\u0000"}`,
	`{"id":"\u002"}`, `{"id":"\u00g0"}`, `{"id":"\x"}`, `{"id":"\'"}`, "{\"id\":\"a\x01\"}", "{\"id\":\"a\x7f\"}", `{"id":"a`, `{"id":"a\`, `{"id":"\u12`,
	"{\"id\":\"\xff\xfe\"}", "{\"id\":\"a\xe2\x82\"}", "{\"id\":\"\xed\xa0\x80\"}", "{\"id\":\"\xf4\x90\x80\x80\"}", "{\"id\":\"\xc2\x85\"}",
	"{\"id\":\"\u2028\u2029<>&\"}", `{"id":"\u003cscript\u003e"}`,
	// keys: case, folding, escapes, duplicates, unknown
	`{"ID":"a","Id":"b"}`, `{"id":"a","id":"b"}`, `{"id":"a","id":null}`, `{"\u0069d":"a"}`, "{\"\xffid\":\"a\"}", `{"":1}`,
	`{"worKſpace":{}}`, "{\"\u212aind\":1}", `{"client":{"\u212aind":"cli"}}`, `{"file":{"ſize":5}}`, `{"FILE":{"SIZE":5,"ID":"f"}}`,
	`{"colour":"red"}`, `{"client":{"colour":"red"}}`, `{"colour":{"a":[1,{"b":null}],"c":"\u0000"}}`, `{"colour":[1,2,[3,[4]]],"id":"x"}`,
	`{"geo":{"extra":{"deep":[{"x":1}]}}}`, `{"pipeline":{"x":[]},"session":{"y":{}}}`, `{"colour":1,"file":{"size":"x"}}`,
	`{"file":{"size":"x"},"colour":1}`, `{"colour":[1,}`, `{"colour":{"a" 1}}`,
	// nulls
	`{"id":null,"time":null,"workspace":null,"actor":null,"file":null,"link":null,"client":null,"server":null,"geo":null,"platform":null,"session":null,"pipeline":null}`,
	`{"file":{"id":"f"},"file":null}`, `{"file":{"id":"f","name":"n"},"file":{"id":"g"}}`, `{"workspace":{"id":"w"},"workspace":null}`,
	`{"geo":{"latitude":1.5,"longitude":null}}`, `{"geo":{"latitude":1,"latitude":null}}`, `{"session":{"seq":null,"started":null}}`,
	`{"time":"2026-11-22T09:00:00Z","time":null}`,
	// numbers
	`{"file":{"size":0}}`, `{"file":{"size":-0}}`, `{"file":{"size":1.0}}`, `{"file":{"size":1e3}}`, `{"file":{"size":9223372036854775807}}`,
	`{"file":{"size":9223372036854775808}}`, `{"file":{"size":-9223372036854775808}}`, `{"file":{"size":99999999999999999999999}}`,
	`{"file":{"size":01}}`, `{"file":{"size":-}}`, `{"file":{"size":1.}}`, `{"file":{"size":.5}}`, `{"file":{"size":1e}}`, `{"file":{"size":1e+}}`,
	`{"file":{"size":+1}}`, `{"file":{"size":0x10}}`, `{"file":{"size":1E-2}}`,
	`{"geo":{"latitude":-0}}`, `{"geo":{"latitude":-0.0}}`, `{"geo":{"latitude":1e400}}`, `{"geo":{"latitude":-1e400}}`, `{"geo":{"latitude":1e-400}}`,
	`{"geo":{"latitude":4.9e-324,"longitude":1.7976931348623157e308}}`, `{"geo":{"latitude":0.1e1,"longitude":123456789012345678901234567890}}`,
	`{"geo":{"accuracy_radius_km":65535}}`, `{"geo":{"accuracy_radius_km":65536}}`, `{"geo":{"accuracy_radius_km":-1}}`, `{"geo":{"accuracy_radius_km":-0}}`,
	`{"session":{"seq":-5,"started":true}}`, `{"session":{"started":"true"}}`, `{"session":{"started":1}}`, `{"pipeline":{"partition":2147483648,"offset":-1}}`,
	// types
	`{"id":1}`, `{"id":true}`, `{"id":{}}`, `{"id":[]}`, `{"file":"f"}`, `{"file":[]}`, `{"file":1}`, `{"workspace":"w"}`, `{"geo":{"latitude":"1"}}`,
	`{"action":["link.opened"]}`, `{"file":{"size":true}}`, `{"file":{"size":{}}}`,
	// times
	`{"time":"2026-11-22T09:00:00Z"}`, `{"time":"2026-11-22T09:00:00.123456789Z"}`, `{"time":"2026-11-22T10:00:00+01:00"}`, `{"time":"2026-11-22T09:00:00+00:00"}`,
	`{"time":"2026-11-22T09:00:00-00:00"}`, `{"time":"2026-11-22 09:00:00Z"}`, `{"time":"2026-11-22T09:00:00z"}`, `{"time":"2026-11-22T09:00:00\u005a"}`,
	`{"time":"yesterday"}`, `{"time":""}`, `{"time":5}`, `{"time":{}}`, `{"time":[]}`, `{"time":true}`, `{"time":"2026-11-22T24:00:00Z"}`,
	`{"time":"0000-01-01T00:00:00Z"}`, `{"time":"9999-12-31T23:59:59.999999999Z"}`, `{"time":"2026-11-22T09:00:00.Z"}`, `{"time":"2026-11-22T09:00:00+24:00"}`,
	`{"id":1,"time":"bad"}`, `{"time":"bad","id":1}`, `{"time":"bad","time":5}`, `{"pipeline":{"enriched_at":"x"}}`, `{"pipeline":{"enriched_at":"2026-11-22T09:00:00Z"}}`,
	// alert, with its one array
	`{"alert":{"rule":"r","type":"t","severity":"high","subject":"link:l","count":3,"window_seconds":300,"since":"2026-11-22T09:00:00Z","evidence":["a","b"],"summary":"s"}}`,
	`{"alert":{"evidence":[]}}`, `{"alert":{"evidence":null}}`, `{"alert":{"evidence":[ "a" , "b" ]}}`, `{"alert":{"evidence":["a",1,"c"]}}`,
	`{"alert":{"evidence":["a","b","c"],"evidence":["x"]}}`, `{"alert":{"evidence":["a","b","c"],"evidence":["x"],"evidence":["y",null,2]}}`,
	`{"alert":{"evidence":["a","b"],"evidence":[]}}`, `{"alert":{"evidence":["a",null]}}`, `{"alert":{"evidence":[,]}}`, `{"alert":{"evidence":["a",]}}`,
	`{"alert":{"evidence":["a" "b"]}}`, `{"alert":{"evidence":["a"`, `{"alert":{"evidence":"a"}}`, `{"alert":{"evidence":{}}}`, `{"alert":{"evidence":[["a"]]}}`,
	`{"alert":{"evidence":[{"a":1}],"count":"x"}}`, `{"alert":{"since":"nope"}}`, `{"alert":{"colour":1}}`, `{"alert":null}`, `{"alert":[]}`,
	`{"alert":{"count":1.5,"window_seconds":-1}}`, `{"ALERT":{"EVIDENCE":["A"],"SEVERITY":"LOW"}}`,
	// whitespace everywhere
	" \t\r\n{ \t\r\n\"id\" \t\r\n: \t\r\n\"a\" \t\r\n, \"file\" : { \"size\" : 5 , \"id\" : \"f\" } \t\r\n} \t\r\n",
	// deep nesting
	`{"colour":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}`,
	`{"colour":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"colour":` + strings.Repeat(`{"a":`, 10000) + `1` + strings.Repeat("}", 10000) + `}`,
}

func addDecodeSeeds(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	data, err := os.ReadFile("testdata/valid-events.ndjson")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		f.Add(line)
	}
	enriched, err := enrichedEvent(f).Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enriched)
	pretty, _ := json.MarshalIndent(enrichedEvent(f), "", "\t")
	f.Add(pretty)
}

func TestDecodeDifferential(t *testing.T) {
	for _, s := range decodeSeeds {
		checkDecode(t, []byte(s), false)
		checkDecode(t, []byte(s), true)
	}
	enriched, _ := enrichedEvent(t).Encode()
	checkDecode(t, enriched, false)
}

// FuzzDecodeDifferential: for any input, DecodeEnriched's decoder accepts
// exactly when json.Unmarshal into an Event accepts, and yields a deeply
// equal Event; the strict decoder of DecodeRaw likewise against a
// json.Decoder with DisallowUnknownFields. Errors are of the same kind and
// name the same field or syntax error offset.
func FuzzDecodeDifferential(f *testing.F) {
	addDecodeSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data, false)
		checkDecode(t, data, true)
	})
}

// TestDecodeErrors pins the errors DecodeRaw and DecodeEnriched return.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		in, field, msg string
		strictOnly     bool
	}{
		{`{"client":{"colour":"red"}}`, "client.colour", "is not a field of the event schema", true},
		{`{"colour":{"x":1}}`, "colour", "is not a field of the event schema", true},
		{`{"file":{"size":"big"}}`, "file.size", "must be a number, not a JSON string", false},
		{`{"file":"f"}`, "file", "must be an object, not a JSON string", false},
		{`{"file":{"size":1.5}}`, "file.size", "must be an integer, not 1.5", false},
		{`{"file":{"size":1e30}}`, "file.size", "must be an integer, not 1e30", false},
		{`{"file":{"size":99999999999999999999}}`, "file.size", "99999999999999999999 is out of range", false},
		{`{"geo":{"latitude":1e400}}`, "geo.latitude", "1e400 is out of range", false},
		{`{"session":{"started":"yes"}}`, "session.started", "must be a boolean, not a JSON string", false},
		{`{"time":"yesterday"}`, "time", `"yesterday" is not an RFC 3339 time`, false},
		{`{"time":17}`, "time", "must be an RFC 3339 time string, not a JSON number", false},
		{`{"pipeline":{"enriched_at":"2026-11-22"}}`, "pipeline.enriched_at", "is not an RFC 3339 time", false},
		{`{"id":1,"time":"x"}`, "time", "is not an RFC 3339 time", false}, // a time error wins, as in encoding/json
		{`[{}]`, "(event)", "must be an object, not a JSON array", false},
	} {
		for _, strict := range []bool{false, true} {
			_, err := decode([]byte(tc.in), strict, false)
			if tc.strictOnly && !strict {
				if err != nil {
					t.Errorf("%s: lenient decoding refuses: %v", tc.in, err)
				}
				continue
			}
			fe, ok := err.(FieldErrors)
			if !ok || len(fe) != 1 || fe[0].Field != tc.field || !strings.Contains(fe[0].Message, tc.msg) {
				t.Errorf("%s strict=%v: %v, want %s: …%s…", tc.in, strict, err, tc.field, tc.msg)
			}
		}
	}
	for in, offset := range map[string]int64{
		``:                     0,
		`{"id":"x"`:            9,
		`{"id":"x"} x`:         12,
		`{"id":"x"}]`:          11, // refused, unlike json.Decoder followed by More
		`{"id":"a\x"}`:         10,
		"{\"id\":\"\x01":       8,
		`{"file":{"size":01}}`: 18,
	} {
		_, err := DecodeRaw([]byte(in))
		se, ok := err.(*SyntaxError)
		if !ok || se.Offset != offset {
			t.Errorf("%q: %v, want a syntax error at %d", in, err, offset)
		}
	}
}

// TestDecodeFoldsKeys: keys match field names as encoding/json matches them,
// case-insensitively with Unicode simple folding.
func TestDecodeFoldsKeys(t *testing.T) {
	ev, err := DecodeEnriched([]byte(`{"ID":"a","Client":{"\u212aIND":"cli","User_Agent":"x"},"FILE":{"ſize":3}}`))
	if err != nil || ev.ID != "a" || ev.Client.Kind != ClientCLI || ev.Client.UserAgent != "x" || ev.File.Size != 3 {
		t.Fatalf("%+v %v", ev, err)
	}
}

// everyField returns an event with every field set, to a value that no
// omitempty drops, so that a field the codec forgets shows.
func everyField() *Event {
	ev := new(Event)
	var fill func(v reflect.Value, n *int)
	fill = func(v reflect.Value, n *int) {
		*n++
		switch v.Kind() {
		case reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
			fill(v.Elem(), n)
		case reflect.Struct:
			if v.Type() == reflect.TypeFor[time.Time]() {
				v.Set(reflect.ValueOf(time.Date(2026, 11, 22, 9, 0, *n, *n*1000, time.UTC)))
				return
			}
			for i := range v.NumField() {
				fill(v.Field(i), n)
			}
		case reflect.String:
			v.SetString("s" + strings.Repeat("x", *n))
		case reflect.Int, reflect.Int64:
			v.SetInt(int64(*n))
		case reflect.Uint16:
			v.SetUint(uint64(*n))
		case reflect.Float64:
			v.SetFloat(float64(*n) + 0.25)
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Slice: // alert.evidence
			v.Set(reflect.MakeSlice(v.Type(), 2, 2))
			fill(v.Index(0), n)
			fill(v.Index(1), n)
		default:
			panic(v.Kind())
		}
	}
	n := 0
	fill(reflect.ValueOf(ev).Elem(), &n)
	return ev
}

func TestEveryFieldRoundTrips(t *testing.T) {
	ev := everyField()
	checkEncode(t, ev)
	data, _ := ev.Encode()
	got, err := DecodeEnriched(data)
	if err != nil || !reflect.DeepEqual(got, ev) {
		t.Fatalf("%v\n%s\n%s", err, dump(got), data)
	}
	// Every key also in upper case: field names match case-insensitively.
	checkDecode(t, bytes.ToUpper(data), false)
	checkDecode(t, bytes.ToUpper(data), true)
}

// checkEncode compares Encode and AppendJSON with json.Marshal.
func checkEncode(t *testing.T, ev *Event) {
	t.Helper()
	want, wantErr := json.Marshal(ev)
	got, err := ev.Encode()
	switch {
	case wantErr != nil:
		if err == nil {
			t.Fatalf("encoded %s, json.Marshal fails: %v", got, wantErr)
		}
		return
	case err != nil:
		t.Fatalf("Encode: %v; json.Marshal: %s", err, want)
	case !bytes.Equal(got, want):
		t.Fatalf("Encode:\n%s\njson.Marshal:\n%s", got, want)
	}
	if app := ev.AppendJSON([]byte("prefix")); string(app) != "prefix"+string(want) {
		t.Fatalf("AppendJSON: %s", app)
	}
}

var encodeStrings = []string{
	"", "a", `"quoted" \back\slash/`, "\b\f\n\r\t\x00\x01\x1f\x7f", "<script>&amp;</script>", "\u2028\u2029", "é€😀",
	"\xff", "a\xffb", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\u0080\u009f\u00a0", "\ufffd", strings.Repeat("ab<", 100),
}

func TestEncodeDifferential(t *testing.T) {
	checkEncode(t, new(Event))
	checkEncode(t, enrichedEvent(t))
	checkEncode(t, everyField())
	for _, s := range encodeStrings {
		checkEncode(t, eventFrom(s, s, 1.5, -2.5, 0, 0, 0, 1, 0xffff))
	}
	for _, f := range []float64{0, math.Copysign(0, -1), 1e-7, 1e-6, 9.999e-7, 1e20, 1e21, 123456789e13, -1e21, 5e-324, math.MaxFloat64,
		0.1, 1.0 / 3, 100, 1e6, math.NaN(), math.Inf(1), math.Inf(-1)} {
		checkEncode(t, eventFrom("a", "b", f, -f, 1, 0, 0, 0, 0xffff))
	}
	for _, tc := range []struct{ sec, nsec, off int64 }{
		{0, 0, 0}, {1, 1, 3600}, {-62135596800, 0, 0}, {-62135596801, 0, 0}, {253402300799, 999999999, 0}, {253402300800, 0, 0},
		{1795000000, 120000000, -3600*23 - 59*60}, {1795000000, 0, 24 * 3600}, {1795000000, 0, 30}, {1795000000, 0, -24*3600 + 1},
	} {
		checkEncode(t, eventFrom("a", "b", 1, 2, tc.sec, tc.nsec, tc.off, 0, 0xffff))
	}
}

// eventFrom builds an event from fuzz input: s and u go to the string fields
// in turn, the low bits of set choose which omitempty fields and groups are
// set, and sec, nsec and off make the times.
func eventFrom(s, u string, f, g float64, sec, nsec, off int64, n int64, set uint16) *Event {
	pick := func(i int) string {
		if set>>(i%16)&1 == 0 {
			return ""
		}
		if i%2 == 0 {
			return s
		}
		return u
	}
	zone := time.UTC
	if off != 0 {
		zone = time.FixedZone("", int(off%(200*3600)))
	}
	tm := time.Unix(sec, nsec).In(zone)
	ev := &Event{
		ID: s, Time: tm, Workspace: Workspace{ID: u, Name: pick(1)},
		Actor:  Actor{Type: ActorType(s), Email: pick(2), APIKeyID: pick(3), VisitorEmail: pick(4)},
		Action: Action(u), Result: Result(s), Reason: pick(5),
		Client: Client{IP: u, UserAgent: pick(6), Kind: ClientKind(s)},
	}
	if set&(1<<0) != 0 {
		ev.File = &File{ID: s, Name: pick(7), Size: n, Path: pick(8)}
		ev.Link = &Link{ID: u}
	}
	if set&(1<<9) != 0 {
		ev.Server = &Server{Region: pick(9), Node: pick(10)}
		ev.Platform = &Platform{OSName: pick(11), OSVersion: pick(12), ClientName: pick(13), ClientVersion: pick(14), DeviceType: DeviceType(pick(15))}
	}
	if set&(1<<10) != 0 {
		ev.Geo = &Geo{CountryCode: pick(1), CountryName: pick(2), Subdivision: pick(3), City: pick(4),
			AccuracyRadiusKM: uint16(n), Database: pick(5), DatabaseBuild: pick(6)}
		if set&(1<<11) != 0 {
			ev.Geo.Latitude = &f
		}
		if set&(1<<12) != 0 {
			ev.Geo.Longitude = &g
		}
	}
	if set&(1<<14) != 0 {
		ev.Alert = &Alert{Rule: s, Type: u, Severity: Severity(pick(7)), Subject: u, Count: int(n), WindowSeconds: n * 60,
			Since: tm, Summary: s}
		if set&(1<<15) != 0 {
			ev.Alert.Evidence = []string{s, u, pick(8)}
		}
	}
	if set&(1<<13) != 0 {
		ev.Session = &Session{LinkSessionID: u, Seq: int(n), Started: n%2 == 0}
		ev.Pipeline = &Pipeline{EnrichedAt: tm.Add(time.Duration(n)), SchemaVersion: int(n >> 3), Topic: s, Partition: int(-n), Offset: n * 7}
	}
	return ev
}

// FuzzEncodeDifferential: events built from fuzz input (odd strings, any
// float, any time and zone) encode byte for byte as json.Marshal encodes
// them, and fail where it fails.
func FuzzEncodeDifferential(f *testing.F) {
	for i, s := range encodeStrings {
		f.Add(s, encodeStrings[(i+3)%len(encodeStrings)], 47.3769, -0.0, int64(1795000000), int64(i*123456789), int64(i*3600-7200), int64(i), uint16(0xffff))
	}
	f.Add("", "", math.Inf(1), math.NaN(), int64(-62135596801), int64(0), int64(0), int64(0), uint16(0))
	f.Add("x", "y", 1e21, 1e-7, int64(253402300800), int64(0), int64(90000), int64(-1), uint16(0xffff))
	f.Fuzz(func(t *testing.T, s, u string, f, g float64, sec, nsec, off, n int64, set uint16) {
		checkEncode(t, eventFrom(s, u, f, g, sec, nsec, off, n, set))
	})
}

// referenceParseArray is ParseBatch's array reading as it was with
// encoding/json.
func referenceParseArray(body []byte, start int) ([]Item, error) {
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		se := &SyntaxError{Msg: "the JSON array is not well-formed"}
		if jse, ok := err.(*json.SyntaxError); ok {
			se.Offset, se.Msg = jse.Offset, jse.Error()
		}
		return nil, se
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		return nil, &SyntaxError{Msg: err.Error()}
	}
	items := make([]Item, 0, len(elems))
	pos, line := start, 1+bytes.Count(body[:start], nl)
	for i, el := range elems {
		off := bytes.Index(body[pos:], el)
		line += bytes.Count(body[pos:pos+off], nl)
		items = append(items, Item{Index: i, Line: line, Raw: el})
		line += bytes.Count(el, nl)
		pos += off + len(el)
	}
	return items, nil
}

// checkParseArray compares ParseBatch on a JSON array with the reference:
// the same items, lines and raw bytes, or a syntax error at the same offset.
func checkParseArray(t *testing.T, body []byte) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return
	}
	got, err := ParseBatch(body)
	want, wantErr := referenceParseArray(body, len(body)-len(trimmed))
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%q: %v, reference %v", body, err, wantErr)
	}
	if err != nil {
		if err.(*SyntaxError).Offset != wantErr.(*SyntaxError).Offset {
			t.Fatalf("%q: %v, reference %v", body, err, wantErr)
		}
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%q: %d items, reference %d", body, len(got), len(want))
	}
	for i := range got {
		if got[i].Index != want[i].Index || got[i].Line != want[i].Line || !bytes.Equal(got[i].Raw, want[i].Raw) {
			t.Fatalf("%q: item %d %d %d %q, reference %d %d %q", body, i, got[i].Index, got[i].Line, got[i].Raw, want[i].Index, want[i].Line, want[i].Raw)
		}
	}
}

func TestParseArrayDifferential(t *testing.T) {
	for _, s := range decodeSeeds {
		checkParseArray(t, []byte("["+s+"]"))
		checkParseArray(t, []byte("\n [\n"+s+",\n\n"+s+" ,"+s+"]\n"))
		checkParseArray(t, []byte("["+s))
	}
}

// FuzzParseArrayDifferential: ParseBatch reads a JSON array as it did with
// encoding/json.
func FuzzParseArrayDifferential(f *testing.F) {
	addDecodeSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParseArray(t, data)
		checkParseArray(t, append([]byte("[\n"), data...))
	})
}
