package cluster

// The soak test: a seeded random schedule of faults (NewSchedule), an
// invariant checker fed with the nodes' addresses and the schedule's model of
// the world (Checker), and the runner that applies the one to a live cluster
// while the other watches (Cluster.Soak). The schedule and the checker are
// pure, so that they are unit-tested without root; wackalab soak and the
// end-to-end TestSoak share the runner.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wackamole/wackamole/pkg/agent"
	"github.com/wackamole/wackamole/pkg/control"
)

// FaultKind names a kind of fault the soak test injects.
type FaultKind string

// Fault kinds. A fault starts at Fault.At and is undone Fault.Duration later.
const (
	// FaultKill kills one daemon with SIGKILL and runs "wackamole
	// cleanup", as systemd's ExecStopPost would; the daemon is restarted
	// when the fault ends.
	FaultKill FaultKind = "kill"
	// FaultTerm stops one daemon with SIGTERM (a graceful stop: it hands
	// its VIPs over and removes its addresses); it is restarted when the
	// fault ends.
	FaultTerm FaultKind = "term"
	// FaultFlap takes one node's link down (both ends of the cable) and
	// brings it back up when the fault ends.
	FaultFlap FaultKind = "flap"
	// FaultIsolate cuts one node off from the gossip port while ARP, ICMP
	// and other ports still flow: the split-brain case.
	FaultIsolate FaultKind = "isolate"
	// FaultSplit splits the cluster in two with IsolateAll: the smaller
	// side (Fault.Nodes, 2 of 5) against the majority.
	FaultSplit FaultKind = "split"
	// FaultQuorumKill kills (SIGKILL and cleanup) one node more than the
	// majority can lose (3 of 5): the survivors have no quorum and must
	// take nothing.
	FaultQuorumKill FaultKind = "quorum-kill"
	// FaultQuorumIsolate cuts every node off from the gossip port: nobody
	// has quorum, everybody keeps what it holds and takes nothing.
	FaultQuorumIsolate FaultKind = "quorum-isolate"
)

// FaultKinds lists every fault kind, in the order reports show them.
var FaultKinds = []FaultKind{FaultKill, FaultTerm, FaultFlap, FaultIsolate, FaultSplit, FaultQuorumKill, FaultQuorumIsolate}

// LosesQuorum reports whether the fault takes the majority away from the
// whole group.
func (k FaultKind) LosesQuorum() bool { return k == FaultQuorumKill || k == FaultQuorumIsolate }

// Fault is one entry of a soak schedule.
type Fault struct {
	// ID numbers the faults from 1 in the order they start.
	ID   int
	Kind FaultKind
	// Nodes are the affected nodes as indexes into Cluster.Nodes (0 is
	// "n1"), in increasing order. For FaultSplit they are the smaller side.
	Nodes []int
	// At is when the fault starts, from the start of the schedule;
	// Duration how long it lasts until it is undone.
	At, Duration time.Duration
}

// End is when the fault is undone, from the start of the schedule.
func (f Fault) End() time.Duration { return f.At + f.Duration }

// NodeNames returns the names of the fault's nodes ("n1", "n2", …).
func (f Fault) NodeNames() []string {
	out := make([]string, len(f.Nodes))
	for i, n := range f.Nodes {
		out[i] = fmt.Sprintf("n%d", n+1)
	}
	return out
}

// String describes the fault on one line.
func (f Fault) String() string {
	return fmt.Sprintf("#%d %s %s at %v for %v", f.ID, f.Kind, strings.Join(f.NodeNames(), ","), f.At, f.Duration)
}

// ScheduleOptions configure NewSchedule.
type ScheduleOptions struct {
	// Nodes is the size of the cluster (default 5, at least 3).
	Nodes int
	// Length is the time within which faults start (the last one may end a
	// little later).
	Length time.Duration
	// Seed makes the schedule: the same options give the same schedule.
	Seed int64
	// Quiet is the checker's convergence window. About a third of the gaps
	// between faults leave every node alone for longer than Quiet, so that
	// the converged invariants get checked (default DefaultQuiet).
	Quiet time.Duration
	// QuorumLoss is the share of faults that take the majority away
	// (FaultQuorumKill, FaultQuorumIsolate). Default 0.06; negative: none.
	QuorumLoss float64
}

// Defaults of the soak test, tuned for the "lan" timing profile (failure
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
	// DefaultPoll is how often the runner reads every node's addresses.
	DefaultPoll = 50 * time.Millisecond
	// recoveryMargin keeps a node out of new faults for a while after its
	// last one ended, so that a restarted daemon rejoins before the next
	// fault counts on it: without it two faults plus a node still joining
	// would take the majority away outside a quorum-loss episode.
	recoveryMargin = 2 * time.Second
)

// MaxFaulty is the number of nodes of an n-node group that may fail while a
// majority survives: n minus the majority (2 of 5).
func MaxFaulty(n int) int { return n - (n/2 + 1) }

