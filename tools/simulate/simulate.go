// Package simulate is a traffic generator that behaves like a busy link and
// file server: it makes realistic raw events (visitors opening, viewing and
// downloading share links, password guessing, blocked access, workspace
// audit traffic) and sends them to the pipeline at a given rate. It backs
// `sharelog simulate` and the end-to-end benchmark.
//
// Every event a Generator makes passes (*sharelog.Event).Validate. Visitor
// and member addresses are drawn from real address blocks of well-known
// networks (prefixes.tsv), so that GeoIP resolves them to the intended
// country; user agents are real browsers, download tools and SDKs, with
// client.kind to match.
package simulate

import (
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

// Config shapes the simulated world. The zero value is usable: every zero
// field takes its default.
type Config struct {
	// Seed seeds the generator; 0 draws a seed from crypto/rand. With a fixed
	// seed and a fixed clock the event stream is the same on every run.
	Seed int64
	// Workspaces is how many workspaces (companies) there are; default 20.
	Workspaces int
	// UsersPerWorkspace is how many members each has; default 25.
	UsersPerWorkspace int
	// LinksPerWorkspace is how many share links each has at a time; default
	// 200. Each workspace holds twice as many files.
	LinksPerWorkspace int

	// first is the index of the first workspace template, so that Run's
	// workers simulate different companies.
	first int
}

// withDefaults returns c with zero (or negative) sizes set to their
// defaults.
func (c Config) withDefaults() Config {
	if c.Workspaces <= 0 {
		c.Workspaces = 20
	}
	if c.UsersPerWorkspace <= 0 {
		c.UsersPerWorkspace = 25
	}
	if c.UsersPerWorkspace < 2 {
		c.UsersPerWorkspace = 2 // an admin and someone to manage
	}
	if c.LinksPerWorkspace <= 0 {
		c.LinksPerWorkspace = 200
	}
	return c
}

// maxFlows caps the sessions and other multi-event activities in flight. When
// it is reached, the oldest-due one makes the next event whether or not its
// time has come, so memory stays bounded at any rate.
const maxFlows = 1024

// Generator makes a stream of events. Multi-event activities (a visitor's
// session on a link, a password-guessing burst, a member's work, an
// integration's job) are spread over time: their next event is due after a
// realistic pause (seconds to minutes) by the generator's clock, and other
// activities' events interleave. A Generator is NOT safe for concurrent use;
// use one per goroutine.
type Generator struct {
	r          *mrand.Rand
	now        func() time.Time
	ids        sharelog.UUIDv7 // its Rand is r, so a seed reproduces the ids
	workspaces []*workspace
	wsCum      []int
	flows      flowHeap
	free       []*flow
	seq        uint64
}

// NewGenerator returns a Generator for cfg, reading the time from now (nil
// means time.Now). Event times are now() in UTC, truncated to microseconds.
func NewGenerator(cfg Config, now func() time.Time) *Generator {
	cfg = cfg.withDefaults()
	seed := uint64(cfg.Seed)
	if cfg.Seed == 0 {
		seed = randomSeed()
	}
	if now == nil {
		now = time.Now
	}
	g := &Generator{
		r:   mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now: now,
	}
	g.ids.Rand = g.r.Uint64
	g.buildWorld(cfg)
	g.flows = make(flowHeap, 0, maxFlows)
	return g
}

// randomSeed returns a nonzero seed from crypto/rand.
func randomSeed() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return uint64(time.Now().UnixNano()) | 1
	}
	return binary.LittleEndian.Uint64(b[:]) | 1
}

// Next returns a new event; it passes Validate. The caller owns it: no two
// events share memory that a caller might change.
func (g *Generator) Next() *sharelog.Event {
	t := g.now().UTC().Truncate(time.Microsecond)
	now := t.UnixNano()
	for {
		if len(g.flows) > 0 && (g.flows[0].due <= now || len(g.flows) >= maxFlows) {
			f := g.flows.pop()
			ev, delay := g.step(f, t)
			if delay >= 0 {
				f.due = now + int64(delay)
				g.push(f)
			} else {
				g.release(f)
			}
			if ev != nil {
				return ev
			}
			continue
		}
		if ev := g.start(t); ev != nil {
			return ev
		}
	}
}

// Batch returns the next n events.
func (g *Generator) Batch(n int) []*sharelog.Event {
	out := make([]*sharelog.Event, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

// eventBlock holds an event with its file, link and server groups, so that
// one allocation makes them all.
type eventBlock struct {
	ev     sharelog.Event
	file   sharelog.File
	link   sharelog.Link
	server sharelog.Server
}

// newEvent returns an event of ws at time t with a fresh id and result
// success, handled by node of the workspace's region.
func (g *Generator) newEvent(t time.Time, ws *workspace, a sharelog.Action, node string) *eventBlock {
	b := new(eventBlock)
	ev := &b.ev
	ev.ID = g.ids.New(t)
	ev.Time = t
	ev.Workspace = sharelog.Workspace{ID: ws.ID, Name: ws.Name}
	ev.Action = a
	ev.Result = sharelog.Success
	b.server = sharelog.Server{Region: ws.region.Name, Node: node}
	ev.Server = &b.server
	return b
}

// setFile sets the event's file to f.
func (b *eventBlock) setFile(f *file) {
	b.file = sharelog.File{ID: f.ID, Name: f.Name, Size: f.Size, Path: f.Path}
	b.ev.File = &b.file
}

// setLink sets the event's link to l and its file to l's file.
func (b *eventBlock) setLink(ws *workspace, l *link) {
	b.link = sharelog.Link{ID: l.ID}
	b.ev.Link = &b.link
	b.setFile(&ws.files[l.File])
}

// deny sets the result to denied, for reason.
func (b *eventBlock) deny(reason string) *eventBlock {
	b.ev.Result, b.ev.Reason = sharelog.Denied, reason
	return b
}

// fail sets the result to error, for reason.
func (b *eventBlock) fail(reason string) *eventBlock {
	b.ev.Result, b.ev.Reason = sharelog.Error, reason
	return b
}

// pickWorkspace draws a workspace, busy ones more often.
func (g *Generator) pickWorkspace() *workspace {
	return g.workspaces[pickCum(g.r, g.wsCum)]
}

func (g *Generator) node(ws *workspace) string {
	return ws.region.nodes[g.r.IntN(len(ws.region.nodes))]
}

// chance reports true with probability pct percent.
func (g *Generator) chance(pct int) bool { return g.r.IntN(1000) < pct*10 }

// between returns a duration drawn uniformly from [lo, hi).
func (g *Generator) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(g.r.Int64N(int64(hi-lo)))
}
