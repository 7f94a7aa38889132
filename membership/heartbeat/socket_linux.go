package heartbeat

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// socket is the transport's UDP socket. On Linux it is a plain file
// descriptor, not a net.UDPConn: a net.UDPConn is registered with the Go
// runtime's network poller, whose epoll then wakes a runtime thread for
// every datagram that arrives, whether or not a goroutine waits for it.
// A polled transport never waits in the poller (it polls on the heartbeat
// loop's thread), nor does a realtime one (it waits in ppoll(2) on its own
// thread), so for them those wake-ups were pure cost: at a 5 ms interval,
// most of a node's CPU.
//
// A pollable socket (an ordinary receive goroutine, no realtime) is
// registered with the poller all the same, through an *os.File on the
// descriptor: its receive goroutine waits there, holding no thread and no
// P. Waiting in ppoll(2) instead, as a system call the runtime sees, kept
// a P in a system call all the time, so that the runtime's monitor thread
// never went to its deep sleep and woke hundreds of times a second: half
// of an idle lan node's CPU.
type socket struct {
	mu     sync.RWMutex // Write and Control hold it shared, close exclusively
	fd     int
	closed bool
	local  netip.AddrPort
	file   *os.File        // pollable only: owns fd
	poll   syscall.RawConn // pollable only: file's, whose Read waits in the poller
}

func openSocket(bind netip.AddrPort, readBuffer int, pollable bool) (*socket, error) {
	family, sa := unix.AF_INET, unix.Sockaddr(nil)
	if bind.Addr().Is6() {
		family = unix.AF_INET6
		a := &unix.SockaddrInet6{Port: int(bind.Port()), Addr: bind.Addr().As16()}
		if z := bind.Addr().Zone(); z != "" {
			ifi, err := net.InterfaceByName(z)
			if err != nil {
				return nil, fmt.Errorf("zone %q: %w", z, err)
			}
			a.ZoneId = uint32(ifi.Index)
		}
		sa = a
	} else {
		sa = &unix.SockaddrInet4{Port: int(bind.Port()), Addr: bind.Addr().As4()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	fail := func(what string, err error) (*socket, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fail("IPV6_V6ONLY", err)
		}
	}
	if readBuffer > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, readBuffer); err != nil {
			return fail("receive buffer", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	s := &socket{fd: fd}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		s.local = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		s.local = netip.AddrPortFrom(netip.AddrFrom16(a.Addr).WithZone(bind.Addr().Zone()), uint16(a.Port))
	}
	if pollable {
		// The descriptor is non-blocking, so os.NewFile registers it
		// with the poller; the file owns it from here on.
		s.file = os.NewFile(uintptr(fd), "heartbeat "+s.local.String())
		rc, err := s.file.SyscallConn()
		if err != nil {
			s.file.Close()
			return nil, fmt.Errorf("poller: %w", err)
		}
		s.poll = rc
	}
	return s, nil
}

// pollConn returns the socket's connection in the poller, nil if the
// socket is not pollable.
func (s *socket) pollConn() syscall.RawConn { return s.poll }

// wake ends a wait in the poller (pollable sockets only), as a read
// deadline that has passed does.
func (s *socket) wake() {
	if s.file != nil {
		s.file.SetReadDeadline(time.Unix(1, 0))
	}
}

// raw returns the socket as the batch code's syscall.RawConn.
func (s *socket) raw() syscall.RawConn { return rawSocket{s} }

// conn is nil on Linux: the batch code uses the descriptor only.
func (s *socket) conn() *net.UDPConn { return nil }

func (s *socket) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.file != nil {
		return s.file.Close()
	}
	return unix.Close(s.fd)
}

// rawSocket is a syscall.RawConn over the descriptor. Its functions run
// with the descriptor held open: a close waits for them, so that a send
// never reaches a descriptor number that was closed and reused meanwhile.
type rawSocket struct{ s *socket }

func (r rawSocket) Control(f func(fd uintptr)) error {
	r.s.mu.RLock()
	defer r.s.mu.RUnlock()
	if r.s.closed {
		return net.ErrClosed
	}
	f(uintptr(r.s.fd))
	return nil
}

// Read calls f once: the socket is non-blocking and nothing waits in the
// poller for it.
func (r rawSocket) Read(f func(fd uintptr) (done bool)) error {
	return r.Control(func(fd uintptr) { f(fd) })
}

func (r rawSocket) Write(f func(fd uintptr) (done bool)) error {
	return r.Control(func(fd uintptr) { f(fd) })
}
