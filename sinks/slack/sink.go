// Package slack is the Slack alert sink: it posts the alerts of sharelog's
// detection rules (alert.raised events) to Slack as Block Kit messages,
// with a bot token (chat.postMessage to a channel) or to incoming webhooks,
// along routes that filter by workspace, rule and severity. Every other
// event is accepted and ignored.
//
// Flood control folds the repeats of an alert: one message per route, rule
// and subject per window (the rule's window, at least a minute, from the
// first message). A bot updates that message (chat.update) with the
// running count; an incoming webhook, which cannot edit, drops the repeats.
//
// The sink only talks to Slack; the delivery engine (sinks/delivery)
// batches, retries and dead-letters according to the errors Write returns:
// a rate limit (429) is retryable after Slack's Retry-After, as are 5xx,
// timeouts and network errors; revoked or invalid credentials
// (invalid_auth, account_inactive, token_revoked, a deleted webhook …)
// disable the sink (*sharelog.DisabledError); a message Slack refuses
// (channel_not_found, invalid_blocks, a 4xx …) is refused for good
// (*sharelog.PermanentError). Alerts already delivered to a route are
// remembered, so a retried batch does not post them again.
package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/secret"
)

// Deps are what the sink needs besides its configuration. Zero fields mean
// quiet defaults.
type Deps struct {
	Logger     *slog.Logger          // nil: quiet
	Registerer prometheus.Registerer // nil: metrics kept, not exported
	// Now is the clock of flood-control windows. nil: time.Now.
	Now func() time.Time
	// HTTPClient, when set, lends its Transport (TLS roots, proxy,
	// connection pool); the sink applies its own timeout and follows no
	// redirect. nil: the sink's own client.
	HTTPClient *http.Client
}

// Sink posts alerts to Slack. It is safe for concurrent use.
type Sink struct {
	cfg       Config
	api       *slack.Client // nil without a bot route
	http      *http.Client
	routes    []*route
	log       *slog.Logger
	m         *metrics
	now       func() time.Time
	floods    *lru[floodKey, *flood]
	delivered *lru[sent, struct{}]
	disabled  atomic.Pointer[sharelog.DisabledError]
}

// route is a configured route, ready to match and send.
type route struct {
	idx        int
	name       string
	channel    string // bot mode
	webhookURL string // incoming webhook mode: a secret, never logged
	workspaces map[string]bool
	rules      map[string]bool
	minRank    int
	lastWarn   atomic.Int64 // Unix nanoseconds of the last configuration-problem log
}

func (r *route) bot() bool { return r.channel != "" }

// label is how errors and logs name the route.
func (r *route) label() string {
	return fmt.Sprintf("routes[%d] (%s)", r.idx, r.name)
}

// matches reports whether the route's filters select the alert.
func (r *route) matches(ev *sharelog.Event) bool {
	if r.workspaces != nil && !r.workspaces[ev.Workspace.ID] {
		return false
	}
	if r.rules != nil && !r.rules[ev.Alert.Rule] {
		return false
	}
	return ev.Alert.Severity.Rank() >= r.minRank
}

