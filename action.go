package sharelog

// Action is what happened.
type Action string

// The actions of schema version 1.
const (
	LinkOpened          Action = "link.opened"
	LinkViewed          Action = "link.viewed"
	LinkDownloaded      Action = "link.downloaded"
	LinkSaved           Action = "link.saved"
	LinkPasswordFailed  Action = "link.password_failed"
	LinkCreated         Action = "link.created"
	LinkSettingsChanged Action = "link.settings_changed"
	LinkRevoked         Action = "link.revoked"
	LinkExpired         Action = "link.expired"
	LinkDeactivated     Action = "link.deactivated"
	FileUploaded        Action = "file.uploaded"
	FileDownloaded      Action = "file.downloaded"
	FileDeleted         Action = "file.deleted"
	FileRestored        Action = "file.restored"
	MemberInvited       Action = "member.invited"
	MemberRemoved       Action = "member.removed"
	MemberRoleChanged   Action = "member.role_changed"
	AccessBlocked       Action = "access.blocked"
	// RetentionApplied is made by sharelog itself (actor type system), one
	// per workspace each time retention or erasure removed events of it;
	// Reason summarises what went.
	RetentionApplied Action = "retention.applied"
	// AlertRaised is made by sharelog's detection rules: the event carries
	// an Alert. Producers cannot send it.
	AlertRaised Action = "alert.raised"
)

// Actions lists every valid action, in the order of the schema.
var Actions = []Action{
	LinkOpened, LinkViewed, LinkDownloaded, LinkSaved, LinkPasswordFailed,
	LinkCreated, LinkSettingsChanged, LinkRevoked, LinkExpired, LinkDeactivated,
	FileUploaded, FileDownloaded, FileDeleted, FileRestored,
	MemberInvited, MemberRemoved, MemberRoleChanged, AccessBlocked,
	RetentionApplied, AlertRaised,
}

// Valid reports whether a is one of Actions.
func (a Action) Valid() bool {
	switch a {
	case LinkOpened, LinkViewed, LinkDownloaded, LinkSaved, LinkPasswordFailed,
		LinkCreated, LinkSettingsChanged, LinkRevoked, LinkExpired, LinkDeactivated,
		FileUploaded, FileDownloaded, FileDeleted, FileRestored,
		MemberInvited, MemberRemoved, MemberRoleChanged, AccessBlocked,
		RetentionApplied, AlertRaised:
		return true
	}
	return false
}

// NeedsLink reports whether events of this action must name a link.
func (a Action) NeedsLink() bool {
	switch a {
	case LinkOpened, LinkViewed, LinkDownloaded, LinkSaved, LinkPasswordFailed,
		LinkCreated, LinkSettingsChanged, LinkRevoked, LinkExpired, LinkDeactivated:
		return true
	}
	return false
}

// Result is the outcome of the action.
type Result string

// Results.
const (
	Success Result = "success"
	Denied  Result = "denied"
	Error   Result = "error"
)

// Valid reports whether r is success, denied or error.
func (r Result) Valid() bool { return r == Success || r == Denied || r == Error }
