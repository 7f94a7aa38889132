// Package checker checks the soak test's invariants: fed the model of the
// world as a fault schedule changes it (daemons killed, stopped and
// restarted, links down, nodes cut off and healed) and snapshots of which
// node holds which VIP, a Checker reports every broken invariant: a VIP on
// two nodes or on none in a converged group, a stray or unbalanced
// allocation, a minority that acquires, an address left behind by a daemon
// that exited, a daemon that died or did not stop, a witness that holds a
// VIP. Its model of quorum is a majority of the nodes, or, in a two-node
// group with a tie-breaker (Options.TieBreaker), the tie-breaker rule.
//
// It is pure: it reads no clock and does no I/O (every event and snapshot
// carries its time), so that it is tested with transcripts of synthetic
// snapshots, without root. pkg/internal/cluster's runner feeds it from a
// live cluster.
package checker

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of the checker, tuned for the "lan" timing profile (failure
// timeout 1 s, heartbeat 200 ms, gossip 100 ms, rejoin 2 s) and the
// cluster's 1 s mature time.
const (
	// DefaultQuiet is the convergence window T: about twice the failure
	// timeout + mature + the agent's settle time (2.6 s), which also covers
	// a partition's re-merge (the rejoin interval, 2 s) and a rebalancing
	// hand-over.
	DefaultQuiet = 5 * time.Second
	// DefaultTolerance is how long a converged group may show a VIP on two
	// nodes (or on none) before it is a violation: the make-before-break
	// overlap of a hand-over lasts a few milliseconds, and reading five
	// nodes' addresses one after the other can see a VIP that moved between
	// two reads on both nodes or on neither.
	DefaultTolerance = 200 * time.Millisecond
	// DefaultQuorumLag is how long after being cut off a node may still
	// take a VIP: the daemon counts a member towards quorum until it has
	// been silent for half the failure timeout (500 ms), so a node cut off
	// just as another node's VIPs were orphaned may take one before it
	// notices it is alone (and gives it up when the majority announces it).
	// 500 ms plus poll slack.
	DefaultQuorumLag = 750 * time.Millisecond
	// DefaultDamping is how long after a link of a node went down the
	// node may be damped for flapping and hold no VIP: the daemon's
	// longest damping (30 s) plus slack. The balance is checked without
	// it meanwhile.
	DefaultDamping = 32 * time.Second
	// DefaultFailureTimeout is the daemons' failure timeout ("lan").
	DefaultFailureTimeout = time.Second
	// DefaultUnheldSlack is what a VIP may stay unheld beyond the failure
	// timeout before ViolationDark: the daemon's round after the timeout,
	// the poll interval, and the scheduling delays of race-built daemons
	// on a loaded 2-core machine (the measured crash takeover with lan is
	// 0.8-1 s).
	DefaultUnheldSlack = time.Second
	// DefaultSettle is how long a node must have been a running, connected
	// member of the majority, not stalled, starved or flapping, before it
	// counts as able to take an unheld VIP: a restarted or healed group
	// needs a few heartbeats, a join and a gossip round first.
	DefaultSettle = 2 * time.Second
	// DefaultBlackHoleAfter is how long after the last change of a VIP's
	// holders (or the end of the last fault) the client's neighbour entry
	// for it may still point at a node that does not hold it (issue 11:
	// the new holder's gratuitous ARP fixes it at once).
	DefaultBlackHoleAfter = time.Second
)

// ViolationKind names an invariant the soak test checks.
type ViolationKind string

// Violation kinds.
const (
	// ViolationDuplicate: after convergence, a VIP is on two reachable
	// nodes for longer than the tolerance.
	ViolationDuplicate ViolationKind = "duplicate"
	// ViolationUnheld: after convergence, with a majority up and
	// connected, a VIP is on no reachable node for longer than the
	// tolerance.
	ViolationUnheld ViolationKind = "unheld"
	// ViolationStray: after convergence, with a majority up and connected,
	// a VIP's only holder is not a live member of the majority.
	ViolationStray ViolationKind = "stray"
	// ViolationUnbalanced: after convergence, with a majority, the loads
	// of its running members differ by more than one VIP.
	ViolationUnbalanced ViolationKind = "unbalanced"
	// ViolationMinority: a node cut off from the majority (isolated, in
	// the smaller side of a split, alone behind a down link, or in a group
	// that lost its majority) gained a VIP it did not hold when it was cut
	// off.
	ViolationMinority ViolationKind = "minority-acquired"
	// ViolationLeftover: an address is on a node whose daemon has exited
	// (after SIGTERM, or after SIGKILL and the cleanup).
	ViolationLeftover ViolationKind = "leftover-address"
	// ViolationDied: a daemon exited without being killed or stopped.
	ViolationDied ViolationKind = "daemon-died"
	// ViolationStop: a daemon stopped with SIGTERM exited with an error, or
	// not within the stop timeout.
	ViolationStop ViolationKind = "stop-failed"
	// ViolationLog: a daemon's log shows a panic, a fatal error or a data
	// race.
	ViolationLog ViolationKind = "log"
	// ViolationOverlap: a VIP is on two reachable nodes for longer than
	// Options.MaxOverlap, converged or not. Off unless MaxOverlap is
	// set: during faults the design lets a VIP sit on two nodes until one
	// of them notices the other's announcement.
	ViolationOverlap ViolationKind = "long-overlap"
	// ViolationDark: a VIP is on no reachable node for longer than the
	// failure timeout plus Options.UnheldSlack while a node with quorum is
	// able to take it (eligible: a running, connected member of the
	// majority for Options.Settle, not stalled, starved, flapping or
	// possibly damped), faults or not. The clock starts when the VIP was
	// last held or when such a node became eligible, whichever is later.
	ViolationDark ViolationKind = "dark"
	// ViolationBlackHole: with no fault active, the client's neighbour
	// entry for a VIP (Snapshot.Neigh) points at no node that holds it
	// (or at none) later than Options.BlackHoleAfter after the last change
	// of its holders or the end of the last fault, for longer than the
	// tolerance. Off without Options.MACs.
	ViolationBlackHole ViolationKind = "black-hole"
	// ViolationWitness: a witness (Options.Witnesses) holds a VIP address,
	// at any time, its link up or not. A witness is a member for quorum
	// only: it never holds a VIP.
	ViolationWitness ViolationKind = "witness-held"
)

// ViolationKinds lists every violation kind, in the order reports show them.
var ViolationKinds = []ViolationKind{
	ViolationDuplicate, ViolationUnheld, ViolationStray, ViolationUnbalanced, ViolationMinority,
	ViolationLeftover, ViolationDied, ViolationStop, ViolationLog, ViolationOverlap, ViolationDark, ViolationBlackHole,
	ViolationWitness,
}

// Kinds returns the violation kinds that apply with these options, in the
// order of ViolationKinds: ViolationWitness only with witnesses.
func (o Options) Kinds() []ViolationKind {
	if len(o.Witnesses) > 0 {
		return slices.Clone(ViolationKinds)
	}
	return slices.DeleteFunc(slices.Clone(ViolationKinds), func(k ViolationKind) bool { return k == ViolationWitness })
}

// Violation is one broken invariant.
type Violation struct {
	Kind ViolationKind
	// Time is when it was seen (for persistent conditions: when the
	// tolerance ran out; Since is when it was first seen).
	Time, Since time.Time
	// Node and VIP say what it is about, when it is about one of them.
	Node string
	VIP  netip.Addr
	// Detail says what was wrong.
	Detail string
	// Holders are the holders at that moment (every node's interface, link
	// down or not), nil when not known.
	Holders map[netip.Addr][]string
}

// String describes the violation on one line, holders included.
func (v Violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", v.Time.UTC().Format("15:04:05.000"), v.Kind)
	if v.Node != "" {
		fmt.Fprintf(&b, " node %s", v.Node)
	}
	if v.VIP.IsValid() {
		fmt.Fprintf(&b, " vip %s", v.VIP)
	}
	fmt.Fprintf(&b, ": %s", v.Detail)
	if !v.Since.IsZero() && v.Since.Before(v.Time) {
		fmt.Fprintf(&b, " (for %v)", v.Time.Sub(v.Since).Round(time.Millisecond))
	}
	if v.Holders != nil {
		fmt.Fprintf(&b, "; holders: %s", FormatHolders(v.Holders))
	}
	return b.String()
}

// FormatHolders formats holders compactly, in address order:
// "198.18.0.100=n1 198.18.0.101=n2,n3 198.18.0.102=-".
func FormatHolders(h map[netip.Addr][]string) string {
	var parts []string
	for _, v := range sortedAddrs(h) {
		who := "-"
		if len(h[v]) > 0 {
			who = strings.Join(h[v], ",")
		}
		parts = append(parts, v.String()+"="+who)
	}
	return strings.Join(parts, " ")
}

// DaemonState is a node's daemon as the checker's model sees it.
type DaemonState uint8

// Daemon states.
const (
	// DaemonRunning: running; it may hold VIPs.
	DaemonRunning DaemonState = iota
	// DaemonStopping: SIGTERM sent; it hands its VIPs over and exits.
	DaemonStopping
	// DaemonKilled: dead (SIGKILL, or died), its addresses not yet cleaned
	// up: they may still be there.
	DaemonKilled
	// DaemonDown: not running and cleaned up: no VIP may be on the node.
	DaemonDown
)

var daemonStateNames = [...]string{DaemonRunning: "running", DaemonStopping: "stopping", DaemonKilled: "killed", DaemonDown: "down"}

// String returns the state's name.
func (s DaemonState) String() string {
	if int(s) < len(daemonStateNames) {
		return daemonStateNames[s]
	}
	return "unknown"
}

// Snapshot is every node's VIP addresses at one moment.
type Snapshot struct {
	// Time is when the reading started.
	Time time.Time
	// Holders maps every VIP to the nodes that have it on their interface,
	// including nodes whose link is down (the checker knows which).
	Holders map[netip.Addr][]string
	// Neigh maps VIPs to the MAC the client's neighbour entry for them
	// holds (VIPs without a resolved entry are missing); nil when not read.
	Neigh map[netip.Addr]string
}

// Options configure a Checker.
type Options struct {
	// Nodes are the node names; VIPs the VIP addresses.
	Nodes []string
	VIPs  []netip.Addr
	// Quorum is the number of connected members a node needs to take VIPs
	// (default: a majority of Nodes).
	Quorum int
	// Witnesses are the nodes (of Nodes) configured with witness = true:
	// members for quorum that never hold a VIP (ViolationWitness) and
	// never count as able to take one (ViolationDark, the balance).
	Witnesses []string
	// TieBreaker says that the group is two nodes with a tie-breaker that
	// each reaches whenever its link is up (the lab's client); ignored
	// unless Nodes are exactly two, as the daemons ignore theirs. When the
	// two cannot hear each other (either not connected, on two sides of a
	// partition, or the path between them cut), a connected node acts as
	// if it had quorum: it may acquire, and every VIP must be on exactly
	// one reachable node once converged (the rendezvous winner when both
	// are connected: the balance is not checked then).
	TieBreaker bool
	// Quiet is the convergence window T: the group counts as converged
	// once no fault has been injected or undone (no model change) for
	// Quiet, and no daemon is paused. Default DefaultQuiet.
	Quiet time.Duration
	// Tolerance is how long a converged group may break the converged
	// invariants (duplicate, unheld, stray, unbalanced) before it is a
	// violation. Default DefaultTolerance.
	Tolerance time.Duration
	// QuorumLag is how long after being cut off a node may still take a
	// VIP. Default DefaultQuorumLag.
	QuorumLag time.Duration
	// MaxOverlap, if positive, makes a VIP on two reachable nodes for
	// longer than that a violation at any time (ViolationOverlap).
	MaxOverlap time.Duration
	// Damping is how long after a link of a node went down (or stopped
	// flapping) the node may be damped (see DefaultDamping); negative:
	// never.
	Damping time.Duration
	// FailureTimeout is the daemons' failure timeout and UnheldSlack what
	// may pass beyond it (ViolationDark). Defaults DefaultFailureTimeout
	// and DefaultUnheldSlack.
	FailureTimeout, UnheldSlack time.Duration
	// Settle is how long a node must have been fit before it counts as
	// able to take an unheld VIP (DefaultSettle).
	Settle time.Duration
	// MACs maps node names to their interfaces' MACs, for
	// ViolationBlackHole (off without it); BlackHoleAfter is its grace
	// (DefaultBlackHoleAfter).
	MACs           map[string]string
	BlackHoleAfter time.Duration
}

// Stats are what the checker saw besides violations.
type Stats struct {
	// Snapshots is the number observed, Converged how many of them fell in
	// a converged period.
	Snapshots, Converged int
	// MaxOverlap is the longest a VIP was seen on two reachable nodes at
	// once (first to last sighting), faults or not; MaxOverlapConverged the
	// same in converged periods only (under Tolerance unless reported).
	MaxOverlap, MaxOverlapConverged time.Duration
	// LongestOverlaps are the longest periods (at most 5, longest first)
	// in which a VIP was on two reachable nodes, faults or not: not
	// violations while the group is not converged, but what clients would
	// see as two MACs answering for one address.
	LongestOverlaps []Overlap
	// LagAcquisitions counts VIPs taken by a node within QuorumLag of
	// being cut off (allowed, see DefaultQuorumLag).
	LagAcquisitions int
	// MaxDark is the longest a VIP was on no reachable node while a node
	// able to take it was eligible (see ViolationDark), MaxUnheld the
	// longest it was on none at all.
	MaxDark, MaxUnheld time.Duration
	// NeighChecked counts the snapshots in which the client's neighbour
	// entries were checked (no fault active); MaxMisdirected is the
	// longest an entry pointed at no holder then, grace included.
	NeighChecked   int
	MaxMisdirected time.Duration
	// MaxSettle is the longest time from a model change to the first
	// snapshot that met every converged invariant, over the changes
	// followed by no other change before that. When it nears Quiet, Quiet
	// is too short for this machine (or the daemons are slow to settle).
	MaxSettle time.Duration
}

// Overlap is a period in which a VIP was on more than one reachable node.
type Overlap struct {
	VIP netip.Addr
	// Nodes are every node seen holding it during the period.
	Nodes []string
	// Since and Last are the first and the last snapshot that showed it.
	Since, Last time.Time
}

// Duration is the time between the first and the last sighting.
func (o Overlap) Duration() time.Duration { return o.Last.Sub(o.Since) }

// String describes the overlap on one line.
func (o Overlap) String() string {
	return fmt.Sprintf("%s on %s for %v from %s", o.VIP, strings.Join(o.Nodes, ","), o.Duration().Round(time.Millisecond), o.Since.UTC().Format("15:04:05.000"))
}

// maxOverlaps is the number of overlaps Stats keeps.
const maxOverlaps = 5

// Checker checks the soak invariants. It is fed the model of the world as
// the fault schedule changes it (SetDaemon, SetLink, Isolate, Heal, Exited,
// Change) and snapshots of who holds which VIP (Observe). It is pure: it
// reads no clock and does no I/O. Its methods are safe for concurrent use.
//
// The model is conservative about time: call the methods that relax a rule
// before the action (SetDaemon(DaemonRunning) before starting a daemon,
// Heal before healing) and the ones that tighten a rule once the action is
// done (Isolate after isolating), and Change before either.
type Checker struct {
	mu         sync.Mutex
	opt        Options
	order      []string
	nodes      map[string]*nodeModel
	vips       []netip.Addr
	lastChange time.Time
	settleFrom time.Time // the change waiting for a good snapshot; zero if none
	groupSeq   int
	last       *Snapshot
	conds      map[condKey]*condition
	overlaps   map[netip.Addr]*Overlap // VIPs on two nodes now
	// overlapReported are the current overlaps reported as too long.
	overlapReported map[netip.Addr]bool
	violations      []Violation
	stats           Stats
	// cuts are the paths cut between two nodes (names in order).
	cuts map[[2]string]bool
	// unheld is when each VIP unheld now was last held (or first seen).
	unheld       map[netip.Addr]time.Time
	darkReported map[netip.Addr]bool
	// holderChange is when each VIP's reachable holders last changed,
	// lastHolders what they were; quietSince is when the last fault ended
	// (zero while one is active).
	holderChange map[netip.Addr]time.Time
	lastHolders  map[netip.Addr][]string
	quietSince   time.Time
	misdirected  map[netip.Addr]*condition
}

type nodeModel struct {
	daemon   DaemonState
	since    time.Time // when daemon took its value
	graceful bool      // Down after a SIGTERM
	linkUp   bool
	group    int
	cut      *cutoff // non-nil while cut off from the majority
	leftover bool    // a leftover was reported for this Down period
	// dampedUntil: the node may be damped for flapping until then.
	dampedUntil time.Time
	// The faults that leave the daemon running: stalled (SIGSTOP),
	// starved of CPU, its port flapping, its packets lost at random.
	paused, starved, flapping, lossy bool
	// readySince is when the node last became fit to take VIPs: a running,
	// connected member of the majority, neither stalled nor starved; zero
	// while it is not.
	readySince time.Time
	// witness: never holds a VIP; witnessHeld are the VIPs reported on it
	// and still there.
	witness     bool
	witnessHeld map[netip.Addr]bool
}

// cutoff is one period of a node cut off from any majority.
type cutoff struct {
	since    time.Time
	allowed  map[netip.Addr]bool // what it may hold: what it held when cut off
	reported map[netip.Addr]bool
}

type condKey struct {
	kind ViolationKind
	vip  netip.Addr
}

type condition struct {
	since, last time.Time
	reported    bool
}

// New returns a checker whose model has every daemon running, every
// link up and no partition, converged: start it once the group has
// converged.
func New(opt Options) *Checker {
	if opt.Quorum <= 0 {
		opt.Quorum = len(opt.Nodes)/2 + 1
	}
	if opt.Quiet <= 0 {
		opt.Quiet = DefaultQuiet
	}
	if opt.Tolerance <= 0 {
		opt.Tolerance = DefaultTolerance
	}
	if opt.QuorumLag <= 0 {
		opt.QuorumLag = DefaultQuorumLag
	}
	if opt.Damping == 0 {
		opt.Damping = DefaultDamping
	}
	if opt.FailureTimeout <= 0 {
		opt.FailureTimeout = DefaultFailureTimeout
	}
	if opt.UnheldSlack <= 0 {
		opt.UnheldSlack = DefaultUnheldSlack
	}
	if opt.Settle <= 0 {
		opt.Settle = DefaultSettle
	}
	if opt.BlackHoleAfter <= 0 {
		opt.BlackHoleAfter = DefaultBlackHoleAfter
	}
	c := &Checker{
		opt:      opt,
		nodes:    map[string]*nodeModel{},
		vips:     slices.Clone(opt.VIPs),
		conds:    map[condKey]*condition{},
		overlaps: map[netip.Addr]*Overlap{},

		overlapReported: map[netip.Addr]bool{},
		cuts:            map[[2]string]bool{},
		unheld:          map[netip.Addr]time.Time{},
		darkReported:    map[netip.Addr]bool{},
		holderChange:    map[netip.Addr]time.Time{},
		lastHolders:     map[netip.Addr][]string{},
		misdirected:     map[netip.Addr]*condition{},
	}
	for _, n := range opt.Nodes {
		if _, dup := c.nodes[n]; dup {
			continue
		}
		c.order = append(c.order, n)
		c.nodes[n] = &nodeModel{linkUp: true, readySince: longAgo}
	}
	for _, w := range opt.Witnesses {
		if n := c.nodes[w]; n != nil {
			n.witness, n.readySince, n.witnessHeld = true, time.Time{}, map[netip.Addr]bool{}
		}
	}
	if len(c.order) != 2 {
		c.opt.TieBreaker = false
	}
	slices.SortFunc(c.vips, func(a, b netip.Addr) int { return a.Compare(b) })
	c.vips = slices.Compact(c.vips)
	c.quietSince = longAgo
	return c
}

// longAgo stands for "since before the checker started": the group a
// checker starts on is converged and has been quiet.
var longAgo = time.Unix(0, 0)

// A Condition is a fault that leaves a node's daemon running.
type Condition uint8

// Conditions (SetCondition).
const (
	// Paused: the daemon is stopped (SIGSTOP); its host still answers for
	// its addresses.
	Paused Condition = iota
	// Starved: the daemon gets a small CPU quota.
	Starved
	// Flapping: the node's switch port goes down and up. It counts as
	// cut off (its addresses unreachable, nothing to acquire) for the
	// whole fault, and may be damped for Options.Damping after it.
	Flapping
	// Lossy: the node's packets are lost at random.
	Lossy
)

// SetCondition records that cond began (on) or ended on node at t. Call it
// once the fault is in place, and before undoing it.
func (c *Checker) SetCondition(t time.Time, node string, cond Condition, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[node]
	if n == nil {
		return
	}
	c.changeLocked(t)
	switch cond {
	case Paused:
		n.paused = on
	case Starved:
		n.starved = on
	case Flapping:
		if c.opt.Damping > 0 {
			// Damped from the first flap until the penalty has decayed,
			// counted from the last one.
			n.dampedUntil = maxTime(n.dampedUntil, t.Add(c.opt.Damping))
		}
		n.flapping = on
	case Lossy:
		n.lossy = on
	}
	c.recompute(t)
}

// Cut records that the path between nodes a and b was cut (on) or restored
// at t: both still reach every other node, so nobody leaves the majority.
func (c *Checker) Cut(t time.Time, a, b string, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b < a {
		a, b = b, a
	}
	c.changeLocked(t)
	if on {
		c.cuts[[2]string{a, b}] = true
	} else {
		delete(c.cuts, [2]string{a, b})
	}
	c.recompute(t)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Change records that the world is about to change (a fault injected or
// undone) at t: the group is not converged until Quiet after the last
// change. The model setters call it too.
func (c *Checker) Change(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.changeLocked(t)
}

func (c *Checker) changeLocked(t time.Time) {
	if t.After(c.lastChange) {
		c.lastChange = t
	}
	c.settleFrom = c.lastChange
}

// SetDaemon sets node's daemon state at t.
func (c *Checker) SetDaemon(t time.Time, node string, s DaemonState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[node]
	if n == nil {
		return
	}
	c.changeLocked(t)
	c.setDaemonLocked(t, n, s, false)
	c.recompute(t)
}

func (c *Checker) setDaemonLocked(t time.Time, n *nodeModel, s DaemonState, graceful bool) {
	if n.daemon != s {
		n.since = t
		n.leftover = false
	}
	n.daemon = s
	n.graceful = graceful
}

// Exited records that node's daemon process exited at t; status describes
// the exit ("exit status 0") and ok says whether it succeeded. It returns
// whether the exit was expected: a daemon the model has running died, which
// is a violation (the model then has it killed, addresses not cleaned up).
func (c *Checker) Exited(t time.Time, node, status string, ok bool) (expected bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[node]
	if n == nil {
		return false
	}
	expected = true
	switch n.daemon {
	case DaemonRunning:
		expected = false
		c.violate(Violation{Kind: ViolationDied, Time: t, Node: node, Detail: "the daemon exited unexpectedly: " + status})
		c.setDaemonLocked(t, n, DaemonKilled, false)
	case DaemonStopping:
		if !ok {
			c.violate(Violation{Kind: ViolationStop, Time: t, Node: node, Detail: "the daemon stopped with SIGTERM exited with " + status})
		}
		c.setDaemonLocked(t, n, DaemonDown, true)
	default:
		return true
	}
	c.changeLocked(t)
	c.recompute(t)
	return expected
}

// SetLink records that node's link went down or came up at t. A node whose
// link is down is alone: its addresses reach nobody, so they count for no
// converged invariant, but it must not acquire anything.
func (c *Checker) SetLink(t time.Time, node string, up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[node]
	if n == nil {
		return
	}
	c.changeLocked(t)
	if n.linkUp && !up && c.opt.Damping > 0 {
		n.dampedUntil = maxTime(n.dampedUntil, t.Add(c.opt.Damping))
	}
	n.linkUp = up
	c.recompute(t)
}

// Isolate records that nodes were cut off together from all the others at
// t: they form one side of a partition (one node alone for an isolation,
// the smaller side of a split).
func (c *Checker) Isolate(t time.Time, nodes ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.changeLocked(t)
	c.groupSeq++
	for _, name := range nodes {
		if n := c.nodes[name]; n != nil {
			n.group = c.groupSeq
		}
	}
	c.recompute(t)
}

// Heal records that nodes rejoined the main side at t.
func (c *Checker) Heal(t time.Time, nodes ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.changeLocked(t)
	for _, name := range nodes {
		if n := c.nodes[name]; n != nil {
			n.group = 0
		}
	}
	c.recompute(t)
}

// Report adds a violation found outside the checker (a log scan, a stop
// that timed out).
func (c *Checker) Report(v Violation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.violate(v)
}

func (c *Checker) violate(v Violation) {
	if v.Holders != nil {
		v.Holders = cloneHolders(v.Holders)
	}
	c.violations = append(c.violations, v)
}

// Violations returns every violation so far, in the order found.
func (c *Checker) Violations() []Violation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.violations)
}

// Stats returns what the checker saw besides violations.
func (c *Checker) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.LongestOverlaps = slices.Clone(s.LongestOverlaps)
	for _, o := range c.overlaps { // still going on
		s.LongestOverlaps = keepLongest(s.LongestOverlaps, *o)
	}
	return s
}

