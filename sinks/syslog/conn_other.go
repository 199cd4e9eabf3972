//go:build !linux

package syslog

import "syscall"

// probeSupported says whether peek and unacked work on this system: only
// on Linux. Elsewhere a connection closed by the receiver shows at the next
// write, and confirm tcp_ack acts as none.
const probeSupported = false

func peek(syscall.RawConn) (eof, pending bool, err error) { return false, false, nil }

func unacked(syscall.RawConn) (int, error) { return 0, nil }
