package procstat

import (
	"os"
	"testing"
	"time"
)

// TestSelfAgrees: burning CPU shows in both readers of this process, and
// /proc's memory figures are positive and ordered.
func TestSelfAgrees(t *testing.T) {
	pid := os.Getpid()
	c0, err := CPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	s0 := SelfCPU()
	x := 0
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
		x++
	}
	c1, err := CPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	s1 := SelfCPU()
	if s1-s0 < 0.2 || c1-c0 < 0.15 {
		t.Fatalf("300 ms of spinning (%d loops): getrusage %.3f s, /proc %.3f s", x, s1-s0, c1-c0)
	}
	rss, hwm := RSS(pid)
	if rss <= 0 || hwm < rss || SelfMaxRSSMiB() <= 0 {
		t.Fatalf("rss %.1f hwm %.1f max %.1f", rss, hwm, SelfMaxRSSMiB())
	}
	if _, err := CPU(-1); err == nil {
		t.Fatal("CPU of pid -1: no error")
	}
}
