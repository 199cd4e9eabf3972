package slack

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/secret"
)

// Defaults of the fields SetDefaults fills.
const (
	// DefaultAPIURL is Slack's Web API.
	DefaultAPIURL = "https://slack.com/api/"
	// DefaultTimeout bounds one request to Slack.
	DefaultTimeout = 10 * time.Second
	// DefaultMinSeverity lets every alert through a route.
	DefaultMinSeverity = sharelog.SeverityLow
)

// Config configures the Slack sink: where alerts go (Routes) and, for the
// routes posting to a channel, the bot token. Errors of Validate name
// fields relative to the sink's section ("routes[1].channel: ...").
type Config struct {
	// Token names the bot token (xoxb-…) of a Slack app with the
	// chat:write scope, in a file or an environment variable, never in
	// this file. Required when a route has a channel; read when the sink
	// is made.
	Token secret.Ref `yaml:"token"`
	// Routes say where alerts go. An alert goes to every route whose
	// filters it passes; at least one route.
	Routes []Route `yaml:"routes"`
	// APIURL is the Web API base URL (default https://slack.com/api/);
	// tests point it at a local server. https, or http to a loopback
	// address.
	APIURL string `yaml:"api_url"`
	// Timeout bounds one request to Slack, answer included (default 10s).
	Timeout time.Duration `yaml:"timeout"`
}

// Route is one destination of alerts and the filters choosing them.
// Exactly one of Channel and WebhookURL is set.
type Route struct {
	// Name names the route in logs, metrics (label route) and errors;
	// default the channel for a bot route, "webhook-<index>" for an
	// incoming webhook.
	Name string `yaml:"name"`
	// Channel is the channel the bot posts to, by name (#security-alerts,
	// the bot must be a member) or by id (C0123456789). Needs Token.
	Channel string `yaml:"channel"`
	// WebhookURL names an incoming webhook URL
	// (https://hooks.slack.com/services/…), a secret: in a file or an
	// environment variable. Incoming webhooks cannot edit a message, so
	// the repeats of an alert within its window are dropped (see the
	// README, flood control).
	WebhookURL secret.Ref `yaml:"webhook_url"`
	// Workspaces, when set, keeps the alerts of these workspace ids only.
	Workspaces []string `yaml:"workspaces"`
	// Rules, when set, keeps the alerts of these rule names only.
	Rules []string `yaml:"rules"`
	// MinSeverity keeps the alerts at least this severe: low (default),
	// medium, high or critical.
	MinSeverity sharelog.Severity `yaml:"min_severity"`
}

// name is the route's name: Name, else the channel, else
// "webhook-<index>".
func (r Route) name(i int) string {
	switch {
	case r.Name != "":
		return r.Name
	case r.Channel != "":
		return r.Channel
	}
	return fmt.Sprintf("webhook-%d", i)
}

// bot reports whether the route posts with the bot token.
func (r Route) bot() bool { return r.Channel != "" }

// SetDefaults fills the unset fields.
func (c *Config) SetDefaults() {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.MinSeverity == "" {
			r.MinSeverity = DefaultMinSeverity
		}
	}
}

// channelRE accepts a channel name (#name or name: lower-case letters,
// digits, -, _ and ., at most 80) or a conversation id (C…, G…, D…).
var (
	channelNameRE = regexp.MustCompile(`^#?[a-z0-9][a-z0-9._-]{0,79}$`)
	channelIDRE   = regexp.MustCompile(`^[CGD][A-Z0-9]{6,}$`)
	routeNameRE   = regexp.MustCompile(`^[#A-Za-z0-9][A-Za-z0-9._:#-]{0,79}$`)
)

// Validate reports every wrong field, each named relative to the sink's
// section ("routes[1].channel: ..."). It does not read the secrets: New
// does.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if len(c.Routes) == 0 {
		bad("routes", "at least one route is required (a channel: or a webhook_url:)")
	}
	names := map[string]int{}
	var botRoutes []string
	for i, r := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		switch {
		case r.Channel != "" && !r.WebhookURL.IsZero():
			bad(p, "set channel (bot token) or webhook_url (incoming webhook), not both")
		case r.Channel == "" && r.WebhookURL.IsZero():
			bad(p, "set channel (posted with the bot token) or webhook_url (an incoming webhook)")
		case r.Channel != "":
			botRoutes = append(botRoutes, p)
			if !channelNameRE.MatchString(r.Channel) && !channelIDRE.MatchString(r.Channel) {
				bad(p+".channel", "%q is neither a channel name (#security-alerts: lower-case letters, digits, -, _ and ., at most 80) nor a channel id (C0123456789)", r.Channel)
			}
		default:
			if err := r.WebhookURL.Validate(); err != nil {
				bad(p+".webhook_url", "%v", err)
			}
		}
		if r.Name != "" && !routeNameRE.MatchString(r.Name) {
			bad(p+".name", "%q must be 1-80 letters, digits, #, ., _, : or -", r.Name)
		} else if j, dup := names[r.name(i)]; dup {
			bad(p+".name", "%q is also the name of routes[%d] (give one of them another name:)", r.name(i), j)
		} else {
			names[r.name(i)] = i
		}
		seen := map[string]bool{}
		for j, w := range r.Workspaces {
			switch {
			case strings.TrimSpace(w) == "":
				bad(fmt.Sprintf("%s.workspaces[%d]", p, j), "empty")
			case seen[w]:
				bad(fmt.Sprintf("%s.workspaces[%d]", p, j), "%q is listed twice", w)
			}
			seen[w] = true
		}
		seen = map[string]bool{}
		for j, n := range r.Rules {
			switch {
			case strings.TrimSpace(n) == "":
				bad(fmt.Sprintf("%s.rules[%d]", p, j), "empty")
			case seen[n]:
				bad(fmt.Sprintf("%s.rules[%d]", p, j), "%q is listed twice", n)
			}
			seen[n] = true
		}
		if r.MinSeverity != "" && r.MinSeverity.Rank() < 0 {
			bad(p+".min_severity", "%q is not one of low, medium, high, critical", r.MinSeverity)
		}
	}
	switch {
	case len(botRoutes) > 0 && c.Token.IsZero():
		bad("token", "required: %s posts to a channel with the bot token (token: {env: SLACK_BOT_TOKEN} or {file: path})", strings.Join(botRoutes, ", "))
	case !c.Token.IsZero():
		if err := c.Token.Validate(); err != nil {
			bad("token", "%v", err)
		}
	}
	if c.APIURL != "" {
		if err := checkURL(c.APIURL); err != nil {
			bad("api_url", "%v", err)
		}
	}
	if c.Timeout < 100*time.Millisecond || c.Timeout > 10*time.Minute {
		bad("timeout", "%s must be between 100ms and 10m", c.Timeout)
	}
	return errors.Join(errs...)
}

// checkURL accepts an absolute https URL, or http to a loopback address
// (a test server), without credentials. Its errors never repeat the URL:
// a webhook URL is a secret.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute https URL")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback(u.Hostname()) {
			return errors.New("must be https (http is accepted for a loopback address only)")
		}
	default:
		return errors.New("must be an absolute https URL")
	}
	if u.User != nil {
		return errors.New("must not hold credentials (user:password@)")
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
