package sharelog

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// This file holds the event encoder, which writes what json.Marshal writes
// for an *Event, byte for byte, without reflection:
//
//   - fields in the order of the struct, named by their json tags, omitempty
//     as encoding/json has it (empty string, zero number, nil pointer; a
//     pointer to 0 is written);
//   - strings escaped as encoding/json escapes them: ", \ and control
//     characters (\b \f \n \r \t, else \u00XX), the HTML-sensitive <, > and &
//     as \u003c \u003e \u0026, U+2028 and U+2029 as \u2028 \u2029, and every
//     byte that is not valid UTF-8 as \ufffd;
//   - times as time.Time.MarshalJSON writes them (RFC 3339 with the
//     nanoseconds that are not zero);
//   - floats as encoding/json's float encoder: the shortest representation
//     that reads back the same, in 'f' format, or 'e' below 1e-6 and from
//     1e21 (with e-7, not e-07).
//
// What JSON cannot hold, json.Marshal refuses: a time whose year is outside
// 0–9999 or whose zone offset is a day or more, and a NaN or infinite
// latitude or longitude. Encode refuses them too; AppendJSON, which cannot
// fail, writes such a time as time.Format with time.RFC3339Nano writes it
// (it will not decode) and such a float as null.

// AppendJSON appends the event's JSON encoding to dst and returns the extended
// buffer. It writes the bytes json.Marshal(e) returns, except for the values
// JSON cannot hold, for which Encode returns an error (see above).
func (e *Event) AppendJSON(dst []byte) []byte {
	b, _ := e.appendJSON(dst)
	return b
}

// Encode returns the event's JSON encoding, byte for byte what json.Marshal(e)
// returns. It fails, as json.Marshal does, on a time outside years 0–9999 or
// with a zone offset of a day or more, and on a NaN or infinite latitude or
// longitude.
func (e *Event) Encode() ([]byte, error) {
	// Encode on the stack, then copy once to the heap: the copy is the one
	// allocation, of the exact size and not zeroed first.
	var buf [2048]byte
	b, err := e.appendJSON(buf[:0])
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil
}

// encodeError says which field of an event JSON cannot hold.
type encodeError struct {
	field string
	err   error
}

func (e *encodeError) Error() string {
	return "sharelog: cannot encode " + e.field + ": " + e.err.Error()
}
func (e *encodeError) Unwrap() error { return e.err }

// encoder carries the first error of an encoding.
type encoder struct{ err error }

