package elasticsearch

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The target name patterns: literal text and placeholders in braces, each
// either a date of the event's UTC time ({yyyy.MM.dd}: the tokens yyyy, MM,
// dd, HH and the separators . - _) or {dataset}, the event's dataset
// ("access" or "audit"). "sharelog-{yyyy.MM.dd}" names
// "sharelog-2026.11.22"; "logs-sharelog.{dataset}-default" names
// "logs-sharelog.access-default".

// maxNameLen is Elasticsearch's limit on an index name, in bytes.
const maxNameLen = 255

// template is a parsed name pattern. It is immutable.
type template struct {
	parts   []part
	hasDate bool
	maxLen  int // of an expansion, in bytes
}

// part is literal text, the dataset, or a date layout.
type part struct {
	lit     string
	dataset bool
	date    string // tokens: 'y' yyyy, 'M' MM, 'd' dd, 'H' HH, else the separator itself
}

// longestDataset is the length of the longest {dataset} value.
const longestDataset = len("access")

// parseTemplate parses and checks a pattern; dataStream refuses dates.
func parseTemplate(s string, dataStream bool) (*template, error) {
	if s == "" {
		return nil, errors.New("is empty")
	}
	t := &template{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			t.maxLen += lit.Len()
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("%q: unclosed {", s)
			}
			inner := s[i+1 : i+end]
			flush()
			if inner == "dataset" {
				t.parts = append(t.parts, part{dataset: true})
				t.maxLen += longestDataset
			} else {
				layout, n, err := parseDate(inner)
				if err != nil {
					return nil, fmt.Errorf("%q: placeholder {%s}: %v", s, inner, err)
				}
				t.parts = append(t.parts, part{date: layout})
				t.maxLen += n
				t.hasDate = true
			}
			i += end + 1
		case '}':
			return nil, fmt.Errorf("%q: } without {", s)
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()

	var literal strings.Builder
	for _, p := range t.parts {
		literal.WriteString(p.lit)
	}
	l := literal.String()
	switch {
	case dataStream && t.hasDate:
		return nil, fmt.Errorf("%q: a data stream name takes no date: the data stream rolls over by itself", s)
	case strings.ToLower(l) != l:
		return nil, fmt.Errorf("%q: must be lowercase", s)
	case strings.ContainsAny(l, "\\/*?\"<>| ,#:"):
		return nil, fmt.Errorf("%q: must not contain any of \\ / * ? \" < > | , # : or a space", s)
	case strings.IndexFunc(l, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return nil, fmt.Errorf("%q: must not contain a control character", s)
	case len(t.parts) > 0 && t.parts[0].lit != "" && strings.ContainsAny(t.parts[0].lit[:1], "-_+"):
		return nil, fmt.Errorf("%q: must not start with -, _ or +", s)
	case s == "." || s == "..":
		return nil, fmt.Errorf("%q: is not a name", s)
	case dataStream && strings.HasPrefix(s, ".ds-"):
		return nil, fmt.Errorf("%q: must not start with .ds- (the backing indices' prefix)", s)
	case t.maxLen > maxNameLen:
		return nil, fmt.Errorf("%q: names up to %d bytes, over Elasticsearch's limit of %d", s, t.maxLen, maxNameLen)
	}
	return t, nil
}

// parseDate parses a date placeholder's layout and returns it in tokens,
// with the length of what it writes.
func parseDate(s string) (layout string, n int, err error) {
	if s == "" {
		return "", 0, errors.New("is empty; use a date like {yyyy.MM.dd} or {dataset}")
	}
	var b strings.Builder
	for len(s) > 0 {
		switch {
		case strings.HasPrefix(s, "yyyy"):
			b.WriteByte('y')
			s, n = s[4:], n+4
		case strings.HasPrefix(s, "MM"):
			b.WriteByte('M')
			s, n = s[2:], n+2
		case strings.HasPrefix(s, "dd"):
			b.WriteByte('d')
			s, n = s[2:], n+2
		case strings.HasPrefix(s, "HH"):
			b.WriteByte('H')
			s, n = s[2:], n+2
		case s[0] == '.' || s[0] == '-' || s[0] == '_':
			b.WriteByte(s[0])
			s, n = s[1:], n+1
		default:
			return "", 0, errors.New("is neither {dataset} nor a date of the tokens yyyy, MM, dd, HH and the separators . - _")
		}
	}
	return b.String(), n, nil
}

// append appends the name for an event of time ts (taken in UTC) and
// dataset ("access" or "audit").
func (t *template) append(b []byte, ts time.Time, dataset string) []byte {
	if t.hasDate {
		ts = ts.UTC()
	}
	for _, p := range t.parts {
		switch {
		case p.dataset:
			b = append(b, dataset...)
		case p.date != "":
			for i := 0; i < len(p.date); i++ {
				switch c := p.date[i]; c {
				case 'y':
					y := ts.Year()
					if y < 0 || y > 9999 {
						y = 0
					}
					b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
				case 'M':
					b = append2(b, int(ts.Month()))
				case 'd':
					b = append2(b, ts.Day())
				case 'H':
					b = append2(b, ts.Hour())
				default:
					b = append(b, c)
				}
			}
		default:
			b = append(b, p.lit...)
		}
	}
	return b
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

// expand returns the name as a string.
func (t *template) expand(ts time.Time, dataset string) string {
	return string(t.append(nil, ts, dataset))
}

// dataStreamFields returns the data_stream.type, dataset and namespace a
// data stream name of the form type-dataset-namespace stands for, and ok
// false for a name of another form.
func dataStreamFields(name string) (typ, dataset, namespace string, ok bool) {
	parts := strings.Split(name, "-")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}