// NewSchedule draws a random fault schedule. Outside quorum-loss episodes
// at most MaxFaulty nodes are faulty at any time, counting a node as faulty
// from the start of its fault until a recovery margin after its end; a
// split or a quorum loss is alone. Faults on different nodes overlap, which
// makes combinations such as one node killed while another is isolated.
func NewSchedule(opt ScheduleOptions) ([]Fault, error) {
	n := opt.Nodes
	if n == 0 {
		n = 5
	}
	if n < 3 {
		return nil, fmt.Errorf("cluster: schedule for %d nodes: want at least 3 (a majority that survives a fault)", n)
	}
	if opt.Length < 0 {
		return nil, fmt.Errorf("cluster: schedule length %v is negative", opt.Length)
	}
	quiet := opt.Quiet
	if quiet <= 0 {
		quiet = DefaultQuiet
	}
	loss := opt.QuorumLoss
	switch {
	case loss == 0:
		loss = 0.06
	case loss < 0:
		loss = 0
	}
	rng := rand.New(rand.NewPCG(uint64(opt.Seed), 0x77ac4a301e))
	uniform := func(lo, hi time.Duration) time.Duration {
		d := lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
		return d.Round(100 * time.Millisecond)
	}
	maxFaulty := MaxFaulty(n)
	busy := make([]time.Duration, n) // each node is busy until then
	var lastEnd time.Duration        // end of the latest-ending fault so far
	var faults []Fault
	t := time.Duration(0)
	for {
		// A third of the gaps leave the whole group alone for longer than
		// the convergence window; the others start the next fault soon,
		// often while the previous one lasts.
		if rng.Float64() < 0.35 {
			t = max(t, lastEnd+recoveryMargin) + quiet + uniform(time.Second, quiet)
		} else {
			t += uniform(300*time.Millisecond, 3*time.Second)
		}
		var kind FaultKind
		switch r := rng.Float64(); {
		case r < loss/2:
			kind = FaultQuorumKill
		case r < loss:
			kind = FaultQuorumIsolate
		default:
			kind = pickWeighted(rng, []FaultKind{FaultKill, FaultTerm, FaultFlap, FaultIsolate, FaultSplit}, []float64{30, 30, 20, 20, 12})
		}
		exclusive := kind == FaultSplit || kind.LosesQuorum()
		// Wait until the fault fits: an exclusive one needs every node
		// free, a one-node fault a free node and fewer than maxFaulty busy.
		for {
			var free []int
			for i := range n {
				if busy[i] <= t {
					free = append(free, i)
				}
			}
			if exclusive && len(free) == n || !exclusive && n-len(free) < maxFaulty {
				break
			}
			next := time.Duration(-1)
			for i := range n {
				if busy[i] > t && (next < 0 || busy[i] < next) {
					next = busy[i]
				}
			}
			t = next
		}
		if t >= opt.Length {
			break
		}
		var free []int
		for i := range n {
			if busy[i] <= t {
				free = append(free, i)
			}
		}
		f := Fault{Kind: kind, At: t}
		switch kind {
		case FaultKill, FaultTerm:
			f.Duration = uniform(time.Second, 10*time.Second)
			f.Nodes = pick(rng, free, 1)
		case FaultFlap:
			f.Duration = uniform(time.Second, 5*time.Second)
			f.Nodes = pick(rng, free, 1)
		case FaultIsolate:
			f.Duration = uniform(2*time.Second, 12*time.Second)
			f.Nodes = pick(rng, free, 1)
		case FaultSplit:
			f.Duration = uniform(2*time.Second, 12*time.Second)
			f.Nodes = pick(rng, free, maxFaulty)
		case FaultQuorumKill:
			f.Duration = uniform(3*time.Second, 10*time.Second)
			f.Nodes = pick(rng, free, maxFaulty+1)
		case FaultQuorumIsolate:
			f.Duration = uniform(3*time.Second, 10*time.Second)
			f.Nodes = slices.Clone(free)
		}
		until := f.End() + recoveryMargin
		if exclusive {
			for i := range busy {
				busy[i] = until
			}
		} else {
			busy[f.Nodes[0]] = until
		}
		lastEnd = max(lastEnd, f.End())
		f.ID = len(faults) + 1
		faults = append(faults, f)
	}
	return faults, nil
}

func pickWeighted(rng *rand.Rand, kinds []FaultKind, weights []float64) FaultKind {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	r := rng.Float64() * total
	for i, w := range weights {
		if r < w {
			return kinds[i]
		}
		r -= w
	}
	return kinds[len(kinds)-1]
}

// pick returns k distinct elements of from, sorted.
func pick(rng *rand.Rand, from []int, k int) []int {
	c := slices.Clone(from)
	rng.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	c = c[:min(k, len(c))]
	slices.Sort(c)
	return c
}

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
	// CheckOptions.MaxOverlap, converged or not. Off unless MaxOverlap is
	// set: during faults the design lets a VIP sit on two nodes until one
	// of them notices the other's announcement.
	ViolationOverlap ViolationKind = "long-overlap"
)

// ViolationKinds lists every violation kind, in the order reports show them.
var ViolationKinds = []ViolationKind{
	ViolationDuplicate, ViolationUnheld, ViolationStray, ViolationUnbalanced, ViolationMinority,
	ViolationLeftover, ViolationDied, ViolationStop, ViolationLog, ViolationOverlap,
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
}

