package sharelog

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the decoder's JSON scanner: white space, keys (matched as
// decode.go's contract says), strings and their escapes, numbers, literals,
// and skipping a value; with encoding/json's syntax errors and offsets.
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
