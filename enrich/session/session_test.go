package session

import (
	"strings"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestSessionLifecycle(t *testing.T) {
	tr := NewTracker(secret, 30*time.Minute, 100)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0"

	s1 := tr.Observe("lnk1", "81.2.69.160", ua, t0)
	if !s1.Started || s1.Seq != 1 || !strings.HasPrefix(s1.LinkSessionID, "ls_") || len(s1.LinkSessionID) != 25 {
		t.Fatalf("first event: %+v", s1)
	}
	s2 := tr.Observe("lnk1", "81.2.69.160", ua, t0.Add(29*time.Minute))
	if s2.Started || s2.Seq != 2 || s2.LinkSessionID != s1.LinkSessionID {
		t.Fatalf("within window: %+v, want same session as %+v", s2, s1)
	}
	// The window slides: 29 minutes after the second event is still inside.
	s3 := tr.Observe("lnk1", "81.2.69.160", ua, t0.Add(58*time.Minute))
	if s3.Started || s3.Seq != 3 || s3.LinkSessionID != s1.LinkSessionID {
		t.Fatalf("sliding window: %+v", s3)
	}
	// Another link, IP or user agent is another visitor.
	for _, o := range []sharelog.Session{
		tr.Observe("lnk2", "81.2.69.160", ua, t0.Add(58*time.Minute)),
		tr.Observe("lnk1", "81.2.69.161", ua, t0.Add(58*time.Minute)),
		tr.Observe("lnk1", "81.2.69.160", ua+" x", t0.Add(58*time.Minute)),
	} {
		if !o.Started || o.LinkSessionID == s1.LinkSessionID {
			t.Fatalf("other visitor shares the session: %+v", o)
		}
	}
	// 31 minutes of inactivity opens a new session.
	s4 := tr.Observe("lnk1", "81.2.69.160", ua, t0.Add(89*time.Minute))
	if !s4.Started || s4.Seq != 1 || s4.LinkSessionID == s1.LinkSessionID {
		t.Fatalf("after timeout: %+v", s4)
	}
	if tr.Started() != 5 {
		t.Fatalf("started = %d, want 5", tr.Started())
	}
}

func TestSessionIDIsKeyedAndOpaque(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	a := NewTracker(secret, 30*time.Minute, 10).Observe("l", "192.0.2.1", "curl/8.5.0", t0)
	b := NewTracker(secret, 30*time.Minute, 10).Observe("l", "192.0.2.1", "curl/8.5.0", t0)
	other := []byte("another secret, also 32 bytes long!")
	c := NewTracker(other, 30*time.Minute, 10).Observe("l", "192.0.2.1", "curl/8.5.0", t0)
	if a.LinkSessionID != b.LinkSessionID {
		t.Fatalf("same key and visitor gave %s and %s", a.LinkSessionID, b.LinkSessionID)
	}
	if a.LinkSessionID == c.LinkSessionID {
		t.Fatal("different keys gave the same id")
	}
	for _, leak := range []string{"192", "curl", "c3VybA"} {
		if strings.Contains(a.LinkSessionID[3:], leak) {
			t.Fatalf("id %s contains %q", a.LinkSessionID, leak)
		}
	}
}

func TestTrackerIsBounded(t *testing.T) {
	tr := NewTracker(secret, 30*time.Minute, 50)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 1000; i++ {
		tr.Observe("l", "10.0.0."+string(rune('0'+i%10))+string(rune('a'+i/10%26)), "ua", t0.Add(time.Duration(i)*time.Millisecond))
		if tr.Len() > 50 {
			t.Fatalf("tracking %d visitors, bound is 50", tr.Len())
		}
	}
	// Visitors whose session ended are forgotten as time moves on.
	tr.Observe("l", "x", "ua", t0.Add(2*time.Hour))
	if tr.Len() != 1 {
		t.Fatalf("after all sessions expired: %d visitors tracked, want 1", tr.Len())
	}
}

func TestEnrichSkipsEventsWithoutLink(t *testing.T) {
	tr := NewTracker(secret, 30*time.Minute, 10)
	ev := &sharelog.Event{Action: sharelog.MemberInvited, Client: sharelog.Client{IP: "192.0.2.1"}}
	tr.Enrich(ev)
	if ev.Session != nil {
		t.Fatalf("member event got a session: %+v", ev.Session)
	}
	ev = &sharelog.Event{Link: &sharelog.Link{ID: "l"}, Client: sharelog.Client{IP: "192.0.2.1"}}
	tr.Enrich(ev)
	if ev.Session == nil || !ev.Session.Started {
		t.Fatalf("link event: %+v", ev.Session)
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{Secret: "hunter2pw"}
	c.SetDefaults()
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "secret:") || strings.Contains(err.Error(), "hunter2pw") {
		t.Fatalf("err = %v, want a secret error that does not show the secret", err)
	}
}

func BenchmarkObserve(b *testing.B) {
	tr := NewTracker(secret, 30*time.Minute, 100000)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	ips := make([]string, 5000)
	for i := range ips {
		ips[i] = "81.2." + string(rune('0'+i%10)) + "." + string(rune('0'+i/10%10))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.Observe("link-1", ips[i%len(ips)], "Mozilla/5.0 Chrome/131", t0.Add(time.Duration(i)*time.Millisecond))
	}
}