// keepLongest adds o to the longest overlaps if it is among them.
func keepLongest(list []Overlap, o Overlap) []Overlap {
	o.Nodes = slices.Clone(o.Nodes)
	slices.Sort(o.Nodes)
	list = append(list, o)
	slices.SortStableFunc(list, func(a, b Overlap) int {
		if d := b.Duration() - a.Duration(); d != 0 {
			return int(d)
		}
		return a.Since.Compare(b.Since)
	})
	return list[:min(len(list), maxOverlaps)]
}

// connected reports whether a node takes part in the group: its daemon runs
// (or hands over) and its link is up (not flapping).
func (n *nodeModel) connected() bool {
	return (n.daemon == DaemonRunning || n.daemon == DaemonStopping) && n.reachable()
}

// reachable reports whether clients reach what the node holds.
func (n *nodeModel) reachable() bool { return n.linkUp && !n.flapping }

// fit reports whether the node can take VIPs now, given the majority:
// damping aside (see eligibleSince). A witness never can.
func (n *nodeModel) fit(inMajority bool) bool {
	return n.daemon == DaemonRunning && n.connected() && inMajority && !n.paused && !n.starved && !n.witness
}

// eligibleSince is when the node became able to take an unheld VIP: fit
// for Settle and past any damping; zero if it is not fit.
func (c *Checker) eligibleSince(n *nodeModel) time.Time {
	if n.readySince.IsZero() {
		return time.Time{}
	}
	return maxTime(n.readySince.Add(c.opt.Settle), n.dampedUntil)
}

