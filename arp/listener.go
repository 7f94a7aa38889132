package arp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// Timings of the Listener. Variables so that tests can shorten them.
var (
	// pollInterval is how often Run looks for added, removed and recreated
	// interfaces and re-opens failed sockets.
	// Listing the interfaces is a netlink dump: polling is the safety net,
	// Resync (called on link events) the fast path.
	pollInterval = 5 * time.Second
	// firstReopenBackoff is the first wait before re-opening the sockets
	// of an interface whose sockets failed; it doubles up to
	// maxReopenBackoff.
	firstReopenBackoff = time.Second
	maxReopenBackoff   = 30 * time.Second
	// readBackoff is the first pause after a read error; it doubles up to
	// maxReadBackoff.
	readBackoff    = 100 * time.Millisecond
	maxReadBackoff = 5 * time.Second
)

// maxReadFailures is how many consecutive read errors a socket may return
// before its reader gives up and Run re-opens the interface's sockets.
const maxReadFailures = 5

// Listener watches interfaces for other hosts claiming addresses we hold.
//
// A claim is an ARP request or reply whose sender IP is watched (ARP probes,
// with sender IP 0.0.0.0, are not claims), an IPv6 Neighbor Advertisement
// whose target is watched, or a Neighbor Solicitation sent from a watched
// address (DAD solicitations from :: are not claims), in each case bound to
// a MAC that is not one of this host's. Frames this host sent are ignored.
type Listener struct {
	log     *slog.Logger
	watched func(netip.Addr) bool
	onClaim func(Claim)

	claims atomic.Uint64
	cbMu   sync.Mutex // serializes watched and onClaim

	local atomic.Pointer[map[[6]byte]bool] // every MAC of this host

	mu      sync.Mutex
	names   []string
	running bool
	wake    chan struct{} // SetInterfaces -> Run, capacity 1
}

// NewListener returns a Listener that reports to onClaim every claim of an
// address for which watched returns true.
//
// watched and onClaim are called from the Listener's reader goroutines,
// never concurrently with each other or themselves. Both must return
// quickly: while they run, no interface is read and the kernel drops what
// does not fit in the socket buffers. onClaim should hand the claim off
// (for example to a buffered channel) and return. The Claim's MAC is not
// retained by the Listener. A nil watched watches nothing.
func NewListener(logger *slog.Logger, watched func(netip.Addr) bool, onClaim func(Claim)) *Listener {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if watched == nil {
		watched = func(netip.Addr) bool { return false }
	}
	if onClaim == nil {
		onClaim = func(Claim) {}
	}
	return &Listener{
		log:     logger,
		watched: watched,
		onClaim: onClaim,
		wake:    make(chan struct{}, 1),
	}
}

// Resync makes Run look at the interfaces again now, for example after a
// link was added, removed or recreated. It never blocks.
func (l *Listener) Resync() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// SetInterfaces sets the names of the interfaces to watch, replacing the
// previous set. It may be called at any time, before or during Run.
// Interfaces that do not exist yet are picked up when they appear.
func (l *Listener) SetInterfaces(names []string) {
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	l.mu.Lock()
	l.names = names
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Claims returns the number of claims reported to onClaim so far.
func (l *Listener) Claims() uint64 { return l.claims.Load() }

// Run listens on the interfaces given to SetInterfaces until ctx is done,
// then closes its sockets, waits for its goroutines and returns nil. It
// returns an error only when Run is already running.
//
// About once a second Run picks up interfaces that appeared, drops those
// that disappeared, and re-opens the sockets of interfaces that were
// recreated or whose sockets failed (backing off up to 30 s on repeated
// failures). Sockets are opened on the goroutine that called Run, so they
// belong to that thread's network namespace: to listen in another
// namespace, call Run from a goroutine locked (runtime.LockOSThread) to it.
func (l *Listener) Run(ctx context.Context) error {
	l.mu.Lock()
	if l.running {
		l.mu.Unlock()
		return errors.New("arp: Listener.Run called while already running")
	}
	l.running = true
	l.mu.Unlock()

	readers := make(map[string]*reader)
	retries := make(map[string]*retryState)
	defer func() {
		for _, r := range readers {
			r.stop()
		}
		l.mu.Lock()
		l.running = false
		l.mu.Unlock()
	}()

	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		l.sync(readers, retries)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-l.wake:
		}
	}
}

// retryState tracks an interface whose sockets failed or could not be
// opened, and whether its absence was already logged.
type retryState struct {
	fails   int
	next    time.Time
	missing bool
}

func (rs *retryState) fail(now time.Time) {
	rs.fails++
	d := firstReopenBackoff << min(rs.fails-1, 16)
	rs.next = now.Add(min(d, maxReopenBackoff))
}

