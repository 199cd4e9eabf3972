package ingest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	sharelog "github.com/sharelog/sharelog"
)

// The defaults of NewClient, the same as the server's (kafka.* in its
// configuration).
const (
	DefaultTopicPrefix    = "sharelog"
	DefaultClientID       = "sharelog"
	DefaultLinger         = 2 * time.Millisecond
	DefaultRequestTimeout = 10 * time.Second
	DefaultCompression    = kafka.Lz4
)

// An Option configures a Client made by NewClient. Options are applied in
// order; a later one replaces an earlier one of the same kind. A wrong value
// makes NewClient return an error naming the option.
type Option func(*options)

type options struct {
	prefix   string
	clientID string
	linger   time.Duration
	timeout  time.Duration
	codec    kafka.Compression

	tls      *tls.Config
	mech     sasl.Mechanism
	saslCred *saslCredentials
	rt       kafka.RoundTripper

	window sharelog.TimeWindow
	now    func() time.Time

	// set records which options were given, for the conflicts NewClient
	// reports; errs the errors options found on their own.
	set  map[string]bool
	errs []error
}

type saslCredentials struct{ mechanism, username, password string }

func defaultOptions() *options {
	return &options{
		prefix: DefaultTopicPrefix, clientID: DefaultClientID, linger: DefaultLinger,
		timeout: DefaultRequestTimeout, codec: DefaultCompression, now: time.Now,
		set: map[string]bool{},
	}
}

// WithTopicPrefix names the topics: the client produces to <prefix>.raw.
// Default "sharelog", the server's kafka.topic_prefix default; set the
// same prefix as the server's.
func WithTopicPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// WithClientID is the client id sent to the brokers, for their logs and
// quotas. Default "sharelog".
func WithClientID(id string) Option {
	return func(o *options) { o.clientID, o.set["WithClientID"] = id, true }
}

// WithLinger is how long a batch waits for more events per partition
// before it is sent (kafka-go's BatchTimeout, whose own default of 1 s
// this replaces). Concurrent Publish calls within the linger share one
// produce request. 0 sends at once. Default 2 ms.
func WithLinger(d time.Duration) Option {
	return func(o *options) {
		if d < 0 {
			o.errs = append(o.errs, fmt.Errorf("WithLinger: %s is negative", d))
		}
		o.linger = d
	}
}

// WithRequestTimeout bounds one produce request, written and answered
// (kafka-go's WriteTimeout and ReadTimeout). A Publish call may make up
// to three attempts; its ctx bounds the whole wait. Default 10 s.
func WithRequestTimeout(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			o.errs = append(o.errs, fmt.Errorf("WithRequestTimeout: %s is not positive", d))
		}
		o.timeout = d
	}
}

// WithCompression compresses produced batches with codec (kafka.Gzip,
// kafka.Snappy, kafka.Lz4, kafka.Zstd; 0 is none). Default kafka.Lz4.
func WithCompression(codec kafka.Compression) Option {
	return func(o *options) { o.codec = codec }
}

// WithTLS secures the connections to the brokers with cfg (its RootCAs
// trust the brokers' certificates; Certificates for mutual TLS). Default:
// plain TCP.
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) { o.tls, o.set["WithTLS"] = cfg, cfg != nil }
}

// WithSASL authenticates to the brokers with mech (kafka-go's
// sasl/plain.Mechanism or sasl/scram.Mechanism, or any sasl.Mechanism).
// Default: no authentication.
func WithSASL(mech sasl.Mechanism) Option {
	return func(o *options) {
		o.mech, o.saslCred, o.set["WithSASL"] = mech, nil, mech != nil
	}
}

// WithSASLCredentials authenticates with mechanism PLAIN, SCRAM-SHA-256 or
// SCRAM-SHA-512 (any case) as username. NewClient's errors never include
// the password. Default: no authentication.
func WithSASLCredentials(mechanism, username, password string) Option {
	return func(o *options) {
		o.mech, o.saslCred, o.set["WithSASL"] = nil, &saslCredentials{mechanism, username, password}, true
	}
}

// WithTransport produces through rt (typically a *kafka.Transport shared
// with the caller's other kafka-go clients) instead of a transport of the
// client's own. The client id, TLS and SASL are then rt's: WithClientID,
// WithTLS and WithSASL cannot be given beside it. Close does not close rt.
func WithTransport(rt kafka.RoundTripper) Option {
	return func(o *options) { o.rt, o.set["WithTransport"] = rt, rt != nil }
}

// WithTimeWindow makes Publish refuse events whose time is outside w around
// the clock now (nil: time.Now), as the HTTP endpoint does with
// ingest.max_past and ingest.max_future. Default: no window.
func WithTimeWindow(w sharelog.TimeWindow, now func() time.Time) Option {
	return func(o *options) { o.window, o.now = w, now }
}

// validate reports every wrong option, each error naming it.
func (o *options) validate(brokers []string) error {
	errs := o.errs
	if len(brokers) == 0 {
		errs = append(errs, errors.New("brokers: none given"))
	}
	for i, b := range brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("brokers[%d]: %q is not host:port", i, b))
		}
	}
	if o.prefix == "" || strings.ContainsAny(o.prefix, " /\\,:") || len(o.prefix) > 200 {
		errs = append(errs, fmt.Errorf("WithTopicPrefix: %q is not a valid topic name prefix", o.prefix))
	}
	switch o.codec {
	case 0, kafka.Gzip, kafka.Snappy, kafka.Lz4, kafka.Zstd:
	default:
		errs = append(errs, fmt.Errorf("WithCompression: %d is not a codec of kafka-go", o.codec))
	}
	if o.set["WithTransport"] {
		for _, name := range []string{"WithClientID", "WithTLS", "WithSASL"} {
			if o.set[name] {
				errs = append(errs, fmt.Errorf("%s: the transport of WithTransport sets it; give it there", name))
			}
		}
	}
	if c := o.saslCred; c != nil && c.username == "" {
		errs = append(errs, errors.New("WithSASLCredentials: the username is empty"))
	}
	return errors.Join(errs...)
}
