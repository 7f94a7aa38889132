// Package agent is the wackamole reconcile loop: membership view and health
// in, plan out, addresses and announcements applied.
//
// The loop is level-triggered, like a Kubernetes controller: every wake-up
// (a membership change, an address or link change, an ARP conflict, a
// timer, a command) recomputes the whole desired state from the current
// view and converges to it. No step depends on having seen an earlier event,
// so a missed or duplicated event costs nothing but a wasted round. The
// decisions are vip.Allocate and vip.Diff, which are pure; the agent only
// gathers their input and applies their output through small interfaces
// (Group, Binder, Announcer), so that each can be replaced in tests.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wackamole/wackamole/arp"
	"github.com/wackamole/wackamole/membership"
	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/health"
	"github.com/wackamole/wackamole/pkg/hooks"
	"github.com/wackamole/wackamole/pkg/policy"
	"github.com/wackamole/wackamole/pkg/policy/damping"
	"github.com/wackamole/wackamole/vip"
)

// Group is the membership the agent needs; *membership.Group is one.
type Group interface {
	View() membership.View
	Changed() <-chan struct{}
	SetMeta(meta []byte) error
	Leave(timeout time.Duration) error
	HealthScore() int
	// SetNeighbors shares the hosts this node talks to; SharedNeighbors
	// returns every member's.
	SetNeighbors(hosts []membership.Neighbor)
	SharedNeighbors() []membership.Neighbor
}

// Health reports the node's health checks; *health.Monitor is one.
type Health interface {
	Healthy() bool
	Status() []health.CheckStatus
}

// Hooks runs the operator's hooks without blocking; *hooks.Runner is one.
type Hooks interface {
	Run(ev hooks.Event)
}

// Binder puts addresses on interfaces; *vip.Binder is one.
type Binder interface {
	Add(ifname string, p netip.Prefix) error
	Remove(ifname string, p netip.Prefix) error
	Has(ifname string, p netip.Prefix) (bool, error)
	LinkUp(ifname string) (bool, error)
	Labelled() ([]vip.Bound, error)
}

// TieBreaker probes a two-voter group's tie-breakers; see
// policy.TieBreakerProbe. Probe must not block: it returns what the
// latest probes found.
type TieBreaker interface {
	Probe() policy.TieBreakerProbe
}

// Announcer tells the link that this host owns an address, and the notify
// hosts by unicast; *arp.Announcer is one.
type Announcer interface {
	AnnounceTo(ifname string, addr netip.Addr, notify []arp.Host) error
}

// Options are an Agent's collaborators.
type Options struct {
	Config *config.Config
	// Timing is the node's timing (the group runs with the same); default
	// membership.LAN().
	Timing membership.Timing
	Group  Group
	Binder Binder
	// Announcer announces VIPs on the link (l2 mode); Router announces
	// their routes (bgp mode). One of the two.
	Announcer Announcer
	Router    Router
	// TieBreaker probes the tie-breaker addresses and the other voter of
	// a two-voter group (config tie_breaker); optional.
	TieBreaker TieBreaker
	// Health, Hooks and Neighbors are optional: no checks (always
	// healthy), no hooks, no neighbour sharing.
	Health Health
	Hooks  Hooks
	// Neighbors reads the neighbour cache of an interface (arp.Neighbors).
	Neighbors func(ifname string) ([]arp.Host, error)
	Logger    *slog.Logger
	// Resync is the period of the full reconcile that catches whatever no
	// event reported. Default 5s: address, link and health changes wake the loop at once.
	Resync time.Duration
	// Now is the clock; tests may replace it. Default time.Now. The loop
	// reads it once per round.
	Now func() time.Time
	// OnRound, when set, is called at the end of every reconcile round,
	// on the loop goroutine (see Round). It must return quickly: the loop
	// waits for it.
	OnRound func(Round)
}

// defendInterval is the least time between two defences of one VIP
// against another host announcing it (RFC 5227 defends once per 10 s; a
// VIP balancer that owns the address by quorum answers faster).
const defendInterval = time.Second

