package membership

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
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
	// Logger receives the group's logs and memberlist's, below Info for
	// memberlist's debug chatter.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with the lan timing, the default label
// and port 7946 on all addresses. Name, Seeds and Key are the caller's.
func DefaultConfig() Config {
	t, _ := Profile("lan")
	return Config{
		Bind:   netip.AddrPortFrom(netip.IPv4Unspecified(), 7946),
		Label:  "wackamole",
		Timing: t,
		Logger: slog.Default(),
	}
}

// msgHeartbeat starts a heartbeat (see heartbeat.go).
const msgHeartbeat = 'H'

// maxNameLen bounds member names so a heartbeat always fits one packet.
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

	broadcasts *memberlist.TransmitLimitedQueue
	keyring    *memberlist.Keyring // nil: clear text
}

// peer is what the group knows of one other member.
type peer struct {
	addr      netip.AddrPort
	meta      []byte
	since     time.Time   // joined the roster (this process's clock)
	lastHeard time.Time   // last heartbeat
	version   metaVersion // of meta, when it came with a heartbeat
	alive     bool        // as last signalled on changed
	fresh     bool        // as last signalled on changed
	// gone: memberlist dropped the member, but its heartbeats were still
	// arriving. memberlist can declare a live member dead (a suspicion
	// that could not be refuted while the link was down runs out after the
	// link is back); the heartbeats are fresher, so the member stays until
	// they stop, and the rejoin loop brings memberlist round.
	gone bool
}

// lostPeer is a member that failed, kept so the group can join it again
// when it comes back (a healed partition, a restarted node).
type lostPeer struct {
	addr netip.AddrPort
	at   time.Time
}

// forgetLost is how long a failed member is joined again before the group
// gives up on it (seeds are joined again forever).
const forgetLost = 24 * time.Hour

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
	adv, err := advertise(cfg)
	if err != nil {
		return nil, fmt.Errorf("membership: %w", err)
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
	}
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
		return nil, fmt.Errorf("membership: start gossip on %s: %w", cfg.Bind, err)
	}
	g.ml = ml
	g.keyring = mc.Keyring
	g.log.Info("gossip started", "bind", cfg.Bind, "advertise", adv, "encrypted", cfg.Key != nil)

	// The seeds are joined by the rejoin loop, at once and in parallel:
	// an unreachable seed costs a TCP timeout (10 s on a LAN), which must
	// delay neither the start nor the joins of the seeds that answer.
	g.wg.Add(3)
	go g.heartbeatLoop()
	go g.rejoinLoop()
	go g.publishLoop()
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
	return err
}

// Member is one member of the view.
type Member struct {
	Name string
	Addr netip.AddrPort
	// Meta is what the member says about itself; MetaErr is set instead
	// when it could not be decoded (another version): such a member is
	// never eligible.
	Meta    Meta
	MetaErr error
	// Self is this node.
	Self bool
	// Alive: a heartbeat arrived within the failure timeout (always true
	// for Self). Members that are not alive are in the view only to be
	// reported; they count for nothing.
	Alive bool
	// Fresh: a heartbeat arrived within half the failure timeout. Quorum
	// counts fresh members only: when a partition cuts a minority off, it
	// sees the others go stale before any of them is declared failed, so
	// it loses quorum before it could take a single orphan, however the
	// heartbeats of the others happened to be spread.
	Fresh bool
	// Since is when this node first saw the member in the group.
	Since time.Time
	// LastHeard is when its last heartbeat arrived.
	LastHeard time.Time
	// Process tells the member's daemon processes apart: it changes when
	// the member restarts, never while it runs (reloads included). It is 0
	// until a heartbeat has come.
	Process uint64
}

// View is a snapshot of the group as this node sees it.
type View struct {
	Self    string
	Members []Member // in name order, Self included
}

// Alive returns the members that are alive, Self included.
func (v View) Alive() []Member {
	var out []Member
	for _, m := range v.Members {
		if m.Alive {
			out = append(out, m)
		}
	}
	return out
}

