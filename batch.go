package sharelog

import "bytes"

// Item is one event of a batch, decoded or not.
type Item struct {
	// Index is the event's position in the batch, from 0.
	Index int `json:"index"`
	// Line is the 1-based line of the body where the event starts.
	Line int `json:"line"`
	// Event is the decoded, valid event; nil when Err is set.
	Event *Event `json:"-"`
	// Raw is the event's bytes in the body.
	Raw []byte `json:"-"`
	// Err is a FieldErrors or *SyntaxError when the event is invalid.
	Err error `json:"-"`
}

// ParseBatch reads a batch of raw events: a JSON array of objects, NDJSON
// (one object a line; blank lines are skipped), or a single JSON object. Each
// event is decoded and validated on its own, so an invalid event never takes
// the others down. The error is non-nil only when the body as a whole cannot
// be read: a JSON array that is not well-formed (a *SyntaxError with its
// offset), since no event after the fault can be located.
func ParseBatch(body []byte) ([]Item, error) {
	return Parser{}.ParseBatch(body)
}

// ParseBatch is the package's ParseBatch with the parser's time window.
func (p Parser) ParseBatch(body []byte) ([]Item, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, nil
	}
	start := len(body) - len(trimmed)
	switch trimmed[0] {
	case '[':
		return p.parseArray(body, start)
	case '{':
		// A single object may span lines (pretty-printed); NDJSON may not.
		if bytes.IndexByte(trimmed, '\n') >= 0 && valid(body) {
			return []Item{p.decodeItem(0, 1+bytes.Count(body[:start], nl), trimmed)}, nil
		}
	}
	return p.parseNDJSON(body), nil
}

var nl = []byte{'\n'}

func (p Parser) decodeItem(index, line int, raw []byte) Item {
	it := Item{Index: index, Line: line, Raw: raw}
	it.Event, it.Err = p.Decode(raw)
	return it
}

func (p Parser) parseNDJSON(body []byte) []Item {
	var items []Item
	line := 0
	for len(body) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			l, body = body[:i], body[i+1:]
		} else {
			l, body = body, nil
		}
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			continue
		}
		items = append(items, p.decodeItem(len(items), line, l))
	}
	return items
}

func (p Parser) parseArray(body []byte, start int) ([]Item, error) {
	elems, err := arrayElements(body, start)
	if err != nil {
		return nil, err
	}
	items := make([]Item, 0, len(elems))
	pos, line := 0, 1
	for i, el := range elems {
		line += bytes.Count(body[pos:el.start], nl)
		items = append(items, p.decodeItem(i, line, body[el.start:el.end]))
		pos = el.start
	}
	return items, nil
}

type span struct{ start, end int }

// arrayElements checks that body is one JSON array, which begins at start,
// and returns where its elements are. The error is a *SyntaxError at the
// first fault, as encoding/json reports it.
func arrayElements(body []byte, start int) ([]span, error) {
	d := decoder{data: body, pos: start}
	if err := d.enter(); err != nil {
		return nil, err
	}
	var elems []span
	d.skipSpace()
	if d.peek() == ']' {
		d.pos++
	} else {
		for more := true; more; {
			el := span{start: d.pos}
			if err := d.skipValue(); err != nil {
				return nil, err
			}
			el.end = d.pos
			elems = append(elems, el)
			d.skipSpace()
			switch d.peek() {
			case ',':
				d.pos++
				d.skipSpace()
			case ']':
				d.pos++
				more = false
			default:
				return nil, d.syntaxError("after array element")
			}
		}
	}
	d.skipSpace()
	if d.pos < len(body) {
		return nil, d.syntaxError("after top-level value")
	}
	return elems, nil
}
