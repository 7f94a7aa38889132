package membership

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/wackamole/wackamole/membership/heartbeat"
)

// Config configures a Group.
type Config struct {
	// Name is this member's name, unique in the group.
	Name string
	// Bind is the address gossip listens on (UDP and TCP).
	Bind netip.AddrPort
	// Advertise is the address other members reach this one at. When zero
	// it is Bind, or, if Bind is unspecified (0.0.0.0), the one local
	// address that is neither loopback, link-local nor in Exclude.
	Advertise netip.AddrPort
	// Exclude are addresses never to advertise: the VIPs.
	Exclude []netip.Addr
	// Seeds are host:port addresses to join: usually every node.
	Seeds []string
	// Key encrypts and authenticates gossip (16, 24 or 32 bytes). Nil
	// means clear text.
	Key []byte
	// OldKeys are further keys accepted when decrypting, for a key
	// rotation without downtime (see SetKeys).
	OldKeys [][]byte
	// Label keeps groups apart that share a network; packets with another
	// label are dropped. Default "wackamole".
	Label string
	// Timing is the failure-detection profile.
	Timing Timing
	// HeartbeatBind is the address of the heartbeat socket (UDP; see
	// package heartbeat). When zero it is Bind's address with Bind's port
	// plus one. Its port may be 0 (any free port): members learn each
	// other's heartbeat port from the gossiped metadata.
	HeartbeatBind netip.AddrPort
	// Sched is how the threads that send and receive heartbeats are
	// scheduled (realtime, for a busy host); the zero value changes
	// nothing. Start fails if it cannot be applied.
	Sched heartbeat.Sched
	// Logger receives the group's logs and memberlist's, below Info for
	// memberlist's debug chatter.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with the lan timing, the default label
// and port 7946 on all addresses. Name, Seeds and Key are the caller's.
func DefaultConfig() Config {
	return Config{
		Bind:   netip.AddrPortFrom(netip.IPv4Unspecified(), 7946),
		Label:  "wackamole",
		Timing: LAN(),
		Logger: slog.Default(),
	}
}

// maxNameLen bounds member names (memberlist's messages carry them).
const maxNameLen = 255

// Group is this node's membership in the wackamole group.
type Group struct {
	cfg  Config
	ml   *memberlist.Memberlist
	log  *slog.Logger
	self netip.AddrPort // advertised address; never read memberlist's own node: it rewrites it under its lock

	changed chan struct{}
	publish chan struct{}
	rejoin  chan struct{} // a rejoin round now (Rejoin)
	stop    chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	meta    []byte
	version metaVersion      // of meta
	beat    chan struct{}    // a heartbeat now: the metadata changed
	members map[string]*peer // memberlist's live roster, from its events
	lost    map[string]lostPeer
	shares  map[string]share // neighbour shares by member name
	joining map[string]bool  // addresses a join is under way to
	closed  bool
	// health is this node's own timeliness (see localHealth); after a
	// stall (noticed at stalledAt), awaiting are the members not heard
	// since, until recoverBy.
	health    localHealth
	awaiting  map[string]bool
	stalledAt time.Time
	recoverBy time.Time

	broadcasts *memberlist.TransmitLimitedQueue
	keyring    *memberlist.Keyring // nil: clear text

	// The heartbeat transport; ids maps heartbeat sender IDs to member
	// names; hbPort is the port members send heartbeats to. outgoing and
	// to are the beat being sent and its destinations, reused (under mu).
	tr       *heartbeat.Transport
	ids      map[uint64]string
	hbPort   uint16
	outgoing heartbeat.Beat
	to       []netip.AddrPort
	lateBuf  []late
}

// peer is what the group knows of one other member.
type peer struct {
	addr      netip.AddrPort
	meta      []byte
	since     time.Time   // joined the roster (this process's clock)
	lastHeard time.Time   // last heartbeat this node heard from it
	version   metaVersion // of meta (zero: from memberlist without envelope)
	alive     bool        // as last signalled on changed
	fresh     bool        // as last signalled on changed
	// id is its heartbeat sender ID; hbAddr where its heartbeats go.
	id     uint64
	hbAddr netip.AddrPort
	// heardAny is the latest moment anyone heard it directly: this node
	// (lastHeard) or a member whose heartbeat reported it (see
	// hearing.go). Liveness is judged by it.
	heardAny time.Time
	// process is the process its heartbeats come from (0 before the
	// first). advertised is the newest metadata version its beats named;
	// asked is when its metadata was last requested, askedFor the
	// version asked for.
	process    uint64
	advertised metaVersion
	asked      time.Time
	askedFor   metaVersion
	// suspectedAt is when a member last reported not hearing it.
	suspectedAt time.Time
	// gone: memberlist dropped the member, but its heartbeats were still
	// arriving. memberlist can declare a live member dead (a suspicion
	// that could not be refuted while the link was down runs out after the
	// link is back); the heartbeats are fresher, so the member stays until
	// they stop, and the rejoin loop brings memberlist round.
	gone bool
}

// Start creates the member, joins the seeds that answer and starts the
// heartbeat, healing and metadata publishing loops. Seeds that do not
// answer are joined again later; being alone at start is not an error.
func Start(cfg Config, meta []byte) (*Group, error) {
	if cfg.Name == "" || len(cfg.Name) > maxNameLen {
		return nil, fmt.Errorf("membership: member name must be 1 to %d bytes, got %q", maxNameLen, cfg.Name)
	}
	if len(meta) > MetaMaxSize {
		return nil, fmt.Errorf("membership: metadata is %d bytes, at most %d", len(meta), MetaMaxSize)
	}
	if err := cfg.Timing.Validate(); err != nil {
		return nil, fmt.Errorf("membership: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Label == "" {
		cfg.Label = "wackamole"
	}
	if err := cfg.Sched.Validate(); err != nil {
		return nil, fmt.Errorf("membership: %w", err)
	}
	adv, err := advertise(cfg)
	if err != nil {
		return nil, fmt.Errorf("membership: %w", err)
	}
	hbBind := cfg.HeartbeatBind
	if !hbBind.IsValid() {
		if cfg.Bind.Port() == 65535 {
			return nil, fmt.Errorf("membership: gossip port %d leaves no port above it for heartbeats: set the heartbeat port", cfg.Bind.Port())
		}
		hbBind = netip.AddrPortFrom(cfg.Bind.Addr(), cfg.Bind.Port()+1)
	}
	g := &Group{
		self:    adv,
		cfg:     cfg,
		log:     cfg.Logger,
		changed: make(chan struct{}, 1),
		publish: make(chan struct{}, 1),
		rejoin:  make(chan struct{}, 1),
		beat:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		meta:    slices.Clone(meta),
		version: metaVersion{start: uint64(time.Now().UnixNano())},
		members: map[string]*peer{},
		lost:    map[string]lostPeer{},
		shares:  map[string]share{},
		joining: map[string]bool{},
		health:  newLocalHealth(cfg.Timing, time.Now()),
		ids:     map[uint64]string{},
	}
	tc := heartbeat.DefaultConfig()
	tc.Name, tc.Bind, tc.Label, tc.Key, tc.OldKeys = cfg.Name, hbBind, cfg.Label, cfg.Key, cfg.OldKeys
	tc.Handler, tc.Process = (*beats)(g), g.version.start
	if tc.Polled = cfg.Timing.Polled(); !tc.Polled {
		tc.Sched = cfg.Sched // the polled loop's thread applies it itself
		// A tenth of an interval: a beat read up to that late (its
		// arrival time is the kernel's all the same) is nothing
		// against a failure timeout of several intervals, and a large
		// group's beats are read in a few batches per interval instead
		// of one by one.
		tc.Coalesce = cfg.Timing.HeartbeatInterval / 10
	}
	if g.tr, err = heartbeat.Listen(tc); err != nil {
		return nil, fmt.Errorf("membership: heartbeat socket on %s: %w", hbBind, err)
	}
	g.hbPort = g.tr.LocalAddr().Port()
	g.broadcasts = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return g.numMembers() + 1 },
		RetransmitMult: 3,
	}

	mc := cfg.Timing.memberlistConfig()
	mc.Name = cfg.Name
	mc.BindAddr = cfg.Bind.Addr().String()
	mc.BindPort = int(cfg.Bind.Port())
	mc.AdvertiseAddr = adv.Addr().String()
	mc.AdvertisePort = int(adv.Port())
	mc.Label = cfg.Label
	// Metadata and heartbeats are tiny: compressing them costs CPU on
	// every packet and saves nothing.
	mc.EnableCompression = false
	mc.Delegate = (*delegate)(g)
	mc.Events = (*events)(g)
	mc.Logger = newMemberlistLogger(cfg.Logger)
	if cfg.Key != nil {
		kr, err := memberlist.NewKeyring(cfg.OldKeys, cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("membership: gossip key: %w", err)
		}
		mc.Keyring = kr
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		g.tr.Close()
		return nil, fmt.Errorf("membership: start gossip on %s: %w", cfg.Bind, err)
	}
	g.ml = ml
	g.keyring = mc.Keyring
	g.log.Info("gossip started", "bind", cfg.Bind, "advertise", adv, "heartbeat", g.tr.LocalAddr(), "encrypted", cfg.Key != nil)

	// The seeds are joined by the rejoin loop, at once and in parallel:
	// an unreachable seed costs a TCP timeout (10 s on a LAN), which must
	// delay neither the start nor the joins of the seeds that answer.
	started := make(chan error, 1)
	g.wg.Add(3)
	go g.heartbeatLoop(started)
	go g.rejoinLoop()
	go g.publishLoop()
	if err := <-started; err != nil {
		g.Shutdown()
		return nil, fmt.Errorf("membership: heartbeat sender: %w", err)
	}
	return g, nil
}

