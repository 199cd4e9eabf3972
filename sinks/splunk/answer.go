package splunk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sharelog/sharelog"
)

// HEC status codes (the "code" of an answer) the sink tells apart. The
// others: 0 success, 1 token disabled (403), 2 token required and 3 invalid
// authorization (401), 4 invalid token (403), 5 no data (400), 8 internal
// error (500), 9 server busy (503), 17 healthy, 18–20 unhealthy (503).
const (
	codeInvalidFormat    = 6
	codeIncorrectIndex   = 7
	codeChannelMissing   = 10
	codeInvalidChannel   = 11
	codeEventRequired    = 12
	codeEventBlank       = 13
	codeAckDisabled      = 14
	codeIndexedFieldsErr = 15
)

// answer is the JSON body of a collector's answer:
// {"text":"Success","code":0,"ackId":7} or
// {"text":"Invalid data format","code":6,"invalid-event-number":3}.
type answer struct {
	Text         string `json:"text"`
	Code         *int   `json:"code"`
	AckID        *int64 `json:"ackId"`
	InvalidEvent *int   `json:"invalid-event-number"`
}

// maxAnswer bounds the answer body read; HEC's are tens of bytes.
const maxAnswer = 64 << 10

// readAnswer reads and closes resp's body and decodes it; raw is the body
// when it is not an HEC answer (a proxy's page), for error messages.
func readAnswer(resp *http.Response) (ans answer, raw []byte) {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer)) // lets the connection be reused
	ans, ok := parseAnswer(data)
	if !ok {
		return answer{}, data
	}
	return ans, nil
}

// parseAnswer decodes an HEC answer; ok is false when data is not one (not
// a JSON object, or one with neither text nor code).
func parseAnswer(data []byte) (ans answer, ok bool) {
	if err := json.Unmarshal(data, &ans); err != nil {
		return answer{}, false
	}
	return ans, ans.Code != nil || ans.Text != ""
}

// describe says what the collector answered, for an error message: the
// status, HEC's text and code, or an excerpt of a body that is not an HEC
// answer.
func describe(status int, ans answer, raw []byte) string {
	s := "HTTP " + strconv.Itoa(status)
	switch {
	case ans.Code != nil:
		s += fmt.Sprintf(": %s (code %d)", printable(ans.Text, 200), *ans.Code)
	case ans.Text != "":
		s += ": " + printable(ans.Text, 200)
	case len(raw) > 0:
		s += ": " + printable(string(raw), 120)
	}
	return s
}

// printable returns s with control characters as spaces, cut to max bytes.
func printable(s string, max int) string {
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// classify turns a collector's answer to an event request into nil (2xx)
// or the error the package documentation lists; n is the batch's length.
func (s *Sink) classify(resp *http.Response, ans answer, raw []byte, n int) error {
	status := resp.StatusCode
	if status/100 == 2 {
		s.authFailing.Store(false)
		return nil
	}
	err := errors.New("splunk: " + describe(status, ans, raw))
	code := -1
	if ans.Code != nil {
		code = *ans.Code
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		s.reload.Store(true)
		if !s.authFailing.Swap(true) {
			s.log.Error("splunk: the collector refuses the token; deliveries wait (the backlog stays in Kafka) until it accepts it, and the token is read again before each attempt", "err", err)
		}
		return sharelog.Retryable(fmt.Errorf("%w: check the token and that it is enabled", err), 0)
	case status == http.StatusBadRequest:
		switch code {
		case codeIncorrectIndex:
			return sharelog.Retryable(fmt.Errorf("%w: the index %q is not allowed for this token: check index and the token's allowed indexes", err, s.cfg.Index), 0)
		case codeChannelMissing, codeInvalidChannel, codeAckDisabled:
			return sharelog.Retryable(fmt.Errorf("%w: check ack and the token's indexer acknowledgement setting", err), 0)
		case codeInvalidFormat, codeEventRequired, codeEventBlank, codeIndexedFieldsErr:
			if i := ans.InvalidEvent; i != nil && *i >= 0 && *i < n {
				return refuseOne(n, *i, err)
			}
		}
		return sharelog.Permanent(err)
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed || status/100 == 3:
		if loc := resp.Header.Get("Location"); loc != "" {
			err = fmt.Errorf("%w (to %s)", err, printable(loc, 200))
		}
		return sharelog.Retryable(fmt.Errorf("%w: %s does not lead to an HTTP Event Collector: check url", err, s.eventURL), 0)
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return sharelog.Retryable(err, retryAfter(resp.Header.Get("Retry-After"), time.Now()))
	}
	return sharelog.Permanent(err)
}

// refuseOne is the BatchError of a batch of n whose event i was refused:
// that one for good, the others to be sent again.
func refuseOne(n, i int, err error) error {
	errs := make([]error, n)
	again := sharelog.Retryable(fmt.Errorf("sent again: the collector refused event %d of the batch: %w", i, err), 0)
	for j := range errs {
		errs[j] = again
	}
	errs[i] = sharelog.Permanent(err)
	return &sharelog.BatchError{Errs: errs}
}

// retryAfter parses a Retry-After value (seconds or an HTTP date) into a
// wait; 0 when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}
