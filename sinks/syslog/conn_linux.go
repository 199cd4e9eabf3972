//go:build linux

package syslog

import (
	"syscall"
	"unsafe"
)

// probeSupported says whether peek and unacked work on this system.
const probeSupported = true

// peek looks, without waiting or consuming anything, at what the receiver
// sent on a TCP connection: eof when it closed its side (or reset the
// connection, with err), pending when bytes wait to be read (a TLS alert or
// session ticket; a syslog receiver sends nothing else). The read deadline
// must not be in the past.
func peek(rc syscall.RawConn) (eof, pending bool, err error) {
	var buf [1]byte
	var n int
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait for readiness
	}); err != nil {
		return false, false, err
	}
	switch {
	case rerr == syscall.EAGAIN || rerr == syscall.EINTR:
		return false, false, nil
	case rerr != nil:
		return true, false, rerr
	case n == 0:
		return true, false, nil
	}
	return false, true, nil
}

// unacked returns how many bytes written to a TCP connection the receiver
// has not acknowledged yet (SIOCOUTQ: unsent and unacknowledged), or the
// socket's pending error (a reset) when it has one. The error is read after
// the queue, because a reset empties the queue.
func unacked(rc syscall.RawConn) (int, error) {
	var outq int32
	var errno syscall.Errno
	var soErr int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&outq)))
		soErr, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
	}); err != nil {
		return 0, err
	}
	switch {
	case errno != 0:
		return 0, errno
	case gerr != nil:
		return 0, gerr
	case soErr != 0:
		return 0, syscall.Errno(soErr)
	}
	return int(outq), nil
}