// CheckOptions configure a Checker.
type CheckOptions struct {
	// Nodes are the node names; VIPs the VIP addresses.
	Nodes []string
	VIPs  []netip.Addr
	// Quorum is the number of connected members a node needs to take VIPs
	// (default: a majority of Nodes).
	Quorum int
	// Quiet is the convergence window T: the group counts as converged
	// once no fault has been injected or undone (no model change) for
	// Quiet. Default DefaultQuiet.
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
}

// CheckStats are what the checker saw besides violations.
type CheckStats struct {
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

// maxOverlaps is the number of overlaps CheckStats keeps.
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
	opt        CheckOptions
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
	stats           CheckStats
}

type nodeModel struct {
	daemon   DaemonState
	since    time.Time // when daemon took its value
	graceful bool      // Down after a SIGTERM
	linkUp   bool
	group    int
	cut      *cutoff // non-nil while cut off from the majority
	leftover bool    // a leftover was reported for this Down period
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

// NewChecker returns a checker whose model has every daemon running, every
// link up and no partition, converged: start it once the group has
// converged.
func NewChecker(opt CheckOptions) *Checker {
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
	c := &Checker{
		opt:      opt,
		nodes:    map[string]*nodeModel{},
		vips:     slices.Clone(opt.VIPs),
		conds:    map[condKey]*condition{},
		overlaps: map[netip.Addr]*Overlap{},

		overlapReported: map[netip.Addr]bool{},
	}
	for _, n := range opt.Nodes {
		if _, dup := c.nodes[n]; dup {
			continue
		}
		c.order = append(c.order, n)
		c.nodes[n] = &nodeModel{linkUp: true}
	}
	slices.SortFunc(c.vips, func(a, b netip.Addr) int { return a.Compare(b) })
	c.vips = slices.Compact(c.vips)
	return c
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
func (c *Checker) Stats() CheckStats {
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
// (or hands over) and its link is up.
func (n *nodeModel) connected() bool {
	return (n.daemon == DaemonRunning || n.daemon == DaemonStopping) && n.linkUp
}

// majority returns the members of the side that has quorum, or nil.
func (c *Checker) majority() map[string]bool {
	sides := map[int][]string{}
	for _, name := range c.order {
		if n := c.nodes[name]; n.connected() {
			sides[n.group] = append(sides[n.group], name)
		}
	}
	for _, members := range sides {
		if len(members) >= c.opt.Quorum {
			m := map[string]bool{}
			for _, name := range members {
				m[name] = true
			}
			return m
		}
	}
	return nil
}

// recompute starts and ends cut-off periods after a model change at t.
func (c *Checker) recompute(t time.Time) {
	maj := c.majority()
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
	converged := !s.Time.Before(c.lastChange.Add(c.opt.Quiet))
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
	snap := Snapshot{Time: s.Time, Holders: cloneHolders(s.Holders)}
	c.last = &snap
	return slices.Clone(c.violations[before:])
}

// reachable keeps the holders whose link is up: what clients can reach.
func (c *Checker) reachable(holders []string) []string {
	var out []string
	for _, h := range holders {
		if n := c.nodes[h]; n == nil || n.linkUp {
			out = append(out, h)
		}
	}
	return out
}

// conditions evaluates the converged invariants on s, whether or not the
// group is converged: what is wrong, by kind and VIP.
func (c *Checker) conditions(s Snapshot) map[condKey]string {
	out := map[condKey]string{}
	maj := c.majority()
	load := map[string]int{}
	for name := range maj {
		if c.nodes[name].daemon == DaemonRunning {
			load[name] = 0
		}
	}
	whole := true // every VIP on exactly one member of the majority
	for _, v := range c.vips {
		hs := c.reachable(s.Holders[v])
		switch {
		case len(hs) > 1:
			out[condKey{ViolationDuplicate, v}] = fmt.Sprintf("held by %s", strings.Join(hs, " and "))
			whole = false
		case maj == nil:
		case len(hs) == 0:
			out[condKey{ViolationUnheld, v}] = "held by no reachable node although a majority is up and connected"
			whole = false
		case !maj[hs[0]]:
			out[condKey{ViolationStray, v}] = fmt.Sprintf("held by %s, which is not a live member of the majority %s", hs[0], strings.Join(slices.Sorted(maps.Keys(maj)), ","))
			whole = false
		default:
			if _, ok := load[hs[0]]; ok {
				load[hs[0]]++
			}
		}
	}
	if maj != nil && whole && len(load) > 0 {
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

// SoakOptions configure Cluster.Soak.
type SoakOptions struct {
	// Duration is the length of the fault schedule (default 2 minutes).
	// The run lasts a little longer: the last faults are undone, the group
	// converges, and every daemon is stopped gracefully.
	Duration time.Duration
	// Seed makes the schedule; the same seed replays the same faults.
	Seed int64
	// Quiet, Tolerance, QuorumLag and MaxOverlap are the checker's (see
	// CheckOptions).
	Quiet, Tolerance, QuorumLag, MaxOverlap time.Duration
	// QuorumLoss is the schedule's share of quorum-loss faults (see
	// ScheduleOptions).
	QuorumLoss float64
	// Poll is how often every node's addresses are read (default
	// DefaultPoll).
	Poll time.Duration
	// StopTimeout bounds a graceful stop (default the daemons' drain
	// timeout, 5 s, plus 10 s).
	StopTimeout time.Duration
	// Progress, if set, receives one line per fault, per violation as it
	// is found, and a status line every minute; one call at a time.
	Progress func(line string)
}

// SoakReport is the outcome of a soak run.
type SoakReport struct {
	Seed     int64
	Schedule []Fault
	// Injected counts the faults injected, by kind.
	Injected map[FaultKind]int
	// Violations are every broken invariant, in the order found.
	Violations []Violation
	Stats      CheckStats
	// ReadErrors counts failed readings of the nodes' addresses.
	ReadErrors int
	// Restarts counts daemons restarted after dying unexpectedly.
	Restarts int
	// Dumps are the files, in the cluster's directory, holding every
	// daemon's own view (its control-socket status) taken when a violation
	// was found or a graceful stop was slow.
	Dumps   []string
	Start   time.Time
	Elapsed time.Duration
}

// ViolationCounts counts the violations by kind.
func (r *SoakReport) ViolationCounts() map[ViolationKind]int {
	out := map[ViolationKind]int{}
	for _, v := range r.Violations {
		out[v.Kind]++
	}
	return out
}

// Summary formats the counts of faults and violations, the statistics, the
// seed and the total time, one item per line.
func (r *SoakReport) Summary() string {
	var b strings.Builder
	total := 0
	var parts []string
	for _, k := range FaultKinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, r.Injected[k]))
		total += r.Injected[k]
	}
	fmt.Fprintf(&b, "faults injected: %d (%s)\n", total, strings.Join(parts, ", "))
	counts := r.ViolationCounts()
	parts = parts[:0]
	for _, k := range ViolationKinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	fmt.Fprintf(&b, "violations: %d (%s)\n", len(r.Violations), strings.Join(parts, ", "))
	s := r.Stats
	fmt.Fprintf(&b, "snapshots: %d (%d in converged periods), read errors %d, daemons restarted after dying %d\n", s.Snapshots, s.Converged, r.ReadErrors, r.Restarts)
	fmt.Fprintf(&b, "longest VIP overlap on two nodes: %v during faults, %v in converged periods; acquisitions within the quorum lag: %d; longest settle after a change: %v\n",
		s.MaxOverlap.Round(time.Millisecond), s.MaxOverlapConverged.Round(time.Millisecond), s.LagAcquisitions, s.MaxSettle.Round(time.Millisecond))
	for _, o := range s.LongestOverlaps {
		fmt.Fprintf(&b, "  overlap: %s\n", o)
	}
	for _, d := range r.Dumps {
		fmt.Fprintf(&b, "daemons' views: %s\n", d)
	}
	fmt.Fprintf(&b, "seed %d, total time %v\n", r.Seed, r.Elapsed.Round(time.Second))
	return b.String()
}

// Soak runs a seeded random fault schedule against the cluster while a
// Checker watches every node's addresses (read over netlink every Poll) and
// the daemons' processes; see the fault and violation kinds. It starts the
// daemons that are not running and waits for the group to converge first;
// at the end it undoes the last faults, lets the group converge, stops
// every daemon gracefully (checking that none leaves an address behind) and
// scans the daemons' logs for panics and data races. Daemons that die
// unexpectedly are cleaned up and restarted, and the run goes on.
//
// The error reports a failure of the harness (a command that could not be
// run, ctx ending); broken invariants are in the report. The report is
// returned in both cases.
func (c *Cluster) Soak(ctx context.Context, opt SoakOptions) (*SoakReport, error) {
	if opt.Duration <= 0 {
		opt.Duration = 2 * time.Minute
	}
	if opt.Quiet <= 0 {
		opt.Quiet = DefaultQuiet
	}
	if opt.Poll <= 0 {
		opt.Poll = DefaultPoll
	}
	if opt.StopTimeout <= 0 {
		opt.StopTimeout = 15 * time.Second
	}
	if opt.Progress == nil {
		opt.Progress = func(string) {}
	}
	rep := &SoakReport{Seed: opt.Seed, Injected: map[FaultKind]int{}, Start: time.Now()}
	sched, err := NewSchedule(ScheduleOptions{Nodes: len(c.Nodes), Length: opt.Duration, Seed: opt.Seed, Quiet: opt.Quiet, QuorumLoss: opt.QuorumLoss})
	if err != nil {
		return rep, err
	}
	rep.Schedule = sched

	for _, n := range c.Nodes {
		if !n.Running() {
			if err := c.Start(n); err != nil {
				return rep, err
			}
		}
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	_, err = c.WaitConverged(wait, Names(c.Nodes...))
	cancel()
	if err != nil {
		return rep, fmt.Errorf("cluster: soak: the group did not converge before the first fault: %w", err)
	}
	reader, err := newAddrReader(c)
	if err != nil {
		return rep, err
	}
	defer reader.Close()

	r := &soakRun{
		c:        c,
		opt:      opt,
		rep:      rep,
		reader:   reader,
		chk:      NewChecker(CheckOptions{Nodes: Names(c.Nodes...), VIPs: c.VIPs, Quorum: c.opt.Quorum, Quiet: opt.Quiet, Tolerance: opt.Tolerance, QuorumLag: opt.QuorumLag, MaxOverlap: opt.MaxOverlap}),
		died:     make(chan *Node, 4*len(c.Nodes)),
		termSent: map[*Node]time.Time{},
		stop:     make(chan struct{}),
	}
	r.start = time.Now()
	rep.Start = r.start
	for _, n := range c.Nodes {
		r.watch(n)
	}
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		r.poll()
	}()
	err = r.run(ctx, sched)
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	close(r.stop)
	<-polled
	r.wg.Wait()
	if err == nil {
		r.scanLogs()
	}
	rep.Violations = r.chk.Violations()
	rep.Stats = r.chk.Stats()
	rep.Elapsed = time.Since(r.start)
	return rep, err
}

// soakRun is one Soak in progress.
type soakRun struct {
	c      *Cluster
	opt    SoakOptions
	rep    *SoakReport
	reader *addrReader
	chk    *Checker
	start  time.Time
	// died receives the nodes whose daemon exited unexpectedly.
	died chan *Node
	stop chan struct{} // closed at the end: the poller and watchers stop

	mu         sync.Mutex
	termSent   map[*Node]time.Time
	readErrors int
	dumps      int
	stopped    bool           // no more dumps: the run is over
	wg         sync.WaitGroup // dumps being written

	progressMu sync.Mutex // the poller, the watchers and the loop report
}

func (r *soakRun) progress(format string, args ...any) {
	line := fmt.Sprintf("%8.1fs  ", time.Since(r.start).Seconds()) + fmt.Sprintf(format, args...)
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	r.opt.Progress(line)
}

// poll reads the holders every Poll and feeds the checker until stop.
func (r *soakRun) poll() {
	t := time.NewTicker(r.opt.Poll)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		at := time.Now()
		h, err := r.reader.read()
		if err != nil {
			r.mu.Lock()
			r.readErrors++
			r.rep.ReadErrors = r.readErrors
			r.mu.Unlock()
			continue
		}
		for _, v := range r.chk.Observe(Snapshot{Time: at, Holders: h}) {
			r.progress("VIOLATION %s", v)
			r.dumpAsync(string(v.Kind))
		}
	}
}

// watch reports the exit of node n's current daemon to the checker, and an
// unexpected one to the run loop.
func (r *soakRun) watch(n *Node) {
	p := n.Process()
	if p == nil {
		return
	}
	go func() {
		select {
		case <-p.Done():
		case <-r.stop:
			return
		}
		status, ok := "unknown status", false
		if st, err := p.Wait(time.Second); err == nil && st != nil {
			status, ok = st.String(), st.Success()
		}
		if !r.chk.Exited(time.Now(), n.Name, status, ok) {
			r.progress("VIOLATION %s: daemon exited unexpectedly (%s)", n.Name, status)
			r.dumpAsync("died-" + n.Name)
			select {
			case r.died <- n:
			case <-r.stop:
			}
		}
	}()
}

type soakEvent struct {
	at    time.Duration
	fault Fault
	undo  bool
}

// run plays the schedule, then lets the group converge and stops every
// daemon gracefully.
func (r *soakRun) run(ctx context.Context, sched []Fault) error {
	var events []soakEvent
	for _, f := range sched {
		events = append(events, soakEvent{at: f.At, fault: f}, soakEvent{at: f.End(), fault: f, undo: true})
	}
	slices.SortStableFunc(events, func(a, b soakEvent) int {
		switch {
		case a.at != b.at:
			return int(a.at - b.at)
		case a.undo != b.undo:
			if a.undo {
				return -1
			}
			return 1
		}
		return a.fault.ID - b.fault.ID
	})
	r.progress("schedule: %d faults within %v (seed %d); converged means no change for %v", len(sched), r.opt.Duration, r.opt.Seed, r.opt.Quiet)
	status := time.NewTicker(time.Minute)
	defer status.Stop()
	for _, ev := range events {
		if err := r.sleepUntil(ctx, ev.at, status.C); err != nil {
			return err
		}
		var err error
		if ev.undo {
			err = r.undo(ctx, ev.fault)
		} else {
			err = r.inject(ctx, ev.fault)
		}
		if err != nil {
			return fmt.Errorf("cluster: soak: fault %s: %w", ev.fault, err)
		}
	}
	// The end: converge once more (the converged invariants are checked
	// meanwhile), then stop everything gracefully.
	end := time.Since(r.start) + r.opt.Quiet + 2*time.Second
	if err := r.sleepUntil(ctx, end, status.C); err != nil {
		return err
	}
	r.progress("end of the schedule: stopping every daemon gracefully")
	for _, n := range r.c.Nodes {
		if !n.Running() {
			continue
		}
		if err := r.term(n); err != nil {
			return err
		}
		if err := r.awaitStop(ctx, n); err != nil {
			return err
		}
	}
	// A few more readings: leftovers show after the exits.
	return r.sleepUntil(ctx, time.Since(r.start)+5*r.opt.Poll, nil)
}

// sleepUntil waits until offset at from the start, restarting daemons that
// die meanwhile and printing a status line on every tick of status.
func (r *soakRun) sleepUntil(ctx context.Context, at time.Duration, status <-chan time.Time) error {
	for {
		d := at - time.Since(r.start)
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
			return nil
		case n := <-r.died:
			t.Stop()
			if err := r.restartDead(ctx, n); err != nil {
				return err
			}
		case <-status:
			t.Stop()
			r.progress("status: %d faults injected, %d violations, %d snapshots, load %s", r.injectedTotal(), len(r.chk.Violations()), r.chk.Stats().Snapshots, LoadAvg())
		}
	}
}