// New returns a sink for cfg (defaults are applied to a copy of it, and it
// is validated). It reads the bot token and the webhook URLs now; errors
// name the file or the variable, never a secret.
func New(cfg Config, deps Deps) (*Sink, error) {
	c := cfg
	c.Routes = append([]Route(nil), cfg.Routes...)
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	s := &Sink{
		cfg:       c,
		log:       deps.Logger,
		now:       deps.Now,
		floods:    newLRU[floodKey, *flood](MaxTracked),
		delivered: newLRU[sent, struct{}](MaxDelivered),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.http = newHTTPClient(deps.HTTPClient, c.Timeout)
	names := make([]string, len(c.Routes))
	bot := false
	for i, rc := range c.Routes {
		r := &route{idx: i, name: rc.name(i), channel: strings.TrimPrefix(rc.Channel, "#"), minRank: rc.MinSeverity.Rank()}
		if rc.Channel != "" && !channelIDRE.MatchString(rc.Channel) {
			r.channel = "#" + r.channel // a name, as chat.postMessage takes it
		}
		if !rc.bot() {
			u, err := loadOne(rc.WebhookURL)
			if err != nil {
				return nil, fmt.Errorf("slack: routes[%d].webhook_url: %w", i, err)
			}
			if err := checkURL(u); err != nil {
				return nil, fmt.Errorf("slack: routes[%d].webhook_url: the URL read from %s %w", i, refName(rc.WebhookURL), err)
			}
			r.webhookURL = u
		}
		bot = bot || rc.bot()
		if len(rc.Workspaces) > 0 {
			r.workspaces = set(rc.Workspaces)
		}
		if len(rc.Rules) > 0 {
			r.rules = set(rc.Rules)
		}
		s.routes = append(s.routes, r)
		names[i] = r.name
	}
	if bot {
		token, err := loadOne(c.Token)
		if err != nil {
			return nil, fmt.Errorf("slack: token: %w", err)
		}
		if strings.ContainsAny(token, " \t\r\n") {
			return nil, fmt.Errorf("slack: token: the value read from %s holds white space; it must be the bot token alone (xoxb-…)", refName(c.Token))
		}
		apiURL := c.APIURL
		if !strings.HasSuffix(apiURL, "/") {
			apiURL += "/"
		}
		s.api = slack.New(token,
			slack.OptionAPIURL(apiURL),
			slack.OptionHTTPClient(s.http),
			slack.OptionLog(log.New(io.Discard, "", 0)),
		)
	}
	var err error
	if s.m, err = newMetrics(deps.Registerer, names); err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	return s, nil
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, v := range list {
		m[v] = true
	}
	return m
}

// loadOne reads the first secret ref names.
func loadOne(ref secret.Ref) (string, error) {
	vals, err := ref.Load()
	if err != nil {
		return "", err
	}
	if len(vals) == 0 {
		return "", errors.New("no value found")
	}
	return vals[0], nil
}

// refName names where a secret comes from: "the file /x" or "$VAR".
func refName(ref secret.Ref) string {
	if ref.File != "" {
		return "the file " + ref.File
	}
	return "$" + ref.Env
}

// newHTTPClient returns the client of every request: the lent client's
// transport (or a default one), the timeout, no redirects, and the
// recording of error answers (see answer).
func newHTTPClient(lent *http.Client, timeout time.Duration) *http.Client {
	var base http.RoundTripper
	if lent != nil && lent.Transport != nil {
		base = lent.Transport
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 16 // the engine runs several batches at once
		t.ResponseHeaderTimeout = timeout
		base = t
	}
	c := &http.Client{
		Transport: recorder{base},
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	if lent != nil && lent.Jar != nil {
		c.Jar = lent.Jar
	}
	return c
}

// answer is what the transport saw of Slack's answer to one request:
// slack-go keeps neither the body of an error answer nor a Retry-After it
// cannot parse (an HTTP date), and the errors need both.
type answer struct {
	status     int
	retryAfter string
	body       string // the start of the body of an answer other than 200
}

type answerKey struct{}

// recorder is a RoundTripper filling the *answer of the request's context.
type recorder struct{ next http.RoundTripper }

func (t recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	a, _ := req.Context().Value(answerKey{}).(*answer)
	if err != nil || a == nil {
		return resp, err
	}
	a.status = resp.StatusCode
	a.retryAfter = resp.Header.Get("Retry-After")
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		a.body = string(b)
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	}
	return resp, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// Write posts the alerts of batch, in order, as the sharelog.Sink contract
// says; other events are accepted as they are. An alert goes to every route
// selecting it; one already delivered to a route (a retried batch) is not
// sent there again.
//
// A retryable failure (rate limit, 5xx, timeout) stops the batch: the answer
// is then a *sharelog.BatchError with nil for each event done, the
// *PermanentError of each event refused, and a *RetryableError (with the
// Retry-After) for the failing event and every one after it. A one-event
// batch gets its error unwrapped. Once Slack refused the credentials, every
// Write returns the same *sharelog.DisabledError without sending anything.
func (s *Sink) Write(ctx context.Context, batch []*sharelog.Event) error {
	if de := s.disabled.Load(); de != nil {
		return de
	}
	return sharelog.DeliverEach(batch, func(_ int, ev *sharelog.Event) error {
		if ev.Action != sharelog.AlertRaised || ev.Alert == nil {
			return nil // not an alert: nothing to post
		}
		return s.deliver(ctx, ev)
	})
}

// deliver sends one alert to every route selecting it. A route refusing it
// for good does not keep it from the others; a retryable failure stops at
// once (the routes done are remembered).
func (s *Sink) deliver(ctx context.Context, ev *sharelog.Event) error {
	var refused []error
	routed := false
	for _, r := range s.routes {
		if !r.matches(ev) {
			continue
		}
		routed = true
		key := sent{id: ev.ID, route: r.idx}
		if s.delivered.has(key) {
			s.m.repeats.Inc()
			continue
		}
		err := s.send(ctx, r, ev)
		if err == nil {
			s.delivered.add(key, struct{}{})
			continue
		}
		var pe *sharelog.PermanentError
		if !errors.As(err, &pe) {
			return err
		}
		refused = append(refused, pe.Err)
	}
	if !routed {
		s.m.unrouted.Inc()
	}
	if len(refused) > 0 {
		return sharelog.Permanent(errors.Join(refused...))
	}
	return nil
}

// send delivers one alert to one route, under flood control.
func (s *Sink) send(ctx context.Context, r *route, ev *sharelog.Event) error {
	a := ev.Alert
	f := s.floods.getOrAdd(floodKey{route: r.idx, rule: a.Rule, subject: a.Subject}, func() *flood { return &flood{} })
	s.m.tracked.Set(float64(s.floods.len()))
	f.mu.Lock()
	defer f.mu.Unlock()
	now := s.now()
	if f.open(now) {
		if !r.bot() {
			f.alerts++
			s.m.messages.WithLabelValues(r.name, kindSuppressed).Inc()
			s.log.Debug("alert folded: an incoming webhook cannot update the message of its window", "route", r.name, "alert", ev.ID, "rule", a.Rule, "subject", a.Subject)
			return nil
		}
		msg := render(ev, thread{alerts: f.alerts + 1, first: f.first})
		err := s.update(ctx, r, f.channel, f.ts, ev, msg)
		if err == nil {
			f.alerts++
			s.m.messages.WithLabelValues(r.name, kindUpdated).Inc()
			return nil
		}
		if !messageGone(err) {
			return err
		}
		// Someone deleted the message, or it can no longer be edited:
		// start a new one.
		s.log.Info("the message of an alert's window cannot be updated; posting a new one", "route", r.name, "rule", a.Rule, "subject", a.Subject, "err", err)
	}
	msg := render(ev, thread{alerts: 1, first: now})
	var channel, ts string
	var err error
	if r.bot() {
		channel, ts, err = s.post(ctx, r, ev, msg)
	} else {
		err = s.postWebhook(ctx, r, msg)
	}
	if err != nil {
		return err
	}
	window := max(time.Duration(a.WindowSeconds)*time.Second, MinWindow)
	f.posted, f.channel, f.ts, f.first, f.until, f.alerts = true, channel, ts, now, now.Add(window), 1
	s.m.messages.WithLabelValues(r.name, kindPosted).Inc()
	return nil
}

// metadata is the message metadata of an alert (bot mode), for Slack apps
// reading the channel.
func metadata(ev *sharelog.Event) slack.SlackMetadata {
	a := ev.Alert
	return slack.SlackMetadata{EventType: "sharelog_alert", EventPayload: map[string]any{
		"alert_id": ev.ID, "rule": a.Rule, "type": a.Type, "severity": string(a.Severity),
		"subject": a.Subject, "count": a.Count, "workspace_id": ev.Workspace.ID,
	}}
}

func msgOptions(ev *sharelog.Event, msg message) []slack.MsgOption {
	return []slack.MsgOption{
		slack.MsgOptionText(msg.text, false),
		slack.MsgOptionBlocks(msg.blocks...),
		slack.MsgOptionMetadata(metadata(ev)),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
	}
}

// post is chat.postMessage; it returns the channel id and the message ts.
func (s *Sink) post(ctx context.Context, r *route, ev *sharelog.Event, msg message) (channel, ts string, err error) {
	ans := &answer{}
	start := time.Now()
	channel, ts, err = s.api.PostMessageContext(context.WithValue(ctx, answerKey{}, ans), r.channel, msgOptions(ev, msg)...)
	s.m.duration.WithLabelValues(methodPost).Observe(time.Since(start).Seconds())
	if err != nil {
		return "", "", s.classify(methodPost, r, err, ans)
	}
	s.m.requests.WithLabelValues(methodPost, outcomeOK).Inc()
	if ts == "" {
		// Without a ts the message cannot be updated: its repeats will
		// post anew.
		s.log.Warn("chat.postMessage answered without a message ts", "route", r.name)
	}
	if channel == "" {
		channel = r.channel
	}
	return channel, ts, nil
}

// update is chat.update of the message ts in channel.
func (s *Sink) update(ctx context.Context, r *route, channel, ts string, ev *sharelog.Event, msg message) error {
	if ts == "" {
		return errMessageGone
	}
	ans := &answer{}
	start := time.Now()
	_, _, _, err := s.api.UpdateMessageContext(context.WithValue(ctx, answerKey{}, ans), channel, ts, msgOptions(ev, msg)...)
	s.m.duration.WithLabelValues(methodUpdate).Observe(time.Since(start).Seconds())
	if err != nil {
		var se slack.SlackErrorResponse
		if errors.As(err, &se) && goneCodes[se.Err] {
			s.m.requests.WithLabelValues(methodUpdate, outcomeRefused).Inc()
			return fmt.Errorf("%w: %s", errMessageGone, se.Err)
		}
		return s.classify(methodUpdate, r, err, ans)
	}
	s.m.requests.WithLabelValues(methodUpdate, outcomeOK).Inc()
	return nil
}

// postWebhook posts to the route's incoming webhook.
func (s *Sink) postWebhook(ctx context.Context, r *route, msg message) error {
	no := false
	wm := &slack.WebhookMessage{Text: msg.text, Blocks: &slack.Blocks{BlockSet: msg.blocks}, UnfurlLinks: &no, UnfurlMedia: &no}
	ans := &answer{}
	start := time.Now()
	err := slack.PostWebhookCustomHTTPContext(context.WithValue(ctx, answerKey{}, ans), r.webhookURL, s.http, wm)
	s.m.duration.WithLabelValues(methodWebhook).Observe(time.Since(start).Seconds())
	if err != nil {
		return s.classify(methodWebhook, r, err, ans)
	}
	s.m.requests.WithLabelValues(methodWebhook, outcomeOK).Inc()
	return nil
}

// errMessageGone says the message of a window cannot be updated.
var errMessageGone = errors.New("the message cannot be updated")

// goneCodes are the answers of chat.update when the message was deleted or
// can no longer be edited.
var goneCodes = map[string]bool{"message_not_found": true, "cant_update_message": true, "edit_window_closed": true}

// messageGone reports whether an update failed because the message is gone
// or can no longer be edited.
func messageGone(err error) bool { return errors.Is(err, errMessageGone) }

// Slack error codes by what they mean for the sink.
var (
	// credentialCodes: the token (or webhook) does not work and will not
	// until someone changes it. The sink stops.
	credentialCodes = map[string]string{
		"invalid_auth":              "the bot token is not valid",
		"not_authed":                "no bot token was sent",
		"account_inactive":          "the token's user or app was deactivated, or the app uninstalled",
		"token_revoked":             "the bot token was revoked",
		"token_expired":             "the bot token expired (token rotation is on: use a non-expiring token)",
		"no_permission":             "the token lacks the permission",
		"missing_scope":             "the token lacks the chat:write scope",
		"not_allowed_token_type":    "the token is not a bot token",
		"team_access_not_granted":   "the token has no access to the workspace",
		"ekm_access_denied":         "the workspace's keys are revoked (Enterprise Key Management)",
		"org_login_required":        "the workspace is being migrated to an Enterprise Grid organisation",
		"invalid_token":             "the incoming webhook's token is not valid (the webhook was removed)",
		"no_service":                "the incoming webhook is disabled or was removed",
		"no_service_id":             "the incoming webhook URL is not valid",
		"no_team":                   "the incoming webhook's workspace does not exist",
		"team_disabled":             "the workspace is disabled",
		"two_factor_setup_required": "the workspace requires two-factor authentication of the token's user",
	}
	// routeCodes: this route's destination is wrong; the alert is refused
	// (dead-lettered) and the other routes go on.
	routeCodes = map[string]string{
		"channel_not_found":                   "the channel does not exist, or it is private and the bot is not in it (invite it: /invite @<app>)",
		"not_in_channel":                      "the bot is not a member of the channel (invite it: /invite @<app>)",
		"is_archived":                         "the channel is archived",
		"channel_is_archived":                 "the channel is archived",
		"restricted_action":                   "the workspace does not allow the bot to post in the channel",
		"action_prohibited":                   "an administrator restricted posting to the channel",
		"posting_to_general_channel_denied":   "only administrators may post to the channel",
		"restricted_action_read_only_channel": "the channel is read-only",
	}
	// transientCodes: Slack failed on its side; try again.
	transientCodes = map[string]bool{
		"internal_error": true, "fatal_error": true, "service_unavailable": true,
		"request_timeout": true, "ratelimited": true, "rollup_error": true, "team_added_to_org": true,
	}
)

// classify turns a failed request into the error kind the delivery engine
// acts on, counting it.
func (s *Sink) classify(method string, r *route, err error, ans *answer) error {
	// url.Error repeats the URL, and an incoming webhook's URL is a secret.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	where := fmt.Sprintf("slack: %s: %s", r.label(), method)
	code := ""
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		code = se.Err
	} else if ans.status != 0 && ans.status != http.StatusOK {
		code = webhookCode(ans.body)
	}
	outcome := outcomeRefused
	defer func() { s.m.requests.WithLabelValues(method, outcome).Inc() }()

	var rl *slack.RateLimitedError
	switch {
	case errors.As(err, &rl):
		outcome = outcomeRateLimited
		return sharelog.Retryable(fmt.Errorf("%s: rate limited (429), Slack asks to wait %s", where, rl.RetryAfter), rl.RetryAfter)
	case ans.status == http.StatusTooManyRequests || code == "ratelimited" || code == "rate_limited":
		outcome = outcomeRateLimited
		return sharelog.Retryable(fmt.Errorf("%s: rate limited (429)", where), retryAfter(ans.retryAfter, time.Now()))
	case credentialCodes[code] != "":
		outcome = outcomeRefused
		return s.disable(fmt.Errorf("%s: %s: %s; fix the credentials and restart the sink", where, code, credentialCodes[code]))
	case routeCodes[code] != "":
		e := fmt.Errorf("%s: %s: %s", where, code, routeCodes[code])
		s.warnRoute(r, e)
		return sharelog.Permanent(e)
	case transientCodes[code]:
		outcome = outcomeUnavailable
		return sharelog.Retryable(fmt.Errorf("%s: %s", where, code), retryAfter(ans.retryAfter, time.Now()))
	case ans.status >= 500 || ans.status == http.StatusRequestTimeout:
		outcome = outcomeUnavailable
		return sharelog.Retryable(fmt.Errorf("%s: HTTP %d%s", where, ans.status, snippet(code, ans.body)), retryAfter(ans.retryAfter, time.Now()))
	case ans.status == http.StatusUnauthorized:
		return s.disable(fmt.Errorf("%s: HTTP %d%s: the credentials were refused; fix them and restart the sink", where, ans.status, snippet(code, ans.body)))
	case ans.status >= 300 && ans.status != http.StatusOK:
		return sharelog.Permanent(fmt.Errorf("%s: HTTP %d%s", where, ans.status, snippet(code, ans.body)))
	case code != "":
		// An error code of an answer 200: the message itself
		// (invalid_blocks, msg_too_long, invalid_arguments, …).
		return sharelog.Permanent(fmt.Errorf("%s: %s", where, code))
	}
	// No answer: a network error, a timeout, the context ending; or an
	// answer 200 that is not Slack's JSON (a proxy).
	outcome = outcomeUnavailable
	return sharelog.Retryable(fmt.Errorf("%s: %w", where, err), 0)
}

// webhookCode is the error code an incoming webhook answers in plain text
// ("no_service", "channel_not_found", "invalid_payload"), or "".
func webhookCode(body string) string {
	body = strings.TrimSpace(body)
	if body == "" || len(body) > 64 {
		return ""
	}
	for _, c := range body {
		if !(c >= 'a' && c <= 'z' || c == '_' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return body
}

// snippet is ": <code or the start of the body>" for an error message.
func snippet(code, body string) string {
	if code != "" {
		return ": " + code
	}
	body = strings.TrimSpace(oneLine(body))
	if body == "" {
		return ""
	}
	return ": " + truncate(body, 120)
}

// disable makes err the sink's DisabledError (the first one wins) and says
// so once.
func (s *Sink) disable(err error) error {
	de := &sharelog.DisabledError{Err: err}
	if s.disabled.CompareAndSwap(nil, de) {
		s.m.disabled.Set(1)
		s.log.Error("Slack refused the sink's credentials: sink disabled, no more requests until restart; alerts wait in Kafka", "err", err)
	}
	return s.disabled.Load()
}

// warnRoute logs a route's configuration problem at most once a minute.
func (s *Sink) warnRoute(r *route, err error) {
	now := time.Now().UnixNano()
	last := r.lastWarn.Load()
	if now-last >= int64(time.Minute) && r.lastWarn.CompareAndSwap(last, now) {
		s.log.Error("a route cannot deliver: its alerts go to the dead-letter topic until the route is fixed", "route", r.name, "err", err)
	}
}

// retryAfter reads a Retry-After value, delay-seconds or an HTTP-date, as
// a wait from now; 0 when absent, unreadable or past.
func retryAfter(v string, now time.Time) time.Duration {
	const most = 24 * time.Hour
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return time.Duration(min(n, uint64(most/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now).Round(time.Second), most)
	}
	return 0
}

// Close releases idle connections. It is called once, after the last Write
// has returned.
func (s *Sink) Close() error {
	s.http.CloseIdleConnections()
	return nil
}

var _ sharelog.Sink = (*Sink)(nil)
