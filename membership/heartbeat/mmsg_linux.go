//go:build linux

package heartbeat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Batch I/O with recvmmsg(2) and sendmmsg(2), on buffers allocated once.
//
// golang.org/x/net/ipv4's ReadBatch and WriteBatch make the same system
// calls, but ReadBatch allocates a *net.UDPAddr and its IP for every
// message it receives, and WriteBatch takes its scratch space from a
// sync.Pool, which the race detector empties at random: neither can show
// zero allocations per packet. The kernel structures are simple enough to
// fill in here.

// mmsghdr is struct mmsghdr: a msghdr and the length the kernel reports.
// Go pads it to the alignment of msghdr, as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// sockaddr holds a struct sockaddr_in or sockaddr_in6.
type sockaddr = unix.RawSockaddrInet6

func sockaddrBytes(sa *sockaddr) *[unix.SizeofSockaddrInet6]byte {
	return (*[unix.SizeofSockaddrInet6]byte)(unsafe.Pointer(sa))
}

// recvBatch receives up to len(bufs) datagrams per system call, each with
// the kernel's receive timestamp (SO_TIMESTAMPNS). Only one goroutine at
// a time uses it (the receive goroutine, or Poll's caller), but for
// interrupt.
//
// read waits for datagrams in the Go runtime's poller if the batch has
// the socket's connection there (poll), or else in ppoll(2) on its
// thread: the kernel then wakes this thread itself when a datagram
// arrives. That is for a realtime receive thread: through the poller, a
// wake-up is a relay between threads (the one in epoll_wait readies the
// goroutine, hands its P over to the locked thread and goes back to
// sleep), which depends on the runtime's ordinary threads being
// scheduled, the very thing a realtime receive thread must not depend
// on. An eventfd in the same ppoll ends the wait for Close.
type recvBatch struct {
	fd   int             // the socket's; valid until Close, which waits for the loop
	poll syscall.RawConn // the socket in the poller, or nil: wait in ppoll
	// pollRead's state, for the poller's read function pollFn.
	pollFn    func(uintptr) bool
	pollCalls int // in the last read: more than one means it waited
	pollN     int
	pollErr   error
	armed     bool // the socket may have an event in its epoll instance (see pollRead)
	pollEvent [1]unix.EpollEvent
	event     int // eventfd: readable once interrupt was called
	pfds      [2]unix.PollFd
	hdrs      []mmsghdr
	iovs      []unix.Iovec
	names     []sockaddr
	ctls      [][ctlLen]byte
	bufs      [][]byte
	used      int // headers the last call filled in

	// empty is when the queue was last seen empty: every datagram read
	// after it arrived after it, which bounds its age.
	empty   time.Time
	drained time.Time // the last read emptied the queue at this time

	zoneIndex uint32 // cache of the last IPv6 zone seen
	zoneName  string
}

// ctlLen is the control buffer of one datagram: room for one
// SCM_TIMESTAMPNS, CmsgSpace(sizeof(struct timespec)), 32 bytes on 64-bit
// systems and less on 32-bit ones.
const ctlLen = 32

var _ [ctlLen - 16 - unsafe.Sizeof(unix.Timespec{})]struct{} // it fits

// errInterrupted ends the receive loop.
var errInterrupted = errors.New("heartbeat: receive interrupted")

func newRecvBatch(_ *net.UDPConn, raw, poll syscall.RawConn, size, bufLen int) (*recvBatch, error) {
	r := &recvBatch{
		poll:  poll,
		armed: poll != nil, // the socket is registered armed
		hdrs:  make([]mmsghdr, size),
		iovs:  make([]unix.Iovec, size),
		names: make([]sockaddr, size),
		ctls:  make([][ctlLen]byte, size),
		bufs:  make([][]byte, size),
		empty: time.Now(),
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		r.fd = int(fd)
		serr = unix.SetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("SO_TIMESTAMPNS: %w", serr)
	}
	ev, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	r.event = ev
	r.pfds = [2]unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN}, {Fd: int32(ev), Events: unix.POLLIN}}
	for i := range r.hdrs {
		r.bufs[i] = make([]byte, bufLen)
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(bufLen)
		h := &r.hdrs[i].hdr
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Name = &sockaddrBytes(&r.names[i])[0]
		h.Control = &r.ctls[i][0]
	}
	r.used = size
	r.pollFn = r.pollRead
	return r, nil
}

