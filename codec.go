package sharelog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// DecodeRaw decodes one raw event from JSON and validates it. Unknown fields
// are refused. The error is a FieldErrors naming each wrong field, or a
// *SyntaxError when data is not a JSON object.
func DecodeRaw(data []byte) (*Event, error) {
	ev := new(Event)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(ev); err != nil {
		return nil, decodeError(err)
	}
	if dec.More() {
		return nil, &SyntaxError{Offset: dec.InputOffset(), Msg: "more than one JSON value"}
	}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return ev, nil
}

// DecodeEnriched decodes an event as it is on the enriched topic. It is
// lenient: unknown fields, added by a newer schema, are ignored.
func DecodeEnriched(data []byte) (*Event, error) {
	ev := new(Event)
	if err := json.Unmarshal(data, ev); err != nil {
		return nil, decodeError(err)
	}
	return ev, nil
}

// Encode returns the event's JSON encoding.
func (e *Event) Encode() ([]byte, error) { return json.Marshal(e) }

// SyntaxError says that input is not well-formed JSON, and where.
type SyntaxError struct {
	Offset int64 // byte offset in the input
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// decodeError turns encoding/json's errors into FieldErrors or a SyntaxError.
func decodeError(err error) error {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
		pe *time.ParseError
	)
	switch {
	case errors.As(err, &se):
		return &SyntaxError{Offset: se.Offset, Msg: se.Error()}
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(event)"
		}
		return FieldErrors{{Field: field, Message: fmt.Sprintf("must be a %s, not a JSON %s", jsonKind(te.Type.Kind().String()), te.Value)}}
	case errors.As(err, &pe):
		return FieldErrors{{Field: "time", Message: fmt.Sprintf("%q is not an RFC 3339 time", truncate(pe.Value))}}
	}
	msg := err.Error()
	const unknown = "json: unknown field "
	if len(msg) > len(unknown) && msg[:len(unknown)] == unknown {
		return FieldErrors{{Field: trimQuotes(msg[len(unknown):]), Message: "is not a field of the event schema"}}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &SyntaxError{Msg: "unexpected end of input"}
	}
	return &SyntaxError{Msg: msg}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "int", "int64", "int32", "uint16", "float64":
		return "number"
	case "struct", "ptr":
		return "object"
	case "bool":
		return "boolean"
	}
	return k
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}
