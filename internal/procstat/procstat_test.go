package procstat

import (
	"os"
	"testing"
	"time"
)

// tick is the granularity of /proc/<pid>/stat's CPU times (USER_HZ), with
// room for the kernel rounding them differently from getrusage.
const tick = 0.02

// bracket reads this process's CPU time from /proc between two getrusage
// readings, and checks that it lies between them, give or take a tick:
// both count the same thing, whatever else the machine is doing.
func bracket(t *testing.T, pid int) (proc, before, after float64) {
	t.Helper()
	before = SelfCPU()
	proc, err := CPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	after = SelfCPU()
	if proc < before-tick || proc > after+tick {
		t.Fatalf("/proc says %.3f s of CPU, getrusage %.3f s before and %.3f s after", proc, before, after)
	}
	return proc, before, after
}

// TestSelfAgrees: burning CPU shows in both readers of this process, and
// /proc's memory figures are positive and ordered. It spins until
// getrusage has counted 0.2 s more CPU, however long a loaded machine takes
// to give it that (the bound only stops a test that would hang).
func TestSelfAgrees(t *testing.T) {
	pid := os.Getpid()
	c0, _, s0 := bracket(t, pid)
	const burn = 0.2 // s of CPU
	x, bound := 0, time.Now().Add(5*time.Minute)
	for SelfCPU()-s0 < burn {
		for range 100_000 {
			x++
		}
		if time.Now().After(bound) {
			t.Fatalf("after %d loops, getrusage counted only %.3f s of CPU", x, SelfCPU()-s0)
		}
	}
	c1, s1, _ := bracket(t, pid)
	if s1-s0 < burn || c1-c0 < burn-2*tick {
		t.Fatalf("after %d loops: getrusage +%.3f s, /proc +%.3f s; want both about +%.1f s", x, s1-s0, c1-c0, burn)
	}
	rss, hwm := RSS(pid)
	if rss <= 0 || hwm < rss || SelfMaxRSSMiB() <= 0 {
		t.Fatalf("rss %.1f hwm %.1f max %.1f", rss, hwm, SelfMaxRSSMiB())
	}
	if _, err := CPU(-1); err == nil {
		t.Fatal("CPU of pid -1: no error")
	}
}
