package elasticsearch

import (
	"math"
	"strconv"
	"time"

	"github.com/sharelog/sharelog"
)

// ECSVersion is the version of the Elastic Common Schema the documents
// follow (ecs.version).
const ECSVersion = "8.17.0"

// The datasets: event.dataset is "sharelog." + one of them, and {dataset}
// in a name pattern is one of them.
const (
	DatasetAccess = "access" // what visitors did on share links
	DatasetAudit  = "audit"  // what members, API keys and sharelog did
	DatasetAlert  = "alert"  // what sharelog's detection rules raised
)

// class is how an action is classified in ECS.
type class struct {
	dataset  string
	category string // event.category, a JSON array
	typ      string // event.type, a JSON array
}

// classify returns the ECS classification of an action. An action this
// version does not know gets the audit dataset and no category or type.
func classify(a sharelog.Action) class {
	switch a {
	case sharelog.LinkOpened:
		return class{DatasetAccess, `["web"]`, `["access"]`}
	case sharelog.LinkViewed, sharelog.LinkDownloaded, sharelog.LinkSaved:
		return class{DatasetAccess, `["file","web"]`, `["access"]`}
	case sharelog.LinkPasswordFailed:
		return class{DatasetAccess, `["authentication","web"]`, `["start"]`}
	case sharelog.AccessBlocked:
		return class{DatasetAccess, `["web"]`, `["access"]`}
	case sharelog.LinkCreated:
		return class{DatasetAudit, `["configuration"]`, `["creation"]`}
	case sharelog.LinkSettingsChanged, sharelog.LinkExpired, sharelog.LinkDeactivated:
		return class{DatasetAudit, `["configuration"]`, `["change"]`}
	case sharelog.LinkRevoked:
		return class{DatasetAudit, `["configuration"]`, `["deletion"]`}
	case sharelog.FileUploaded:
		return class{DatasetAudit, `["file"]`, `["creation"]`}
	case sharelog.FileDownloaded:
		return class{DatasetAudit, `["file"]`, `["access"]`}
	case sharelog.FileDeleted, sharelog.RetentionApplied:
		return class{DatasetAudit, `["file"]`, `["deletion"]`}
	case sharelog.FileRestored:
		return class{DatasetAudit, `["file"]`, `["change"]`}
	case sharelog.MemberInvited:
		return class{DatasetAudit, `["iam"]`, `["user","creation"]`}
	case sharelog.MemberRemoved:
		return class{DatasetAudit, `["iam"]`, `["user","deletion"]`}
	case sharelog.MemberRoleChanged:
		return class{DatasetAudit, `["iam"]`, `["user","change"]`}
	case sharelog.AlertRaised:
		return class{DatasetAlert, `["intrusion_detection"]`, `["info"]`}
	}
	return class{dataset: DatasetAudit}
}

// outcome is event.outcome for a result.
func outcome(r sharelog.Result) string {
	switch r {
	case sharelog.Success:
		return "success"
	case sharelog.Denied, sharelog.Error:
		return "failure"
	}
	return "unknown"
}

