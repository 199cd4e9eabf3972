// Package procstat reads the CPU time and memory of processes, for the
// benchmarks: this process from getrusage(2), another one from /proc.
// Linux only (the /proc readers fail elsewhere).
package procstat

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// SelfCPU is this process's user + system CPU time so far, in seconds.
func SelfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// SelfMaxRSSMiB is this process's peak resident memory so far, in MiB.
func SelfMaxRSSMiB() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}

// CPU is process pid's user + system CPU time so far, in seconds, from
// /proc/<pid>/stat (in clock ticks of 1/100 s).
func CPU(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 || i+2 > len(s) {
		return 0, errors.New("procstat: unexpected /proc/<pid>/stat")
	}
	fields := strings.Fields(s[i+2:])
	if len(fields) < 13 {
		return 0, errors.New("procstat: short /proc/<pid>/stat")
	}
	u, err1 := strconv.ParseFloat(fields[11], 64)
	st, err2 := strconv.ParseFloat(fields[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("procstat: /proc/%d/stat: %w", pid, err)
	}
	return (u + st) / 100, nil
}

// RSS is process pid's resident and peak resident memory (VmRSS, VmHWM of
// /proc/<pid>/status), in MiB; zeros when it cannot be read.
func RSS(pid int) (rss, hwm float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmRSS":
			rss = kb / 1024
		case "VmHWM":
			hwm = kb / 1024
		}
	}
	return rss, hwm
}