// Agent runs the reconcile loop of one node.
type Agent struct {
	group     Group
	binder    Binder
	announcer Announcer
	health    Health
	hooks     Hooks
	neighbors func(string) ([]arp.Host, error)
	log       *slog.Logger
	resync    time.Duration
	settle    time.Duration
	now       func() time.Time
	onRound   func(Round)

	wake     chan struct{}
	commands chan command

	// Set by Run at start.
	started time.Time

	// Owned by the loop goroutine.
	cfg    *config.Config
	policy policy.Config
	memory policy.Memory
	plan   vip.Plan // of the last round
	// lastDecision is the policy's decision of the last round.
	lastDecision policy.Decision
	held         map[string]bool
	leaving      map[string]bool
	since        map[string]time.Time // when this node acquired each held VIP
	draining     bool
	healthy      bool
	announces    map[string]*announcement
	lastDefend   map[string]time.Time
	down         []string // VIP interfaces down or missing, as of the last round
	failing      bool     // health checks failing, as of the last round
	// handing records, for each VIP this node hands over, the owner and
	// its claims' version when the hand-over began: it lets go once the
	// owner claims it again (vip.Local.Confirmed).
	handing map[string]handing
	// reclaimed is when this node last claimed again a VIP it owns that
	// another member also holds; shared marks the held VIPs that another
	// member held too at the last round (when that ends, this node has the
	// last word: it announces again).
	reclaimed map[string]time.Time
	shared    map[string]bool
	// bgp mode: router announces the routes; all is announce = "all";
	// standby are VIPs bound here but not held (this node is their
	// planned successor, or they linger after a hand-over, until
	// lingering's time); routes is what the router was last given.
	router     Router
	tieBreaker TieBreaker
	all        bool
	standby    map[string]bool
	lingering  map[string]time.Time
	routes     []Route
	// recovering is the last round's Decision.Recovering: the first round
	// after a stall gives the last word on what this node owns (see
	// Agent.endRecovery).
	recovering  bool
	lastAlive   []string // alive member names at the last round, for re-announcing
	lastMeta    []byte
	refresh     period // arp.refresh
	share       period // arp.cache
	stopping    bool
	stopBy      time.Time // the drain timeout of a graceful stop; set by the first round that stops
	drainWaiter []chan error

	// Written by the listener goroutines, read by the loop.
	conflictMu sync.Mutex
	conflicts  map[string]bool
	addrIndex  map[netip.Addr]string // VIP address -> VIP name; swapped on reload
	// holding mirrors held for the listener: an announcement of a VIP
	// that this node does not hold is no conflict of this node's, and
	// waking a round for it would cost every node a round for every
	// announcement of every other node (after each change of membership,
	// every node re-announces what it holds: N^2 rounds).
	holding map[string]bool

	statusMu sync.RWMutex
	status   Status
	counters Counters
}