// sync brings the readers in line with the wanted interfaces.
func (l *Listener) sync(readers map[string]*reader, retries map[string]*retryState) {
	ifs, err := net.Interfaces()
	if err != nil {
		l.log.Warn("list interfaces", "err", err)
		return
	}
	byName := make(map[string]*net.Interface, len(ifs))
	local := make(map[[6]byte]bool, len(ifs))
	for i := range ifs {
		byName[ifs[i].Name] = &ifs[i]
		if len(ifs[i].HardwareAddr) == 6 {
			local[[6]byte(ifs[i].HardwareAddr)] = true
		}
	}
	l.local.Store(&local)

	l.mu.Lock()
	wanted := l.names
	l.mu.Unlock()

	now := time.Now()
	for name, r := range readers {
		ifi := byName[name]
		var why string
		switch {
		case !slices.Contains(wanted, name):
			why = "no longer watched"
			delete(retries, name)
		case ifi == nil:
			why = "interface gone"
		case ifi.Index != r.index:
			why = "interface recreated"
		case r.failed.Load():
			why = "socket failed"
			rs := retryFor(retries, name)
			if now.Sub(r.started) > maxReopenBackoff {
				rs.fails = 0 // it worked for a while: not a tight failure loop
			}
			rs.fail(now)
		default:
			continue
		}
		r.stop()
		delete(readers, name)
		l.log.Info("stopped listening", "interface", name, "reason", why)
	}

	for _, name := range wanted {
		if readers[name] != nil {
			continue
		}
		rs := retryFor(retries, name)
		ifi := byName[name]
		if ifi == nil {
			if !rs.missing {
				l.log.Info("watched interface does not exist (yet)", "interface", name)
				rs.missing = true
			}
			continue
		}
		rs.missing = false
		if now.Before(rs.next) {
			continue
		}
		r, err := l.open(ifi)
		if err != nil {
			rs.fail(now)
			l.log.Warn("listen for address claims", "interface", name, "err", err, "retry_in", rs.next.Sub(now))
			continue
		}
		readers[name] = r
		l.log.Info("listening for address claims", "interface", name, "index", ifi.Index)
	}
}

func retryFor(m map[string]*retryState, name string) *retryState {
	rs := m[name]
	if rs == nil {
		rs = new(retryState)
		m[name] = rs
	}
	return rs
}

// reader owns the sockets of one interface and the goroutines reading them.
type reader struct {
	name    string
	index   int
	mac     [6]byte
	started time.Time
	conns   []*packet.Conn

	quit    chan struct{} // closed by stop
	closing atomic.Bool
	failed  atomic.Bool // a socket gave up after repeated errors
	wg      sync.WaitGroup
}

// open opens the ARP and ND sockets on ifi and starts reading them.
func (l *Listener) open(ifi *net.Interface) (*reader, error) {
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("interface %s has no Ethernet address", ifi.Name)
	}
	arpConn, err := listenPacket(ifi, unix.ETH_P_ARP, arpFilter)
	if err != nil {
		return nil, err
	}
	ndConn, err := listenPacket(ifi, unix.ETH_P_IPV6, ndFilter)
	if err != nil {
		arpConn.Close()
		return nil, err
	}
	r := &reader{
		name:    ifi.Name,
		index:   ifi.Index,
		mac:     [6]byte(ifi.HardwareAddr),
		started: time.Now(),
		conns:   []*packet.Conn{arpConn, ndConn},
		quit:    make(chan struct{}),
	}
	bufLen := max(ifi.MTU, 1500) + ethHeaderLen + 4
	for _, c := range r.conns {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			l.read(r, c, bufLen)
		}()
	}
	return r, nil
}

// stop closes the reader's sockets and waits for its goroutines.
func (r *reader) stop() {
	if r.closing.Swap(true) {
		return
	}
	close(r.quit)
	for _, c := range r.conns {
		c.Close()
	}
	r.wg.Wait()
}

// read reads frames from c until the reader stops or c fails repeatedly.
// It never spins: each read error is followed by a growing pause. A link
// going down reports ENETDOWN once; the socket works again once the link is
// up, so isolated errors do not end the reader.
func (l *Listener) read(r *reader, c *packet.Conn, bufLen int) {
	buf := make([]byte, bufLen)
	fails := 0
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			if r.closing.Load() {
				return
			}
			fails++
			if fails >= maxReadFailures {
				l.log.Warn("giving up on socket after repeated read errors", "interface", r.name, "err", err)
				r.failed.Store(true)
				return
			}
			l.log.Debug("read error", "interface", r.name, "err", err)
			d := min(readBackoff<<(fails-1), maxReadBackoff)
			select {
			case <-r.quit:
				return
			case <-time.After(d):
			}
			continue
		}
		fails = 0
		l.handle(r, buf[:n])
	}
}

// handle reports the claim in frame, if any.
func (l *Listener) handle(r *reader, frame []byte) {
	c, ok := parseClaim(frame)
	if !ok {
		return
	}
	// Our own frames: the receiving interface's MAC, or any other MAC of
	// this host (two of its interfaces may share a link).
	if [6]byte(c.MAC) == r.mac || l.isLocal(c.MAC) || l.isLocal(frame[6:12]) {
		return
	}
	c.Interface = r.name
	l.cbMu.Lock()
	defer l.cbMu.Unlock()
	if !l.watched(c.Addr) {
		return
	}
	l.claims.Add(1)
	l.onClaim(c)
}

func (l *Listener) isLocal(mac []byte) bool {
	m := l.local.Load()
	return m != nil && len(mac) == 6 && (*m)[[6]byte(mac)]
}
