package sharelog

import (
	"strconv"
	"time"
)

// This file holds the decoder's readers of scalar fields (strings, times,
// booleans, numbers) and its errors other than syntax errors; decode.go has
// the contract and the readers of the schema's objects, scan.go the scanner.
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