// New returns an agent; Run starts it.
func New(o Options) (*Agent, error) {
	if o.Config == nil || o.Group == nil || o.Binder == nil || (o.Announcer == nil && o.Router == nil && !o.Config.Witness) {
		return nil, errors.New("agent: Config, Group, Binder and Announcer (l2 mode) or Router (bgp mode) are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Resync <= 0 {
		o.Resync = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timing == (membership.Timing{}) {
		o.Timing = membership.LAN()
	}
	a := &Agent{
		group:      o.Group,
		binder:     o.Binder,
		announcer:  o.Announcer,
		health:     o.Health,
		hooks:      o.Hooks,
		neighbors:  o.Neighbors,
		log:        o.Logger,
		resync:     o.Resync,
		now:        o.Now,
		settle:     o.Timing.Settle(),
		onRound:    o.OnRound,
		wake:       make(chan struct{}, 1),
		commands:   make(chan command),
		held:       map[string]bool{},
		leaving:    map[string]bool{},
		since:      map[string]time.Time{},
		announces:  map[string]*announcement{},
		lastDefend: map[string]time.Time{},
		handing:    map[string]handing{},
		reclaimed:  map[string]time.Time{},
		router:     o.Router,
		tieBreaker: o.TieBreaker,
		standby:    map[string]bool{},
		lingering:  map[string]time.Time{},
		shared:     map[string]bool{},
		conflicts:  map[string]bool{},
		holding:    map[string]bool{},
		healthy:    true,
	}
	a.setConfig(o.Config)
	return a, nil
}

// Fingerprint converts a config fingerprint (hex) to the form the node
// metadata carries.
func Fingerprint(c *config.Config) uint64 {
	fp := c.Fingerprint()
	if len(fp) > 16 {
		fp = fp[:16]
	}
	v, _ := strconv.ParseUint(fp, 16, 64)
	return v
}

func (a *Agent) setConfig(c *config.Config) {
	a.cfg = c
	a.all = a.router != nil && c.BGP.Announce == config.AnnounceAll
	a.policy = policy.Config{
		Self:        c.NodeName,
		Fingerprint: Fingerprint(c),
		QuorumNeed:  c.QuorumNeeded(),
		MaxMoves:    c.Balance.MaxMoves,
		Mature:      c.Mature,
		Settle:      a.settle,
		Witness:     c.Witness,
		Voters:      len(c.Peers),
		TieBreaker:  len(c.TieBreaker) > 0,
		Damping: damping.Config{
			Penalty:  float64(c.Damping.Penalty),
			Suppress: float64(c.Damping.Suppress),
			Reuse:    float64(c.Damping.Reuse),
			Max:      float64(c.Damping.Max),
			HalfLife: c.Damping.HalfLife,
		},
	}
	for _, v := range c.VIPs {
		a.policy.VIPs = append(a.policy.VIPs, vip.Spec{Name: v.Name, Prefer: v.Prefer})
	}
	idx := map[netip.Addr]string{}
	for _, v := range c.VIPs {
		for _, ad := range v.Addresses {
			idx[ad.Prefix.Addr()] = v.Name
		}
	}
	a.conflictMu.Lock()
	a.addrIndex = idx
	a.conflictMu.Unlock()
}

// Interfaces returns the interfaces the configured VIPs live on, for the
// ARP listener and the link checks: none for a witness, which holds no VIP.
func Interfaces(c *config.Config) []string {
	if c.Witness {
		return nil
	}
	var out []string
	for _, v := range c.VIPs {
		for _, ad := range v.Addresses {
			out = append(out, ad.Interface)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Watched reports whether addr is a configured VIP address; the ARP
// listener asks it before reporting a claim. Whether the VIP is held here
// is checked when the conflict is handled.
func (a *Agent) Watched(addr netip.Addr) bool {
	a.conflictMu.Lock()
	_, ok := a.addrIndex[addr.Unmap()]
	a.conflictMu.Unlock()
	return ok
}

// Conflict reports that another host (another MAC) announced addr. It is
// safe to call from any goroutine and never blocks. It wakes a round only
// for a VIP this node holds; an announcement of another is recorded (it
// becomes a conflict if this node acquires that VIP before the next round,
// see setHolding) and otherwise dropped by the next round.
func (a *Agent) Conflict(ifname string, addr netip.Addr, mac string) {
	a.conflictMu.Lock()
	name, ok := a.addrIndex[addr.Unmap()]
	held := ok && a.holding[name]
	if ok {
		a.conflicts[name] = true
	}
	a.conflictMu.Unlock()
	if held {
		a.log.Debug("another host announced a VIP address", "vip", name, "addr", addr, "mac", mac, "interface", ifname)
		a.Wake()
	}
}

// setHolding tells Conflict whether this node holds VIP name. A VIP just
// acquired that another host announced since the round began is a
// conflict to look at in a round of its own, as if the announcement had
// come just now.
func (a *Agent) setHolding(name string, held bool) {
	a.conflictMu.Lock()
	if held {
		a.holding[name] = true
	} else {
		delete(a.holding, name)
	}
	pending := held && a.conflicts[name]
	a.conflictMu.Unlock()
	if pending {
		a.Wake()
	}
}

// Wake asks for a reconcile round soon. It never blocks.
func (a *Agent) Wake() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Run cleans up what a previous run may have left, then runs the loop until
// ctx ends. Then it stops gracefully: hands its VIPs over (bounded by the
// drain timeout), leaves the group and removes every address it added.
//
// The loop waits on events (membership, wake-ups from addresses, links,
// conflicts and health, commands), a resync ticker, and one deadline: the
// instant the last round said it wants to run again (an announcement due,
// the end of maturity or settling, a refresh, the drain timeout).
func (a *Agent) Run(ctx context.Context) error {
	a.started = a.now()
	a.cleanup("start-up")
	a.publish(a.started)
	a.log.Info("agent started", "node", a.cfg.NodeName, "vips", len(a.cfg.VIPs),
		"quorum", a.cfg.QuorumNeeded(), "mature", a.cfg.Mature, "timing", a.cfg.Timing)
	for _, w := range a.cfg.Warnings() {
		a.log.Warn(w)
	}

	resync := time.NewTicker(a.resync)
	defer resync.Stop()
	deadline := time.NewTimer(time.Hour)
	defer deadline.Stop()
	for {
		now := a.now()
		next := a.reconcile(now)
		a.answerDrains()
		a.endRound()
		if a.stopping {
			if a.stopBy.IsZero() {
				a.stopBy = now.Add(a.cfg.DrainTimeout)
			}
			if pending, _ := a.handover(); len(pending) == 0 && len(a.lingering) == 0 {
				return a.finish(now)
			}
			if !now.Before(a.stopBy) {
				a.log.Warn("drain timeout: releasing VIPs nobody took over", "held", a.heldNames())
				return a.finish(now)
			}
			next = earliest(next, a.stopBy)
		}
		resetTimer(deadline, next, now)
		select {
		case <-ctx.Done():
			if !a.stopping {
				a.log.Info("stopping: handing VIPs over", "held", len(a.held), "timeout", a.cfg.DrainTimeout)
				a.stopping = true
				a.draining = true
				ctx = context.Background()
			}
		case <-a.group.Changed():
		case <-a.wake:
		case <-resync.C:
		case <-deadline.C:
		case cmd := <-a.commands:
			cmd.run(a)
		}
	}
}

// finish leaves the group and removes every address this node added.
func (a *Agent) finish(now time.Time) error {
	a.publish(now)
	err := a.group.Leave(a.cfg.DrainTimeout)
	if err != nil {
		a.log.Warn("leaving the group", "err", err)
	}
	for _, name := range a.heldNames() {
		a.release(name, "shutdown", "shutting down")
	}
	for name := range a.standby {
		a.unbindStandby(name)
	}
	if a.router != nil {
		a.setRoutes(false)
	}
	a.cleanup("shutdown")
	for _, w := range a.drainWaiter {
		w <- errors.New("daemon stopped")
	}
	a.log.Info("stopped")
	return nil
}

// handover splits the VIPs this node holds into those another member is
// planned to take (pending) and those nobody can take (stuck: no quorum,
// or no other eligible member).
func (a *Agent) handover() (pending, stuck []string) {
	for _, name := range a.heldNames() {
		if as, ok := a.plan.Lookup(name); ok && as.Owner != "" && as.Owner != a.cfg.NodeName {
			pending = append(pending, name)
		} else {
			stuck = append(stuck, name)
		}
	}
	return pending, stuck
}

// answerDrains tells waiting drain commands how it went, once no hand-over
// is pending.
func (a *Agent) answerDrains() {
	if !a.draining || len(a.drainWaiter) == 0 {
		return
	}
	pending, stuck := a.handover()
	if len(pending) > 0 {
		return
	}
	var err error
	if len(stuck) > 0 {
		err = fmt.Errorf("drained what could be: nobody can take %s (no quorum, or no other eligible member)", strings.Join(stuck, ", "))
	}
	for _, w := range a.drainWaiter {
		w <- err
	}
	a.drainWaiter = nil
}

// cleanup removes VIP addresses this node does not hold: leftovers of a
// crashed run, addresses of VIPs no longer configured, or added by hand.
func (a *Agent) cleanup(when string) {
	present := map[vip.Bound]bool{}
	if labelled, err := a.binder.Labelled(); err != nil {
		a.log.Warn("listing labelled addresses", "err", err)
	} else {
		for _, b := range labelled {
			present[b] = true
		}
	}
	for _, v := range a.cfg.VIPs {
		for _, ad := range v.Addresses {
			if ok, _ := a.binder.Has(ad.Interface, ad.Prefix); ok {
				present[vip.Bound{Interface: ad.Interface, Prefix: ad.Prefix}] = true
			}
		}
	}
	mine := map[vip.Bound]bool{}
	for _, v := range a.cfg.VIPs {
		if a.bound(v.Name) {
			for _, ad := range v.Addresses {
				mine[vip.Bound{Interface: ad.Interface, Prefix: ad.Prefix}] = true
			}
		}
	}
	for b := range present {
		if mine[b] {
			continue
		}
		if err := a.binder.Remove(b.Interface, b.Prefix); err != nil {
			a.log.Error("removing a stale VIP address", "addr", b, "err", err)
			continue
		}
		a.log.Info("removed a stale VIP address", "addr", b, "when", when)
	}
}

// shareNeighbors tells the group which hosts this node talks to on its VIP
// interfaces (not the VIPs themselves, nor the members).
func (a *Agent) shareNeighbors() {
	if a.neighbors == nil || a.cfg.ARP.Cache <= 0 {
		return
	}
	var all []membership.Neighbor
	for _, ifname := range Interfaces(a.cfg) {
		hs, err := a.neighbors(ifname)
		if err != nil {
			a.log.Debug("reading the neighbour cache", "interface", ifname, "err", err)
			continue
		}
		for _, h := range hs {
			all = append(all, membership.Neighbor(h))
		}
	}
	a.group.SetNeighbors(all)
}

func (a *Agent) heldNames() []string {
	var out []string
	for name := range a.held {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// period is a periodic duty of the loop (a refresh, a share), kept as a
// deadline rather than a ticker so that the loop has one timer.
type period struct {
	every time.Duration // as armed; 0 is off
	next  time.Time
}

// due reports whether the duty is due at now, and arms the next one. A
// period that changed (a reload) is due at once and then every new period.
func (p *period) due(every time.Duration, now time.Time) bool {
	if every != p.every {
		p.every = every
		p.next = now
	}
	if p.every <= 0 || now.Before(p.next) {
		return false
	}
	p.next = now.Add(p.every)
	return true
}

// earliest returns the earliest of the instants that are not zero.
func earliest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if !t.IsZero() && (out.IsZero() || t.Before(out)) {
			out = t
		}
	}
	return out
}

// resetTimer sets t to fire at next (never, if next is zero).
func resetTimer(t *time.Timer, next, now time.Time) {
	if next.IsZero() {
		t.Stop()
		return
	}
	t.Reset(max(next.Sub(now), time.Millisecond))
}

func findVIP(c *config.Config, name string) (config.VIP, bool) {
	i, ok := slices.BinarySearchFunc(c.VIPs, name, func(v config.VIP, n string) int { return strings.Compare(v.Name, n) })
	if !ok {
		return config.VIP{}, false
	}
	return c.VIPs[i], true
}

func addrList(v config.VIP) []string {
	out := make([]string, len(v.Addresses))
	for i, ad := range v.Addresses {
		out[i] = fmt.Sprintf("%s:%s", ad.Interface, ad.Prefix)
	}
	return out
}
