package heartbeat

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Handler receives the messages a Transport accepts: authenticated (or,
// in clear text, intact), well formed and newer than anything accepted of
// their type from their sender.
//
// Its methods are called on the transport's receive goroutine (with
// Config.Polled, on the goroutine that calls Poll), one at a time, in the
// order the packets arrived. at is when the packet arrived: the kernel's
// receive timestamp, carried over onto a time.Now reading so that it has
// a monotonic clock reading and compares with time.Now. The methods must
// not block: while one runs, no packet is read, and with Config.Sched the
// goroutine runs at realtime priority. The message, and every slice in it,
// is the transport's and is valid only during the call: copy what you
// keep. A Handler may call SendBeat, SendMetaRequest, SetKeys, Forget and
// Counters, but not Close or Poll.
type Handler interface {
	// OnBeat receives a heartbeat.
	OnBeat(from netip.AddrPort, b *Beat, at time.Time)
	// OnMetaRequest receives a request for this member's metadata and
	// returns it with its version; the transport copies meta (at most
	// MaxMeta bytes) into the reply before the method returns. ok false
	// sends no reply.
	OnMetaRequest(from netip.AddrPort, r *MetaRequest, at time.Time) (version uint64, meta []byte, ok bool)
	// OnMetaReply receives an answer to a request.
	OnMetaReply(from netip.AddrPort, r *MetaReply, at time.Time)
}

// Config configures a Transport.
type Config struct {
	// Name is this member's name; its ID (see ID) is the sender of every
	// packet the transport sends.
	Name string
	// Bind is the local address of the socket, IPv4 or IPv6 (an
	// IPv4-mapped address binds IPv4). Peers must be of the same family.
	// Port 0 picks a free port (see LocalAddr).
	Bind netip.AddrPort
	// Label names the group; packets of another label are dropped.
	// Empty means "wackamole", as for membership.Config.
	Label string
	// Key seals every packet (AES-GCM, 16, 24 or 32 bytes); Key and
	// OldKeys open them. Nil Key and no OldKeys: clear text, with a
	// checksum against corruption and no authenticity.
	Key     []byte
	OldKeys [][]byte
	// Handler receives what arrives. Nil drops every message (after
	// counting it).
	Handler Handler
	// Sched is the scheduling of the receive goroutine's thread (see
	// Sched). Listen fails if it cannot be applied.
	Sched Sched
	// Batch is how many datagrams one receive system call may return.
	Batch int
	// MaxSenders bounds the senders whose replay windows are kept; a
	// packet from a new sender beyond it is dropped. Forget frees one.
	MaxSenders int
	// ReplyRate is the most metadata replies per second this transport
	// sends (the burst is the same). A reply is up to 17 times the size
	// of a request; in clear text, where anyone can send a request with
	// a forged source, this bounds the reflected traffic.
	ReplyRate int
	// ReadBuffer, if positive, sets the socket's receive buffer
	// (SO_RCVBUF) in bytes.
	ReadBuffer int
	// Polled starts no receive goroutine: the caller receives by calling
	// Poll, typically from its heartbeat loop right before it sends. A
	// node then wakes once per interval instead of once per datagram,
	// which halves its CPU at short intervals (see the package
	// documentation). A datagram then waits up to an interval before it
	// is handled, but the at its Handler gets is still when it arrived
	// (the kernel's receive timestamp). Sched does not apply: the
	// caller's thread is the caller's.
	Polled bool
	// Coalesce, if positive, bounds how often the receive goroutine of a
	// transport that is neither Polled nor realtime wakes while
	// datagrams arrive densely (more than one per Coalesce): it then
	// reads once per Coalesce, the batch that arrived meanwhile, instead
	// of once per datagram. Sparse datagrams are read as they arrive, and
	// so are bursts that a pause finds already read (see receive). A
	// datagram then waits up to Coalesce before it is handled, but the at
	// its Handler gets is still when it arrived. With N peers beating
	// every interval, a node receives N per interval: at 50 peers and
	// 200 ms, 245 wake-ups a second become about 1/Coalesce.
	Coalesce time.Duration
	// Process identifies this process in every packet (see
	// Header.Process). Zero means now, in Unix nanoseconds; receivers
	// refuse a process older than the newest they heard from this
	// sender, so a value must grow across restarts.
	Process uint64
}

// DefaultPort is the heartbeat port: memberlist's default port, 7946,
// plus one.
const DefaultPort = 7947

// DefaultConfig returns a Config that binds every IPv4 address on
// DefaultPort with the default label and limits. Name, Key and Handler are
// the caller's.
func DefaultConfig() Config {
	return Config{
		Bind:       netip.AddrPortFrom(netip.IPv4Unspecified(), DefaultPort),
		Label:      "wackamole",
		Batch:      64,
		MaxSenders: 1024,
		ReplyRate:  1000,
	}
}

// Counters are a Transport's packet counts since Listen, for metrics.
type Counters struct {
	// Sent counts datagrams the kernel took; SendErrors those it refused
	// or that had an address the socket cannot send to.
	Sent, SendErrors uint64
	// Received counts datagrams read; Accepted those handed to the
	// Handler. Every other datagram received is dropped and counted
	// once, by reason: Received = Accepted + Malformed + WrongLabel +
	// BadKey + Corrupt + Replay + TooManySenders (once the datagrams
	// being handled are).
	Received, Accepted uint64
	// Malformed: wrong size for its type (truncated, oversize), unknown
	// version or type, reserved bytes set.
	Malformed uint64
	// WrongLabel: a packet of another group.
	WrongLabel uint64
	// BadKey: no key opens it (another or a stale key, a forgery,
	// corruption, or the other seal mode).
	BadKey uint64
	// Corrupt: a clear-text packet that fails its checksum.
	Corrupt uint64
	// Replay: not newer than what was accepted from its sender: a
	// replay, a duplicate, a reordered older packet, or an older
	// process of the sender.
	Replay uint64
	// TooManySenders: a new sender beyond Config.MaxSenders.
	TooManySenders uint64
	// RepliesLimited counts metadata requests not answered because of
	// Config.ReplyRate; the requests themselves are counted as Accepted.
	RepliesLimited uint64
	// ReadErrors counts failed receive calls (not datagrams).
	ReadErrors uint64
	// Wakeups counts the receive goroutine's reads that found datagrams,
	// but for those that went on reading a full batch: how often it woke
	// for them (with Config.Coalesce, about once per window while they
	// come densely).
	Wakeups uint64
	// Pauses counts the receive goroutine's coalescing pauses
	// (Config.Coalesce).
	Pauses uint64
}

type counters struct {
	sent, sendErrors, received, accepted            atomic.Uint64
	malformed, label, key, corrupt, replay, senders atomic.Uint64
	limited, readErrors, wakeups, pauses            atomic.Uint64
}

// maxCounter is where a process stops sealing: its counter starts below
// 2^62 and would need 2^62 packets to get here.
const maxCounter = 1 << 63

// ErrCounterExhausted is returned by the Send methods once the process's
// packet counter has run out. It cannot happen in practice (2^62 packets)
// and is there so that a counter never wraps and a nonce never repeats.
var ErrCounterExhausted = errors.New("heartbeat: packet counter exhausted; restart the process")

// Transport sends and receives heartbeats and metadata on one UDP socket.
// Its methods are safe for concurrent use unless they say otherwise.
type Transport struct {
	id, process uint64
	salt        uint32
	counter     atomic.Uint64
	label       string

	sock    *socket
	local   netip.AddrPort
	sealer  atomic.Pointer[Sealer]
	replays *replayTable
	handler Handler
	stats   counters

	beatMu  sync.Mutex
	beatBuf []byte
	beatTx  *sendBatch

	reqMu  sync.Mutex
	reqBuf []byte
	reqTx  *sendBatch
	reqTo  [1]netip.AddrPort

	// The receive goroutine's own.
	rx       *recvBatch
	opened   []byte
	rxBeat   Beat
	rxReq    MetaRequest
	rxReply  MetaReply
	replyBuf []byte
	replyTx  *sendBatch
	replyTo  [1]netip.AddrPort
	bucket   tokenBucket

	polled    bool
	coalesce  time.Duration // the receive goroutine's, zero if realtime
	pause     *Alarm        // the coalescing pause's, nil without coalescing
	pollMu    sync.Mutex
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
}

// Listen opens the socket and, unless cfg.Polled, starts the receive
// goroutine (with a realtime cfg.Sched, locked to its thread), and returns the
// transport. Zero Label, Batch, MaxSenders and ReplyRate take
// DefaultConfig's values. It fails, having started nothing, if cfg is
// invalid, the address cannot be bound or cfg.Sched cannot be applied.
func Listen(cfg Config) (*Transport, error) {
	def := DefaultConfig()
	if cfg.Name == "" {
		return nil, errors.New("heartbeat: config needs a member name")
	}
	if !cfg.Bind.Addr().IsValid() {
		return nil, fmt.Errorf("heartbeat: bind address %v is not an IP address and port", cfg.Bind)
	}
	if cfg.Label == "" {
		cfg.Label = def.Label
	}
	if cfg.Batch == 0 {
		cfg.Batch = def.Batch
	}
	if cfg.Batch < 1 || cfg.Batch > 1024 {
		return nil, fmt.Errorf("heartbeat: batch must be 1 to 1024, got %d", cfg.Batch)
	}
	if cfg.MaxSenders == 0 {
		cfg.MaxSenders = def.MaxSenders
	}
	if cfg.ReplyRate == 0 {
		cfg.ReplyRate = def.ReplyRate
	}
	if cfg.MaxSenders < 1 || cfg.ReplyRate < 1 || cfg.ReadBuffer < 0 || cfg.Coalesce < 0 {
		return nil, fmt.Errorf("heartbeat: max senders (%d) and reply rate (%d) must be positive, read buffer (%d) and coalesce (%v) not negative",
			cfg.MaxSenders, cfg.ReplyRate, cfg.ReadBuffer, cfg.Coalesce)
	}
	if err := cfg.Sched.Validate(); err != nil {
		return nil, err
	}
	if cfg.Polled && cfg.Sched != (Sched{}) {
		return nil, errors.New("heartbeat: Sched is for the receive goroutine, and a Polled transport has none: call LockThread in the goroutine that polls")
	}
	sealer, err := NewSealer(cfg.Label, cfg.Key, cfg.OldKeys)
	if err != nil {
		return nil, err
	}
	if cfg.Process == 0 {
		now := time.Now().UnixNano()
		if now <= 0 {
			return nil, fmt.Errorf("heartbeat: the clock reads %v, before 1970: set Config.Process", time.Now())
		}
		cfg.Process = uint64(now)
	}
	var seed [12]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("heartbeat: salt: %w", err)
	}

	bind := netip.AddrPortFrom(cfg.Bind.Addr().Unmap(), cfg.Bind.Port())
	v6 := bind.Addr().Is6()
	// A realtime receive goroutine waits in ppoll(2) on its own thread and
	// a polled transport never waits: only the ordinary receive goroutine
	// waits in the Go runtime's poller (see socket).
	sock, err := openSocket(bind, cfg.ReadBuffer, !cfg.Polled && cfg.Sched == (Sched{}))
	if err != nil {
		return nil, fmt.Errorf("heartbeat: listen on %v: %w", bind, err)
	}
	fail := func(err error) (*Transport, error) {
		sock.close()
		return nil, err
	}
	conn, raw := sock.conn(), sock.raw()
	t := &Transport{
		id:       ID(cfg.Name),
		process:  cfg.Process,
		salt:     binary.BigEndian.Uint32(seed[:4]),
		label:    cfg.Label,
		sock:     sock,
		local:    sock.local,
		replays:  newReplayTable(cfg.MaxSenders),
		handler:  cfg.Handler,
		beatBuf:  make([]byte, BeatLen),
		beatTx:   newSendBatch(conn, raw, v6),
		reqBuf:   make([]byte, MetaRequestLen),
		reqTx:    newSendBatch(conn, raw, v6),
		opened:   make([]byte, 0, MaxPacketLen),
		replyBuf: make([]byte, MaxPacketLen),
		replyTx:  newSendBatch(conn, raw, v6),
		bucket:   tokenBucket{rate: float64(cfg.ReplyRate), burst: float64(cfg.ReplyRate), tokens: float64(cfg.ReplyRate)},
		done:     make(chan struct{}),
	}
	if t.handler == nil {
		t.handler = nopHandler{}
	}
	if t.rx, err = newRecvBatch(conn, raw, sock.pollConn(), cfg.Batch, MaxPacketLen); err != nil {
		return fail(fmt.Errorf("heartbeat: socket on %v: %w", bind, err))
	}
	// The counter starts at a random point below 2^62 (see the package
	// documentation: it is half of the nonce's uniqueness argument).
	t.counter.Store(binary.BigEndian.Uint64(seed[4:]) >> 2)
	t.sealer.Store(sealer)

	t.polled = cfg.Polled
	if cfg.Polled {
		close(t.done)
		return t, nil
	}
	if cfg.Sched == (Sched{}) && cfg.Coalesce > 0 {
		if t.pause, err = NewAlarm(); err != nil {
			t.rx.release()
			return fail(err)
		}
		t.coalesce = cfg.Coalesce
	}
	ready := make(chan error, 1)
	go t.receive(cfg.Sched, ready)
	if err := <-ready; err != nil {
		<-t.done
		t.rx.release()
		t.closePause()
		return fail(err)
	}
	return t, nil
}