// faultActive reports whether any fault is in place in the model.
func (c *Checker) faultActive() bool {
	if len(c.cuts) > 0 {
		return true
	}
	for _, n := range c.nodes {
		if n.daemon != DaemonRunning || !n.linkUp || n.group != 0 || n.paused || n.starved || n.flapping || n.lossy {
			return true
		}
	}
	return false
}

// majority returns the nodes that have quorum, or nil: the members of the
// side with Quorum connected members; or, with a tie-breaker and no such
// side, every connected node (it reaches the tie-breaker, and acts as if
// it had quorum), tie then true.
func (c *Checker) majority() (maj map[string]bool, tie bool) {
	sides := map[int][]string{}
	for _, name := range c.order {
		if n := c.nodes[name]; n.connected() {
			sides[n.group] = append(sides[n.group], name)
		}
	}
	for _, members := range sides {
		if len(members) >= c.opt.Quorum && !c.cutWithin(members) {
			m := map[string]bool{}
			for _, name := range members {
				m[name] = true
			}
			return m, false
		}
	}
	if !c.opt.TieBreaker {
		return nil, false
	}
	m := map[string]bool{}
	for _, members := range sides {
		for _, name := range members {
			m[name] = true
		}
	}
	if len(m) == 0 {
		return nil, false
	}
	return m, true
}