func (e *Event) appendJSON(b []byte) ([]byte, error) {
	var enc encoder
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"time":`...)
	b = enc.time(b, e.Time, "time")

	b = append(b, `,"workspace":{"id":`...)
	b = appendString(b, e.Workspace.ID)
	b = appendOptString(b, "name", e.Workspace.Name)

	b = append(b, `},"actor":{"type":`...)
	b = appendString(b, string(e.Actor.Type))
	b = appendOptString(b, "email", e.Actor.Email)
	b = appendOptString(b, "api_key_id", e.Actor.APIKeyID)
	b = appendOptString(b, "visitor_email", e.Actor.VisitorEmail)

	b = append(b, `},"action":`...)
	b = appendString(b, string(e.Action))
	b = append(b, `,"result":`...)
	b = appendString(b, string(e.Result))
	b = appendOptString(b, "reason", e.Reason)

	if f := e.File; f != nil {
		b = append(b, `,"file":{"id":`...)
		b = appendString(b, f.ID)
		b = appendOptString(b, "name", f.Name)
		if f.Size != 0 {
			b = append(b, `,"size":`...)
			b = strconv.AppendInt(b, f.Size, 10)
		}
		b = appendOptString(b, "path", f.Path)
		b = append(b, '}')
	}
	if l := e.Link; l != nil {
		b = append(b, `,"link":{"id":`...)
		b = appendString(b, l.ID)
		b = append(b, '}')
	}

	b = append(b, `,"client":{"ip":`...)
	b = appendString(b, e.Client.IP)
	b = appendOptString(b, "user_agent", e.Client.UserAgent)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(e.Client.Kind))
	b = append(b, '}')

	if s := e.Server; s != nil {
		b = append(b, `,"server":{`...)
		b = appendOptString(b, "region", s.Region)
		b = appendOptString(b, "node", s.Node)
		b = append(b, '}')
	}
	if g := e.Geo; g != nil {
		b = append(b, `,"geo":{`...)
		b = appendOptString(b, "country_code", g.CountryCode)
		b = appendOptString(b, "country_name", g.CountryName)
		b = appendOptString(b, "subdivision", g.Subdivision)
		b = appendOptString(b, "city", g.City)
		if g.Latitude != nil {
			b = appendKey(b, "latitude")
			b = enc.float(b, *g.Latitude, "geo.latitude")
		}
		if g.Longitude != nil {
			b = appendKey(b, "longitude")
			b = enc.float(b, *g.Longitude, "geo.longitude")
		}
		if g.AccuracyRadiusKM != 0 {
			b = appendKey(b, "accuracy_radius_km")
			b = strconv.AppendUint(b, uint64(g.AccuracyRadiusKM), 10)
		}
		b = appendOptString(b, "database", g.Database)
		b = appendOptString(b, "database_build", g.DatabaseBuild)
		b = append(b, '}')
	}
	if p := e.Platform; p != nil {
		b = append(b, `,"platform":{`...)
		b = appendOptString(b, "os_name", p.OSName)
		b = appendOptString(b, "os_version", p.OSVersion)
		b = appendOptString(b, "client_name", p.ClientName)
		b = appendOptString(b, "client_version", p.ClientVersion)
		b = appendOptString(b, "device_type", string(p.DeviceType))
		b = append(b, '}')
	}
	if s := e.Session; s != nil {
		b = append(b, `,"session":{"link_session_id":`...)
		b = appendString(b, s.LinkSessionID)
		b = append(b, `,"seq":`...)
		b = strconv.AppendInt(b, int64(s.Seq), 10)
		b = append(b, `,"started":`...)
		b = strconv.AppendBool(b, s.Started)
		b = append(b, '}')
	}
	if p := e.Pipeline; p != nil {
		b = append(b, `,"pipeline":{"enriched_at":`...)
		b = enc.time(b, p.EnrichedAt, "pipeline.enriched_at")
		b = append(b, `,"schema_version":`...)
		b = strconv.AppendInt(b, int64(p.SchemaVersion), 10)
		b = append(b, `,"topic":`...)
		b = appendString(b, p.Topic)
		b = append(b, `,"partition":`...)
		b = strconv.AppendInt(b, int64(p.Partition), 10)
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, p.Offset, 10)
		b = append(b, '}')
	}
	if a := e.Alert; a != nil {
		b = append(b, `,"alert":{"rule":`...)
		b = appendString(b, a.Rule)
		b = append(b, `,"type":`...)
		b = appendString(b, a.Type)
		b = append(b, `,"severity":`...)
		b = appendString(b, string(a.Severity))
		b = append(b, `,"action":`...)
		b = appendString(b, string(a.Action))
		b = append(b, `,"subject":`...)
		b = appendString(b, a.Subject)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(a.Count), 10)
		if a.WindowSeconds != 0 {
			b = append(b, `,"window_seconds":`...)
			b = strconv.AppendInt(b, a.WindowSeconds, 10)
		}
		b = append(b, `,"since":`...)
		b = enc.time(b, a.Since, "alert.since")
		b = append(b, `,"evidence":`...)
		if a.Evidence == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i, id := range a.Evidence {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, id)
			}
			b = append(b, ']')
		}
		b = append(b, `,"summary":`...)
		b = appendString(b, a.Summary)
		b = append(b, '}')
	}
	return append(b, '}'), enc.err
}

// appendKey appends `"key":`, after a comma unless it opens the object.
func appendKey(b []byte, key string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// appendOptString appends an omitempty string member.
func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(appendKey(b, key), s)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string, escaped as encoding/json
// escapes with HTML escaping on (json.Marshal's default); bytes that are not
// UTF-8 become \ufffd. For sinks that write JSON of their own.
func AppendJSONString(b []byte, s string) []byte { return appendString(b, s) }

// appendString is AppendJSONString.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start, i := 0, 0
	for {
		for i < len(s) && byteClass[s[i]] == '0' {
			i++
		}
		if i == len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default: // other control characters, <, >, &
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += n
			continue
		}
		i += n
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// time appends t as time.Time.MarshalJSON does. A time MarshalJSON refuses is
// written as time.RFC3339Nano formats it, and the error kept.
func (enc *encoder) time(b []byte, t time.Time, field string) []byte {
	b = append(b, '"')
	if strict, err := t.AppendText(b); err == nil {
		b = strict
	} else {
		enc.keep(field, err)
		b = t.AppendFormat(b, time.RFC3339Nano)
	}
	return append(b, '"')
}

// float appends f as encoding/json's float64 encoder does. NaN and the
// infinities are written as null and the error kept.
func (enc *encoder) float(b []byte, f float64, field string) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		enc.keep(field, errors.New("unsupported value "+strconv.FormatFloat(f, 'g', -1, 64)))
		return append(b, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func (enc *encoder) keep(field string, err error) {
	if enc.err == nil {
		enc.err = &encodeError{field: field, err: err}
	}
}
