package archive

import (
	"strings"
	"time"

	"github.com/sharelog/sharelog"
)

// Row is one event as one row of an archive file: every field of
// sharelog.Event as its own column, flattened, with snake_case names (see the
// schema table in README.md).
//
// Nullability follows one rule, so that NULL always means "absent" and never
// "empty":
//
//   - Columns of the fields every event has (id, time, workspace_*, actor_*,
//     action, result, reason, client_*) are REQUIRED. An optional string of
//     the raw event (reason, actor_email, workspace_name, client_user_agent,
//     …) is "" when it was not given, exactly as the JSON event omits it.
//   - Columns of an optional group (file, link, server, geo, platform,
//     session, pipeline) are OPTIONAL and NULL exactly when the group is
//     absent. When the group is present its columns hold its values, ""
//     and 0 included: file_size is 0 for an empty file and NULL when the
//     event concerns no file; session_seq is NULL for an event outside any
//     session.
//   - geo_latitude and geo_longitude are also NULL when the group is present
//     but the database has no location (their Go fields are nil), so a
//     location of 0,0 is never invented.
//
// Times are TIMESTAMP(isAdjustedToUTC=true, MICROS): sub-microsecond digits
// are dropped, and times read back are in UTC. Row holds them as int64
// microseconds since the Unix epoch (time.Time.UnixMicro), not as time.Time:
// parquet-go converts a time.Time through UnixNano, which silently overflows
// outside the years 1678–2262, the zero time.Time included. Go ints (session_seq,
// pipeline_schema_version, pipeline_partition) are INT64 so that no value is
// truncated; geo_accuracy_radius_km is INT32 (a uint16 in Go), which every
// reader, Spark included, reads as a signed integer.
//
// A Row made by ToRow points into the event it was made from: it stays valid
// while that event is not modified. A Row is not safe for concurrent
// modification.
type Row struct {
	ID                string `parquet:"id"`
	Time              int64  `parquet:"time,timestamp(microsecond:utc)"`
	WorkspaceID       string `parquet:"workspace_id,dict"`
	WorkspaceName     string `parquet:"workspace_name,dict"`
	ActorType         string `parquet:"actor_type,dict"`
	ActorEmail        string `parquet:"actor_email,dict"`
	ActorAPIKeyID     string `parquet:"actor_api_key_id,dict"`
	ActorVisitorEmail string `parquet:"actor_visitor_email,dict"`
	Action            string `parquet:"action,dict"`
	Result            string `parquet:"result,dict"`
	Reason            string `parquet:"reason,dict"`

	FileID   *string `parquet:"file_id,optional,dict"`
	FileName *string `parquet:"file_name,optional,dict"`
	FileSize *int64  `parquet:"file_size,optional"`
	FilePath *string `parquet:"file_path,optional,dict"`

	LinkID *string `parquet:"link_id,optional,dict"`

	ClientIP        string `parquet:"client_ip,dict"`
	ClientUserAgent string `parquet:"client_user_agent,dict"`
	ClientKind      string `parquet:"client_kind,dict"`

	ServerRegion *string `parquet:"server_region,optional,dict"`
	ServerNode   *string `parquet:"server_node,optional,dict"`

	GeoCountryCode      *string  `parquet:"geo_country_code,optional,dict"`
	GeoCountryName      *string  `parquet:"geo_country_name,optional,dict"`
	GeoSubdivision      *string  `parquet:"geo_subdivision,optional,dict"`
	GeoCity             *string  `parquet:"geo_city,optional,dict"`
	GeoLatitude         *float64 `parquet:"geo_latitude,optional"`
	GeoLongitude        *float64 `parquet:"geo_longitude,optional"`
	GeoAccuracyRadiusKM *int32   `parquet:"geo_accuracy_radius_km,optional"`
	GeoDatabase         *string  `parquet:"geo_database,optional,dict"`
	GeoDatabaseBuild    *string  `parquet:"geo_database_build,optional,dict"`

	PlatformOSName        *string `parquet:"platform_os_name,optional,dict"`
	PlatformOSVersion     *string `parquet:"platform_os_version,optional,dict"`
	PlatformClientName    *string `parquet:"platform_client_name,optional,dict"`
	PlatformClientVersion *string `parquet:"platform_client_version,optional,dict"`
	PlatformDeviceType    *string `parquet:"platform_device_type,optional,dict"`

	SessionLinkSessionID *string `parquet:"session_link_session_id,optional"`
	SessionSeq           *int    `parquet:"session_seq,optional"`
	SessionStarted       *bool   `parquet:"session_started,optional"`

	PipelineEnrichedAt    *int64  `parquet:"pipeline_enriched_at,optional,timestamp(microsecond:utc)"`
	PipelineSchemaVersion *int    `parquet:"pipeline_schema_version,optional"`
	PipelineTopic         *string `parquet:"pipeline_topic,optional,dict"`
	PipelinePartition     *int    `parquet:"pipeline_partition,optional"`
	PipelineOffset        *int64  `parquet:"pipeline_offset,optional"`

	// The alert of an alert.raised event; alert_evidence holds the
	// evidence event ids joined by commas (ids hold no comma).
	AlertRule          *string `parquet:"alert_rule,optional,dict"`
	AlertType          *string `parquet:"alert_type,optional,dict"`
	AlertSeverity      *string `parquet:"alert_severity,optional,dict"`
	AlertAction        *string `parquet:"alert_action,optional,dict"`
	AlertSubject       *string `parquet:"alert_subject,optional"`
	AlertCount         *int    `parquet:"alert_count,optional"`
	AlertWindowSeconds *int64  `parquet:"alert_window_seconds,optional"`
	AlertSince         *int64  `parquet:"alert_since,optional,timestamp(microsecond:utc)"`
	AlertEvidence      *string `parquet:"alert_evidence,optional"`
	AlertSummary       *string `parquet:"alert_summary,optional"`
}