// cutWithin reports whether, in a group with a tie-breaker, the path
// between two of members is cut: with no third node to hear, the two do
// not hear each other. Elsewhere a cut path leaves both ends in the
// majority (they hear the others).
func (c *Checker) cutWithin(members []string) bool {
	if !c.opt.TieBreaker {
		return false
	}
	for i, a := range members {
		for _, b := range members[i+1:] {
			if b < a {
				a, b = b, a
			}
			if c.cuts[[2]string{a, b}] {
				return true
			}
		}
	}
	return false
}

// recompute starts and ends cut-off periods after a model change at t.
func (c *Checker) recompute(t time.Time) {
	maj, _ := c.majority()
	for _, name := range c.order {
		n := c.nodes[name]
		alive := n.daemon == DaemonRunning || n.daemon == DaemonStopping
		cut := alive && !maj[name]
		switch {
		case cut && n.cut == nil:
			n.cut = &cutoff{since: t, allowed: map[netip.Addr]bool{}, reported: map[netip.Addr]bool{}}
			if c.last != nil {
				for _, v := range heldBy(c.last.Holders, name) {
					n.cut.allowed[v] = true
				}
			}
		case !cut:
			n.cut = nil
		}
		switch fit := n.fit(maj[name]); {
		case fit && n.readySince.IsZero():
			n.readySince = t
		case !fit:
			n.readySince = time.Time{}
		}
	}
	switch active := c.faultActive(); {
	case active:
		c.quietSince = time.Time{}
	case c.quietSince.IsZero():
		c.quietSince = t
	}
}

