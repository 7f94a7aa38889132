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
// waited for in the poller all the same, holding no thread and no P.
// Waiting in ppoll(2) instead, as a system call the runtime sees, kept a
// P in a system call all the time, so that the runtime's monitor thread
// never went to its deep sleep and woke hundreds of times a second: half
// of an idle lan node's CPU. But the socket is not registered with the
// poller itself: the poller's epoll is edge-triggered, so every datagram
// would wake it, also while the receive goroutine is not waiting, in its
// coalescing pause (at 50 peers, 245 wake-ups a second for nothing). It
// sits in an epoll instance of its own, with EPOLLONESHOT, and that
// instance is what the poller watches (an epoll descriptor is readable
// when it has an event): a datagram wakes the poller only while the
// socket is armed, and the receive batch arms it only when it has found
// the queue empty and is about to wait (see recvBatch.pollRead).
type socket struct {
	mu     sync.RWMutex // Write and Control hold it shared, close exclusively
	fd     int
	closed bool
	local  netip.AddrPort
	file   *os.File        // pollable only: the socket's epoll instance, which it owns
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
		ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return fail("epoll_create1", err)
		}
		// Armed from the start: the first read finds the queue empty
		// and arms it anyway.
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(fd)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			unix.Close(ep)
			return fail("epoll_ctl", err)
		}
		// Non-blocking, so that os.NewFile registers it with the
		// poller (epoll_wait itself does not look at the flag); the
		// file owns it from here on.
		if err := unix.SetNonblock(ep, true); err != nil {
			unix.Close(ep)
			return fail("epoll non-blocking", err)
		}
		s.file = os.NewFile(uintptr(ep), "heartbeat "+s.local.String())
		rc, err := s.file.SyscallConn()
		if err != nil {
			s.file.Close()
			return fail("poller", err)
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
		s.file.Close() // the epoll instance: nothing to report
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