// closePause closes the coalescing pause's alarm, if any, once the
// receive goroutine has ended.
func (t *Transport) closePause() {
	if t.pause != nil {
		t.pause.Close()
	}
}

// ID returns this member's sender ID. Safe for concurrent use.
func (t *Transport) ID() uint64 { return t.id }

// Process returns this process's identity in its packets. Safe for
// concurrent use.
func (t *Transport) Process() uint64 { return t.process }

// LocalAddr returns the socket's address, with the port Listen picked if
// Config.Bind had port 0. Safe for concurrent use.
func (t *Transport) LocalAddr() netip.AddrPort { return t.local }

// next returns the next packet counter.
func (t *Transport) next() (uint64, error) {
	c := t.counter.Add(1)
	if c >= maxCounter {
		t.counter.Store(maxCounter) // stay exhausted
		return 0, ErrCounterExhausted
	}
	return c, nil
}

// SendBeat seals b once and sends it to every peer in to, with as few
// system calls as the kernel allows (one sendmmsg for all of them on
// Linux). It fills in b's Header (this member, this process, the next
// counter). It does not allocate unless to is longer than in every
// earlier call, or something fails.
//
// It returns an error if b is invalid (nothing is sent), or if the kernel
// refused some datagrams (a full send buffer among them: SendBeat never
// waits for room, a beat that waits is a stale one) or some addresses are
// not of the socket's family: the others are sent all the same, and the
// error says how many failed and the first reason. Safe for concurrent
// use (calls are serialised), also from a goroutine locked with
// LockThread.
func (t *Transport) SendBeat(b *Beat, to []netip.AddrPort) error {
	t.beatMu.Lock()
	defer t.beatMu.Unlock()
	if t.closed.Load() {
		return fmt.Errorf("heartbeat: send beat: %w", net.ErrClosed)
	}
	c, err := t.next()
	if err != nil {
		return err
	}
	b.Header = Header{Type: TypeBeat, Sender: t.id, Process: t.process, Counter: c}
	n, err := b.Marshal(t.beatBuf)
	if err != nil {
		return err
	}
	return t.transmit(t.beatTx, t.beatBuf[:n], to, TypeBeat)
}