// Observe checks a snapshot against the model and returns the violations
// it revealed. Snapshots must come in time order.
func (c *Checker) Observe(s Snapshot) []Violation {
	c.mu.Lock()
	defer c.mu.Unlock()
	before := len(c.violations)
	c.stats.Snapshots++

	for _, name := range c.order {
		n := c.nodes[name]
		held := heldBy(s.Holders, name)
		// A witness never holds a VIP.
		if n.witness {
			for v := range n.witnessHeld {
				if !slices.Contains(held, v) {
					delete(n.witnessHeld, v)
				}
			}
			for _, v := range held {
				if !n.witnessHeld[v] {
					n.witnessHeld[v] = true
					c.violate(Violation{Kind: ViolationWitness, Time: s.Time, Node: name, VIP: v,
						Detail: fmt.Sprintf("the witness %s holds %s", name, v), Holders: s.Holders})
				}
			}
		}
		// A daemon that has exited (and was cleaned up after a kill)
		// leaves nothing behind.
		if n.daemon == DaemonDown && !s.Time.Before(n.since) && len(held) > 0 && !n.leftover {
			n.leftover = true
			how := "after the cleanup that followed SIGKILL"
			if n.graceful {
				how = "after a graceful stop (SIGTERM)"
			}
			c.violate(Violation{Kind: ViolationLeftover, Time: s.Time, Since: n.since, Node: name,
				Detail: fmt.Sprintf("%v still on the node %v after its daemon exited", held, how), Holders: s.Holders})
		}
		// The minority never acquires.
		if cut := n.cut; cut != nil && !s.Time.Before(cut.since) {
			if s.Time.Before(cut.since.Add(c.opt.QuorumLag)) {
				for _, v := range held {
					if !cut.allowed[v] {
						cut.allowed[v] = true
						c.stats.LagAcquisitions++
					}
				}
			} else {
				for _, v := range held {
					if !cut.allowed[v] && !cut.reported[v] {
						cut.reported[v] = true
						c.violate(Violation{Kind: ViolationMinority, Time: s.Time, Since: cut.since, Node: name, VIP: v,
							Detail:  fmt.Sprintf("took %s while cut off from the majority (since %s)", v, cut.since.UTC().Format("15:04:05.000")),
							Holders: s.Holders})
					}
				}
				for v := range cut.allowed {
					if !slices.Contains(held, v) {
						delete(cut.allowed, v) // given up: taking it back is acquiring
					}
				}
			}
		}
	}

	current := c.conditions(s)
	for _, v := range c.vips {
		hs := c.reachable(s.Holders[v])
		o := c.overlaps[v]
		switch {
		case len(hs) > 1:
			if o == nil {
				o = &Overlap{VIP: v, Since: s.Time}
				c.overlaps[v] = o
			}
			o.Last = s.Time
			for _, h := range hs {
				if !slices.Contains(o.Nodes, h) {
					o.Nodes = append(o.Nodes, h)
				}
			}
			c.stats.MaxOverlap = max(c.stats.MaxOverlap, o.Duration())
			if c.opt.MaxOverlap > 0 && o.Duration() > c.opt.MaxOverlap && !c.overlapReported[v] {
				c.overlapReported[v] = true
				c.violate(Violation{Kind: ViolationOverlap, Time: s.Time, Since: o.Since, VIP: v,
					Detail: fmt.Sprintf("on %s for longer than %v", strings.Join(hs, " and "), c.opt.MaxOverlap), Holders: s.Holders})
			}
		case o != nil:
			c.stats.LongestOverlaps = keepLongest(c.stats.LongestOverlaps, *o)
			delete(c.overlaps, v)
			delete(c.overlapReported, v)
		}
	}
	c.checkDark(s)
	c.checkNeighbours(s)
	// A stalled daemon cannot let go of what the others took meanwhile:
	// the group converges only once it runs again.
	converged := !s.Time.Before(c.lastChange.Add(c.opt.Quiet)) && !slices.ContainsFunc(c.order, func(n string) bool { return c.nodes[n].paused })
	if converged {
		c.stats.Converged++
		for key, what := range current {
			cd := c.conds[key]
			if cd == nil {
				cd = &condition{since: s.Time}
				c.conds[key] = cd
			}
			cd.last = s.Time
			if key.kind == ViolationDuplicate {
				c.stats.MaxOverlapConverged = max(c.stats.MaxOverlapConverged, cd.last.Sub(cd.since))
			}
			if !cd.reported && s.Time.Sub(cd.since) >= c.opt.Tolerance {
				cd.reported = true
				c.violate(Violation{Kind: key.kind, Time: s.Time, Since: cd.since, VIP: key.vip, Detail: what, Holders: s.Holders})
			}
		}
	}
	for key := range c.conds {
		if _, ok := current[key]; !ok || !converged {
			delete(c.conds, key)
		}
	}
	if len(current) == 0 && !c.settleFrom.IsZero() && !s.Time.Before(c.settleFrom) {
		c.stats.MaxSettle = max(c.stats.MaxSettle, s.Time.Sub(c.settleFrom))
		c.settleFrom = time.Time{}
	}
	snap := Snapshot{Time: s.Time, Holders: cloneHolders(s.Holders), Neigh: maps.Clone(s.Neigh)}
	c.last = &snap
	return slices.Clone(c.violations[before:])
}

