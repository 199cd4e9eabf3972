package sharelog

import (
	"fmt"
	"time"
)

// TimeWindow bounds the time of the events a receiver accepts, around its
// own clock: an event from further back than MaxPast would be removed by
// retention at once (and one from year 0000 would open a date partition that
// retention never reaches); one from further ahead than MaxFuture is a
// producer's clock gone wrong. A zero bound is no bound.
type TimeWindow struct {
	MaxPast   time.Duration
	MaxFuture time.Duration
}

// Check returns nil when t is inside the window around now, else the
// *FieldError for "time" that names the window. It is the one message for
// every time out of range, the zero time (0001-01-01T00:00:00Z) included.
func (w TimeWindow) Check(t, now time.Time) *FieldError {
	early := w.MaxPast > 0 && t.Before(now.Add(-w.MaxPast))
	late := w.MaxFuture > 0 && t.After(now.Add(w.MaxFuture))
	if !early && !late {
		return nil
	}
	return &FieldError{Field: "time", Message: fmt.Sprintf(
		"%s is outside the accepted window: from %s before the receiver's clock (%s) to %s after it (ingest.max_past, ingest.max_future)",
		t.UTC().Format(time.RFC3339Nano), days(w.MaxPast), now.UTC().Format(time.RFC3339), days(w.MaxFuture))}
}

// days writes d in days when it is a whole number of them.
func days(d time.Duration) string {
	switch {
	case d <= 0:
		return "any time"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// Parser reads batches of raw events (ParseBatch) and applies a time window
// to them. The zero Parser has no window.
type Parser struct {
	// Window bounds the events' time around Now.
	Window TimeWindow
	// Now is the receiver's clock; nil is time.Now.
	Now func() time.Time
}

// Decode decodes and validates one raw event as DecodeRaw does, then refuses
// a time outside the window. An explicit zero time gets the window's
// message rather than "is required".
func (p Parser) Decode(data []byte) (*Event, error) {
	return p.decode(data, false)
}

func (p Parser) decode(data []byte, owned bool) (*Event, error) {
	d := decoder{data: data, strict: true, raw: new(rawBlock)}
	ev, err := d.run(owned)
	if err != nil {
		return nil, err
	}
	verr := ev.Validate()
	if p.Window == (TimeWindow{}) || !d.timeGiven && ev.Time.IsZero() {
		if verr != nil {
			return nil, verr
		}
		return ev, nil
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	werr := p.Window.Check(ev.Time, now())
	if werr == nil {
		if verr != nil {
			return nil, verr
		}
		return ev, nil
	}
	// The window's message replaces Validate's about the time (a zero
	// time's "is required").
	errs := FieldErrors{}
	if fe, ok := verr.(FieldErrors); ok {
		for _, e := range fe {
			if e.Field != "time" {
				errs = append(errs, e)
			}
		}
	}
	return nil, append(errs, werr)
}