// SendMetaRequest asks the member at to for its metadata; version is the
// version its beat announced. The answer arrives at Handler.OnMetaReply,
// or not at all (UDP: ask again if it does not come). Safe for concurrent
// use, also from a Handler.
func (t *Transport) SendMetaRequest(to netip.AddrPort, version uint64) error {
	t.reqMu.Lock()
	defer t.reqMu.Unlock()
	if t.closed.Load() {
		return fmt.Errorf("heartbeat: send meta request: %w", net.ErrClosed)
	}
	c, err := t.next()
	if err != nil {
		return err
	}
	r := MetaRequest{Header: Header{Type: TypeMetaRequest, Sender: t.id, Process: t.process, Counter: c}, Version: version}
	n, err := r.Marshal(t.reqBuf)
	if err != nil {
		return err
	}
	t.reqTo[0] = to
	return t.transmit(t.reqTx, t.reqBuf[:n], t.reqTo[:], TypeMetaRequest)
}

// transmit seals p and sends it.
func (t *Transport) transmit(tx *sendBatch, p []byte, to []netip.AddrPort, typ Type) error {
	if err := t.sealer.Load().Seal(p, t.salt); err != nil {
		return err
	}
	if len(to) == 0 {
		return nil
	}
	sent, failed, first, err := tx.send(p, to)
	t.stats.sent.Add(uint64(sent))
	if failed == 0 {
		return nil
	}
	t.stats.sendErrors.Add(uint64(failed))
	return fmt.Errorf("heartbeat: send %v to %v: %w (%d of %d not sent)", typ, to[first], err, failed, len(to))
}

