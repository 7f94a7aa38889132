//go:build !linux

package heartbeat

import (
	"net"
	"net/netip"
	"syscall"
)

// socket is the transport's UDP socket: a net.UDPConn outside Linux.
type socket struct {
	c     *net.UDPConn
	rc    syscall.RawConn
	local netip.AddrPort
}

func openSocket(bind netip.AddrPort, readBuffer int, _ bool) (*socket, error) {
	network := "udp4"
	if bind.Addr().Is6() {
		network = "udp6"
	}
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(bind))
	if err != nil {
		return nil, err
	}
	if readBuffer > 0 {
		if err := c.SetReadBuffer(readBuffer); err != nil {
			c.Close()
			return nil, err
		}
	}
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	return &socket{c: c, rc: rc, local: c.LocalAddr().(*net.UDPAddr).AddrPort()}, nil
}

func (s *socket) raw() syscall.RawConn { return s.rc }
func (s *socket) conn() *net.UDPConn   { return s.c }
func (s *socket) close() error         { return s.c.Close() }

// pollConn and wake are for Linux's pollable sockets: a net.UDPConn is
// always in the poller, and its read goroutine ends when it is closed.
func (s *socket) pollConn() syscall.RawConn { return nil }
func (s *socket) wake()                     {}