// ToRow returns ev as a Row. The Row points into ev (see Row); ev must not be
// nil.
func ToRow(ev *sharelog.Event) Row {
	r := Row{
		ID:                ev.ID,
		Time:              ev.Time.UnixMicro(),
		WorkspaceID:       ev.Workspace.ID,
		WorkspaceName:     ev.Workspace.Name,
		ActorType:         string(ev.Actor.Type),
		ActorEmail:        ev.Actor.Email,
		ActorAPIKeyID:     ev.Actor.APIKeyID,
		ActorVisitorEmail: ev.Actor.VisitorEmail,
		Action:            string(ev.Action),
		Result:            string(ev.Result),
		Reason:            ev.Reason,
		ClientIP:          ev.Client.IP,
		ClientUserAgent:   ev.Client.UserAgent,
		ClientKind:        string(ev.Client.Kind),
	}
	if f := ev.File; f != nil {
		r.FileID, r.FileName, r.FileSize, r.FilePath = &f.ID, &f.Name, &f.Size, &f.Path
	}
	if l := ev.Link; l != nil {
		r.LinkID = &l.ID
	}
	if s := ev.Server; s != nil {
		r.ServerRegion, r.ServerNode = &s.Region, &s.Node
	}
	if g := ev.Geo; g != nil {
		r.GeoCountryCode, r.GeoCountryName = &g.CountryCode, &g.CountryName
		r.GeoSubdivision, r.GeoCity = &g.Subdivision, &g.City
		r.GeoLatitude, r.GeoLongitude = g.Latitude, g.Longitude
		radius := int32(g.AccuracyRadiusKM)
		r.GeoAccuracyRadiusKM = &radius
		r.GeoDatabase, r.GeoDatabaseBuild = &g.Database, &g.DatabaseBuild
	}
	if p := ev.Platform; p != nil {
		r.PlatformOSName, r.PlatformOSVersion = &p.OSName, &p.OSVersion
		r.PlatformClientName, r.PlatformClientVersion = &p.ClientName, &p.ClientVersion
		device := string(p.DeviceType)
		r.PlatformDeviceType = &device
	}
	if s := ev.Session; s != nil {
		r.SessionLinkSessionID, r.SessionSeq, r.SessionStarted = &s.LinkSessionID, &s.Seq, &s.Started
	}
	if p := ev.Pipeline; p != nil {
		enrichedAt := p.EnrichedAt.UnixMicro()
		r.PipelineEnrichedAt, r.PipelineSchemaVersion = &enrichedAt, &p.SchemaVersion
		r.PipelineTopic, r.PipelinePartition, r.PipelineOffset = &p.Topic, &p.Partition, &p.Offset
	}
	if a := ev.Alert; a != nil {
		severity, action, since, evidence := string(a.Severity), string(a.Action), a.Since.UnixMicro(), strings.Join(a.Evidence, ",")
		r.AlertRule, r.AlertType, r.AlertSeverity, r.AlertAction, r.AlertSubject = &a.Rule, &a.Type, &severity, &action, &a.Subject
		r.AlertCount, r.AlertWindowSeconds, r.AlertSince = &a.Count, &a.WindowSeconds, &since
		r.AlertEvidence, r.AlertSummary = &evidence, &a.Summary
	}
	return r
}

