// Package sharelog holds the event that flows through the pipeline, its
// validation and JSON encoding, and the few interfaces every part shares.
//
// It imports no other sharelog package; ingest, enrich, sinks and storage
// import it. Everything here is safe for concurrent use unless said otherwise.
package sharelog

import (
	"strconv"
	"time"
)

// SchemaVersion is the version of the event schema this package encodes.
const SchemaVersion = 1

// Event is one thing that happened on the link and file server, as the server
// sends it (the raw fields) and, after enrichment, with the Geo, Platform,
// Session and Pipeline groups added. Enrichment never changes a raw field.
type Event struct {
	// ID is the producer-chosen unique id (UUID, preferably v7, or ULID). It
	// is the idempotency key end to end.
	ID string `json:"id"`
	// Time is when it happened, in UTC.
	Time      time.Time `json:"time"`
	Workspace Workspace `json:"workspace"`
	Actor     Actor     `json:"actor"`
	Action    Action    `json:"action"`
	Result    Result    `json:"result"`
	// Reason says why, when Result is not success (wrong_password, expired, …).
	Reason string  `json:"reason,omitempty"`
	File   *File   `json:"file,omitempty"`
	Link   *Link   `json:"link,omitempty"`
	Client Client  `json:"client"`
	Server *Server `json:"server,omitempty"`

	// Enriched groups, set by the enrich workers; absent on raw events.
	Geo      *Geo      `json:"geo,omitempty"`
	Platform *Platform `json:"platform,omitempty"`
	Session  *Session  `json:"session,omitempty"`
	Pipeline *Pipeline `json:"pipeline,omitempty"`

	// Alert is what a detection rule found; set on alert.raised events only,
	// by sharelog's rules, never by a producer.
	Alert *Alert `json:"alert,omitempty"`
}

// Workspace identifies the workspace the event belongs to.
type Workspace struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// ActorType says what kind of principal acted.
type ActorType string

// Actor types.
const (
	ActorUser      ActorType = "user"
	ActorAPIKey    ActorType = "api_key"
	ActorAnonymous ActorType = "anonymous"
	// ActorSystem is sharelog itself (retention, erasure): no email, no API
	// key id, no visitor email.
	ActorSystem ActorType = "system"
)

// Actor is who acted: a signed-in user (Email), an API key (APIKeyID), an
// anonymous visitor, or sharelog itself (system). VisitorEmail is the address
// a visitor typed when the link requires one.
type Actor struct {
	Type         ActorType `json:"type"`
	Email        string    `json:"email,omitempty"`
	APIKeyID     string    `json:"api_key_id,omitempty"`
	VisitorEmail string    `json:"visitor_email,omitempty"`
}

// Name is the actor as people read it: the email, the API key id, the
// visitor's email, "system" for sharelog itself, or "anonymous".
func (a Actor) Name() string {
	switch {
	case a.Type == ActorSystem:
		return string(ActorSystem)
	case a.Email != "":
		return a.Email
	case a.APIKeyID != "":
		return a.APIKeyID
	case a.VisitorEmail != "":
		return a.VisitorEmail
	}
	return string(ActorAnonymous)
}

// File is the file the event concerns.
type File struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Size int64  `json:"size,omitempty"`
	Path string `json:"path,omitempty"`
}

// Link is the share link the event concerns.
type Link struct {
	ID string `json:"id"`
}

// ClientKind says what kind of client made the request.
type ClientKind string

// Client kinds.
const (
	ClientBrowser ClientKind = "browser"
	ClientCLI     ClientKind = "cli"
	ClientSDK     ClientKind = "sdk"
	ClientAPI     ClientKind = "api"
)

// Client is the requesting client as the server saw it.
type Client struct {
	IP        string     `json:"ip"`
	UserAgent string     `json:"user_agent,omitempty"`
	Kind      ClientKind `json:"kind"`
}

// Server is the server side that handled the request.
type Server struct {
	Region string `json:"region,omitempty"`
	Node   string `json:"node,omitempty"`
}