// View returns the group as this node sees it now.
func (g *Group) View() View {
	now := time.Now()
	self := Member{Name: g.cfg.Name, Self: true, Alive: true, Fresh: true, LastHeard: now}
	self.Addr = g.self
	g.mu.Lock()
	defer g.mu.Unlock()
	self.Process = g.version.start
	v := View{Self: g.cfg.Name, Members: make([]Member, 0, len(g.members)+1)}
	self.MetaErr = self.Meta.UnmarshalBinary(g.meta)
	v.Members = append(v.Members, self)
	for name, p := range g.members {
		m := Member{Name: name, Addr: p.addr, Since: p.since, LastHeard: p.lastHeard, Process: p.version.start}
		m.MetaErr = m.Meta.UnmarshalBinary(p.meta)
		m.Alive = !p.lastHeard.IsZero() && now.Sub(p.lastHeard) < g.cfg.Timing.FailureTimeout
		m.Fresh = !p.lastHeard.IsZero() && now.Sub(p.lastHeard) < g.cfg.Timing.FailureTimeout/2
		v.Members = append(v.Members, m)
	}
	slices.SortFunc(v.Members, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return v
}

// heartbeatLoop tells every member we are alive, and notices members that
// stopped doing so at the moment their failure timeout runs out, not at the
// next heartbeat: detection time is the timeout, whatever the interval.
func (g *Group) heartbeatLoop() {
	defer g.wg.Done()
	send := time.NewTicker(g.cfg.Timing.HeartbeatInterval)
	defer send.Stop()
	check := time.NewTimer(g.cfg.Timing.FailureTimeout)
	defer check.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-g.beat:
			g.sendHeartbeats()
		case <-send.C:
			g.sendHeartbeats()
		case <-check.C:
		}
		next := g.checkLiveness(time.Now())
		if !check.Stop() {
			select {
			case <-check.C:
			default:
			}
		}
		check.Reset(next)
	}
}

// sendHeartbeats sends this member's heartbeat, with its metadata, to every
// other member.
func (g *Group) sendHeartbeats() {
	g.mu.Lock()
	msg := encodeHeartbeat(g.cfg.Name, g.version, g.meta)
	g.mu.Unlock()
	// The roster, not ml.Members(): memberlist mutates the nodes that
	// Members returns pointers to, which races with reading them.
	for _, to := range g.roster() {
		// Best effort by design: a lost heartbeat is what the failure
		// timeout allows for.
		_ = g.ml.SendToAddress(to, msg)
	}
}

func (g *Group) numMembers() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.members)
}

// roster returns the other members' gossip addresses.
func (g *Group) roster() []memberlist.Address {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]memberlist.Address, 0, len(g.members))
	for name, p := range g.members {
		out = append(out, memberlist.Address{Addr: p.addr.String(), Name: name})
	}
	return out
}

// checkLiveness signals a change when a member's liveness differs from what
// was last signalled, and returns how long until the next member could
// time out.
func (g *Group) checkLiveness(now time.Time) time.Duration {
	timeout := g.cfg.Timing.FailureTimeout
	next := timeout / 2
	g.mu.Lock()
	changed := false
	for name, p := range g.members {
		silent := now.Sub(p.lastHeard)
		heard := !p.lastHeard.IsZero()
		alive := heard && silent < timeout
		fresh := heard && silent < timeout/2
		switch {
		case fresh:
			next = min(next, timeout/2-silent)
		case alive:
			next = min(next, timeout-silent)
		}
		if fresh != p.fresh {
			p.fresh = fresh
			changed = true
		}
		if alive != p.alive {
			p.alive = alive
			changed = true
			if !alive {
				g.log.Warn("member silent: out of the view", "member", name, "silent", silent.Round(time.Millisecond))
			}
		}
		if p.gone && !alive {
			delete(g.members, name)
		}
	}
	g.mu.Unlock()
	if changed {
		signal(g.changed)
	}
	return max(next+time.Millisecond, time.Millisecond)
}

// heard records a heartbeat.
func (g *Group) heard(name string, v metaVersion, meta []byte) {
	g.mu.Lock()
	p, ok := g.members[name]
	wake := false
	if ok {
		p.lastHeard = time.Now()
		wake = !p.alive || !p.fresh
		p.alive, p.fresh = true, true
		if v.newer(p.version) {
			wake = wake || !bytes.Equal(p.meta, meta)
			p.meta, p.version = meta, v
		}
	}
	g.mu.Unlock()
	if wake {
		signal(g.changed)
	}
}