// reachable keeps the holders whose link is up: what clients can reach.
func (c *Checker) reachable(holders []string) []string {
	var out []string
	for _, h := range holders {
		if n := c.nodes[h]; n == nil || n.reachable() {
			out = append(out, h)
		}
	}
	return out
}

// checkDark looks for VIPs unheld too long while a node could take them
// (ViolationDark).
func (c *Checker) checkDark(s Snapshot) {
	// Since when some node has been able to take VIPs (zero: none now).
	var able time.Time
	for _, name := range c.order {
		if e := c.eligibleSince(c.nodes[name]); !e.IsZero() && !e.After(s.Time) && (able.IsZero() || e.Before(able)) {
			able = e
		}
	}
	limit := c.opt.FailureTimeout + c.opt.UnheldSlack
	quorum := "quorum"
	if _, tie := c.majority(); tie {
		quorum = "quorum (through the tie-breaker)"
	}
	for _, v := range c.vips {
		if len(c.reachable(s.Holders[v])) > 0 {
			delete(c.unheld, v)
			delete(c.darkReported, v)
			continue
		}
		since, ok := c.unheld[v]
		if !ok {
			since = s.Time
			if c.last != nil {
				since = c.last.Time // held at the last snapshot: unheld since about then
			}
			c.unheld[v] = since
		}
		c.stats.MaxUnheld = max(c.stats.MaxUnheld, s.Time.Sub(since))
		if able.IsZero() {
			continue
		}
		from := maxTime(since, able)
		dark := s.Time.Sub(from)
		c.stats.MaxDark = max(c.stats.MaxDark, dark)
		if dark > limit && !c.darkReported[v] {
			c.darkReported[v] = true
			c.violate(Violation{Kind: ViolationDark, Time: s.Time, Since: from, VIP: v,
				Detail:  fmt.Sprintf("held by no reachable node for longer than the failure timeout %v + %v while a node with %s could take it", c.opt.FailureTimeout, c.opt.UnheldSlack, quorum),
				Holders: s.Holders})
		}
	}
}