// SetKeys replaces the keys: primary seals from now on, primary and others
// open. It has memberlist's rotation semantics: to rotate without losing
// a packet, every member first adds the new key as another key, then
// makes it primary (the old one another), then drops the old one, each
// step on every member before the next. SetKeys(nil, nil) switches to
// clear text. On error nothing changes.
//
// Safe for concurrent use with everything, also from a Handler: packets
// being sealed or opened finish with the keys they started with.
func (t *Transport) SetKeys(primary []byte, others [][]byte) error {
	s, err := NewSealer(t.label, primary, others)
	if err != nil {
		return err
	}
	t.sealer.Store(s)
	return nil
}

// Forget drops the replay window of a sender (a member that left the
// group), so that MaxSenders does not fill up with the departed, and so
// that a member whose new process has an older start (its clock went
// back across a restart) is heard again. Its next packet, whatever its
// process, is accepted. Safe for concurrent use, also from a Handler.
func (t *Transport) Forget(id uint64) { t.replays.forget(id) }

// Counters returns the packet counts so far. Safe for concurrent use.
func (t *Transport) Counters() Counters {
	s := &t.stats
	return Counters{
		Sent: s.sent.Load(), SendErrors: s.sendErrors.Load(),
		Received: s.received.Load(), Accepted: s.accepted.Load(),
		Malformed: s.malformed.Load(), WrongLabel: s.label.Load(), BadKey: s.key.Load(),
		Corrupt: s.corrupt.Load(), Replay: s.replay.Load(), TooManySenders: s.senders.Load(),
		RepliesLimited: s.limited.Load(), ReadErrors: s.readErrors.Load(),
		Wakeups: s.wakeups.Load(),
		Pauses:  s.pauses.Load(),
	}
}

