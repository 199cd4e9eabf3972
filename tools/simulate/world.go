package simulate

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// The simulated world: workspaces with members, API keys, files and share
// links. A Generator owns its world and changes it as events happen (a
// revoked link stays revoked, a removed member's links are deactivated), so
// the event stream tells consistent stories. Every pool has a fixed size:
// new files and links take the place of old ones.

// region is a server region and its nodes.
type region struct {
	Name  string
	nodes []string
	// internal holds each node's private address, the client address of
	// events the server itself causes (a link reaching its expiry).
	internal []string
}

var regions = func() []*region {
	defs := []struct{ name, code string }{
		{"eu-central-2", "zrh"}, {"eu-west-1", "dub"}, {"us-east-1", "iad"}, {"ap-southeast-2", "syd"},
	}
	out := make([]*region, len(defs))
	for i, d := range defs {
		rg := &region{Name: d.name}
		for n := 1; n <= 6; n++ {
			rg.nodes = append(rg.nodes, "share-"+d.code+"-"+twoDigits(n))
			rg.internal = append(rg.internal, "10."+strconv.Itoa(20+i)+".4."+strconv.Itoa(10+n))
		}
		out[i] = rg
	}
	return out
}()

// regionFor is where a workspace's data lives: Swiss and central European
// customers in Zurich, western and northern Europe in Ireland, the Americas
// in Virginia, Asia-Pacific in Sydney.
func regionFor(cc string) *region {
	switch cc {
	case "CH", "DE", "AT", "IT", "PL":
		return regions[0]
	case "GB", "IE", "FR", "BE", "NL", "ES", "PT", "SE", "NO", "DK", "FI":
		return regions[1]
	case "US", "CA", "MX", "BR", "AR":
		return regions[2]
	}
	return regions[3]
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

type member struct {
	Email  string
	Admin  bool
	Active bool
	// A member works from the office (shared egress address), from home,
	// or on the phone.
	HomeIP, MobileIP string
	Desktop, Mobile  *userAgent
}

type apiKey struct {
	ID, UA, IP string
}

type file struct {
	ID, Name, Path string
	Size           int64
	Deleted        bool
	// Refs counts the links that point at the file.
	Refs int32
}

type linkState uint8

const (
	linkActive linkState = iota
	linkExpired
	linkRevoked
	linkLimitReached
	linkDeactivated
)

type link struct {
	ID    string
	File  int
	Owner int
	// Password and RequireEmail are the link's protections; Domain, when
	// set, is the only email domain allowed to open it.
	Password, RequireEmail bool
	Domain                 string
	Expires                bool
	State                  linkState
	Downloads, Limit       int
}

// denyReason is the reason an access to the link is denied, or "".
func (l *link) denyReason() string {
	switch l.State {
	case linkExpired:
		return "expired"
	case linkRevoked:
		return "revoked"
	case linkDeactivated:
		return "deactivated"
	case linkLimitReached:
		return "download_limit"
	}
	return ""
}

type workspace struct {
	ID, Name, Domain, Lang string
	home                   *country
	region                 *region
	projects               []string
	officeIPs              []string
	members                []member
	keys                   []apiKey
	files                  []file
	links                  []link
	// trash holds the indexes of deleted files, most recent last; bounded.
	trash []int
	// blocked lists countries the workspace's IP policy refuses; empty for
	// most workspaces. allowlist is true when members may sign in only from
	// the home country.
	blocked   []string
	allowlist bool
}

const maxTrash = 32

// buildWorld makes cfg.Workspaces workspaces from r.
func (g *Generator) buildWorld(cfg Config) {
	r := g.r
	now := g.now().UTC()
	g.workspaces = make([]*workspace, cfg.Workspaces)
	g.wsCum = make([]int, cfg.Workspaces)
	sum := 0
	for i := range g.workspaces {
		k := cfg.first + i
		tpl := workspaceTemplates[k%len(workspaceTemplates)]
		ws := &workspace{
			ID:       "ws_" + randString(r, base32Lower, 16),
			Name:     tpl.Name,
			Domain:   tpl.Domain,
			Lang:     tpl.Lang,
			home:     geo.countries[tpl.Country],
			region:   regionFor(tpl.Country),
			projects: tpl.Projects,
		}
		if n := k / len(workspaceTemplates); n > 0 {
			suffix := strconv.Itoa(n + 1)
			ws.Name += " " + suffix
			dot := strings.IndexByte(ws.Domain, '.')
			ws.Domain = ws.Domain[:dot] + suffix + ws.Domain[dot:]
		}
		for range 1 + r.IntN(2) {
			// An office is on a fixed line, not a mobile network.
			p := ws.home.residentialPrefix(r)
			for try := 0; try < 8 && p.Kind != netISP; try++ {
				p = ws.home.residentialPrefix(r)
			}
			ws.officeIPs = append(ws.officeIPs, randomAddr(r, p.Prefix).String())
		}
		ws.members = make([]member, cfg.UsersPerWorkspace)
		for u := range ws.members {
			ws.members[u] = g.newMember(ws)
			ws.members[u].Admin = u < 1+cfg.UsersPerWorkspace/10
		}
		for range 1 + r.IntN(3) {
			hp := geo.hosting[r.IntN(len(geo.hosting))]
			ws.keys = append(ws.keys, apiKey{
				ID: "ak_live_" + randString(r, base32Lower, 20),
				UA: integrationChooser.pick(r),
				IP: randomAddr(r, hp.Prefix).String(),
			})
		}
		ws.files = make([]file, 2*cfg.LinksPerWorkspace)
		for f := range ws.files {
			ws.files[f] = g.newFile(ws, now)
		}
		ws.links = make([]link, cfg.LinksPerWorkspace)
		for l := range ws.links {
			ws.links[l] = g.newLink(ws, r.IntN(len(ws.members)), g.liveFile(ws))
			// Some links have run their course already.
			switch x := r.IntN(100); {
			case x < 8:
				ws.links[l].State = linkExpired
			case x < 13:
				ws.links[l].State = linkRevoked
			case x < 16:
				ws.links[l].State, ws.links[l].Limit = linkLimitReached, 5
				ws.links[l].Downloads = 5
			}
		}
		switch x := r.IntN(10); {
		case x < 2:
			ws.blocked = []string{"RU", "CN"}
		case x < 3:
			ws.blocked = []string{"RU", "CN", "UA", "TR", "ID", "BR", "IN"}
		}
		ws.allowlist = r.IntN(4) == 0
		g.workspaces[i] = ws
		// A few workspaces are much busier than the rest.
		sum += int(1000 / math.Pow(float64(i+1), 0.7))
		g.wsCum[i] = sum
	}
}

// newMember makes an active member of ws with a name of the workspace's
// language.
func (g *Generator) newMember(ws *workspace) member {
	r := g.r
	m := member{
		Email:    personEmail(r, ws.Lang, ws.Domain),
		Active:   true,
		HomeIP:   randomAddr(r, ws.home.residentialPrefix(r).Prefix).String(),
		MobileIP: randomAddr(r, ws.home.residentialPrefix(r).Prefix).String(),
	}
	for m.Desktop == nil || !m.Desktop.Desktop {
		m.Desktop = uaChooser.pickPtr(r)
	}
	for m.Mobile == nil || !m.Mobile.Mobile {
		m.Mobile = uaChooser.pickPtr(r)
	}
	return m
}

// personEmail makes a first.last@domain address with a name of lang.
func personEmail(r *rand.Rand, lang, domain string) string {
	first := firstNames[lang][r.IntN(len(firstNames[lang]))]
	last := lastNames[lang][r.IntN(len(lastNames[lang]))]
	var local string
	switch r.IntN(4) {
	case 0:
		local = strings.ToLower(first[:1] + last)
	case 1:
		local = strings.ToLower(first + last[:1])
	default:
		local = strings.ToLower(first + "." + last)
	}
	return local + "@" + domain
}

// visitorEmail makes the address a visitor gives: at a partner company, at a
// freemail provider, or at domain when it is not empty.
func visitorEmail(r *rand.Rand, domain string) string {
	lang := langs[r.IntN(len(langs))]
	if domain == "" {
		if r.IntN(5) < 3 {
			domain = partnerDomains[r.IntN(len(partnerDomains))]
		} else {
			domain = freemailChooser.pick(r)
			if r.IntN(3) == 0 {
				first := firstNames[lang][r.IntN(len(firstNames[lang]))]
				return strings.ToLower(first) + strconv.Itoa(10+r.IntN(90)) + "@" + domain
			}
		}
	}
	return personEmail(r, lang, domain)
}

// newFile makes a file of a drawn kind, with a log-normal size, named as if
// made shortly before t.
func (g *Generator) newFile(ws *workspace, t time.Time) file {
	r := g.r
	k := fileKindChooser.pickPtr(r)
	proj := ws.projects[r.IntN(len(ws.projects))]
	name := fillPattern(r, k.Names[r.IntN(len(k.Names))], proj, t)
	folder := fillPattern(r, k.Folders[r.IntN(len(k.Folders))], proj, t)
	size := int64(math.Exp(math.Log(k.Median) + k.Sigma*r.NormFloat64()))
	size = min(max(size, k.Min), k.Max)
	return file{
		ID:   "fil_" + randString(r, base32Lower, 20),
		Name: name,
		Path: folder + "/" + name,
		Size: size,
	}
}

// fillPattern fills the placeholders of a name pattern (see fileKind.Names)
// with project and values drawn around the time ref.
func fillPattern(r *rand.Rand, p, project string, ref time.Time) string {
	if strings.IndexByte(p, '{') < 0 {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '{' || i+2 >= len(p) || p[i+2] != '}' {
			b.WriteByte(p[i])
			continue
		}
		switch p[i+1] {
		case 'P':
			b.WriteString(project)
		case 'N':
			b.WriteString(strconv.Itoa(1000 + r.IntN(9000)))
		case 'n':
			b.WriteString(strconv.Itoa(1 + r.IntN(12)))
		case 'q':
			b.WriteString(strconv.Itoa(1 + r.IntN(4)))
		case 'Y':
			b.WriteString(strconv.Itoa(ref.Year() - r.IntN(2)))
		case 'D':
			b.WriteString(ref.AddDate(0, 0, -r.IntN(700)).Format("2006-01-02"))
		case 'd':
			b.WriteString(ref.AddDate(0, 0, -r.IntN(700)).Format("20060102"))
		default:
			b.WriteString(p[i : i+3])
		}
		i += 2
	}
	return b.String()
}

// liveFile returns the index of a file that is not deleted, or of any file
// after a few tries.
func (g *Generator) liveFile(ws *workspace) int {
	f := g.r.IntN(len(ws.files))
	for try := 0; try < 8 && ws.files[f].Deleted; try++ {
		f = g.r.IntN(len(ws.files))
	}
	return f
}

// newLink makes an active link of owner to file f, with drawn protections,
// and counts the reference.
func (g *Generator) newLink(ws *workspace, owner, f int) link {
	r := g.r
	l := link{
		ID:    "lnk_" + randString(r, base62, 22),
		File:  f,
		Owner: owner,
	}
	l.Password = r.IntN(100) < 22
	l.RequireEmail = r.IntN(100) < 30
	if l.RequireEmail && r.IntN(4) == 0 {
		l.Domain = partnerDomains[r.IntN(len(partnerDomains))]
	}
	l.Expires = r.IntN(2) == 0
	if r.IntN(100) < 15 {
		l.Limit = 3 + r.IntN(20)
	}
	ws.files[f].Refs++
	return l
}

// setLink puts l in slot i of ws's links, dropping the reference of the link
// it replaces.
func (ws *workspace) setLink(i int, l link) {
	ws.files[ws.links[i].File].Refs--
	ws.links[i] = l
}

const (
	base32Lower = "0123456789abcdefghjkmnpqrstvwxyz"
	base62      = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// randString returns n characters drawn from alphabet.
func randString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// Read-only choosers of the package's tables.
var (
	uaChooser            = newChooser(userAgents)
	integrationChooser   = newChooser(integrationAgents)
	bruteForceChooser    = newChooser(bruteForceAgents)
	freemailChooser      = newChooser(freemailDomains)
	fileKindChooser      = newChooser(fileKinds)
	visitorCountryChoice = newChooser(visitorCountries)
	attackCountryChoice  = newChooser(attackCountries)
)

// pickPtr draws a value and returns a pointer into the table.
func (c chooser[T]) pickPtr(r *rand.Rand) *T { return &c.vals[pickCum(r, c.cum)] }