// Event returns the event the row holds, sharing no memory with the row. A
// group is present when its first column is not NULL (file_id, link_id,
// server_region, geo_country_code, platform_os_name, session_link_session_id,
// pipeline_enriched_at, alert_rule), which is how ToRow writes it; a NULL in another
// column of a present group reads as the zero value.
func (r Row) Event() *sharelog.Event {
	ev := &sharelog.Event{
		ID:        r.ID,
		Time:      utc(r.Time),
		Workspace: sharelog.Workspace{ID: r.WorkspaceID, Name: r.WorkspaceName},
		Actor: sharelog.Actor{
			Type:         sharelog.ActorType(r.ActorType),
			Email:        r.ActorEmail,
			APIKeyID:     r.ActorAPIKeyID,
			VisitorEmail: r.ActorVisitorEmail,
		},
		Action: sharelog.Action(r.Action),
		Result: sharelog.Result(r.Result),
		Reason: r.Reason,
		Client: sharelog.Client{
			IP:        r.ClientIP,
			UserAgent: r.ClientUserAgent,
			Kind:      sharelog.ClientKind(r.ClientKind),
		},
	}
	if r.FileID != nil {
		ev.File = &sharelog.File{ID: *r.FileID, Name: str(r.FileName), Size: val(r.FileSize), Path: str(r.FilePath)}
	}
	if r.LinkID != nil {
		ev.Link = &sharelog.Link{ID: *r.LinkID}
	}
	if r.ServerRegion != nil {
		ev.Server = &sharelog.Server{Region: *r.ServerRegion, Node: str(r.ServerNode)}
	}
	if r.GeoCountryCode != nil {
		ev.Geo = &sharelog.Geo{
			CountryCode:      *r.GeoCountryCode,
			CountryName:      str(r.GeoCountryName),
			Subdivision:      str(r.GeoSubdivision),
			City:             str(r.GeoCity),
			Latitude:         clone(r.GeoLatitude),
			Longitude:        clone(r.GeoLongitude),
			AccuracyRadiusKM: uint16(val(r.GeoAccuracyRadiusKM)),
			Database:         str(r.GeoDatabase),
			DatabaseBuild:    str(r.GeoDatabaseBuild),
		}
	}
	if r.PlatformOSName != nil {
		ev.Platform = &sharelog.Platform{
			OSName:        *r.PlatformOSName,
			OSVersion:     str(r.PlatformOSVersion),
			ClientName:    str(r.PlatformClientName),
			ClientVersion: str(r.PlatformClientVersion),
			DeviceType:    sharelog.DeviceType(str(r.PlatformDeviceType)),
		}
	}
	if r.SessionLinkSessionID != nil {
		ev.Session = &sharelog.Session{
			LinkSessionID: *r.SessionLinkSessionID,
			Seq:           val(r.SessionSeq),
			Started:       val(r.SessionStarted),
		}
	}
	if r.PipelineEnrichedAt != nil {
		ev.Pipeline = &sharelog.Pipeline{
			EnrichedAt:    utc(*r.PipelineEnrichedAt),
			SchemaVersion: val(r.PipelineSchemaVersion),
			Topic:         str(r.PipelineTopic),
			Partition:     val(r.PipelinePartition),
			Offset:        val(r.PipelineOffset),
		}
	}
	if r.AlertRule != nil {
		ev.Alert = &sharelog.Alert{
			Rule:          *r.AlertRule,
			Type:          str(r.AlertType),
			Severity:      sharelog.Severity(str(r.AlertSeverity)),
			Action:        sharelog.Action(str(r.AlertAction)),
			Subject:       str(r.AlertSubject),
			Count:         val(r.AlertCount),
			WindowSeconds: val(r.AlertWindowSeconds),
			Since:         utc(val(r.AlertSince)),
			Summary:       str(r.AlertSummary),
		}
		if e := str(r.AlertEvidence); e != "" {
			ev.Alert.Evidence = strings.Split(e, ",")
		}
	}
	return ev
}

// utc returns the time of a TIMESTAMP(MICROS) value, in UTC; the zero
// time.Time stays the zero time.Time.
func utc(micros int64) time.Time {
	t := time.UnixMicro(micros)
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