// Close ends the receive goroutine and waits for it (or for a Poll in
// progress), then closes the socket: when Close returns, no Handler
// method runs nor will.
// Later Sends and Polls fail with net.ErrClosed. Further calls return the
// first call's result. Safe for concurrent use, but not from a Handler
// (it would wait for itself).
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		t.rx.interrupt()
		t.sock.wake()
		<-t.done
		t.closePause()
		t.pollMu.Lock() // a Poll in progress ends first
		defer t.pollMu.Unlock()
		t.rx.release()
		if err := t.sock.close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.closeErr = err
		}
	})
	return t.closeErr
}

// receive is the receive goroutine: it reads batches of datagrams until
// the socket is closed. With a realtime s it runs on a thread of its own
// at that priority; else it is an ordinary goroutine, which waits in the
// runtime's poller (a goroutine locked to a thread would be woken through
// a relay between two threads, at twice the cost).
func (t *Transport) receive(s Sched, ready chan<- error) {
	defer close(t.done)
	if s != (Sched{}) {
		// Never unlocked: the thread ends with this goroutine instead
		// of going back to the runtime's pool. Its policy is reset all
		// the same, for the one thread the runtime parks instead of
		// ending: the main thread.
		if err := LockThread(s); err != nil {
			ready <- err
			return
		}
		defer resetThreadSched()
	}
	ready <- nil
	var last time.Time // the last read's return
	dense, full, idle := false, false, false
	for {
		paused := false
		if dense {
			// Datagrams came faster than one per t.coalesce: let the
			// next ones gather and read them in one go. The pause is an
			// Alarm, not a time.Sleep: a Go timer costs an idle process
			// many wake-ups (see Alarm).
			if d := time.Until(last.Add(t.coalesce)); d > 0 {
				t.stats.pauses.Add(1)
				paused = true
				if t.pause.Set(d, 0) != nil || t.pause.Wait() != nil {
					time.Sleep(d) // cannot fail on a timerfd; never spin
				}
			}
		}
		n, err := t.rx.read()
		if n > 0 && !full {
			t.stats.wakeups.Add(1)
		}
		full = n > 0 && !t.rx.drainedBy(n)
		if t.coalesce > 0 {
			now := time.Now()
			waited := t.rx.waited()
			if paused {
				// A pause after which the read had to wait gathered
				// nothing: the datagrams came as a burst, all read
				// already (peers beating at the same instants, see
				// membership's ticks). Until one is found queued,
				// a short wait alone no longer makes a pause.
				idle = waited
			} else if !waited {
				idle = false
			}
			// Dense: something was queued already, or the wait was
			// short (unless pauses have been idle). A read after a
			// pause that finds nothing waits, and the next is sparse
			// again.
			dense = n > 0 && (!waited || !idle && now.Sub(last) < t.coalesce)
			last = now
		}
		if err != nil {
			if err == errInterrupted || t.closed.Load() {
				return
			}
			t.stats.readErrors.Add(1)
			// Do not spin on a persistent error, least of all at
			// realtime priority.
			time.Sleep(time.Millisecond)
			continue
		}
		now := time.Now()
		for i := range n {
			t.handle(t.rx.packet(i, now))
		}
	}
}

