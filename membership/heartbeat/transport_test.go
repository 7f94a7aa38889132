package heartbeat

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The transports here talk over the loopback interface of the test's own
// network namespace, on ports the kernel picks: nothing leaves the host.

var loopback4 = netip.MustParseAddrPort("127.0.0.1:0")

// recorder is a Handler that keeps copies of what it receives.
type recorder struct {
	mu       sync.Mutex
	beats    []Beat
	from     []netip.AddrPort
	ats      []time.Time
	requests []MetaRequest
	replies  []MetaReply
	// answer is what OnMetaRequest returns.
	version uint64
	meta    []byte
	// onBeat, if set, runs inside OnBeat.
	onBeat func(from netip.AddrPort, b *Beat)
}

func (r *recorder) OnBeat(from netip.AddrPort, b *Beat, at time.Time) {
	r.mu.Lock()
	r.beats = append(r.beats, *b)
	r.from = append(r.from, from)
	r.ats = append(r.ats, at)
	f := r.onBeat
	r.mu.Unlock()
	if f != nil {
		f(from, b)
	}
}

func (r *recorder) OnMetaRequest(_ netip.AddrPort, q *MetaRequest, _ time.Time) (uint64, []byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, *q)
	return r.version, r.meta, r.meta != nil
}

func (r *recorder) OnMetaReply(_ netip.AddrPort, m *MetaReply, _ time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *m
	c.Meta = bytes.Clone(m.Meta)
	r.replies = append(r.replies, c)
}

func (r *recorder) numBeats() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.beats)
}

func (r *recorder) lastBeat() (Beat, netip.AddrPort) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.beats[len(r.beats)-1], r.from[len(r.from)-1]
}

func (r *recorder) numReplies() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.replies)
}

// eventually polls cond until it holds or fails the test after 3 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 3 s: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func config(name string, h Handler, key []byte, others ...[]byte) Config {
	c := DefaultConfig()
	c.Name, c.Bind, c.Handler, c.Key, c.OldKeys = name, loopback4, h, key, others
	return c
}

