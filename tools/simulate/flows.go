package simulate

import (
	"slices"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

// flowKind is what a multi-event activity is.
type flowKind uint8

const (
	flowVisit      flowKind = iota // a visitor's session on a share link
	flowGuess                      // a burst of wrong passwords from one address
	flowWork                       // a member's work: uploads, downloads, links
	flowJob                        // an API-key integration's job
	flowDeactivate                 // links deactivated after a member's removal
)

// flow is an activity in flight. All of its events share the actor, the
// client (address and user agent) and the server node.
type flow struct {
	kind   flowKind
	due    int64 // Unix ns when the next event is due
	seq    uint64
	ws     *workspace
	link   int
	linkID string // the link's id, to notice when its slot is reused
	actor  sharelog.Actor
	client sharelog.Client
	node   string

	// Visits.
	pwFails        int
	giveUp         bool // stop after the wrong passwords
	opened         bool
	retried        bool
	views          int
	finish         sharelog.Action // LinkDownloaded, LinkSaved or ""
	downloadsAgain bool

	// Guesses, work and jobs.
	remaining int
	count     int
	member    int

	// Links to deactivate, with their ids.
	links   [8]int32
	linkIDs [8]string
	nLinks  int
}

// flowHeap is a min-heap of flows by due time, then by start order.
type flowHeap []*flow

func (h flowHeap) less(i, j int) bool {
	if h[i].due != h[j].due {
		return h[i].due < h[j].due
	}
	return h[i].seq < h[j].seq
}

func (g *Generator) push(f *flow) {
	h := append(g.flows, f)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	g.flows = h
}

func (h *flowHeap) pop() *flow {
	old := *h
	n := len(old) - 1
	top := old[0]
	old[0] = old[n]
	old[n] = nil
	s := old[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// newFlow returns a zeroed flow of kind k for ws, from the free list when it
// can.
func (g *Generator) newFlow(k flowKind, ws *workspace, node string) *flow {
	var f *flow
	if n := len(g.free); n > 0 {
		f = g.free[n-1]
		g.free = g.free[:n-1]
		*f = flow{}
	} else {
		f = new(flow)
	}
	g.seq++
	f.kind, f.seq, f.ws, f.node = k, g.seq, ws, node
	return f
}

func (g *Generator) release(f *flow) {
	f.ws = nil
	if len(g.free) < maxFlows {
		g.free = append(g.free, f)
	}
}

// begin makes the flow's first event and keeps the flow in flight when it
// has more to do.
func (g *Generator) begin(f *flow, t time.Time) *sharelog.Event {
	ev, delay := g.step(f, t)
	if delay >= 0 {
		f.due = t.UnixNano() + int64(delay)
		g.push(f)
	} else {
		g.release(f)
	}
	return ev
}

// step makes the flow's next event and returns the pause before the one
// after, or a negative pause when the flow is done. The event may be nil when
// the flow found nothing left to do.
func (g *Generator) step(f *flow, t time.Time) (*sharelog.Event, time.Duration) {
	var b *eventBlock
	var delay time.Duration
	switch f.kind {
	case flowVisit:
		b, delay = g.stepVisit(f, t)
	case flowGuess:
		b, delay = g.stepGuess(f, t)
	case flowWork:
		b, delay = g.stepWork(f, t)
	case flowJob:
		b, delay = g.stepJob(f, t)
	case flowDeactivate:
		b, delay = g.stepDeactivate(f, t)
	}
	if b == nil {
		return nil, delay
	}
	return &b.ev, delay
}

// start begins a new activity in a drawn workspace and returns its first
// event, or nil when the drawn activity had nothing to act on.
func (g *Generator) start(t time.Time) *sharelog.Event {
	ws := g.pickWorkspace()
	var b *eventBlock
	switch x := g.r.IntN(1000); {
	case x < 800:
		return g.startVisit(t, ws)
	case x < 915:
		return g.startWork(t, ws)
	case x < 935:
		return g.startJob(t, ws)
	case x < 950:
		return g.startGuess(t, ws)
	case x < 962:
		b = g.linkExpiry(t, ws)
	case x < 968:
		b = g.memberInvite(t, ws)
	case x < 970:
		return g.memberRemove(t, ws)
	case x < 974:
		b = g.memberRole(t, ws)
	case x < 980:
		b = g.memberBlocked(t, ws)
	default:
		return g.startVisit(t, ws)
	}
	if b == nil {
		return nil
	}
	return &b.ev
}

// --- Visits -------------------------------------------------------------

// visitorAddr draws a visitor's country and address: often the workspace's
// own country, else by visitorCountries; scripts run on servers half the
// time.
func (g *Generator) visitorAddr(ws *workspace, u *userAgent) (string, string) {
	r := g.r
	var p *prefix
	if u.Kind != sharelog.ClientBrowser && g.chance(50) {
		p = geo.hosting[r.IntN(len(geo.hosting))]
	} else {
		c := ws.home
		if !g.chance(45) {
			c = geo.countries[visitorCountryChoice.pick(r)]
		}
		p = c.residentialPrefix(r)
	}
	return randomAddr(r, p.Prefix).String(), p.Country
}

// startVisit begins a visitor's session on a link of ws: wrong passwords
// perhaps, then link.opened, views, and a download or a save, all from one
// address and user agent. Accesses that the link's state or the workspace's
// policy refuse are denied or blocked.
func (g *Generator) startVisit(t time.Time, ws *workspace) *sharelog.Event {
	r := g.r
	li := r.IntN(len(ws.links))
	if ws.links[li].State != linkActive && g.chance(75) {
		li = r.IntN(len(ws.links)) // dead links draw fewer visitors
	}
	l := &ws.links[li]
	u := uaChooser.pickPtr(r)
	for (l.Password || l.RequireEmail) && u.Kind != sharelog.ClientBrowser {
		u = uaChooser.pickPtr(r) // a form needs a browser
	}
	ip, cc := g.visitorAddr(ws, u)
	f := g.newFlow(flowVisit, ws, g.node(ws))
	f.link, f.linkID = li, l.ID
	f.client = sharelog.Client{IP: ip, UserAgent: u.UA, Kind: u.Kind}
	if u.Kind == sharelog.ClientBrowser {
		switch x := r.IntN(100); {
		case x < 55:
			f.finish = sharelog.LinkDownloaded
		case x < 70:
			f.finish = sharelog.LinkSaved
		}
		f.views = 1
		for f.views < 6 && g.chance(35) {
			f.views++
		}
		if l.Password {
			switch x := r.IntN(100); {
			case x < 20:
				f.pwFails = 1 + r.IntN(2)
			case x < 24:
				f.pwFails, f.giveUp = 3+r.IntN(3), true
			}
		}
	} else {
		f.finish = sharelog.LinkDownloaded
	}
	f.downloadsAgain = f.finish == sharelog.LinkDownloaded && g.chance(8)

	f.actor = sharelog.Actor{Type: sharelog.ActorAnonymous}
	var email string
	if l.RequireEmail || f.finish == sharelog.LinkSaved {
		domain := ""
		if l.Domain != "" && g.chance(85) {
			domain = l.Domain
		}
		email = visitorEmail(r, domain)
	}
	if f.finish == sharelog.LinkSaved {
		// Saving to one's own account needs signing in.
		f.actor = sharelog.Actor{Type: sharelog.ActorUser, Email: email}
	} else if l.RequireEmail {
		f.actor.VisitorEmail = email
	}

	// Policy checks come first and end the visit.
	var reason string
	switch {
	case slices.Contains(ws.blocked, cc):
		reason = "ip_blocked"
	case l.Domain != "" && email != "" && !hasDomain(email, l.Domain):
		reason = "domain_restricted"
	}
	if reason != "" {
		b := g.visitEvent(t, f, sharelog.AccessBlocked).deny(reason)
		g.release(f)
		return &b.ev
	}
	return g.begin(f, t)
}

func hasDomain(email, domain string) bool {
	return len(email) > len(domain) && email[len(email)-len(domain)-1] == '@' && email[len(email)-len(domain):] == domain
}

// visitEvent returns an event of the visit flow on its link.
func (g *Generator) visitEvent(t time.Time, f *flow, a sharelog.Action) *eventBlock {
	b := g.newEvent(t, f.ws, a, f.node)
	b.ev.Actor = f.actor
	b.ev.Client = f.client
	b.setLink(f.ws, &f.ws.links[f.link])
	return b
}

func (f *flow) visitMore() bool {
	return f.pwFails > 0 || !f.opened || f.views > 0 || f.finish != ""
}

func (g *Generator) stepVisit(f *flow, t time.Time) (*eventBlock, time.Duration) {
	l := &f.ws.links[f.link]
	if l.ID != f.linkID {
		return nil, -1 // the link left the simulation
	}
	if reason := l.denyReason(); reason != "" {
		a := sharelog.LinkOpened
		if f.opened {
			a = sharelog.LinkViewed
			if f.views == 0 && f.finish != "" {
				a = f.finish
			}
		}
		b := g.visitEvent(t, f, a).deny(reason)
		if !f.opened && !f.retried && g.chance(30) {
			f.retried = true // try again, in case it was a glitch
			return b, g.between(5*time.Second, 2*time.Minute)
		}
		return b, -1
	}
	switch {
	case f.pwFails > 0:
		f.pwFails--
		b := g.visitEvent(t, f, sharelog.LinkPasswordFailed).deny("wrong_password")
		if f.pwFails == 0 && f.giveUp {
			return b, -1
		}
		return b, g.between(4*time.Second, 25*time.Second)
	case !f.opened:
		f.opened = true
		b := g.visitEvent(t, f, sharelog.LinkOpened)
		if f.client.Kind != sharelog.ClientBrowser {
			return b, g.between(100*time.Millisecond, time.Second)
		}
		return b, g.visitDelay(f)
	case f.views > 0:
		f.views--
		return g.visitEvent(t, f, sharelog.LinkViewed), g.visitDelay(f)
	}
	a := f.finish
	switch a {
	case sharelog.LinkDownloaded:
		if l.Limit > 0 && l.Downloads >= l.Limit {
			l.State = linkLimitReached
			return g.visitEvent(t, f, a).deny("download_limit"), -1
		}
		b := g.visitEvent(t, f, a)
		if g.r.IntN(1000) < 3 {
			return b.fail("storage_unavailable"), -1
		}
		l.Downloads++
		if f.downloadsAgain {
			f.downloadsAgain = false // once more, later
			return b, g.between(30*time.Second, 10*time.Minute)
		}
		f.finish = ""
		return b, -1
	case sharelog.LinkSaved:
		f.finish = ""
		return g.visitEvent(t, f, a), -1
	}
	return nil, -1
}

// visitDelay is the pause before a visit's next event, or -1 when the visit
// is over.
func (g *Generator) visitDelay(f *flow) time.Duration {
	if !f.visitMore() {
		return -1
	}
	return g.between(2*time.Second, 90*time.Second)
}

// --- Password guessing --------------------------------------------------

// startGuess begins a burst of wrong passwords on a password link from one
// address: a few from a person who forgot it, or ten to fifty from a script
// on a server or a foreign line, which the server then blocks.
func (g *Generator) startGuess(t time.Time, ws *workspace) *sharelog.Event {
	r := g.r
	li := -1
	for range 16 {
		i := r.IntN(len(ws.links))
		if ws.links[i].Password && ws.links[i].State == linkActive {
			li = i
			break
		}
	}
	if li < 0 {
		return nil
	}
	f := g.newFlow(flowGuess, ws, g.node(ws))
	f.link, f.linkID = li, ws.links[li].ID
	f.actor = sharelog.Actor{Type: sharelog.ActorAnonymous}
	if g.chance(55) {
		// A person.
		u := uaChooser.pickPtr(r)
		for u.Kind != sharelog.ClientBrowser {
			u = uaChooser.pickPtr(r)
		}
		ip, _ := g.visitorAddr(ws, u)
		f.client = sharelog.Client{IP: ip, UserAgent: u.UA, Kind: u.Kind}
		f.remaining = 3 + r.IntN(7)
	} else {
		// A script.
		var p *prefix
		if g.chance(60) {
			p = geo.hosting[r.IntN(len(geo.hosting))]
		} else {
			p = geo.countries[attackCountryChoice.pick(r)].residentialPrefix(r)
		}
		ua := bruteForceChooser.pick(r)
		f.client = sharelog.Client{IP: randomAddr(r, p.Prefix).String(), UserAgent: ua, Kind: clientKind(ua)}
		f.remaining = 10 + r.IntN(41)
	}
	if ws.links[li].RequireEmail {
		f.actor.VisitorEmail = visitorEmail(r, ws.links[li].Domain)
	}
	return g.begin(f, t)
}

func (g *Generator) stepGuess(f *flow, t time.Time) (*eventBlock, time.Duration) {
	if f.ws.links[f.link].ID != f.linkID {
		return nil, -1 // the link left the simulation
	}
	if f.remaining == 0 {
		// The server's rate limit blocks the address.
		return g.visitEvent(t, f, sharelog.AccessBlocked).deny("ip_blocked"), -1
	}
	f.remaining--
	f.count++
	b := g.visitEvent(t, f, sharelog.LinkPasswordFailed).deny("wrong_password")
	switch {
	case f.remaining > 0 && f.count >= 10:
		return b, g.between(300*time.Millisecond, 3*time.Second)
	case f.remaining > 0:
		return b, g.between(3*time.Second, 30*time.Second)
	case f.count >= 10:
		return b, g.between(100*time.Millisecond, time.Second)
	}
	return b, -1
}

// --- Members' work ------------------------------------------------------

// memberClient is where member m of ws works from this time: the office, at
// home, on the phone, or with a command-line sync tool.
func (g *Generator) memberClient(ws *workspace, m *member) sharelog.Client {
	r := g.r
	switch x := r.IntN(100); {
	case x < 60:
		return sharelog.Client{IP: ws.officeIPs[r.IntN(len(ws.officeIPs))], UserAgent: m.Desktop.UA, Kind: m.Desktop.Kind}
	case x < 84:
		return sharelog.Client{IP: m.HomeIP, UserAgent: m.Desktop.UA, Kind: m.Desktop.Kind}
	case x < 96:
		return sharelog.Client{IP: m.MobileIP, UserAgent: m.Mobile.UA, Kind: m.Mobile.Kind}
	}
	ua := "rclone/v1.71.2"
	if g.chance(40) {
		ua = awsCLI
	}
	return sharelog.Client{IP: m.HomeIP, UserAgent: ua, Kind: clientKind(ua)}
}

// activeMember returns the index of a drawn active member, or -1.
func (g *Generator) activeMember(ws *workspace, admin bool) int {
	for range 8 {
		i := g.r.IntN(len(ws.members))
		if m := &ws.members[i]; m.Active && (!admin || m.Admin) {
			return i
		}
	}
	if admin {
		return 0 // the owner, never removed
	}
	return -1
}

// startWork begins a member's work session: one to eight audit actions from
// one place.
func (g *Generator) startWork(t time.Time, ws *workspace) *sharelog.Event {
	mi := g.activeMember(ws, false)
	if mi < 0 {
		return nil
	}
	m := &ws.members[mi]
	f := g.newFlow(flowWork, ws, g.node(ws))
	f.member = mi
	f.actor = sharelog.Actor{Type: sharelog.ActorUser, Email: m.Email}
	f.client = g.memberClient(ws, m)
	f.remaining = 1 + g.r.IntN(8)
	return g.begin(f, t)
}

func (g *Generator) stepWork(f *flow, t time.Time) (*eventBlock, time.Duration) {
	if f.nLinks > 0 {
		return g.deactivateNext(f, t), g.workDelay(f)
	}
	if !f.ws.members[f.member].Active {
		return nil, -1 // removed meanwhile
	}
	f.remaining--
	var b *eventBlock
	switch x := g.r.IntN(100); {
	case x < 34:
		b = g.upload(t, f)
	case x < 44:
		b = g.createLink(t, f, f.member)
	case x < 50:
		b = g.deleteFile(t, f)
	case x < 53:
		b = g.restoreFile(t, f)
	case x < 59:
		b = g.changeLink(t, f)
	case x < 63:
		b = g.revokeLink(t, f)
	}
	if b == nil {
		b = g.download(t, f)
	}
	return b, g.workDelay(f)
}

// workDelay is the pause before a work flow's next event: short before a
// link deactivation that follows from the last action, longer before the
// member's next action; -1 when the flow is done.
func (g *Generator) workDelay(f *flow) time.Duration {
	switch {
	case f.nLinks > 0:
		return g.between(50*time.Millisecond, 2*time.Second)
	case f.remaining > 0:
		return g.between(10*time.Second, 4*time.Minute)
	}
	return -1
}

// flowEvent returns an event of flow f's actor and client.
func (g *Generator) flowEvent(t time.Time, f *flow, a sharelog.Action) *eventBlock {
	b := g.newEvent(t, f.ws, a, f.node)
	b.ev.Actor = f.actor
	b.ev.Client = f.client
	return b
}

// upload adds a new file in the place of one that no link points at.
func (g *Generator) upload(t time.Time, f *flow) *eventBlock {
	ws := f.ws
	nf := g.newFile(ws, t)
	b := g.flowEvent(t, f, sharelog.FileUploaded)
	b.setFile(&nf)
	switch x := g.r.IntN(1000); {
	case x < 4:
		return b.deny("malware_detected")
	case x < 8:
		return b.deny("quota_exceeded")
	case x < 11:
		return b.fail("storage_unavailable")
	}
	for range 4 {
		j := g.r.IntN(len(ws.files))
		if old := &ws.files[j]; old.Refs == 0 && !(old.Deleted && slices.Contains(ws.trash, j)) {
			*old = nf
			break
		}
	}
	return b
}

// download downloads a file of the workspace.
func (g *Generator) download(t time.Time, f *flow) *eventBlock {
	b := g.flowEvent(t, f, sharelog.FileDownloaded)
	b.setFile(&f.ws.files[g.liveFile(f.ws)])
	if g.r.IntN(1000) < 2 {
		b.fail("storage_unavailable")
	}
	return b
}

// createLink shares a file with a new link owned by owner, in the place of
// an inactive link when there is one at hand.
func (g *Generator) createLink(t time.Time, f *flow, owner int) *eventBlock {
	ws := f.ws
	slot := g.r.IntN(len(ws.links))
	for try := 0; try < 4 && ws.links[slot].State == linkActive; try++ {
		slot = g.r.IntN(len(ws.links))
	}
	ws.setLink(slot, g.newLink(ws, owner, g.liveFile(ws)))
	b := g.flowEvent(t, f, sharelog.LinkCreated)
	b.setLink(ws, &ws.links[slot])
	return b
}

// deleteFile moves a file to the trash; the flow then deactivates the links
// to it.
func (g *Generator) deleteFile(t time.Time, f *flow) *eventBlock {
	ws := f.ws
	fi := g.liveFile(ws)
	fl := &ws.files[fi]
	if fl.Deleted {
		return nil
	}
	fl.Deleted = true
	if len(ws.trash) == maxTrash {
		copy(ws.trash, ws.trash[1:])
		ws.trash = ws.trash[:maxTrash-1]
	}
	ws.trash = append(ws.trash, fi)
	b := g.flowEvent(t, f, sharelog.FileDeleted)
	b.setFile(fl)
	if fl.Refs > 0 {
		g.collectLinks(f, func(l *link) bool { return l.File == fi })
	}
	return b
}

// restoreFile brings back the most recently deleted file.
func (g *Generator) restoreFile(t time.Time, f *flow) *eventBlock {
	ws := f.ws
	n := len(ws.trash)
	if n == 0 {
		return nil
	}
	fi := ws.trash[n-1]
	ws.trash = ws.trash[:n-1]
	ws.files[fi].Deleted = false
	b := g.flowEvent(t, f, sharelog.FileRestored)
	b.setFile(&ws.files[fi])
	return b
}

// memberLink returns a link of the flow's member (any link for an admin)
// accepted by ok, or -1.
func (g *Generator) memberLink(f *flow, ok func(*link) bool) int {
	ws := f.ws
	admin := ws.members[f.member].Admin
	for range 12 {
		i := g.r.IntN(len(ws.links))
		if l := &ws.links[i]; (admin || l.Owner == f.member) && ok(l) {
			return i
		}
	}
	return -1
}

// changeLink changes a link's settings: protections, expiry, download limit.
// A new expiry or limit brings an expired or exhausted link back.
func (g *Generator) changeLink(t time.Time, f *flow) *eventBlock {
	li := g.memberLink(f, func(l *link) bool { return l.State != linkRevoked && l.State != linkDeactivated })
	if li < 0 {
		return nil
	}
	l := &f.ws.links[li]
	switch {
	case l.State == linkExpired:
		l.State = linkActive
	case l.State == linkLimitReached:
		l.State, l.Limit = linkActive, l.Limit+10
	default:
		switch g.r.IntN(4) {
		case 0:
			l.Password = !l.Password
		case 1:
			l.RequireEmail = !l.RequireEmail
			if !l.RequireEmail {
				l.Domain = ""
			}
		case 2:
			l.Expires = !l.Expires
		default:
			if l.Limit == 0 {
				l.Limit = l.Downloads + 5 + g.r.IntN(20)
			} else {
				l.Limit = 0
			}
		}
	}
	b := g.flowEvent(t, f, sharelog.LinkSettingsChanged)
	b.setLink(f.ws, l)
	return b
}

// revokeLink revokes an active link.
func (g *Generator) revokeLink(t time.Time, f *flow) *eventBlock {
	li := g.memberLink(f, func(l *link) bool { return l.State == linkActive })
	if li < 0 {
		return nil
	}
	l := &f.ws.links[li]
	l.State = linkRevoked
	b := g.flowEvent(t, f, sharelog.LinkRevoked)
	b.setLink(f.ws, l)
	return b
}

// collectLinks queues the workspace's active links accepted by ok on flow f
// for deactivation: up to eight of them get an event each, from f's actor
// and client; any more are deactivated at once.
func (g *Generator) collectLinks(f *flow, ok func(*link) bool) {
	ws := f.ws
	for i := range ws.links {
		l := &ws.links[i]
		if l.State != linkActive || !ok(l) {
			continue
		}
		if f.nLinks < len(f.links) {
			f.links[f.nLinks], f.linkIDs[f.nLinks] = int32(i), l.ID
			f.nLinks++
		} else {
			l.State = linkDeactivated
		}
	}
}

// deactivateNext deactivates the flow's last queued link and returns its
// event, or nil when the link is no longer active.
func (g *Generator) deactivateNext(f *flow, t time.Time) *eventBlock {
	f.nLinks--
	l := &f.ws.links[f.links[f.nLinks]]
	if l.ID != f.linkIDs[f.nLinks] || l.State != linkActive {
		return nil
	}
	l.State = linkDeactivated
	b := g.flowEvent(t, f, sharelog.LinkDeactivated)
	b.setLink(f.ws, l)
	return b
}

func (g *Generator) stepDeactivate(f *flow, t time.Time) (*eventBlock, time.Duration) {
	b := g.deactivateNext(f, t)
	if f.nLinks == 0 {
		return b, -1
	}
	return b, g.between(50*time.Millisecond, time.Second)
}

// --- Integrations -------------------------------------------------------

// startJob begins an API-key integration's job: a backup or sync that
// uploads and downloads files in quick succession, and sometimes shares one.
func (g *Generator) startJob(t time.Time, ws *workspace) *sharelog.Event {
	k := &ws.keys[g.r.IntN(len(ws.keys))]
	f := g.newFlow(flowJob, ws, g.node(ws))
	f.actor = sharelog.Actor{Type: sharelog.ActorAPIKey, APIKeyID: k.ID}
	f.client = sharelog.Client{IP: k.IP, UserAgent: k.UA, Kind: sharelog.ClientAPI}
	f.remaining = 2 + g.r.IntN(24)
	return g.begin(f, t)
}

func (g *Generator) stepJob(f *flow, t time.Time) (*eventBlock, time.Duration) {
	f.remaining--
	var b *eventBlock
	switch x := g.r.IntN(100); {
	case x < 60:
		b = g.upload(t, f)
	case x < 92:
		b = g.download(t, f)
	default:
		b = g.createLink(t, f, 0) // links an integration makes belong to the owner
	}
	if f.remaining <= 0 {
		return b, -1
	}
	return b, g.between(200*time.Millisecond, 5*time.Second)
}

// --- Single events ------------------------------------------------------

// linkExpiry expires a link whose expiry date has come. The server itself
// acts: the actor is anonymous and the client is the node's own address.
func (g *Generator) linkExpiry(t time.Time, ws *workspace) *eventBlock {
	for range 8 {
		i := g.r.IntN(len(ws.links))
		l := &ws.links[i]
		if l.State != linkActive || !l.Expires {
			continue
		}
		l.State = linkExpired
		n := g.r.IntN(len(ws.region.nodes))
		b := g.newEvent(t, ws, sharelog.LinkExpired, ws.region.nodes[n])
		b.ev.Actor = sharelog.Actor{Type: sharelog.ActorAnonymous}
		b.ev.Client = sharelog.Client{IP: ws.region.internal[n], Kind: sharelog.ClientAPI}
		b.setLink(ws, l)
		return b
	}
	return nil
}

// adminEvent returns an event by a drawn admin of ws, at the office.
func (g *Generator) adminEvent(t time.Time, ws *workspace, a sharelog.Action) (*eventBlock, int) {
	ai := g.activeMember(ws, true)
	m := &ws.members[ai]
	b := g.newEvent(t, ws, a, g.node(ws))
	b.ev.Actor = sharelog.Actor{Type: sharelog.ActorUser, Email: m.Email}
	b.ev.Client = sharelog.Client{IP: ws.officeIPs[0], UserAgent: m.Desktop.UA, Kind: m.Desktop.Kind}
	return b, ai
}

// memberInvite invites someone; the invitee takes the place of a removed
// member when there is one.
func (g *Generator) memberInvite(t time.Time, ws *workspace) *eventBlock {
	b, _ := g.adminEvent(t, ws, sharelog.MemberInvited)
	for range 8 {
		i := g.r.IntN(len(ws.members))
		if !ws.members[i].Active {
			ws.members[i] = g.newMember(ws)
			break
		}
	}
	return b
}

// memberRemove removes a member who is not an admin; a follow-up flow
// deactivates their active links.
func (g *Generator) memberRemove(t time.Time, ws *workspace) *sharelog.Event {
	ti := -1
	for range 8 {
		i := g.r.IntN(len(ws.members))
		if m := &ws.members[i]; m.Active && !m.Admin {
			ti = i
			break
		}
	}
	if ti < 0 {
		return nil
	}
	b, _ := g.adminEvent(t, ws, sharelog.MemberRemoved)
	ws.members[ti].Active = false
	// The removed member's links are deactivated right after, by the
	// admin. start runs only below maxFlows, so this flow fits.
	f := g.newFlow(flowDeactivate, ws, b.ev.Server.Node)
	f.actor, f.client = b.ev.Actor, b.ev.Client
	g.collectLinks(f, func(l *link) bool { return l.Owner == ti })
	if f.nLinks > 0 {
		f.due = t.UnixNano() + int64(g.between(200*time.Millisecond, 3*time.Second))
		g.push(f)
	} else {
		g.release(f)
	}
	return &b.ev
}

// memberRole makes a member an admin or an admin a member; the owner stays.
func (g *Generator) memberRole(t time.Time, ws *workspace) *eventBlock {
	ti := 1 + g.r.IntN(len(ws.members)-1)
	if !ws.members[ti].Active {
		return nil
	}
	b, _ := g.adminEvent(t, ws, sharelog.MemberRoleChanged)
	ws.members[ti].Admin = !ws.members[ti].Admin
	return b
}

// memberBlocked is a member signing in from abroad to a workspace that
// allows sign-ins only from its own country.
func (g *Generator) memberBlocked(t time.Time, ws *workspace) *eventBlock {
	if !ws.allowlist {
		return nil
	}
	mi := g.activeMember(ws, false)
	if mi < 0 {
		return nil
	}
	c := geo.countries[visitorCountryChoice.pick(g.r)]
	if c == ws.home {
		return nil
	}
	m := &ws.members[mi]
	b := g.newEvent(t, ws, sharelog.AccessBlocked, g.node(ws))
	b.ev.Actor = sharelog.Actor{Type: sharelog.ActorUser, Email: m.Email}
	b.ev.Client = sharelog.Client{IP: randomAddr(g.r, c.residentialPrefix(g.r).Prefix).String(), UserAgent: m.Mobile.UA, Kind: m.Mobile.Kind}
	return b.deny("ip_blocked")
}
