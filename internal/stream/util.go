package stream

import "strconv"

func itoa(n int) string { return strconv.Itoa(n) }

func strconvQuote(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strconv.Quote(s)
}
