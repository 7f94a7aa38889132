package lab

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// DefaultInterval is the prober's send interval when Ping is given 0.
const DefaultInterval = 10 * time.Millisecond

// ErrStopped is returned by the Prober's wait methods once it has stopped.
var ErrStopped = errors.New("lab: prober stopped")

// Echo payload layout: an 8-byte cookie unique to the prober, the 8-byte
// sequence number (the 16-bit ICMP sequence wraps after 11 minutes at
// 10 ms), then padding to the classic ping payload size.
const (
	payloadLen   = 56
	cookieLen    = 8
	minPayload   = cookieLen + 8
	gapIntervals = 3 // a gap is more than this many intervals without reply
)

// nextID hands out ICMP identifiers so that probers sharing a namespace
// ignore each other's replies; the random start keeps concurrent test
// binaries apart too.
var nextID atomic.Uint32

func init() {
	var b [2]byte
	rand.Read(b[:])
	nextID.Store(uint32(binary.BigEndian.Uint16(b[:])))
}

// A Reply is one echo reply.
type Reply struct {
	// Seq is the request's sequence number, counting from 0.
	Seq int
	// Sent and Received are when the request left and the reply arrived.
	Sent, Received time.Time
}

// RTT returns the round-trip time.
func (r Reply) RTT() time.Duration { return r.Received.Sub(r.Sent) }

// A Gap is a period without any reply.
type Gap struct {
	// Start is the last reply before the gap, or the prober's start.
	Start time.Time
	// End is the first reply after the gap, or the end of the measurement
	// if Open.
	End time.Time
	// Open means no reply had arrived yet when the measurement ended.
	Open bool
}

// Duration returns the length of the gap.
func (g Gap) Duration() time.Duration { return g.End.Sub(g.Start) }

// Result is what a Prober measured.
type Result struct {
	// Target is the probed address.
	Target netip.Addr
	// Interval is the send interval.
	Interval time.Duration
	// Start and End bound the measurement.
	Start, End time.Time
	// Sent counts echo requests; SendErrors those the kernel refused.
	Sent, SendErrors int
	// Received counts requests that got at least one reply; Duplicates
	// counts extra replies (two hosts answering for one address).
	Received, Duplicates int
	// MaxGap is the longest time without a reply: between two consecutive
	// replies, from Start to the first reply, or from the last reply to End
	// (the target never came back). It is the outage a client sees.
	MaxGap time.Duration
	// Gaps are the periods without reply longer than 3 intervals, in order.
	Gaps []Gap
	// Replies are all first replies in arrival order.
	Replies []Reply
}

// Lost returns the number of requests without a reply.
func (r Result) Lost() int { return r.Sent - r.Received }

// String summarises the result on one line.
func (r Result) String() string {
	loss := 0.0
	if r.Sent > 0 {
		loss = 100 * float64(r.Lost()) / float64(r.Sent)
	}
	s := fmt.Sprintf("%s: %d sent, %d received (%.1f%% loss), max gap %v, %d gaps > %v",
		r.Target, r.Sent, r.Received, loss, r.MaxGap.Round(time.Millisecond), len(r.Gaps), gapIntervals*r.Interval)
	if r.Duplicates > 0 {
		s += fmt.Sprintf(", %d duplicates", r.Duplicates)
	}
	if r.SendErrors > 0 {
		s += fmt.Sprintf(", %d send errors", r.SendErrors)
	}
	return s
}

// summarize fills MaxGap and Gaps from Start, End, Interval and Replies.
func (r *Result) summarize() {
	if !slices.IsSortedFunc(r.Replies, cmpReceived) {
		slices.SortStableFunc(r.Replies, cmpReceived)
	}
	r.MaxGap, r.Gaps = 0, nil
	add := func(from, to time.Time, open bool) {
		d := to.Sub(from)
		if d > r.MaxGap {
			r.MaxGap = d
		}
		if d > gapIntervals*r.Interval {
			r.Gaps = append(r.Gaps, Gap{Start: from, End: to, Open: open})
		}
	}
	last := r.Start
	for _, rep := range r.Replies {
		add(last, rep.Received, false)
		last = rep.Received
	}
	if r.End.After(last) {
		add(last, r.End, true)
	}
}

func cmpReceived(a, b Reply) int { return a.Received.Compare(b.Received) }

// A Prober sends ICMP echo requests from a host at a fixed interval and
// records the replies. Create one with Host.Ping; its methods are safe for
// concurrent use.
type Prober struct {
	target   netip.Addr
	dst      net.Addr
	interval time.Duration
	conn     *icmp.PacketConn
	proto    int // 1 (ICMP) or 58 (ICMPv6)
	echoType icmp.Type
	replyTyp icmp.Type
	id       int
	cookie   [cookieLen]byte

	quit     chan struct{} // closed by Stop: stop sending
	senderWG sync.WaitGroup
	readerWG sync.WaitGroup
	stopOnce sync.Once
	untrack  func()

	mu         sync.Mutex
	start      time.Time
	end        time.Time // set once stopped
	stopped    bool
	sent       []time.Time // send time by sequence number
	replied    []bool      // by sequence number
	replies    []Reply
	dups       int
	sendErrs   int
	highest    int // highest sequence number replied, -1 if none
	lastRecv   time.Time
	notify     chan struct{} // closed and replaced on every reply
	result     Result        // final result once stopped
	readerFail error
}

