//go:build !linux

package heartbeat

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// Without recvmmsg and sendmmsg, one datagram per system call through the
// standard library, which does not allocate on these calls either.

type recvBatch struct {
	conn  *net.UDPConn
	buf   []byte
	n     int
	from  netip.AddrPort
	trunc bool
}

func newRecvBatch(conn *net.UDPConn, _, _ syscall.RawConn, _, bufLen int) (*recvBatch, error) {
	// One byte more than the largest packet: a datagram that fills it
	// was longer.
	return &recvBatch{conn: conn, buf: make([]byte, bufLen+1)}, nil
}

var errInterrupted = net.ErrClosed

// interrupt closes the socket: the only way to end a blocked read here.
func (r *recvBatch) interrupt() { r.conn.Close() }

func (r *recvBatch) release() {}

func (r *recvBatch) read() (int, error) {
	n, from, err := r.conn.ReadFromUDPAddrPort(r.buf)
	if errors.Is(err, net.ErrClosed) {
		return 0, errInterrupted
	}
	if err != nil {
		return 0, err
	}
	r.n, r.from, r.trunc = n, from, n == len(r.buf)
	return 1, nil
}

// waited is not known here (see the Linux version).
func (r *recvBatch) waited() bool { return false }

// drainedBy reports whether a read that returned n datagrams emptied the
// queue: only one that found none says so here.
func (r *recvBatch) drainedBy(n int) bool { return n == 0 }

// tryRead is read with a deadline that has passed already.
func (r *recvBatch) tryRead() (int, error) {
	r.conn.SetReadDeadline(time.Now())
	defer r.conn.SetReadDeadline(time.Time{})
	n, err := r.read()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, nil
	}
	return n, err
}

// packet returns the datagram; its arrival time is when it was read.
func (r *recvBatch) packet(_ int, now time.Time) ([]byte, netip.AddrPort, bool, time.Time) {
	return r.buf[:r.n], r.from, r.trunc, now
}

// sendBatch writes one datagram at a time. A full send buffer blocks
// here, where Linux's reports it at once.
type sendBatch struct {
	conn *net.UDPConn
	v6   bool
}

func newSendBatch(conn *net.UDPConn, _ syscall.RawConn, v6 bool) *sendBatch {
	return &sendBatch{conn: conn, v6: v6}
}

var errPeerAddr = errors.New("address not of the socket's family, or port 0")

func (s *sendBatch) send(p []byte, to []netip.AddrPort) (sent, failed, first int, err error) {
	for i, ap := range to {
		a := ap.Addr()
		if !s.v6 {
			a = a.Unmap()
		}
		var e error
		if ap.Port() == 0 || (s.v6 != (a.Is6() && !a.Is4In6())) {
			e = errPeerAddr
		} else {
			_, e = s.conn.WriteToUDPAddrPort(p, netip.AddrPortFrom(a, ap.Port()))
		}
		if e != nil {
			if failed == 0 {
				first, err = i, e
			}
			failed++
			continue
		}
		sent++
	}
	return sent, failed, first, err
}
