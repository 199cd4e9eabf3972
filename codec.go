package sharelog

import "fmt"

// DecodeRaw decodes one raw event from JSON and validates it. Unknown fields
// are refused. The error is a FieldErrors naming each wrong field, or a
// *SyntaxError when data is not a JSON object.
//
// Decoding follows encoding/json's rules (see decoder for the details), but
// stricter, so that every JSON reader of the raw topic sees the same event:
// field names match case-sensitively ("ID" is an unknown field), a duplicate
// key is refused ("is given more than once"), and so is a string that is not
// valid UTF-8 or holds an unpaired \u surrogate escape (no silent U+FFFD).
// null leaves a field as it is (a pointer group nil). A decoding error is
// one *FieldError: the JSON path of an unknown field ("client.colour": "is
// not a field of the event schema"), of a duplicate key, of a value of the
// wrong type ("file.size": "must be a number, not a JSON string"), of a
// string that is not UTF-8, or of a time that is not RFC 3339 ("time");
// "(event)" when data is JSON but not an object. Anything but white space after the object is a
// *SyntaxError. Then Validate's FieldErrors, if any.
func DecodeRaw(data []byte) (*Event, error) {
	return decodeRaw(data, false)
}

// DecodeRawOwned is DecodeRaw for a caller that hands data over: the event's
// strings point into data instead of a copy of it, which saves a copy per
// event on the enrich path. The caller must not modify data afterwards, and
// the event keeps all of data alive.
func DecodeRawOwned(data []byte) (*Event, error) {
	return decodeRaw(data, true)
}

func decodeRaw(data []byte, owned bool) (*Event, error) {
	return Parser{}.decode(data, owned)
}

// DecodeEnriched decodes an event as it is on the enriched topic. It is
// lenient: unknown fields, added by a newer schema, are ignored at any level.
// It accepts exactly what json.Unmarshal into an Event accepts and yields the
// same Event; errors are as DecodeRaw's decoding errors. It does not
// validate.
func DecodeEnriched(data []byte) (*Event, error) {
	return decode(data, false, false)
}

// SyntaxError says that input is not well-formed JSON, and where.
type SyntaxError struct {
	Offset int64 // byte offset in the input
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// byteClass classes the bytes of JSON string content for the encoder and the
// decoder: byteClass[c] is
//
//	'0' for ASCII written and read as it is,
//	'1' for <, > and &, read as they are but written escaped (HTML-safe),
//	'2' for ", \ and the control characters, escaped both ways,
//	'3' for the bytes of multi-byte UTF-8 (or of invalid UTF-8).
const byteClass = "" +
	"22222222222222222222222222222222" + // 0x00–0x1f
	"00200010000000000000000000001010" + // 0x20–0x3f: " & < >
	"00000000000000000000000000002000" + // 0x40–0x5f: \
	"00000000000000000000000000000000" + // 0x60–0x7f
	"33333333333333333333333333333333" + // 0x80–0x9f
	"33333333333333333333333333333333" + // 0xa0–0xbf
	"33333333333333333333333333333333" + // 0xc0–0xdf
	"33333333333333333333333333333333" //   0xe0–0xff