// Ping starts probing target from the host every interval (DefaultInterval
// if 0; at least 1 ms). The ICMP socket lives in the host's namespace.
// IPv4 and IPv6 targets work. The prober runs until Stop, until ctx is done,
// or until the lab is closed; Stop returns the result in every case.
func (h *Host) Ping(ctx context.Context, target netip.Addr, interval time.Duration) (*Prober, error) {
	if interval == 0 {
		interval = DefaultInterval
	}
	if interval < time.Millisecond {
		return nil, fmt.Errorf("lab: %s: ping %s: interval %v below 1ms", h.NS, target, interval)
	}
	if !target.IsValid() {
		return nil, fmt.Errorf("lab: %s: ping: invalid target address", h.NS)
	}
	target = target.Unmap()
	p := &Prober{
		target:   target,
		interval: interval,
		id:       int(uint16(nextID.Add(1))),
		highest:  -1,
		notify:   make(chan struct{}),
		quit:     make(chan struct{}),
	}
	rand.Read(p.cookie[:])
	network, laddr := "ip4:icmp", "0.0.0.0"
	p.proto, p.echoType, p.replyTyp = 1, ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if target.Is6() {
		network, laddr = "ip6:ipv6-icmp", "::"
		p.proto, p.echoType, p.replyTyp = 58, ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	p.dst = &net.IPAddr{IP: target.AsSlice(), Zone: target.Zone()}
	err := h.Do(func() error {
		var err error
		p.conn, err = icmp.ListenPacket(network, laddr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: %s: ping %s: %w", h.NS, target, err)
	}
	untrack, err := h.lab.trackID(func() { p.Stop() })
	if err != nil {
		p.conn.Close()
		return nil, err
	}
	p.untrack = untrack
	p.start = time.Now()
	p.readerWG.Add(1)
	go p.read()
	p.senderWG.Add(1)
	go p.send()
	go func() {
		select {
		case <-ctx.Done():
			p.Stop()
		case <-p.quit:
		}
	}()
	return p, nil
}

func (p *Prober) send() {
	defer p.senderWG.Done()
	payload := make([]byte, payloadLen)
	copy(payload, p.cookie[:])
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		p.mu.Lock()
		seq := len(p.sent)
		p.sent = append(p.sent, time.Now())
		p.replied = append(p.replied, false)
		p.mu.Unlock()
		binary.BigEndian.PutUint64(payload[cookieLen:], uint64(seq))
		msg := icmp.Message{Type: p.echoType, Body: &icmp.Echo{ID: p.id, Seq: seq & 0xffff, Data: payload}}
		// For ICMPv6 the kernel fills in the checksum.
		b, err := msg.Marshal(nil)
		if err == nil {
			_, err = p.conn.WriteTo(b, p.dst)
		}
		if err != nil {
			p.mu.Lock()
			p.sendErrs++
			p.mu.Unlock()
		}
		select {
		case <-p.quit:
			return
		case <-t.C:
		}
	}
}

func (p *Prober) read() {
	defer p.readerWG.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFrom(buf)
		now := time.Now()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.mu.Lock()
				p.readerFail = err
				p.mu.Unlock()
			}
			return
		}
		seq, ok := p.match(buf[:n], from)
		if !ok {
			continue
		}
		p.mu.Lock()
		switch {
		case seq >= len(p.sent):
			// Not sent by us: a forged or corrupted cookie match.
		case p.replied[seq]:
			p.dups++
		default:
			p.replied[seq] = true
			p.replies = append(p.replies, Reply{Seq: seq, Sent: p.sent[seq], Received: now})
			p.lastRecv = now
			p.highest = max(p.highest, seq)
			close(p.notify)
			p.notify = make(chan struct{})
		}
		p.mu.Unlock()
	}
}

// match returns the sequence number of b if it is a reply to this prober.
func (p *Prober) match(b []byte, from net.Addr) (int, bool) {
	ipa, ok := from.(*net.IPAddr)
	if !ok {
		return 0, false
	}
	src, ok := netip.AddrFromSlice(ipa.IP)
	if !ok || src.Unmap() != p.target.WithZone("") {
		return 0, false
	}
	msg, err := icmp.ParseMessage(p.proto, b)
	if err != nil || msg.Type != p.replyTyp {
		return 0, false
	}
	echo, ok := msg.Body.(*icmp.Echo)
	if !ok || echo.ID != p.id || len(echo.Data) < minPayload || [cookieLen]byte(echo.Data[:cookieLen]) != p.cookie {
		return 0, false
	}
	seq := binary.BigEndian.Uint64(echo.Data[cookieLen:])
	if seq > uint64(^uint32(0)) {
		return 0, false
	}
	return int(seq), true
}