// read waits for datagrams and returns how many it received, or
// errInterrupted once interrupt was called.
func (r *recvBatch) read() (int, error) {
	if r.poll != nil {
		// Read before waiting even after a read that emptied the
		// queue: RawConn.Read clears the poller's readiness before it
		// calls pollFn, so what arrived since would not end a wait.
		r.pollCalls = 0
		if err := r.poll.Read(r.pollFn); err != nil {
			// The socket's wake (a deadline in the past) or its
			// close: both come from Close.
			return 0, errInterrupted
		}
		return r.pollN, r.pollErr
	}
	for {
		r.pfds[0].Revents, r.pfds[1].Revents = 0, 0
		if _, err := unix.Ppoll(r.pfds[:], nil, nil); err != nil && err != unix.EINTR {
			return 0, err
		}
		if r.pfds[1].Revents != 0 {
			return 0, errInterrupted
		}
		if n, err := r.tryRead(); n != 0 || err != nil {
			return n, err
		}
	}
}

// tryRead receives what is queued without waiting: 0 if nothing is.
func (r *recvBatch) tryRead() (int, error) {
	if !r.drained.IsZero() {
		r.empty, r.drained = r.drained, time.Time{}
	}
	for i := range r.hdrs[:r.used] {
		h := &r.hdrs[i]
		h.hdr.Namelen = unix.SizeofSockaddrInet6
		h.hdr.SetControllen(ctlLen)
		h.hdr.Flags = 0
		h.n = 0
	}
	for {
		// A raw system call, which the Go runtime does not see: it
		// never blocks (MSG_DONTWAIT, and the socket is non-blocking),
		// and one the runtime sees, made by an idle process, wakes the
		// runtime's monitor thread from its deep sleep, twice per call
		// in the end: most of a lan node's remaining wake-ups.
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(r.fd), uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			r.used = int(n)
			if r.used < len(r.hdrs) {
				// The queue was empty when the call returned: what
				// the next call reads arrived after this (to within
				// the instant the call takes to return).
				r.drained = time.Now()
			}
			return int(n), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			r.used = 0
			r.empty = time.Now()
			return 0, nil
		default:
			r.used = len(r.hdrs)
			return 0, errno
		}
	}
}

// pollRead is the poller's read function, made a func value once (in
// pollFn) so that a read allocates nothing. ep is the socket's epoll
// instance, in which the socket is registered with EPOLLONESHOT (see
// socket): pollRead takes the socket's event, if it fired, which disarms
// it, so that datagrams arriving while the receive goroutine is busy or
// pausing wake nobody; and it arms the socket again only when it found the
// queue empty and the read is about to wait. A datagram that arrives
// between the empty read and the arming fires the event at once.
func (r *recvBatch) pollRead(ep uintptr) bool {
	r.pollCalls++
	if r.armed {
		// Raw system calls, as in tryRead; a zero timeout never blocks.
		n, _, _ := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, ep, uintptr(unsafe.Pointer(&r.pollEvent[0])), 1, 0, 0, 0)
		r.armed = n != 1 // fired and taken: disarmed; else still armed
	}
	r.pollN, r.pollErr = r.tryRead()
	if r.pollN != 0 || r.pollErr != nil {
		return true
	}
	if !r.armed {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(r.fd)}
		if err := unix.EpollCtl(int(ep), unix.EPOLL_CTL_MOD, r.fd, &ev); err != nil {
			r.pollErr = fmt.Errorf("epoll_ctl: %w", err)
			return true
		}
		r.armed = true
	}
	return false
}