// checkNeighbours looks for a client sent to a node that does not hold the
// VIP (ViolationBlackHole), once no fault is active.
func (c *Checker) checkNeighbours(s Snapshot) {
	for _, v := range c.vips {
		hs := c.reachable(s.Holders[v])
		slices.Sort(hs)
		if prev, ok := c.lastHolders[v]; !ok || !slices.Equal(prev, hs) {
			c.lastHolders[v] = hs
			c.holderChange[v] = s.Time
		}
	}
	if c.opt.MACs == nil || s.Neigh == nil || c.quietSince.IsZero() {
		clear(c.misdirected)
		return
	}
	c.stats.NeighChecked++
	for _, v := range c.vips {
		hs := c.lastHolders[v]
		mac := s.Neigh[v]
		right := len(hs) == 0 || mac != "" && slices.ContainsFunc(hs, func(n string) bool { return c.opt.MACs[n] == mac })
		if right {
			delete(c.misdirected, v)
			continue
		}
		cd := c.misdirected[v]
		if cd == nil {
			cd = &condition{since: s.Time}
			c.misdirected[v] = cd
		}
		cd.last = s.Time
		c.stats.MaxMisdirected = max(c.stats.MaxMisdirected, s.Time.Sub(cd.since))
		grace := maxTime(c.holderChange[v], c.quietSince).Add(c.opt.BlackHoleAfter)
		from := maxTime(cd.since, grace)
		if !cd.reported && s.Time.Sub(from) >= c.opt.Tolerance {
			cd.reported = true
			to := "no MAC (unresolved)"
			if mac != "" {
				to = mac
				for n, m := range c.opt.MACs {
					if m == mac {
						to = n + " (" + mac + ")"
					}
				}
			}
			c.violate(Violation{Kind: ViolationBlackHole, Time: s.Time, Since: from, VIP: v,
				Detail:  fmt.Sprintf("the client sends it to %s, which does not hold it, %v after the last change of its holders (%s) with no fault active", to, s.Time.Sub(grace.Add(-c.opt.BlackHoleAfter)).Round(time.Millisecond), strings.Join(hs, ",")),
				Holders: s.Holders})
		}
	}
}