// Rejoin makes the group join its missing seeds and lost members now
// rather than at the next RejoinInterval. Call it when they may have just
// become reachable again, for example when a link came back up: memberlist
// drops the members it cannot reach while the link is down, and until they
// are joined again this node neither hears them nor sees what they hold.
// It never blocks.
func (g *Group) Rejoin() { signal(g.rejoin) }

// rejoinLoop joins seeds and lost members that are not in the roster: the
// only way two halves of a healed partition find each other again.
func (g *Group) rejoinLoop() {
	defer g.wg.Done()
	t := time.NewTicker(g.cfg.Timing.RejoinInterval)
	defer t.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-g.stop:
				return
			case <-t.C:
			case <-g.rejoin:
			}
		}
		for _, addr := range g.missing() {
			if !g.startJoin(addr) {
				continue // still trying from an earlier round
			}
			go func() {
				defer g.endJoin(addr)
				if _, err := g.ml.Join([]string{addr}); err == nil {
					g.log.Info("joined", "peer", addr)
				} else {
					g.log.Debug("peer unreachable; will try again", "peer", addr, "err", err)
				}
			}()
		}
	}
}

// startJoin marks a join to addr as under way; false if one already is.
// Joins run on their own: one that waits for a TCP timeout (a black-holed
// peer) must not hold back the others, nor the next round.
func (g *Group) startJoin(addr string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.joining[addr] || g.closed {
		return false
	}
	g.joining[addr] = true
	return true
}

// endJoin marks the join to addr as done. Joins are not waited for on
// Shutdown: one may hang in a TCP connect for memberlist's TCP timeout,
// and it can do no harm once memberlist is shut down.
func (g *Group) endJoin(addr string) {
	g.mu.Lock()
	delete(g.joining, addr)
	g.mu.Unlock()
}

// seeds returns the seed addresses other than this node's own.
func (g *Group) seeds() []string {
	self := g.self
	var out []string
	for _, s := range g.cfg.Seeds {
		if ap, err := netip.ParseAddrPort(s); err == nil && ap == self {
			continue
		}
		out = append(out, s)
	}
	return out
}