func (r *soakRun) injectedTotal() int {
	total := 0
	for _, v := range r.rep.Injected {
		total += v
	}
	return total
}

// restartDead cleans up after a daemon that died unexpectedly and starts it
// again, as systemd's Restart=on-failure would.
func (r *soakRun) restartDead(ctx context.Context, n *Node) error {
	if err := r.cleanup(ctx, n); err != nil {
		return err
	}
	r.chk.SetDaemon(time.Now(), n.Name, DaemonDown)
	r.rep.Restarts++
	r.progress("%s cleaned up and restarted after dying", n.Name)
	return r.startNode(n)
}

func (r *soakRun) nodes(f Fault) []*Node {
	out := make([]*Node, 0, len(f.Nodes))
	for _, i := range f.Nodes {
		if i >= 0 && i < len(r.c.Nodes) {
			out = append(out, r.c.Nodes[i])
		}
	}
	return out
}

func (r *soakRun) line(f Fault, format string, args ...any) {
	r.progress("#%-4d %-14s %-14s %s", f.ID, f.Kind, strings.Join(f.NodeNames(), ","), fmt.Sprintf(format, args...))
}

// inject starts fault f.
func (r *soakRun) inject(ctx context.Context, f Fault) error {
	nodes := r.nodes(f)
	now := time.Now
	r.chk.Change(now())
	switch f.Kind {
	case FaultKill, FaultQuorumKill:
		for _, n := range nodes {
			r.chk.SetDaemon(now(), n.Name, DaemonKilled)
		}
		for _, n := range nodes {
			if err := r.c.Kill(n); err != nil {
				return err
			}
		}
		for _, n := range nodes {
			if err := r.cleanup(ctx, n); err != nil {
				return err
			}
			r.chk.SetDaemon(now(), n.Name, DaemonDown)
		}
		r.line(f, "killed (SIGKILL) and cleaned up; restart in %v", f.Duration)
	case FaultTerm:
		for _, n := range nodes {
			if err := r.term(n); err != nil {
				return err
			}
		}
		r.line(f, "SIGTERM sent; restart in %v", f.Duration)
	case FaultFlap:
		for _, n := range nodes {
			if err := r.c.LinkDown(ctx, n); err != nil {
				return err
			}
			r.chk.SetLink(now(), n.Name, false)
		}
		r.line(f, "link down for %v", f.Duration)
	case FaultIsolate, FaultQuorumIsolate:
		for _, n := range nodes {
			if err := n.Host.Isolate(ctx, GossipPort); err != nil {
				return err
			}
		}
		for _, n := range nodes {
			r.chk.Isolate(now(), n.Name)
		}
		r.line(f, "cut off from the gossip port (ARP flows) for %v", f.Duration)
	case FaultSplit:
		small := map[*Node]bool{}
		for _, n := range nodes {
			small[n] = true
		}
		var sides [2][]*Node
		for _, n := range r.c.Nodes {
			if small[n] {
				sides[0] = append(sides[0], n)
			} else {
				sides[1] = append(sides[1], n)
			}
		}
		for _, side := range sides {
			except := []netip.Addr{r.c.Lab.Client.Addr}
			for _, n := range side {
				except = append(except, n.Host.Addr)
			}
			for _, n := range side {
				if err := n.Host.IsolateAll(ctx, except...); err != nil {
					return err
				}
			}
		}
		r.chk.Isolate(now(), Names(nodes...)...)
		r.line(f, "split from the other %d for %v", len(r.c.Nodes)-len(nodes), f.Duration)
	default:
		return fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	r.rep.Injected[f.Kind]++
	return nil
}

// undo ends fault f.
func (r *soakRun) undo(ctx context.Context, f Fault) error {
	nodes := r.nodes(f)
	before := len(r.chk.Violations())
	now := time.Now
	var what string
	switch f.Kind {
	case FaultKill, FaultQuorumKill:
		for _, n := range nodes {
			if n.Running() {
				continue // died and was restarted meanwhile? Never twice.
			}
			if err := r.startNode(n); err != nil {
				return err
			}
		}
		what = "restarted"
	case FaultTerm:
		for _, n := range nodes {
			if err := r.awaitStop(ctx, n); err != nil {
				return err
			}
			if err := r.startNode(n); err != nil {
				return err
			}
		}
		what = "restarted"
	case FaultFlap:
		r.chk.Change(now())
		for _, n := range nodes {
			r.chk.SetLink(now(), n.Name, true)
			if err := r.c.LinkUp(ctx, n); err != nil {
				return err
			}
		}
		what = "link up"
	case FaultIsolate, FaultQuorumIsolate, FaultSplit:
		r.chk.Change(now())
		r.chk.Heal(now(), Names(nodes...)...)
		heal := nodes
		if f.Kind == FaultSplit {
			heal = r.c.Nodes
		}
		for _, n := range heal {
			if err := n.Host.Heal(ctx); err != nil {
				return err
			}
		}
		what = "healed"
	}
	outcome := "ok"
	if k := len(r.chk.Violations()) - before; k > 0 {
		outcome = fmt.Sprintf("%d violations during the fault", k)
	}
	r.line(f, "%s after %v: %s", what, f.Duration, outcome)
	return nil
}

// startNode starts node n's daemon, the model first: it may hold VIPs from
// now on.
func (r *soakRun) startNode(n *Node) error {
	r.chk.SetDaemon(time.Now(), n.Name, DaemonRunning)
	if err := r.c.Start(n); err != nil {
		return err
	}
	r.watch(n)
	return nil
}

// term sends SIGTERM to node n's daemon.
func (r *soakRun) term(n *Node) error {
	p := n.Process()
	if p == nil || p.Exited() {
		return nil
	}
	r.chk.SetDaemon(time.Now(), n.Name, DaemonStopping)
	r.mu.Lock()
	r.termSent[n] = time.Now()
	r.mu.Unlock()
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGTERM to %s: %w", n.Name, err)
	}
	// A hand-over takes a few gossip rounds and leaving about two
	// seconds: a daemon still there after slowStop is stuck somewhere,
	// and the daemons' views show where while it lasts.
	go func() {
		t := time.NewTimer(slowStop)
		defer t.Stop()
		select {
		case <-p.Done():
		case <-r.stop:
		case <-t.C:
			r.progress("%s still running %v after SIGTERM", n.Name, slowStop)
			r.dumpAsync("slow-stop-" + n.Name)
		}
	}()
	return nil
}