// waited reports whether the last read waited for a datagram, rather
// than finding one queued. Only known for a batch that waits in the
// poller; false otherwise.
func (r *recvBatch) waited() bool { return r.pollCalls > 1 }

// drainedBy reports whether a read that returned n datagrams emptied the
// queue: it returned fewer than it had room for.
func (r *recvBatch) drainedBy(n int) bool { return n < len(r.hdrs) }

// interrupt makes read return errInterrupted, now or at its next call.
// Safe to call from any goroutine.
func (r *recvBatch) interrupt() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(r.event, one[:])
}

// release frees what the batch holds beyond memory, once read no longer
// runs.
func (r *recvBatch) release() { unix.Close(r.event) }

// packet returns datagram i of the last read: its bytes, its source,
// whether it was longer than the buffer, and when it arrived. now is a
// reading of the clock taken after the read.
//
// The kernel stamps datagrams with the wall clock; the arrival time is
// now less the datagram's age by that clock, so that it keeps now's
// monotonic reading. The age is bounded by the time since the queue was
// last seen empty: a wall clock stepped meanwhile cannot place a datagram
// before it could have arrived, nor after now.
func (r *recvBatch) packet(i int, now time.Time) (p []byte, from netip.AddrPort, truncated bool, at time.Time) {
	h := &r.hdrs[i]
	p = r.bufs[i][:h.n]
	truncated = h.hdr.Flags&unix.MSG_TRUNC != 0
	sa := sockaddrBytes(&r.names[i])
	port := binary.BigEndian.Uint16(sa[2:4])
	switch binary.NativeEndian.Uint16(sa[0:2]) {
	case unix.AF_INET:
		from = netip.AddrPortFrom(netip.AddrFrom4([4]byte(sa[4:8])), port)
	case unix.AF_INET6:
		a := netip.AddrFrom16([16]byte(sa[8:24]))
		if z := binary.NativeEndian.Uint32(sa[24:28]); z != 0 {
			if z != r.zoneIndex {
				r.zoneIndex, r.zoneName = z, strconv.FormatUint(uint64(z), 10)
			}
			a = a.WithZone(r.zoneName)
		}
		from = netip.AddrPortFrom(a, port)
	}
	at = now
	if ts, ok := r.timestamp(i); ok {
		age := time.Duration(now.UnixNano() - ts)
		at = now.Add(-min(max(age, 0), now.Sub(r.empty)))
	}
	return p, from, truncated, at
}

// timestamp returns datagram i's SCM_TIMESTAMPNS in Unix nanoseconds.
func (r *recvBatch) timestamp(i int) (int64, bool) {
	h := &r.hdrs[i].hdr
	hl := unix.CmsgLen(0)
	if int(h.Controllen) < unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))) {
		return 0, false
	}
	c := (*unix.Cmsghdr)(unsafe.Pointer(&r.ctls[i][0]))
	if c.Level != unix.SOL_SOCKET || c.Type != unix.SCM_TIMESTAMPNS {
		return 0, false
	}
	ts := (*unix.Timespec)(unsafe.Pointer(&r.ctls[i][hl]))
	return ts.Nano(), true
}

// sendBatch sends one packet to many peers per system call, without ever
// waiting for room in the socket's send buffer. Its user serialises
// calls.
type sendBatch struct {
	raw   syscall.RawConn
	v6    bool
	hdrs  []mmsghdr
	iov   unix.Iovec
	names []sockaddr
	peers []int // index in the caller's list of each header's peer

	off, cnt int
	n        int
	errno    syscall.Errno
	fn       func(fd uintptr) bool

	zone      string // cache of the last IPv6 zone seen, by name
	zoneIndex uint32
}

func newSendBatch(_ *net.UDPConn, raw syscall.RawConn, v6 bool) *sendBatch {
	s := &sendBatch{raw: raw, v6: v6}
	s.fn = s.sendmmsg
	return s
}