// conditions evaluates the converged invariants on s, whether or not the
// group is converged: what is wrong, by kind and VIP.
func (c *Checker) conditions(s Snapshot) map[condKey]string {
	out := map[condKey]string{}
	maj, tie := c.majority()
	load := map[string]int{}
	holders := false // a member of the majority that may hold VIPs
	for name := range maj {
		// A node that may be damped holds what it holds, nothing if it
		// lets go: the others' balance is checked without it. A witness
		// holds nothing.
		n := c.nodes[name]
		if n.daemon == DaemonRunning && !s.Time.Before(n.dampedUntil) && !n.witness {
			load[name] = 0
		}
		holders = holders || !n.witness
	}
	majority := "a majority is up and connected"
	if tie {
		majority = "a node is connected and reaches the tie-breaker"
	}
	whole := true // every VIP on exactly one member of the majority
	for _, v := range c.vips {
		hs := c.reachable(s.Holders[v])
		switch {
		case len(hs) > 1:
			out[condKey{ViolationDuplicate, v}] = fmt.Sprintf("held by %s", strings.Join(hs, " and "))
			whole = false
		case maj == nil || !holders:
		case len(hs) == 0:
			out[condKey{ViolationUnheld, v}] = "held by no reachable node although " + majority
			whole = false
		case !maj[hs[0]]:
			out[condKey{ViolationStray, v}] = fmt.Sprintf("held by %s, which is not a live member of the majority %s", hs[0], strings.Join(slices.Sorted(maps.Keys(maj)), ","))
			whole = false
		case c.nodes[hs[0]] != nil && c.nodes[hs[0]].witness:
			whole = false // a witness-held violation already
		default:
			if _, ok := load[hs[0]]; ok {
				load[hs[0]]++
			}
		}
	}
	// Two nodes that do not hear each other split the VIPs by their
	// rendezvous hash, balanced or not.
	if maj != nil && !tie && whole && len(load) > 0 {
		lo, hi := len(c.vips), 0
		for _, l := range load {
			lo, hi = min(lo, l), max(hi, l)
		}
		if hi-lo > 1 {
			var parts []string
			for _, name := range slices.Sorted(maps.Keys(load)) {
				parts = append(parts, fmt.Sprintf("%s=%d", name, load[name]))
			}
			out[condKey{kind: ViolationUnbalanced}] = "loads " + strings.Join(parts, " ")
		}
	}
	return out
}

func heldBy(h map[netip.Addr][]string, node string) []netip.Addr {
	var out []netip.Addr
	for _, v := range sortedAddrs(h) {
		if slices.Contains(h[v], node) {
			out = append(out, v)
		}
	}
	return out
}

func cloneHolders(h map[netip.Addr][]string) map[netip.Addr][]string {
	out := make(map[netip.Addr][]string, len(h))
	for v, hs := range h {
		out[v] = slices.Clone(hs)
	}
	return out
}

// Daemon returns node's daemon state in the model (DaemonDown for an
// unknown node).
func (c *Checker) Daemon(node string) DaemonState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nodes[node]; n != nil {
		return n.daemon
	}
	return DaemonDown
}

func sortedAddrs(m map[netip.Addr][]string) []netip.Addr {
	return slices.SortedFunc(maps.Keys(m), func(a, b netip.Addr) int { return a.Compare(b) })
}