// Name is this member's name.
func (g *Group) Name() string { return g.cfg.Name }

// Timing is the timing the group runs with.
func (g *Group) Timing() Timing { return g.cfg.Timing }

// Changed receives a value whenever the view may have changed: a member
// joined, failed, came back or changed its metadata.
func (g *Group) Changed() <-chan struct{} { return g.changed }

// SetMeta replaces this member's metadata and spreads it in the
// background; the newest value wins if it changes again meanwhile.
func (g *Group) SetMeta(meta []byte) error {
	if len(meta) > MetaMaxSize {
		return fmt.Errorf("membership: metadata is %d bytes, at most %d", len(meta), MetaMaxSize)
	}
	g.mu.Lock()
	g.meta = slices.Clone(meta)
	g.version.counter++
	g.mu.Unlock()
	signal(g.publish)
	signal(g.beat)
	return nil
}

// SetKeys changes the gossip keys of a running group: primary encrypts
// what this node sends, primary and others are accepted. Rotating a key
// without downtime takes three steps, each done on every node before the
// next: (1) add the new key as another key, (2) make it the primary and
// keep the old one as another key, (3) drop the old key. A group started
// in clear text cannot switch to encryption this way (restart it).
func (g *Group) SetKeys(primary []byte, others [][]byte) error {
	if g.keyring == nil {
		return errors.New("membership: gossip is not encrypted; enabling a key needs a restart")
	}
	if len(primary) == 0 {
		return errors.New("membership: disabling encryption needs a restart")
	}
	// The heartbeat transport checks the keys as memberlist does; it goes
	// first, so that a bad key changes nothing.
	if err := g.tr.SetKeys(primary, others); err != nil {
		return fmt.Errorf("membership: heartbeat keys: %w", err)
	}
	want := append([][]byte{primary}, others...)
	for _, k := range want {
		if err := g.keyring.AddKey(k); err != nil {
			return fmt.Errorf("membership: gossip key: %w", err)
		}
	}
	if err := g.keyring.UseKey(primary); err != nil {
		return fmt.Errorf("membership: gossip key: %w", err)
	}
	for _, k := range g.keyring.GetKeys() {
		if !slices.ContainsFunc(want, func(w []byte) bool { return string(w) == string(k) }) {
			if err := g.keyring.RemoveKey(k); err != nil {
				return fmt.Errorf("membership: gossip key: %w", err)
			}
		}
	}
	g.log.Info("gossip keys changed", "keys", len(want))
	return nil
}

// HealthScore is memberlist's awareness score: 0 is healthy, higher means
// this node has trouble keeping up with the protocol.
func (g *Group) HealthScore() int { return g.ml.GetHealthScore() }

// Leave tells the group this member is going (so peers do not wait for the
// failure timeout), then stops everything. A left group cannot rejoin:
// Start a new one.
func (g *Group) Leave(timeout time.Duration) error {
	err := g.ml.Leave(timeout)
	return errors.Join(err, g.Shutdown())
}

// Shutdown stops the member without telling anyone, as a crash would.
func (g *Group) Shutdown() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	g.mu.Unlock()
	close(g.stop)
	err := g.ml.Shutdown()
	g.wg.Wait()
	return errors.Join(err, g.tr.Close())
}

// publishLoop spreads metadata changes; UpdateNode blocks until the
// broadcast went out, so it runs here, not in the caller.
func (g *Group) publishLoop() {
	defer g.wg.Done()
	for {
		select {
		case <-g.stop:
			return
		case <-g.publish:
		}
		if err := g.ml.UpdateNode(g.cfg.Timing.FailureTimeout); err != nil {
			g.log.Debug("metadata update not confirmed", "err", err)
		}
	}
}

// signal wakes whoever waits on c without ever blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