func listen(t testing.TB, c Config) *Transport {
	t.Helper()
	tr, err := Listen(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// node is a transport and what it received.
type node struct {
	*Transport
	rec *recorder
}

func newNode(t testing.TB, name string, key []byte, others ...[]byte) node {
	t.Helper()
	rec := &recorder{}
	return node{listen(t, config(name, rec, key, others...)), rec}
}

// hears sends a beat from a to b and waits until b has it.
func hears(t testing.TB, a, b node) Beat {
	t.Helper()
	beat := Beat{MetaVersion: 1, Interval: 5 * time.Millisecond}
	if err := a.SendBeat(&beat, []netip.AddrPort{b.LocalAddr()}); err != nil {
		t.Fatal(err)
	}
	var got Beat
	var from netip.AddrPort
	eventually(t, "beat received", func() bool {
		b.rec.mu.Lock()
		defer b.rec.mu.Unlock()
		for i, r := range b.rec.beats {
			if r.Sender == a.ID() && r.Counter == beat.Counter {
				got, from = r, b.rec.from[i]
				return true
			}
		}
		return false
	})
	if got.Process != a.Process() || got.MetaVersion != 1 || got.Interval != beat.Interval || from != a.LocalAddr() {
		t.Fatalf("received %+v from %v, sent %+v from %v", got, from, beat, a.LocalAddr())
	}
	return got
}

// deaf sends a beat from a to b and waits until b has dropped it for the
// reason that counter reads; b must not have received it.
func deaf(t testing.TB, a, b node, counter func(Counters) uint64) {
	t.Helper()
	n, before := b.rec.numBeats(), counter(b.Counters())
	if err := a.SendBeat(&Beat{}, []netip.AddrPort{b.LocalAddr()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "beat dropped", func() bool { return counter(b.Counters()) > before })
	if b.rec.numBeats() != n {
		t.Fatal("the beat was received")
	}
}

func badKey(c Counters) uint64     { return c.BadKey }
func wrongLabel(c Counters) uint64 { return c.WrongLabel }
func replays(c Counters) uint64    { return c.Replay }
func malformed(c Counters) uint64  { return c.Malformed }
func corrupt(c Counters) uint64    { return c.Corrupt }

func TestBeatExchange(t *testing.T) {
	for _, tt := range []struct {
		name string
		bind netip.AddrPort
		key  []byte
	}{
		{"IPv4 encrypted", loopback4, key1},
		{"IPv4 clear text", loopback4, nil},
		{"IPv6 encrypted", netip.MustParseAddrPort("[::1]:0"), key1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			ca, cb := config("a", &recorder{}, tt.key), config("b", rec, tt.key)
			ca.Bind, cb.Bind = tt.bind, tt.bind
			a, b := node{listen(t, ca), ca.Handler.(*recorder)}, node{listen(t, cb), rec}
			if a.ID() != ID("a") || a.LocalAddr().Port() == 0 || a.Process() == 0 {
				t.Fatalf("ID %x, address %v, process %d", a.ID(), a.LocalAddr(), a.Process())
			}
			for i, late := range []struct {
				n        int
				overflow bool
			}{{0, false}, {MaxLate, false}, {MaxLate, true}} {
				want := lateBeat(late.n, late.overflow)
				sent := want
				if err := a.SendBeat(&sent, []netip.AddrPort{b.LocalAddr()}); err != nil {
					t.Fatal(err)
				}
				eventually(t, "beat received", func() bool { return b.rec.numBeats() > i })
				got, from := b.rec.lastBeat()
				want.Header = Header{Type: TypeBeat, Sender: a.ID(), Process: a.Process(), Counter: sent.Counter}
				if got != want || from != a.LocalAddr() {
					t.Fatalf("late %d/%v: got %+v from %v\nwant %+v from %v", late.n, late.overflow, got, from, want, a.LocalAddr())
				}
			}
			c := b.Counters()
			if c.Received != 3 || c.Accepted != 3 || a.Counters().Sent != 3 {
				t.Fatalf("counters: a %+v, b %+v", a.Counters(), c)
			}
			hears(t, b, a)
		})
	}
}

func TestWrongKey(t *testing.T) {
	a, b := newNode(t, "a", key1), newNode(t, "b", key2)
	deaf(t, a, b, badKey)
	deaf(t, b, a, badKey)
	// Clear text and encrypted do not hear each other either.
	c := newNode(t, "c", nil)
	deaf(t, c, a, badKey)
	deaf(t, a, c, badKey)
}

func TestOtherLabel(t *testing.T) {
	rec := &recorder{}
	ca, cb := config("a", &recorder{}, key1), config("b", rec, key1)
	ca.Label, cb.Label = "cluster-a", "cluster-b"
	a, b := node{listen(t, ca), ca.Handler.(*recorder)}, node{listen(t, cb), rec}
	deaf(t, a, b, wrongLabel)
	deaf(t, b, a, wrongLabel)
}

// TestKeyRotation rotates from key1 to key2 in memberlist's three steps,
// one member at a time: the two members hear each other at every moment,
// and afterwards a member with the old key is not heard.
func TestKeyRotation(t *testing.T) {
	a, b := newNode(t, "a", key1), newNode(t, "b", key1)
	both := func(step string) {
		t.Helper()
		t.Log(step)
		hears(t, a, b)
		hears(t, b, a)
	}
	both("start: key1")
	steps := []struct {
		primary []byte
		others  [][]byte
	}{
		{key1, [][]byte{key2}}, // 1: add the new key
		{key2, [][]byte{key1}}, // 2: make it primary
		{key2, nil},            // 3: drop the old one
	}
	for i, s := range steps {
		if err := a.SetKeys(s.primary, s.others); err != nil {
			t.Fatal(err)
		}
		both("a at step " + string(rune('1'+i)))
		if err := b.SetKeys(s.primary, s.others); err != nil {
			t.Fatal(err)
		}
		both("b at step " + string(rune('1'+i)))
	}
	stale := newNode(t, "stale", key1)
	deaf(t, stale, a, badKey)
	deaf(t, a, stale, badKey)

	// Skipping a step breaks it: the test can tell.
	c := newNode(t, "c", key1)
	deaf(t, c, a, badKey)

	// A bad key changes nothing.
	if err := a.SetKeys(make([]byte, 7), nil); err == nil {
		t.Fatal("7-byte key accepted")
	}
	both("after a refused SetKeys")
	// And clear text is a key change like the others.
	if err := a.SetKeys(nil, nil); err != nil {
		t.Fatal(err)
	}
	deaf(t, a, b, badKey)
}

// tap is a plain UDP socket that captures what a transport sends it and
// sends it on, as an attacker on the path could.
type tap struct {
	t    testing.TB
	conn *net.UDPConn
}

func newTap(t testing.TB) *tap {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(loopback4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &tap{t, conn}
}

func (p *tap) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// capture has from send a beat to the tap and returns its bytes.
func (p *tap) capture(from node) []byte {
	p.t.Helper()
	if err := from.SendBeat(&Beat{}, []netip.AddrPort{p.addr()}); err != nil {
		p.t.Fatal(err)
	}
	buf := make([]byte, 2*MaxPacketLen)
	p.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, _, err := p.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		p.t.Fatal(err)
	}
	return buf[:n]
}

// inject sends raw bytes to a node and waits until it has counted them.
func (p *tap) inject(to node, pkt []byte) {
	p.t.Helper()
	n := to.Counters().Received
	if _, err := p.conn.WriteToUDPAddrPort(pkt, to.LocalAddr()); err != nil {
		p.t.Fatal(err)
	}
	eventually(p.t, "packet received and judged", func() bool {
		c := to.Counters()
		return c.Received > n && settled(c)
	})
}

// settled says that every datagram received was accepted or dropped.
func settled(c Counters) bool {
	return c.Received == c.Accepted+c.Malformed+c.WrongLabel+c.BadKey+c.Corrupt+c.Replay+c.TooManySenders
}

// expect injects pkt and checks that it was accepted, or dropped for the
// reason counter reads.
func (p *tap) expect(to node, pkt []byte, counter func(Counters) uint64) {
	p.t.Helper()
	beats, accepted := to.rec.numBeats(), to.Counters().Accepted
	var before uint64
	if counter != nil {
		before = counter(to.Counters())
	}
	p.inject(to, pkt)
	c := to.Counters()
	if counter == nil {
		if c.Accepted != accepted+1 {
			p.t.Fatalf("packet not accepted: %+v", c)
		}
		eventually(p.t, "beat handed to the handler", func() bool { return to.rec.numBeats() == beats+1 })
		return
	}
	if counter(c) != before+1 || to.rec.numBeats() != beats || c.Accepted != accepted {
		p.t.Fatalf("packet not dropped for the expected reason: %+v", c)
	}
}

func TestReplayedAndReordered(t *testing.T) {
	a, b := newNode(t, "a", key1), newNode(t, "b", key1)
	tp := newTap(t)
	p1, p2, p3 := tp.capture(a), tp.capture(a), tp.capture(a)
	tp.expect(b, p1, nil)
	tp.expect(b, p1, replays) // replayed
	tp.expect(b, p3, nil)
	tp.expect(b, p2, replays) // reordered: older than p3
	tp.expect(b, p3, replays)
	hears(t, a, b) // the live stream goes on
	tp.expect(b, p3, replays)
}

func TestRestartedSender(t *testing.T) {
	b := newNode(t, "b", key1)
	tp := newTap(t)
	a := newNode(t, "a", key1)
	hears(t, a, b)
	old := tp.capture(a) // a later packet of the old process
	// The member restarts: same name, a later process.
	ca := config("a", &recorder{}, key1)
	ca.Process = a.Process() + 1
	a2 := node{listen(t, ca), ca.Handler.(*recorder)}
	if got := hears(t, a2, b); got.Process != ca.Process {
		t.Fatalf("process %d", got.Process)
	}
	tp.expect(b, old, replays) // the old process is refused from now on
	// A process that claims an earlier start (the clock went back) is
	// refused until the receiver forgets the sender.
	ca.Process = a.Process() - 1
	a0 := node{listen(t, ca), ca.Handler.(*recorder)}
	deaf(t, a0, b, replays)
	b.Forget(a0.ID())
	hears(t, a0, b)
}

func TestTruncatedAndOversize(t *testing.T) {
	a, b := newNode(t, "a", key1), newNode(t, "b", key1)
	tp := newTap(t)
	good := tp.capture(a)
	for _, pkt := range [][]byte{
		good[:1], good[:HeaderLen], good[:BeatLen-1],
		append(bytes.Clone(good), 0),
		bytes.Repeat([]byte{1}, MaxPacketLen+1),
		bytes.Repeat([]byte{1}, 4000),
	} {
		tp.expect(b, pkt, malformed)
	}
	// A packet of the largest size that claims to be a reply gets as far
	// as the key check.
	big := make([]byte, MaxPacketLen)
	copy(big, good[:HeaderLen])
	big[offType] = byte(TypeMetaReply)
	tp.expect(b, big, badKey)
	tp.expect(b, good, nil)
}

func TestClearTextCorruption(t *testing.T) {
	a, b := newNode(t, "a", nil), newNode(t, "b", nil)
	tp := newTap(t)
	good := tp.capture(a)
	for _, i := range []int{HeaderLen + 3, offSender, BeatLen - TrailerLen, BeatLen - 1} {
		bad := bytes.Clone(good)
		bad[i] ^= 0x10
		tp.expect(b, bad, corrupt)
	}
	tp.expect(b, good, nil)
}

func TestMetaPull(t *testing.T) {
	ra := &recorder{version: 5, meta: []byte("state=mature vips=1")}
	a, b := node{listen(t, config("a", ra, key1)), ra}, newNode(t, "b", key1)
	var known atomic.Uint64
	b.rec.mu.Lock()
	b.rec.onBeat = func(from netip.AddrPort, beat *Beat) {
		// On the receive goroutine, as the lead's handler would.
		if beat.MetaVersion > known.Load() {
			if err := b.SendMetaRequest(from, beat.MetaVersion); err != nil {
				t.Error(err)
			}
		}
	}
	b.rec.mu.Unlock()
	first := Beat{MetaVersion: 5}
	if err := a.SendBeat(&first, []netip.AddrPort{b.LocalAddr()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "meta reply", func() bool { return b.rec.numReplies() == 1 })
	b.rec.mu.Lock()
	r, firstGot := b.rec.replies[0], b.rec.beats[0]
	b.rec.mu.Unlock()
	a.rec.mu.Lock()
	q := a.rec.requests[0]
	a.rec.mu.Unlock()
	if q.Version != 5 || q.Sender != b.ID() {
		t.Fatalf("request %+v", q)
	}
	if r.Version != 5 || string(r.Meta) != "state=mature vips=1" || r.Sender != a.ID() ||
		r.EchoProcess != b.Process() || r.EchoCounter != q.Counter || !r.Proven {
		t.Fatalf("reply %+v", r)
	}
	if firstGot.Proven {
		t.Fatal("a beat before any reply is proven")
	}
	known.Store(5)
	if got := hears(t, a, b); !got.Proven {
		t.Fatal("a beat after the reply is not proven")
	}
	// A request that the handler does not answer gets no reply.
	a.rec.mu.Lock()
	a.rec.meta = nil
	a.rec.mu.Unlock()
	sent := a.Counters().Sent
	if err := b.SendMetaRequest(a.LocalAddr(), 6); err != nil {
		t.Fatal(err)
	}
	eventually(t, "request received", func() bool {
		a.rec.mu.Lock()
		defer a.rec.mu.Unlock()
		return len(a.rec.requests) == 2
	})
	if a.Counters().Sent != sent {
		t.Fatal("an unanswered request got a reply")
	}
}

// TestMetaReplyTooLarge: a handler that returns more than MaxMeta bytes
// gets no reply sent, and the transport counts it.
func TestMetaReplyTooLarge(t *testing.T) {
	ra := &recorder{version: 1, meta: make([]byte, MaxMeta+1)}
	a, b := node{listen(t, config("a", ra, key1)), ra}, newNode(t, "b", key1)
	if err := b.SendMetaRequest(a.LocalAddr(), 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, "send error counted", func() bool { return a.Counters().SendErrors == 1 })
	if a.Counters().Sent != 0 {
		t.Fatal("an oversize reply was sent")
	}
}

func TestReplyRate(t *testing.T) {
	rec := &recorder{version: 1, meta: []byte("m")}
	ca := config("a", rec, key1)
	ca.ReplyRate = 2
	a := node{listen(t, ca), rec}
	b := newNode(t, "b", key1)
	for range 5 {
		if err := b.SendMetaRequest(a.LocalAddr(), 1); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "requests counted", func() bool { return a.Counters().Accepted == 5 })
	if c := a.Counters(); c.RepliesLimited < 2 || c.Sent+c.RepliesLimited != 5 {
		t.Fatalf("5 requests at 2 replies/s: %+v", c)
	}
}

func TestMaxSenders(t *testing.T) {
	rec := &recorder{}
	cb := config("b", rec, key1)
	cb.MaxSenders = 1
	b := node{listen(t, cb), rec}
	a, c := newNode(t, "a", key1), newNode(t, "c", key1)
	hears(t, a, b)
	deaf(t, c, b, func(c Counters) uint64 { return c.TooManySenders })
	hears(t, a, b)
	b.Forget(a.ID())
	hears(t, c, b)
}

func TestSendErrors(t *testing.T) {
	a, b := newNode(t, "a", key1), newNode(t, "b", key1)
	to := []netip.AddrPort{
		netip.MustParseAddrPort("[2001:db8::1]:7947"), // not the socket's family
		b.LocalAddr(),
		netip.MustParseAddrPort("127.0.0.1:0"), // port 0
		{},                                     // zero
	}
	err := a.SendBeat(&Beat{}, to)
	if err == nil || !strings.Contains(err.Error(), "3 of 4 not sent") || !errors.Is(err, errPeerAddr) {
		t.Fatalf("SendBeat = %v", err)
	}
	eventually(t, "beat received despite the bad peers", func() bool { return b.rec.numBeats() == 1 })
	if c := a.Counters(); c.Sent != 1 || c.SendErrors != 3 {
		t.Fatalf("counters %+v", c)
	}
	// An invalid beat sends nothing.
	if err := a.SendBeat(&Beat{NumLate: MaxLate + 1}, []netip.AddrPort{b.LocalAddr()}); err == nil {
		t.Fatal("invalid beat sent")
	}
	if a.Counters().Sent != 1 {
		t.Fatal("an invalid beat left")
	}
	// No peers: nothing to do.
	if err := a.SendBeat(&Beat{}, nil); err != nil {
		t.Fatal(err)
	}
	// An IPv4-mapped peer is an IPv4 peer.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(b.LocalAddr().Addr().As16()), b.LocalAddr().Port())
	if err := a.SendBeat(&Beat{}, []netip.AddrPort{mapped}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "beat to a mapped address", func() bool { return b.rec.numBeats() == 2 })
}

func TestListenErrors(t *testing.T) {
	good := config("a", nil, key1)
	for name, mutate := range map[string]func(*Config){
		"no name":        func(c *Config) { c.Name = "" },
		"no address":     func(c *Config) { c.Bind = netip.AddrPort{} },
		"bad key":        func(c *Config) { c.Key = []byte("short") },
		"batch":          func(c *Config) { c.Batch = 5000 },
		"senders":        func(c *Config) { c.MaxSenders = -1 },
		"reply rate":     func(c *Config) { c.ReplyRate = -1 },
		"read buffer":    func(c *Config) { c.ReadBuffer = -1 },
		"priority":       func(c *Config) { c.Sched = Sched{Policy: PolicyFIFO, Priority: 100} },
		"other priority": func(c *Config) { c.Sched = Sched{Priority: 1} },
		"not local":      func(c *Config) { c.Bind = netip.MustParseAddrPort("198.18.0.1:0") },
		"polled and sched": func(c *Config) {
			c.Polled, c.Sched = true, Sched{Policy: PolicyFIFO, Priority: 1}
		},
	} {
		c := good
		mutate(&c)
		if tr, err := Listen(c); err == nil {
			tr.Close()
			t.Errorf("%s: Listen succeeded", name)
		}
	}
	a := listen(t, good)
	c := good
	c.Bind = a.LocalAddr()
	if _, err := Listen(c); err == nil || !strings.Contains(err.Error(), a.LocalAddr().String()) {
		t.Errorf("port in use: %v", err)
	}
}

func TestClose(t *testing.T) {
	a, b := newNode(t, "a", key1), newNode(t, "b", key1)
	hears(t, a, b)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.done:
	default:
		t.Fatal("receive goroutine still running after Close")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := b.SendBeat(&Beat{}, []netip.AddrPort{a.LocalAddr()}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("SendBeat after Close: %v", err)
	}
	if err := b.SendMetaRequest(a.LocalAddr(), 1); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("SendMetaRequest after Close: %v", err)
	}
	n := b.rec.numBeats()
	if err := a.SendBeat(&Beat{}, []netip.AddrPort{b.LocalAddr()}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if b.rec.numBeats() != n {
		t.Fatal("a closed transport received")
	}
}

// TestLockedSender sends from a goroutine locked to its thread, as the
// heartbeat sender runs.
func TestLockedSender(t *testing.T) {
	a, b := newNode(t, "a", key1), newNode(t, "b", key1)
	errc := make(chan error, 1)
	go func() {
		if err := LockThread(Sched{}); err != nil {
			errc <- err
			return
		}
		for range 3 {
			if err := a.SendBeat(&Beat{}, []netip.AddrPort{b.LocalAddr()}); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	eventually(t, "3 beats", func() bool { return b.rec.numBeats() == 3 })
}

// TestConcurrent sends, rotates keys and forgets senders from several
// goroutines at once (for the race detector) while beats flow.
func TestConcurrent(t *testing.T) {
	ra := &recorder{version: 1, meta: []byte("m")}
	a, b := node{listen(t, config("a", ra, key1, key2)), ra}, newNode(t, "b", key1, key2)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				switch (i + j) % 4 {
				case 0:
					a.SendBeat(&Beat{}, []netip.AddrPort{b.LocalAddr()})
				case 1:
					b.SendMetaRequest(a.LocalAddr(), 1)
				case 2:
					a.SetKeys(key1, [][]byte{key2})
				case 3:
					b.Forget(a.ID())
				}
				_ = a.Counters()
			}
		}()
	}
	wg.Wait()
	hears(t, a, b)
}

// signal is a Handler that does nothing but say that something came, for
// the allocation tests: it allocates nothing itself.
type signal struct {
	ch   chan struct{}
	meta []byte
}

func (s *signal) OnBeat(netip.AddrPort, *Beat, time.Time) { s.ch <- struct{}{} }
func (s *signal) OnMetaRequest(netip.AddrPort, *MetaRequest, time.Time) (uint64, []byte, bool) {
	return 1, s.meta, true
}
func (s *signal) OnMetaReply(netip.AddrPort, *MetaReply, time.Time) { s.ch <- struct{}{} }

// sinks returns n addresses of sockets that nobody reads: the kernel
// drops what does not fit in their buffers.
func sinks(t testing.TB, n int) []netip.AddrPort {
	var out []netip.AddrPort
	for range n {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(loopback4))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		out = append(out, c.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	return out
}

// TestSteadyPathAllocs proves that the steady paths allocate nothing: a
// beat sealed and sent to 49 peers, received, opened, checked and handed
// to the handler; a metadata request and its reply. AllocsPerRun counts
// the allocations of every goroutine, the receive goroutines included.
func TestSteadyPathAllocs(t *testing.T) {
	for _, key := range [][]byte{key1, nil} {
		sa, sb := &signal{ch: make(chan struct{}, 1), meta: make([]byte, MaxMeta)}, &signal{ch: make(chan struct{}, 1)}
		a := listen(t, config("a", sa, key))
		cb := config("b", sb, key, key2, key3)
		if key == nil {
			cb.OldKeys = nil
		}
		b := listen(t, cb)
		to := append([]netip.AddrPort{b.LocalAddr()}, sinks(t, 48)...)
		beat := lateBeat(MaxLate, true)
		round := func() {
			if err := a.SendBeat(&beat, to); err != nil {
				t.Fatal(err)
			}
			<-sb.ch
		}
		round() // first use sizes the buffers
		if n := testing.AllocsPerRun(200, round); n != 0 {
			t.Errorf("key %v: beat to 49 peers, received: %v allocations per round, want 0", key != nil, n)
		}
		pull := func() {
			if err := b.SendMetaRequest(a.LocalAddr(), 1); err != nil {
				t.Fatal(err)
			}
			<-sb.ch
		}
		pull()
		if n := testing.AllocsPerRun(200, pull); n != 0 {
			t.Errorf("key %v: metadata request and reply: %v allocations, want 0", key != nil, n)
		}
		if c := b.Counters(); c.Replay+c.BadKey+c.Malformed != 0 {
			t.Fatalf("drops: %+v", c)
		}
	}
}

func TestPolled(t *testing.T) {
	rec := &recorder{}
	cb := config("b", rec, key1)
	cb.Polled = true
	b := node{listen(t, cb), rec}
	a := newNode(t, "a", key1)
	if _, err := a.Poll(); err == nil {
		t.Fatal("Poll on a transport with a receive goroutine")
	}
	if n, err := b.Poll(); n != 0 || err != nil {
		t.Fatalf("Poll of an empty socket: %d, %v", n, err)
	}
	t0 := time.Now()
	for range 3 {
		if err := a.SendBeat(&Beat{}, []netip.AddrPort{b.LocalAddr()}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(30 * time.Millisecond)
	if rec.numBeats() != 0 {
		t.Fatal("a polled transport received on its own")
	}
	t1 := time.Now()
	total := 0
	eventually(t, "3 beats polled", func() bool {
		n, err := b.Poll()
		if err != nil {
			t.Fatal(err)
		}
		total += n
		return total == 3
	})
	if rec.numBeats() != 3 {
		t.Fatalf("%d beats handled when Poll returned", rec.numBeats())
	}
	// The arrival time is the kernel's, not the time of the Poll.
	rec.mu.Lock()
	at := rec.ats[0]
	rec.mu.Unlock()
	if at.Before(t0.Add(-time.Millisecond)) || !at.Before(t1.Add(-20*time.Millisecond)) {
		t.Fatalf("arrival %v after the send, poll %v after it", at.Sub(t0), t1.Sub(t0))
	}
	// A reply goes out from Poll too.
	rec.mu.Lock()
	rec.version, rec.meta = 1, []byte("m")
	rec.mu.Unlock()
	if err := a.SendMetaRequest(b.LocalAddr(), 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reply", func() bool { b.Poll(); return a.rec.numReplies() == 1 })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Poll(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Poll after Close: %v", err)
	}
}

// TestArrivalTime: the receive goroutine hands over the kernel's arrival
// time, between the send and the handler's own clock.
func TestArrivalTime(t *testing.T) {
	a, b := newNode(t, "a", key1), newNode(t, "b", key1)
	t0 := time.Now()
	hears(t, a, b)
	b.rec.mu.Lock()
	at := b.rec.ats[0]
	b.rec.mu.Unlock()
	if at.Before(t0.Add(-time.Millisecond)) || at.After(time.Now()) {
		t.Fatalf("arrival %v after the send", at.Sub(t0))
	}
}

func TestPolledAllocs(t *testing.T) {
	sb := &signal{ch: make(chan struct{}, 1)}
	cb := config("b", sb, key1)
	cb.Polled = true
	b := listen(t, cb)
	a := listen(t, config("a", nil, key1))
	beat := lateBeat(MaxLate, true)
	to := []netip.AddrPort{b.LocalAddr()}
	round := func() {
		if err := a.SendBeat(&beat, to); err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := b.Poll(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-sb.ch:
				return
			default:
			}
		}
	}
	round()
	if n := testing.AllocsPerRun(200, round); n != 0 {
		t.Fatalf("send and Poll: %v allocations per round, want 0", n)
	}
}

func TestPacer(t *testing.T) {
	if _, err := NewPacer(0); err == nil {
		t.Fatal("zero interval accepted")
	}
	const iv = 10 * time.Millisecond
	p, err := NewPacer(iv)
	if err != nil || p.Interval() != iv {
		t.Fatal(p, err)
	}
	start := time.Now()
	for range 3 {
		p.Wait()
	}
	if el := time.Since(start); el < 3*iv-time.Millisecond {
		t.Fatalf("3 ticks of %v in %v", iv, el)
	}
	// A stall: the next Wait is late by about the stall, and the one
	// after it is an interval later, not at once to catch up.
	time.Sleep(35 * time.Millisecond)
	if late := p.Wait(); late < 20*time.Millisecond {
		t.Fatalf("after a 35 ms stall, %v late", late)
	}
	t1 := time.Now()
	p.Wait()
	if el := time.Since(t1); el < iv-2*time.Millisecond {
		t.Fatalf("the tick after a stall came %v later, want about %v", el, iv)
	}
	if n := testing.AllocsPerRun(5, func() { p.Wait() }); n != 0 {
		t.Fatalf("Wait: %v allocations", n)
	}
}