// slowStop is how long after SIGTERM a daemon that has not exited gets its
// group's views saved (see soakRun.dump).
const slowStop = 3500 * time.Millisecond

// maxDumps bounds the status files one soak run writes.
const maxDumps = 40

// dumpAsync saves the daemons' views (see dump) without blocking the
// caller.
func (r *soakRun) dumpAsync(reason string) {
	r.mu.Lock()
	if r.stopped || r.dumps >= maxDumps {
		r.mu.Unlock()
		return
	}
	r.dumps++
	seq := r.dumps
	r.wg.Add(1) // under mu, so that Soak's Wait, which follows stopped, sees it
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		path, err := r.dump(seq, reason)
		if err != nil {
			r.progress("saving the daemons' views: %v", err)
			return
		}
		r.mu.Lock()
		r.rep.Dumps = append(r.rep.Dumps, path)
		r.mu.Unlock()
		r.progress("daemons' views saved to %s", path)
	}()
}

// dump writes what every running daemon says about the group through its
// control socket (its view, its plan, why a VIP waits) to a file in the
// cluster's directory, with the holders read from the interfaces.
func (r *soakRun) dump(seq int, reason string) (string, error) {
	var b strings.Builder
	now := time.Now()
	fmt.Fprintf(&b, "%s (%.1fs into the soak): %s\n", now.UTC().Format("15:04:05.000"), now.Sub(r.start).Seconds(), reason)
	if h, err := r.reader.read(); err == nil {
		fmt.Fprintf(&b, "holders: %s\n", FormatHolders(h))
	}
	for _, n := range r.c.Nodes {
		if !n.Running() {
			fmt.Fprintf(&b, "\n== %s: no daemon running\n", n.Name)
			continue
		}
		cl := control.NewClient(n.Socket)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := cl.Status(ctx)
		cancel()
		cl.Close()
		if err != nil {
			fmt.Fprintf(&b, "\n== %s: %v\n", n.Name, err)
			continue
		}
		b.WriteString("\n" + formatStatus(st))
	}
	name := fmt.Sprintf("status-%02d-%s.txt", seq, strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, reason))
	path := filepath.Join(r.c.opt.Dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// formatStatus renders a daemon's status for a dump: quorum, members as it
// sees them, and its plan for every VIP.
func formatStatus(st agent.Status) string {
	var b strings.Builder
	fmt.Fprintf(&b, "== %s: state %s, healthy %v, quorum %d/%d\n", st.Node, st.State, st.Healthy, st.Quorum.Have, st.Quorum.Need)
	for _, note := range st.Notes {
		fmt.Fprintf(&b, "   note: %s\n", note)
	}
	for _, m := range st.Members {
		elig := "eligible"
		if !m.Eligible {
			elig = "not eligible (" + m.Why + ")"
		}
		fmt.Fprintf(&b, "   member %-4s alive=%-5v %-9s %s held=%v", m.Name, m.Alive, m.State, elig, m.Held)
		if len(m.Leaving) > 0 {
			fmt.Fprintf(&b, " leaving=%v", m.Leaving)
		}
		b.WriteString("\n")
	}
	for _, v := range st.VIPs {
		fmt.Fprintf(&b, "   vip %s owner=%q holders=%v planned=%q reason=%s", v.Name, v.Owner, v.Holders, v.Planned, v.Reason)
		if v.Waiting != "" {
			fmt.Fprintf(&b, " waiting=%q", v.Waiting)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// awaitStop waits for the daemon of node n, sent SIGTERM, to exit within
// StopTimeout; one that does not is a violation and is killed.
func (r *soakRun) awaitStop(ctx context.Context, n *Node) error {
	p := n.Process()
	if p == nil {
		return nil
	}
	r.mu.Lock()
	sent := r.termSent[n]
	r.mu.Unlock()
	t := time.NewTimer(time.Until(sent.Add(r.opt.StopTimeout)))
	defer t.Stop()
	select {
	case <-p.Done():
		// The watcher may not have told the checker yet: the model must
		// show the node down before it is started again.
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if r.chk.daemon(n.Name) != DaemonStopping {
				break
			}
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	r.chk.Report(Violation{Kind: ViolationStop, Time: time.Now(), Since: sent, Node: n.Name,
		Detail: fmt.Sprintf("the daemon did not exit within %v of SIGTERM; killed", r.opt.StopTimeout)})
	r.chk.SetDaemon(time.Now(), n.Name, DaemonKilled)
	if err := r.c.Kill(n); err != nil {
		return err
	}
	if err := r.cleanup(ctx, n); err != nil {
		return err
	}
	r.chk.SetDaemon(time.Now(), n.Name, DaemonDown)
	return nil
}

// daemon returns node's daemon state in the model.
func (c *Checker) daemon(node string) DaemonState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nodes[node]; n != nil {
		return n.daemon
	}
	return DaemonDown
}

// cleanup runs "wackamole cleanup" on node n, as systemd's ExecStopPost
// does after a crash; its output goes to the daemon's log.
func (r *soakRun) cleanup(ctx context.Context, n *Node) error {
	logPath := n.LogPath
	if p := n.Process(); p != nil {
		logPath = p.LogPath()
	}
	p, err := n.Host.Start(r.c.opt.Binary, []string{"cleanup", "-c", n.ConfigPath}, logPath)
	if err != nil {
		return err
	}
	st, err := p.Wait(30 * time.Second)
	if err != nil {
		p.Kill()
		return fmt.Errorf("wackamole cleanup on %s: %w", n.Name, err)
	}
	if !st.Success() {
		return fmt.Errorf("wackamole cleanup on %s: %v (see %s)", n.Name, st, logPath)
	}
	return nil
}

// logPatterns are what a daemon's log must never show.
var logPatterns = []string{"panic", "DATA RACE", "fatal error"}

// scanLogs reports every log line of every daemon run that shows a panic, a
// fatal error or a data race (the first few per file).
func (r *soakRun) scanLogs() {
	const perFile = 3
	for _, n := range r.c.Nodes {
		files, _ := filepath.Glob(n.LogPath + "*")
		for _, file := range files {
			for _, hit := range scanLog(file, perFile) {
				r.chk.Report(Violation{Kind: ViolationLog, Time: time.Now(), Node: n.Name, Detail: hit})
			}
		}
	}
}

// scanLog returns up to limit "file:line: text" matches of logPatterns in
// file, and a count of the others.
func scanLog(file string, limit int) []string {
	f, err := os.Open(file)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	defer f.Close()
	var hits []string
	more := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if !slices.ContainsFunc(logPatterns, func(p string) bool { return strings.Contains(text, p) }) {
			continue
		}
		if len(hits) < limit {
			hits = append(hits, fmt.Sprintf("%s:%d: %s", file, line, text))
		} else {
			more++
		}
	}
	if more > 0 {
		hits = append(hits, fmt.Sprintf("%s: %d more such lines", file, more))
	}
	return hits
}

// LoadAvg returns the machine's 1, 5 and 15 minute load averages from
// /proc/loadavg, for soak reports ("?" if unknown).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// addrReader reads every node's VIP addresses over netlink sockets opened
// inside the nodes' namespaces: a dump per node costs microseconds, where
// running ip(8) costs milliseconds and a process, which matters at 20
// readings a second on a busy machine, and makes a reading of five nodes
// close to one instant.
type addrReader struct {
	mu      sync.Mutex // the poller and the dumps read
	names   []string
	handles []*netlink.Handle
	vips    []netip.Addr
}

func newAddrReader(c *Cluster) (*addrReader, error) {
	r := &addrReader{vips: slices.Clone(c.VIPs)}
	for _, n := range c.Nodes {
		var h *netlink.Handle
		err := n.Host.Do(func() error {
			var err error
			h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
			return err
		})
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("cluster: netlink socket in %s: %w", n.Host.NS, err)
		}
		if err := h.SetSocketTimeout(2 * time.Second); err != nil {
			h.Close()
			r.Close()
			return nil, fmt.Errorf("cluster: netlink socket in %s: %w", n.Host.NS, err)
		}
		r.names = append(r.names, n.Name)
		r.handles = append(r.handles, h)
	}
	return r, nil
}

// Close closes the sockets, which otherwise keep the namespaces alive.
func (r *addrReader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range r.handles {
		h.Close()
	}
	r.handles = nil
}

// read returns the holders of every VIP, link down or not.
func (r *addrReader) read() (map[netip.Addr][]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[netip.Addr][]string, len(r.vips))
	for _, v := range r.vips {
		out[v] = nil
	}
	for i, h := range r.handles {
		var addrs []netlink.Addr
		var err error
		for range 3 {
			addrs, err = h.AddrList(nil, netlink.FAMILY_V4)
			if !errors.Is(err, netlink.ErrDumpInterrupted) {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("cluster: addresses of %s: %w", r.names[i], err)
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if hs, ok := out[ip]; ok && !slices.Contains(hs, r.names[i]) {
				out[ip] = append(hs, r.names[i])
			}
		}
	}
	return out, nil
}