// Geo is where the client address is, from a GeoIP2 City database.
type Geo struct {
	CountryCode string `json:"country_code,omitempty"`
	CountryName string `json:"country_name,omitempty"`
	Subdivision string `json:"subdivision,omitempty"`
	City        string `json:"city,omitempty"`
	// Latitude and Longitude are nil when the database has no location.
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
	// AccuracyRadiusKM is the database's accuracy radius, 0 when unknown.
	AccuracyRadiusKM uint16 `json:"accuracy_radius_km,omitempty"`
	// Database names the database and its build date (YYYY-MM-DD), so a
	// reader knows how current the location is.
	Database      string `json:"database,omitempty"`
	DatabaseBuild string `json:"database_build,omitempty"`
}

// DeviceType classifies the client device.
type DeviceType string

// Device types.
const (
	DeviceDesktop DeviceType = "desktop"
	DeviceMobile  DeviceType = "mobile"
	DeviceTablet  DeviceType = "tablet"
	DeviceBot     DeviceType = "bot"
	DeviceCLI     DeviceType = "cli"
)

// Platform is what the user agent says about the client.
type Platform struct {
	OSName        string     `json:"os_name,omitempty"`
	OSVersion     string     `json:"os_version,omitempty"`
	ClientName    string     `json:"client_name,omitempty"`
	ClientVersion string     `json:"client_version,omitempty"`
	DeviceType    DeviceType `json:"device_type,omitempty"`
}

// Session groups one visitor's events on one link until 30 minutes of
// inactivity.
type Session struct {
	// LinkSessionID is opaque and keyed: it reveals neither IP nor user agent.
	LinkSessionID string `json:"link_session_id"`
	// Seq is the event's number within the session, from 1.
	Seq int `json:"seq"`
	// Started is true for the event that opened the session.
	Started bool `json:"started"`
}

// Pipeline records how the event went through the pipeline.
type Pipeline struct {
	EnrichedAt    time.Time `json:"enriched_at"`
	SchemaVersion int       `json:"schema_version"`
	Topic         string    `json:"topic"`
	Partition     int       `json:"partition"`
	Offset        int64     `json:"offset"`
}

// Severity ranks an alert.
type Severity string

// Severities, from the least to the most urgent.
const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Severities lists the severities from the least to the most urgent.
var Severities = []Severity{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// Rank is the severity's place in Severities (low 0 … critical 3), -1 when
// it is none of them.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return -1
}

// Alert is what a detection rule found. An alert.raised event carries it, and
// copies the workspace, actor, file, link, client, geo, platform and session
// of the event that raised it (the last piece of evidence), so that every
// sink can say who did what, where, without a lookup.
type Alert struct {
	// Rule is the configured rule's name; Type its kind
	// (password_brute_force, new_country, mass_download, blocked_burst,
	// inactive_link_access, impossible_travel).
	Rule     string   `json:"rule"`
	Type     string   `json:"type"`
	Severity Severity `json:"severity"`
	// Action is the action of the event that raised the alert (the
	// event's own Action is alert.raised).
	Action Action `json:"action"`
	// Subject is what the rule counted on, as kind:value: "link:lk_9",
	// "ip:203.0.113.7", "session:ls_…", "workspace:ws-acme",
	// "visitor:ana@example.com".
	Subject string `json:"subject"`
	// Count is how many matching events the window held when the alert was
	// raised; WindowSeconds the rule's window (0 for rules without one).
	Count         int   `json:"count"`
	WindowSeconds int64 `json:"window_seconds,omitempty"`
	// Since is the time of the first event counted.
	Since time.Time `json:"since"`
	// Evidence holds the ids of the events counted, oldest first, at most
	// the last 20.
	Evidence []string `json:"evidence"`
	// Summary says what happened in one sentence, for people.
	Summary string `json:"summary"`
}

// HumanDuration writes a duration as people say it in alerts: "5 min",
// "90 s", "6 h".
func HumanDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + " h"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	case d >= time.Minute:
		return strconv.FormatFloat(d.Minutes(), 'f', 0, 64) + " min"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 0, 64) + " s"
}

// Key is the Kafka message key of the event: the link id, else the workspace
// id, so that one link's events stay in order on one partition.
func (e *Event) Key() string {
	if e.Link != nil && e.Link.ID != "" {
		return e.Link.ID
	}
	return e.Workspace.ID
}