// appendDocument appends the ECS document of ev (one line, no newline).
// dataStream, when not empty, is the `"data_stream":{…}` member to add. It
// writes valid JSON for any event: strings are escaped (bytes that are not
// UTF-8 become U+FFFD), a location that is not a coordinate is left out.
func appendDocument(b []byte, ev *sharelog.Event, cl class, dataStream string) []byte {
	b = append(b, `{"@timestamp":"`...)
	b = ev.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","ecs":{"version":"`+ECSVersion+`"},"event":{"id":`...)
	b = appendString(b, ev.ID)
	if ev.Alert != nil {
		// event.severity as Elastic's detection rules number it.
		sev := map[sharelog.Severity]string{sharelog.SeverityLow: "21", sharelog.SeverityMedium: "47", sharelog.SeverityHigh: "73", sharelog.SeverityCritical: "99"}[ev.Alert.Severity]
		b = append(b, `,"kind":"alert"`...)
		if sev != "" {
			b = append(b, `,"severity":`...)
			b = append(b, sev...)
		}
	} else {
		b = append(b, `,"kind":"event"`...)
	}
	if cl.category != "" {
		b = append(b, `,"category":`...)
		b = append(b, cl.category...)
		b = append(b, `,"type":`...)
		b = append(b, cl.typ...)
	}
	b = append(b, `,"action":`...)
	b = appendString(b, string(ev.Action))
	b = append(b, `,"outcome":"`...)
	b = append(b, outcome(ev.Result)...)
	b = append(b, '"')
	b = appendOpt(b, "reason", ev.Reason)
	b = append(b, `,"dataset":"sharelog.`...)
	b = append(b, cl.dataset...)
	b = append(b, `","module":"sharelog"`...)
	if p := ev.Pipeline; p != nil && !p.EnrichedAt.IsZero() {
		b = append(b, `,"created":"`...)
		b = p.EnrichedAt.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = append(b, '}')
	if dataStream != "" {
		b = append(b, ',')
		b = append(b, dataStream...)
	}

	b = append(b, `,"organization":{"id":`...)
	b = appendString(b, ev.Workspace.ID)
	b = appendOpt(b, "name", ev.Workspace.Name)

	a := &ev.Actor
	email := a.Email
	if email == "" {
		email = a.VisitorEmail
	}
	b = append(b, `},"user":{"name":`...)
	b = appendString(b, a.Name())
	b = appendOpt(b, "email", email)
	b = appendOpt(b, "id", a.APIKeyID)

	b = append(b, '}')

	ip := ev.Client.IP
	users := a.Email != "" || a.APIKeyID != "" || a.VisitorEmail != ""
	if users || ip != "" {
		b = append(b, `,"related":{`...)
		if users {
			b = append(b, `"user":[`...)
			first := true
			for i, u := range [3]string{a.Email, a.APIKeyID, a.VisitorEmail} {
				if u == "" || (i == 2 && u == a.Email) {
					continue
				}
				if !first {
					b = append(b, ',')
				}
				b = appendString(b, u)
				first = false
			}
			b = append(b, ']')
		}
		if ip != "" {
			b = appendKey(b, "ip")
			b = append(b, '[')
			b = appendString(b, ip)
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	mark := len(b)
	b = append(b, `,"source":{`...)
	b = appendOpt(b, "ip", ip)
	if g := ev.Geo; g != nil {
		b = appendGeo(b, g)
	}
	if b[len(b)-1] == '{' {
		b = b[:mark] // neither address nor location
	} else {
		b = append(b, '}')
	}

	p := ev.Platform
	if p == nil {
		p = &sharelog.Platform{}
	}
	if ev.Client.UserAgent != "" || *p != (sharelog.Platform{}) {
		b = append(b, `,"user_agent":{`...)
		b = appendOpt(b, "original", ev.Client.UserAgent)
		b = appendOpt(b, "name", p.ClientName)
		b = appendOpt(b, "version", p.ClientVersion)
		if p.OSName != "" || p.OSVersion != "" {
			b = appendKey(b, "os")
			b = append(b, '{')
			b = appendOpt(b, "name", p.OSName)
			b = appendOpt(b, "version", p.OSVersion)
			b = append(b, '}')
		}
		if p.DeviceType != "" {
			b = appendKey(b, "device")
			b = append(b, `{"name":`...)
			b = appendString(b, string(p.DeviceType))
			b = append(b, '}')
		}
		b = append(b, '}')
	}

	if f := ev.File; f != nil && (f.Name != "" || f.Size != 0 || f.Path != "") {
		b = append(b, `,"file":{`...)
		b = appendOpt(b, "name", f.Name)
		if f.Size != 0 {
			b = appendKey(b, "size")
			b = strconv.AppendInt(b, f.Size, 10)
		}
		b = appendOpt(b, "path", f.Path)
		b = append(b, '}')
	}
	if s := ev.Server; s != nil {
		if s.Region != "" {
			b = append(b, `,"cloud":{"region":`...)
			b = appendString(b, s.Region)
			b = append(b, '}')
		}
		if s.Node != "" {
			b = append(b, `,"host":{"name":`...)
			b = appendString(b, s.Node)
			b = append(b, '}')
		}
	}

	b = append(b, `,"sharelog":{"actor":{"type":`...)
	b = appendString(b, string(a.Type))
	b = appendOpt(b, "visitor_email", a.VisitorEmail)
	b = append(b, `},"result":`...)
	b = appendString(b, string(ev.Result))
	b = append(b, `,"client":{"kind":`...)
	b = appendString(b, string(ev.Client.Kind))
	b = append(b, '}')
	if f := ev.File; f != nil {
		b = append(b, `,"file":{"id":`...)
		b = appendString(b, f.ID)
		b = append(b, '}')
	}
	if l := ev.Link; l != nil {
		b = append(b, `,"link":{"id":`...)
		b = appendString(b, l.ID)
		b = append(b, '}')
	}
	if s := ev.Session; s != nil {
		b = append(b, `,"session":{"id":`...)
		b = appendString(b, s.LinkSessionID)
		b = append(b, `,"seq":`...)
		b = strconv.AppendInt(b, int64(s.Seq), 10)
		b = append(b, `,"started":`...)
		b = strconv.AppendBool(b, s.Started)
		b = append(b, '}')
	}
	if g := ev.Geo; g != nil && (g.AccuracyRadiusKM != 0 || g.Database != "" || g.DatabaseBuild != "") {
		b = append(b, `,"geo":{`...)
		if g.AccuracyRadiusKM != 0 {
			b = append(b, `"accuracy_radius_km":`...)
			b = strconv.AppendUint(b, uint64(g.AccuracyRadiusKM), 10)
		}
		b = appendOpt(b, "database", g.Database)
		b = appendOpt(b, "database_build", g.DatabaseBuild)
		b = append(b, '}')
	}
	if p := ev.Pipeline; p != nil {
		b = append(b, `,"pipeline":{"schema_version":`...)
		b = strconv.AppendInt(b, int64(p.SchemaVersion), 10)
		b = append(b, `,"topic":`...)
		b = appendString(b, p.Topic)
		b = append(b, `,"partition":`...)
		b = strconv.AppendInt(b, int64(p.Partition), 10)
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, p.Offset, 10)
		b = append(b, '}')
	}
	if a := ev.Alert; a != nil {
		b = append(b, `,"alert":{"rule":`...)
		b = appendString(b, a.Rule)
		b = append(b, `,"type":`...)
		b = appendString(b, a.Type)
		b = append(b, `,"severity":`...)
		b = appendString(b, string(a.Severity))
		b = appendOpt(b, "action", string(a.Action))
		b = append(b, `,"subject":`...)
		b = appendString(b, a.Subject)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(a.Count), 10)
		b = append(b, `,"window_seconds":`...)
		b = strconv.AppendInt(b, a.WindowSeconds, 10)
		b = append(b, `,"evidence":[`...)
		for i, id := range a.Evidence {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, id)
		}
		b = append(b, `],"summary":`...)
		b = appendString(b, a.Summary)
		b = append(b, '}')
	}
	return append(b, "}}"...)
}

