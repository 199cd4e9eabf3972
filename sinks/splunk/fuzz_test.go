package splunk

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
)

// FuzzAnswer feeds the collector's answers, whatever they hold, to the
// parsers and the classification: no panic, an error for every non-2xx,
// and a BatchError always of the batch's length.
func FuzzAnswer(f *testing.F) {
	for _, s := range []string{
		`{"text":"Success","code":0}`,
		`{"text":"Success","code":0,"ackId":7}`,
		`{"text":"Invalid data format","code":6,"invalid-event-number":3}`,
		`{"text":"Invalid data format","code":6,"invalid-event-number":-1}`,
		`{"text":"Incorrect index","code":7,"invalid-event-number":99999999999}`,
		`{"acks":{"0":true,"1":false}}`,
		`<html>502</html>`,
		``,
	} {
		f.Add(400, s, 4)
		f.Add(200, s, 1)
	}
	s := &Sink{log: discard(), eventURL: "http://x/services/collector/event"}
	f.Fuzz(func(t *testing.T, status int, body string, n int) {
		if n < 1 || n > 64 || status < 100 || status > 999 {
			return
		}
		parseAckAnswer(bytes.NewReader([]byte(body)), "0")
		resp := &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {body}}, Body: io.NopCloser(bytes.NewReader([]byte(body)))}
		ans, raw := readAnswer(resp)
		err := s.classify(resp, ans, raw, n)
		if (err == nil) != (status/100 == 2) {
			t.Fatalf("status %d: %v", status, err)
		}
		var be *sharelog.BatchError
		if errors.As(err, &be) && len(be.Errs) != n {
			t.Fatalf("BatchError of %d for %d", len(be.Errs), n)
		}
		if d := retryAfter(body, time.Now()); d < 0 || d > 24*time.Hour {
			t.Fatalf("Retry-After %q: %s", body, d)
		}
	})
}
