package splunk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sharelog/sharelog"
)

// firstAckPoll is the wait before the first acknowledgement query; the
// waits then double up to Config.AckPollInterval.
const firstAckPoll = 100 * time.Millisecond

// waitAck polls the collector until it reports the request of ackID
// indexed (nil), or until Config.AckTimeout or ctx ends, or the collector
// refuses the query (a retryable error: the batch is sent again).
func (s *Sink) waitAck(ctx context.Context, ackID int64) error {
	start := time.Now()
	actx, cancel := context.WithTimeout(ctx, s.cfg.AckTimeout)
	defer cancel()
	wait := min(firstAckPoll, s.cfg.AckPollInterval)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var last error
	for {
		select {
		case <-actx.Done():
			if !errors.Is(ctx.Err(), context.Canceled) { // not a shutdown
				s.m.ackTimeouts.Inc()
			}
			why := fmt.Sprintf("not within ack_timeout (%s)", s.cfg.AckTimeout)
			if ctx.Err() != nil {
				why = "before the delivery timeout: " + ctx.Err().Error()
			}
			if last != nil {
				why += "; last query: " + last.Error()
			}
			return sharelog.Retryable(fmt.Errorf("splunk: the collector did not acknowledge the batch (ackId %d) %s", ackID, why), 0)
		case <-timer.C:
		}
		done, err := s.queryAck(actx, ackID)
		switch {
		case done:
			s.m.ackSeconds.Observe(time.Since(start).Seconds())
			return nil
		case errors.Is(err, errAckRefused):
			return sharelog.Retryable(err, 0)
		case err != nil && actx.Err() == nil:
			last = err
		}
		wait = min(2*wait, s.cfg.AckPollInterval)
		timer.Reset(wait)
	}
}

// errAckRefused marks a query the collector refused (token, channel or
// acknowledgement settings): asking again will not help this Write.
var errAckRefused = errors.New("splunk: acknowledgement query refused")

// queryAck asks once whether the request of ackID is indexed.
func (s *Sink) queryAck(ctx context.Context, ackID int64) (bool, error) {
	id := strconv.FormatInt(ackID, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.ackURL, strings.NewReader(`{"acks":[`+id+`]}`))
	if err != nil {
		return false, fmt.Errorf("%w: %v", errAckRefused, err)
	}
	req.Header.Set("Authorization", s.authorization())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Splunk-Request-Channel", s.channel)
	req.Header.Set("User-Agent", "sharelog")
	resp, err := s.client.Do(req)
	if err != nil {
		s.m.request("ack", "error")
		return false, fmt.Errorf("splunk: ack query: %w", err)
	}
	defer resp.Body.Close()
	s.m.request("ack", strconv.Itoa(resp.StatusCode))
	if resp.StatusCode != http.StatusOK {
		ans, raw := readAnswer(resp)
		err := fmt.Errorf("splunk: ack query: %s", describe(resp.StatusCode, ans, raw))
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			s.reload.Store(true)
			return false, fmt.Errorf("%w: %v", errAckRefused, err)
		case http.StatusBadRequest:
			return false, fmt.Errorf("%w: %v", errAckRefused, err)
		}
		return false, err
	}
	ok, err := parseAckAnswer(resp.Body, id)
	if err != nil {
		return false, fmt.Errorf("splunk: ack query: %w", err)
	}
	return ok, nil
}

// parseAckAnswer reads an answer to an acknowledgement query,
// {"acks":{"7":true}}, and reports whether ackID (in decimal) is indexed.
func parseAckAnswer(r io.Reader, id string) (bool, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxAnswer))
	if err != nil {
		return false, err
	}
	var st struct {
		Acks map[string]bool `json:"acks"`
	}
	if err := json.Unmarshal(data, &st); err != nil || st.Acks == nil {
		return false, fmt.Errorf("not an acknowledgement status: %s", printable(string(data), 120))
	}
	return st.Acks[id], nil
}