// Stop stops sending, waits briefly for the replies still in flight, closes
// the socket and returns the final result. Later calls return the same
// result.
func (p *Prober) Stop() Result {
	p.stopOnce.Do(func() {
		close(p.quit)
		p.senderWG.Wait()
		p.drain()
		p.conn.Close()
		p.readerWG.Wait()
		p.mu.Lock()
		p.stopped = true
		p.end = time.Now()
		p.result = p.resultLocked(p.end)
		close(p.notify)
		p.mu.Unlock()
		p.untrack()
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.result
	r.Gaps = slices.Clone(r.Gaps)
	r.Replies = slices.Clone(r.Replies)
	return r
}

// drainGrace is how long a request may be in flight: two intervals, 20 ms
// to 100 ms.
func (p *Prober) drainGrace() time.Duration {
	return min(max(2*p.interval, 20*time.Millisecond), 100*time.Millisecond)
}

// inFlightLocked counts the requests at the end, sent less than drainGrace
// before now, that have no reply yet.
func (p *Prober) inFlightLocked(now time.Time) int {
	n := 0
	for i := len(p.sent) - 1; i >= 0 && !p.replied[i] && now.Sub(p.sent[i]) < p.drainGrace(); i-- {
		n++
	}
	return n
}

// drain waits until the last request is answered, at most drainGrace.
func (p *Prober) drain() {
	grace := p.drainGrace()
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		done := len(p.replied) == 0 || p.replied[len(p.replied)-1]
		ch := p.notify
		p.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			return
		}
	}
}

func (p *Prober) resultLocked(end time.Time) Result {
	r := Result{
		Target:     p.target,
		Interval:   p.interval,
		Start:      p.start,
		End:        end,
		Sent:       len(p.sent),
		SendErrors: p.sendErrs,
		Received:   len(p.replies),
		Duplicates: p.dups,
		Replies:    slices.Clone(p.replies),
	}
	r.summarize()
	return r
}

// Snapshot returns the result so far, as if the prober stopped now (a
// silence running now is an open gap; requests still in flight, sent in
// the last two intervals and not answered yet, are not counted). After
// Stop it returns the final result.
func (p *Prober) Snapshot() Result {
	p.mu.Lock()
	stopped := p.stopped
	var r Result
	if !stopped {
		now := time.Now()
		r = p.resultLocked(now)
		// A request not answered yet may just be in flight: it is lost
		// only once Stop's drain has waited for it.
		r.Sent -= p.inFlightLocked(now)
	}
	p.mu.Unlock()
	if stopped {
		return p.Stop()
	}
	return r
}

// Err returns the error that ended the receiving side early, if any. A
// prober whose socket failed records no more replies.
func (p *Prober) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readerFail
}

// WaitReplies waits until n consecutive requests sent after the call have
// been answered: the target is reachable (again). It returns ctx's error or
// ErrStopped if that does not happen.
func (p *Prober) WaitReplies(ctx context.Context, n int) error {
	if n < 1 {
		n = 1
	}
	p.mu.Lock()
	i := len(p.sent) // first sequence number that counts
	p.mu.Unlock()
	run := 0
	for {
		p.mu.Lock()
		// Advance over requests whose fate is known: answered, or followed
		// by an answered one (lost or, rarely, reordered).
		for i < len(p.replied) && run < n {
			if p.replied[i] {
				run++
			} else if i < p.highest {
				run = 0
			} else {
				break // maybe still in flight
			}
			i++
		}
		stopped, ch := p.stopped, p.notify
		p.mu.Unlock()
		if run >= n {
			return nil
		}
		if stopped {
			return fmt.Errorf("lab: waiting for %d replies from %s: %w", n, p.target, ErrStopped)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab: waiting for %d replies from %s: %w", n, p.target, context.Cause(ctx))
		case <-ch:
		}
	}
}

// WaitSilence waits until no reply has arrived for d (counting from the
// last reply, or from the start if there was none): the target is gone. It
// returns ctx's error or ErrStopped if that does not happen.
func (p *Prober) WaitSilence(ctx context.Context, d time.Duration) error {
	for {
		p.mu.Lock()
		last := p.lastRecv
		if last.IsZero() {
			last = p.start
		}
		stopped, ch := p.stopped, p.notify
		p.mu.Unlock()
		remaining := d - time.Since(last)
		if remaining <= 0 {
			return nil
		}
		if stopped {
			return fmt.Errorf("lab: waiting for %v of silence from %s: %w", d, p.target, ErrStopped)
		}
		t := time.NewTimer(remaining)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("lab: waiting for %v of silence from %s: %w", d, p.target, context.Cause(ctx))
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
}