// appendGeo appends the member "geo" of source, when g has anything for it.
func appendGeo(b []byte, g *sharelog.Geo) []byte {
	loc := g.Latitude != nil && g.Longitude != nil && validCoord(*g.Latitude, 90) && validCoord(*g.Longitude, 180)
	if g.CountryCode == "" && g.CountryName == "" && g.Subdivision == "" && g.City == "" && !loc {
		return b
	}
	b = appendKey(b, "geo")
	b = append(b, '{')
	b = appendOpt(b, "country_iso_code", g.CountryCode)
	b = appendOpt(b, "country_name", g.CountryName)
	b = appendOpt(b, "region_name", g.Subdivision)
	b = appendOpt(b, "city_name", g.City)
	if loc {
		b = appendKey(b, "location")
		b = append(b, `{"lat":`...)
		b = strconv.AppendFloat(b, *g.Latitude, 'f', -1, 64)
		b = append(b, `,"lon":`...)
		b = strconv.AppendFloat(b, *g.Longitude, 'f', -1, 64)
		b = append(b, '}')
	}
	return append(b, '}')
}

// validCoord reports whether v is a number in [-limit, limit].
func validCoord(v, limit float64) bool { return !math.IsNaN(v) && v >= -limit && v <= limit }

// appendKey appends `"key":`, after a comma unless it opens the object.
func appendKey(b []byte, key string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// appendOpt appends the member key: s unless s is empty.
func appendOpt(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(appendKey(b, key), s)
}

// appendString appends s as a JSON string (the pipeline's own escaping).
func appendString(b []byte, s string) []byte { return sharelog.AppendJSONString(b, s) }