// handle checks one datagram and hands it to the Handler.
func (t *Transport) handle(p []byte, from netip.AddrPort, truncated bool, at time.Time) {
	s := &t.stats
	s.received.Add(1)
	if truncated {
		s.malformed.Add(1)
		return
	}
	op, err := t.sealer.Load().Open(t.opened[:0], p)
	switch err {
	case nil:
	case ErrLabel:
		s.label.Add(1)
		return
	case ErrKey:
		s.key.Add(1)
		return
	case ErrCorrupt:
		s.corrupt.Add(1)
		return
	default:
		s.malformed.Add(1)
		return
	}
	switch Type(op[offType]) {
	case TypeBeat:
		b := &t.rxBeat
		if b.Unmarshal(op) != nil {
			s.malformed.Add(1)
			return
		}
		proven, ok := t.admit(&b.Header)
		if !ok {
			return
		}
		b.Proven = proven
		t.handler.OnBeat(from, b, at)
	case TypeMetaRequest:
		r := &t.rxReq
		if r.Unmarshal(op) != nil {
			s.malformed.Add(1)
			return
		}
		if _, ok := t.admit(&r.Header); !ok {
			return
		}
		version, meta, ok := t.handler.OnMetaRequest(from, r, at)
		if !ok {
			return
		}
		if !t.bucket.take(at) {
			s.limited.Add(1)
			return
		}
		t.reply(from, r, version, meta)
	case TypeMetaReply:
		r := &t.rxReply
		if r.Unmarshal(op) != nil {
			s.malformed.Add(1)
			return
		}
		if _, ok := t.admit(&r.Header); !ok {
			return
		}
		r.Proven = r.EchoProcess == t.process && r.EchoCounter <= t.counter.Load()
		if r.Proven {
			t.replays.prove(&r.Header)
		}
		t.handler.OnMetaReply(from, r, at)
	}
}