// errPeerAddr reports a peer address the socket cannot send to.
var errPeerAddr = errors.New("address not of the socket's family, or port 0")

// send sends p to every address in to and returns how many datagrams the
// kernel took. failed counts the others; err is the first failure and
// first the index of its peer.
func (s *sendBatch) send(p []byte, to []netip.AddrPort) (sent, failed, first int, err error) {
	if len(to) > len(s.hdrs) {
		// Grows with the group, not per packet.
		s.hdrs = make([]mmsghdr, len(to))
		s.names = make([]sockaddr, len(to))
		s.peers = make([]int, len(to))
	}
	s.iov.Base = &p[0]
	s.iov.SetLen(len(p))
	k := 0
	for i, ap := range to {
		n := s.sockaddr(&s.names[k], ap)
		if n == 0 {
			if failed == 0 {
				first, err = i, errPeerAddr
			}
			failed++
			continue
		}
		h := &s.hdrs[k].hdr
		h.Name = &sockaddrBytes(&s.names[k])[0]
		h.Namelen = uint32(n)
		h.Iov = &s.iov
		h.SetIovlen(1)
		s.peers[k] = i
		k++
	}
	for s.off, s.cnt = 0, k; s.off < k; {
		if e := s.raw.Write(s.fn); e != nil {
			// The socket is closed: nothing more leaves.
			if failed == 0 {
				first, err = s.peers[s.off], e
			}
			return sent, failed + k - s.off, first, err
		}
		if s.errno == unix.EAGAIN {
			// The send buffer is full: nothing more fits now, and a
			// heartbeat that waits is a stale one.
			if failed == 0 {
				first, err = s.peers[s.off], s.errno
			}
			return sent, failed + k - s.off, first, err
		}
		if s.errno != 0 {
			// sendmmsg reports an error only for the first datagram
			// of a call: skip that one and go on with the rest.
			if failed == 0 {
				first, err = s.peers[s.off], s.errno
			}
			failed++
			s.off++
			continue
		}
		sent += s.n
		s.off += s.n
	}
	return sent, failed, first, err
}

func (s *sendBatch) sendmmsg(fd uintptr) bool {
	for {
		// Raw, as in tryRead: the socket is non-blocking, so this
		// never waits for room.
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.hdrs[s.off])), uintptr(s.cnt-s.off), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		// Never wait in the poller for room (EAGAIN): send reports it.
		s.n, s.errno = int(n), errno
		if errno == 0 && s.n <= 0 {
			s.n, s.errno = 0, unix.EIO // the kernel took nothing without saying why
		}
		return true
	}
}

// sockaddr writes ap as a struct sockaddr for the socket's family and
// returns its length, or 0 if the socket cannot send there.
func (s *sendBatch) sockaddr(sa *sockaddr, ap netip.AddrPort) int {
	b := sockaddrBytes(sa)
	a := ap.Addr()
	if ap.Port() == 0 {
		return 0
	}
	binary.BigEndian.PutUint16(b[2:4], ap.Port())
	if !s.v6 {
		a = a.Unmap()
		if !a.Is4() {
			return 0
		}
		binary.NativeEndian.PutUint16(b[0:2], unix.AF_INET)
		*(*[4]byte)(b[4:8]) = a.As4()
		clear(b[8:16])
		return unix.SizeofSockaddrInet4
	}
	if !a.Is6() || a.Is4In6() {
		return 0
	}
	binary.NativeEndian.PutUint16(b[0:2], unix.AF_INET6)
	clear(b[4:8]) // flow info
	*(*[16]byte)(b[8:24]) = a.As16()
	var scope uint32
	if z := a.Zone(); z != "" {
		if z != s.zone {
			id, err := zoneIndex(z)
			if err != nil {
				return 0
			}
			s.zone, s.zoneIndex = z, id
		}
		scope = s.zoneIndex
	}
	binary.NativeEndian.PutUint32(b[24:28], scope)
	return unix.SizeofSockaddrInet6
}
