package rules

import (
	"encoding/json"
	"time"

	"github.com/sharelog/sharelog"
)

// CommandDeactivate asks the link and file server to deactivate a link.
const CommandDeactivate = "link.deactivate"

// Command is a message for the link and file server on <prefix>.commands,
// keyed by the link id, as JSON:
//
//	{"type":"link.deactivate","id":"…","time":"2026-11-22T10:04:05Z",
//	 "workspace":"ws-acme","link":"lk_9","reason":"password_brute_force",
//	 "rule":"password_brute_force","alert_id":"…","count":10,
//	 "window_seconds":300,"evidence":["…"]}
//
// id is the same each time the same alert is raised again (after a
// restart), so the server can drop repeats; deactivating an inactive link is
// a no-op for it anyway.
type Command struct {
	Type          string    `json:"type"`
	ID            string    `json:"id"`
	Time          time.Time `json:"time"`
	Workspace     string    `json:"workspace"`
	Link          string    `json:"link"`
	Reason        string    `json:"reason"`
	Rule          string    `json:"rule"`
	AlertID       string    `json:"alert_id"`
	Count         int       `json:"count"`
	WindowSeconds int64     `json:"window_seconds"`
	Evidence      []string  `json:"evidence"`
}

// Key is the command's Kafka message key: the link id.
func (c Command) Key() string { return c.Link }

// Encode returns the command as JSON.
func (c Command) Encode() ([]byte, error) { return json.Marshal(c) }

func deactivate(ev *sharelog.Event, a *sharelog.Event) Command {
	return Command{
		Type: CommandDeactivate, ID: alertID("command", CommandDeactivate, a.ID), Time: ev.Time,
		Workspace: ev.Workspace.ID, Link: ev.Link.ID, Reason: a.Alert.Type, Rule: a.Alert.Rule, AlertID: a.ID,
		Count: a.Alert.Count, WindowSeconds: a.Alert.WindowSeconds, Evidence: a.Alert.Evidence,
	}
}