// maxPoll bounds the datagrams one Poll handles, so that a flood cannot
// hold the heartbeat loop; the rest wait for the next call.
const maxPoll = 4096

// Poll receives what has arrived since the last call, without waiting,
// and hands it to the Handler on the caller's goroutine, as the receive
// goroutine would; it returns how many datagrams it read (at most
// maxPoll, 4096). For transports with Config.Polled only. It does not
// allocate on the steady path. Calls are serialised; call it from one
// loop. After Close it returns net.ErrClosed.
func (t *Transport) Poll() (int, error) {
	if !t.polled {
		return 0, errors.New("heartbeat: Poll on a transport that has a receive goroutine (Config.Polled is false)")
	}
	t.pollMu.Lock()
	defer t.pollMu.Unlock()
	if t.closed.Load() {
		return 0, fmt.Errorf("heartbeat: poll: %w", net.ErrClosed)
	}
	total := 0
	for total < maxPoll {
		n, err := t.rx.tryRead()
		if err != nil {
			t.stats.readErrors.Add(1)
			return total, fmt.Errorf("heartbeat: receive: %w", err)
		}
		if n == 0 {
			break
		}
		now := time.Now()
		for i := range n {
			t.handle(t.rx.packet(i, now))
		}
		total += n
		if t.rx.drainedBy(n) {
			break // the next call would find nothing: save it
		}
	}
	return total, nil
}

// admit runs the replay check and counts its verdict.
func (t *Transport) admit(h *Header) (proven, ok bool) {
	v, proven := t.replays.admit(h)
	switch v {
	case replayed:
		t.stats.replay.Add(1)
		return false, false
	case tableFull:
		t.stats.senders.Add(1)
		return false, false
	}
	t.stats.accepted.Add(1)
	return proven, true
}

// reply answers request r. On the receive goroutine only.
func (t *Transport) reply(to netip.AddrPort, r *MetaRequest, version uint64, meta []byte) {
	c, err := t.next()
	if err != nil {
		t.stats.sendErrors.Add(1)
		return
	}
	m := MetaReply{
		Header:      Header{Type: TypeMetaReply, Sender: t.id, Process: t.process, Counter: c},
		Version:     version,
		EchoProcess: r.Process,
		EchoCounter: r.Counter,
		Meta:        meta,
	}
	n, err := m.Marshal(t.replyBuf)
	if err != nil {
		t.stats.sendErrors.Add(1)
		return
	}
	t.replyTo[0] = to
	// Best effort: a lost reply is asked for again.
	_ = t.transmit(t.replyTx, t.replyBuf[:n], t.replyTo[:], TypeMetaReply)
}

// tokenBucket limits replies; only the receive goroutine uses it.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *tokenBucket) take(now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

type nopHandler struct{}

func (nopHandler) OnBeat(netip.AddrPort, *Beat, time.Time) {}
func (nopHandler) OnMetaRequest(netip.AddrPort, *MetaRequest, time.Time) (uint64, []byte, bool) {
	return 0, nil, false
}
func (nopHandler) OnMetaReply(netip.AddrPort, *MetaReply, time.Time) {}