// missing returns the seeds and lost members that are not in the roster.
func (g *Group) missing() []string {
	now := time.Now()
	g.mu.Lock()
	present := map[string]bool{}
	for _, p := range g.members {
		if !p.gone {
			present[p.addr.String()] = true
		}
	}
	var out []string
	for name, l := range g.lost {
		if now.Sub(l.at) > forgetLost {
			delete(g.lost, name)
			continue
		}
		if !present[l.addr.String()] {
			out = append(out, l.addr.String())
			present[l.addr.String()] = true
		}
	}
	g.mu.Unlock()
	for _, s := range g.seeds() {
		if !present[s] {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
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

// delegate is the group as memberlist's Delegate.
type delegate Group

func (d *delegate) NodeMeta(limit int) []byte {
	g := (*Group)(d)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.meta) > limit {
		return nil // SetMeta refuses this; never make memberlist panic
	}
	return slices.Clone(g.meta)
}

// NotifyMsg receives heartbeats and neighbour shares. It runs on
// memberlist's packet path: it must not block, and must not trust the bytes
// (a member with the key, or anyone when gossip is not encrypted, could send
// anything).
func (d *delegate) NotifyMsg(b []byte) {
	g := (*Group)(d)
	if len(b) < 2 {
		return
	}
	switch b[0] {
	case msgHeartbeat:
		if name, v, meta, err := decodeHeartbeat(b); err == nil {
			g.heard(name, v, meta)
		}
	case msgNeighbors:
		if name, s, _, err := decodeShare(b); err == nil {
			g.mergeShare(name, s)
		}
	}
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return (*Group)(d).broadcasts.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(join bool) []byte { return (*Group)(d).localState() }

func (d *delegate) MergeRemoteState(buf []byte, join bool) { (*Group)(d).mergeState(buf) }

// events is the group as memberlist's EventDelegate. memberlist calls it
// with its node lock held: it only updates the roster and signals.
type events Group

func (e *events) NotifyJoin(n *memberlist.Node) {
	g := (*Group)(e)
	if n.Name == g.cfg.Name {
		return
	}
	g.mu.Lock()
	p := &peer{addr: nodeAddr(n), meta: slices.Clone(n.Meta), since: time.Now()}
	if old, ok := g.members[n.Name]; ok {
		p.since, p.lastHeard, p.alive, p.fresh = old.since, old.lastHeard, old.alive, old.fresh
		if old.version != (metaVersion{}) {
			p.meta, p.version = old.meta, old.version // heartbeats know better
		}
	}
	g.members[n.Name] = p
	delete(g.lost, n.Name)
	g.mu.Unlock()
	g.log.Info("member joined", "member", n.Name, "addr", nodeAddr(n))
	signal(g.changed)
}

func (e *events) NotifyLeave(n *memberlist.Node) {
	g := (*Group)(e)
	if n.Name == g.cfg.Name {
		return
	}
	g.mu.Lock()
	kept := false
	if p, ok := g.members[n.Name]; ok && !p.lastHeard.IsZero() && time.Since(p.lastHeard) < g.cfg.Timing.FailureTimeout {
		p.gone, kept = true, true
	} else {
		delete(g.members, n.Name)
	}
	if kept || n.State == memberlist.StateDead {
		g.lost[n.Name] = lostPeer{addr: nodeAddr(n), at: time.Now()}
	}
	g.mu.Unlock()
	how := "left"
	if n.State == memberlist.StateDead {
		how = "failed"
	}
	if kept {
		g.log.Info("gossip says member "+how+", but it is still heard: keeping it while its heartbeats last", "member", n.Name)
		return
	}
	g.log.Info("member "+how, "member", n.Name, "addr", nodeAddr(n))
	signal(g.changed)
}

func (e *events) NotifyUpdate(n *memberlist.Node) {
	g := (*Group)(e)
	if n.Name == g.cfg.Name {
		return
	}
	g.mu.Lock()
	if p, ok := g.members[n.Name]; ok {
		if p.version == (metaVersion{}) {
			p.meta = slices.Clone(n.Meta) // heartbeats know better once they came
		}
		p.addr = nodeAddr(n)
	}
	g.mu.Unlock()
	signal(g.changed)
}

func nodeAddr(n *memberlist.Node) netip.AddrPort {
	a, _ := netip.AddrFromSlice(n.Addr)
	return netip.AddrPortFrom(a.Unmap(), n.Port)
}

// signal wakes whoever waits on c without ever blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// advertise picks the address to advertise (see Config.Advertise).
func advertise(cfg Config) (netip.AddrPort, error) {
	if cfg.Advertise.IsValid() {
		return cfg.Advertise, nil
	}
	if !cfg.Bind.Addr().IsUnspecified() {
		return cfg.Bind, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("list local addresses to pick one to advertise: %w", err)
	}
	var candidates []netip.Addr
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := p.Addr().Unmap()
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || !ip.IsGlobalUnicast() || slices.Contains(cfg.Exclude, ip) {
			continue
		}
		if ip.Is4() == cfg.Bind.Addr().Is4() {
			candidates = append(candidates, ip)
		}
	}
	switch len(candidates) {
	case 1:
		return netip.AddrPortFrom(candidates[0], cfg.Bind.Port()), nil
	case 0:
		return netip.AddrPort{}, errors.New("no address to advertise: set advertise (or bind) in the config")
	}
	strs := make([]string, len(candidates))
	for i, c := range candidates {
		strs[i] = c.String()
	}
	return netip.AddrPort{}, fmt.Errorf("several addresses could be advertised (%s): set advertise (or bind) in the config", strings.Join(strs, ", "))
}

// ParseHostPort parses "host:port" or "host" (port 7946) into an address.
// Host names are resolved.
func ParseHostPort(s string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, "7946"
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port in %q", s)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		ips, lerr := net.LookupIP(host)
		if lerr != nil || len(ips) == 0 {
			return netip.AddrPort{}, fmt.Errorf("resolve %q: %v", host, lerr)
		}
		a, _ = netip.AddrFromSlice(ips[0])
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
}
