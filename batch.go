package sharelog

import (
	"bytes"
	"encoding/json"
)

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
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, nil
	}
	start := len(body) - len(trimmed)
	switch trimmed[0] {
	case '[':
		return parseArray(body, start)
	case '{':
		// A single object may span lines (pretty-printed); NDJSON may not.
		if bytes.IndexByte(trimmed, '\n') >= 0 && json.Valid(body) {
			return []Item{decodeItem(0, 1+bytes.Count(body[:start], nl), trimmed)}, nil
		}
	}
	return parseNDJSON(body), nil
}

var nl = []byte{'\n'}

func decodeItem(index, line int, raw []byte) Item {
	it := Item{Index: index, Line: line, Raw: raw}
	it.Event, it.Err = DecodeRaw(raw)
	return it
}

func parseNDJSON(body []byte) []Item {
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
		items = append(items, decodeItem(len(items), line, l))
	}
	return items
}

func parseArray(body []byte, start int) ([]Item, error) {
	if !json.Valid(body) {
		// Locate the fault for the error message.
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
	// Find each element's line by locating it in the body; elements appear
	// in order, so the search only moves forward.
	pos, line := start, 1+bytes.Count(body[:start], nl)
	for i, el := range elems {
		off := bytes.Index(body[pos:], el)
		if off < 0 { // cannot happen for a valid array; keep the last line
			off = 0
		}
		line += bytes.Count(body[pos:pos+off], nl)
		items = append(items, decodeItem(i, line, el))
		line += bytes.Count(el, nl)
		pos += off + len(el)
	}
	return items, nil
}
