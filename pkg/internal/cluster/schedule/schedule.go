// Package schedule draws the soak test's fault schedules: seeded, random,
// reproducible lists of faults (kills, graceful stops, link flaps,
// isolations, two-against-three splits, quorum losses, stalled daemons,
// flapping ports, CPU starvation, lossy links and paths cut between two
// members) that keep a
// majority of the group alive outside quorum-loss episodes and leave the
// group alone often enough for the invariants of a converged group to be
// checked. A two-node group with a tie-breaker (Options.TieBreaker) gets
// the faults that make sense for two: one node at a time, no splits and no
// quorum losses.
//
// It is pure: New is a function of its Options, reads no clock and does no
// I/O, so that it is unit-tested without root. pkg/internal/cluster's
// runner applies a schedule to a live cluster while package checker
// watches.
package schedule

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
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
	// FaultPause stalls one daemon (SIGSTOP) and resumes it (SIGCONT) when
	// the fault ends: a VM paused for live migration, a long pause.
	FaultPause FaultKind = "pause"
	// FaultFlapping makes one node's switch port go down and up (down half
	// of Fault.Period, up the other half) for the fault's duration: a bad
	// cable or transceiver.
	FaultFlapping FaultKind = "flapping"
	// FaultStarve caps one daemon at Fault.Percent of a CPU (a cgroup
	// quota) for the fault's duration: an overloaded host.
	FaultStarve FaultKind = "starve"
	// FaultLoss drops Fault.Percent of the IP packets one node sends or
	// receives, at random, for the fault's duration: a lossy link.
	FaultLoss FaultKind = "loss"
	// FaultCut cuts the path between two nodes (Fault.Nodes): no IP
	// between them, while both still reach the others and the clients (a
	// non-transitive partition; nobody loses quorum).
	FaultCut FaultKind = "cut"
)

// FaultKinds lists every fault kind, in the order reports show them.
var FaultKinds = []FaultKind{FaultKill, FaultTerm, FaultFlap, FaultIsolate, FaultSplit, FaultQuorumKill, FaultQuorumIsolate,
	FaultPause, FaultFlapping, FaultStarve, FaultLoss, FaultCut}

// Parameters of the faults that have some.
const (
	// FlappingPeriod is a flapping port's period: down half of it, up the
	// other half (issue 11's port going down and up every second).
	FlappingPeriod = 2 * time.Second
	// StarvePercent is a starved daemon's share of one CPU.
	StarvePercent = 2
	// LossPercent is a lossy node's share of IP packets dropped each way.
	LossPercent = 10
)

// LosesQuorum reports whether the fault takes the majority away from the
// whole group.
func (k FaultKind) LosesQuorum() bool { return k == FaultQuorumKill || k == FaultQuorumIsolate }

// Fault is one entry of a schedule.
type Fault struct {
	// ID numbers the faults from 1 in the order they start.
	ID   int
	Kind FaultKind
	// Nodes are the affected nodes as indexes from 0 ("n1"), in
	// increasing order. For FaultSplit they are the smaller side.
	Nodes []int
	// At is when the fault starts, from the start of the schedule;
	// Duration how long it lasts until it is undone.
	At, Duration time.Duration
	// Period is a flapping port's period (FaultFlapping).
	Period time.Duration
	// Percent is the CPU share of FaultStarve and the packets dropped by
	// FaultLoss.
	Percent int
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
	s := fmt.Sprintf("#%d %s %s at %v for %v", f.ID, f.Kind, strings.Join(f.NodeNames(), ","), f.At, f.Duration)
	if f.Period > 0 {
		s += fmt.Sprintf(" every %v", f.Period)
	}
	if f.Percent > 0 {
		s += fmt.Sprintf(" at %d%%", f.Percent)
	}
	return s
}

// Options configure New.
type Options struct {
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
	// Ignored with TieBreaker.
	QuorumLoss float64
	// TieBreaker makes the schedule of a group of two nodes with a
	// tie-breaker (Nodes 2, the default then): one of the two may be
	// faulty at a time, the other carrying on through the tie-breaker.
	// Splits (one against one is an isolation) and quorum losses (two
	// down: nothing to check) are left out, and a cut path between the
	// two is alone.
	TieBreaker bool
}

// nodes is the size of the group, defaults applied.
func (o Options) nodes() int {
	switch {
	case o.Nodes != 0:
		return o.Nodes
	case o.TieBreaker:
		return 2
	}
	return 5
}

// maxFaulty is how many nodes may be faulty at once outside quorum-loss
// episodes: MaxFaulty, or one of the two with a tie-breaker.
func (o Options) maxFaulty() int {
	if o.TieBreaker {
		return 1
	}
	return MaxFaulty(o.nodes())
}

// Kinds returns the fault kinds New draws with these options, in the order
// of FaultKinds (quorum losses included whatever QuorumLoss says, unless
// TieBreaker).
func (o Options) Kinds() []FaultKind {
	if !o.TieBreaker {
		return slices.Clone(FaultKinds)
	}
	return slices.DeleteFunc(slices.Clone(FaultKinds), func(k FaultKind) bool { return k == FaultSplit || k.LosesQuorum() })
}

// Exclusive reports whether a fault of kind k overlaps no other with these
// options: a split, a quorum loss, and a cut path when the group cannot
// lose its two ends (fewer than two nodes may be faulty: with three nodes
// the third is all that joins them, with two they are all there is).
func (o Options) Exclusive(k FaultKind) bool {
	return k == FaultSplit || k.LosesQuorum() || k == FaultCut && o.maxFaulty() < 2
}

// Defaults of the schedule, tuned for the "lan" timing profile (failure
// timeout 1 s, heartbeat 200 ms, gossip 100 ms, rejoin 2 s) and the
// cluster's 1 s mature time.
const (
	// DefaultQuiet is the checker's convergence window T (the same as
	// checker.DefaultQuiet): about twice the failure timeout + mature +
	// the agent's settle time (2.6 s), which also covers a partition's
	// re-merge (the rejoin interval, 2 s) and a rebalancing hand-over.
	DefaultQuiet = 5 * time.Second
	// recoveryMargin keeps a node out of new faults for a while after its
	// last one ended, so that a restarted daemon rejoins before the next
	// fault counts on it: without it two faults plus a node still joining
	// would take the majority away outside a quorum-loss episode.
	recoveryMargin = 2 * time.Second
)

// MaxFaulty is the number of nodes of an n-node group that may fail while a
// majority survives: n minus the majority (2 of 5).
func MaxFaulty(n int) int { return n - (n/2 + 1) }

// New draws a random fault schedule. Outside quorum-loss episodes
// at most MaxFaulty nodes are faulty at any time, counting a node as faulty
// from the start of its fault until a recovery margin after its end; a
// split or a quorum loss is alone. Faults on different nodes overlap, which
// makes combinations such as one node killed while another is isolated.
func New(opt Options) ([]Fault, error) {
	n := opt.nodes()
	switch {
	case opt.TieBreaker && n != 2:
		return nil, fmt.Errorf("schedule: %d nodes with a tie-breaker: a tie-breaker acts in a group of exactly 2", n)
	case !opt.TieBreaker && n < 3:
		return nil, fmt.Errorf("schedule: %d nodes: want at least 3 (a majority that survives a fault), or 2 with a tie-breaker", n)
	}
	if opt.Length < 0 {
		return nil, fmt.Errorf("schedule: length %v is negative", opt.Length)
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
	kinds := []FaultKind{FaultKill, FaultTerm, FaultFlap, FaultIsolate, FaultSplit, FaultPause, FaultFlapping, FaultStarve, FaultLoss, FaultCut}
	weights := []float64{30, 30, 20, 20, 12, 16, 12, 10, 10, 20}
	if opt.TieBreaker {
		loss = 0
		kinds = slices.Delete(kinds, 4, 5) // FaultSplit
		weights = slices.Delete(weights, 4, 5)
	}
	rng := rand.New(rand.NewPCG(uint64(opt.Seed), 0x77ac4a301e))
	uniform := func(lo, hi time.Duration) time.Duration {
		d := lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
		return d.Round(100 * time.Millisecond)
	}
	maxFaulty := opt.maxFaulty()
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
			kind = pickWeighted(rng, kinds, weights)
		}
		exclusive := opt.Exclusive(kind)
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
		case FaultPause:
			// Longer than the failure timeout, often past the survivors'
			// announcements of the VIPs they took (about 3.2 s).
			f.Duration = uniform(time.Second, 6*time.Second)
			f.Nodes = pick(rng, free, 1)
		case FaultFlapping:
			f.Duration = uniform(5*time.Second, 20*time.Second)
			f.Period = FlappingPeriod
			f.Nodes = pick(rng, free, 1)
		case FaultStarve:
			f.Duration = uniform(5*time.Second, 20*time.Second)
			f.Percent = StarvePercent
			f.Nodes = pick(rng, free, 1)
		case FaultLoss:
			f.Duration = uniform(10*time.Second, 30*time.Second)
			f.Percent = LossPercent
			f.Nodes = pick(rng, free, 1)
		case FaultCut:
			f.Duration = uniform(5*time.Second, 20*time.Second)
			f.Nodes = pick(rng, free, 2)
		}
		if kind == FaultCut && !exclusive && (len(free) < 2 || n-len(free)+2 > maxFaulty) {
			// Both ends count as faulty: without room for two, cut
			// nothing now and draw again.
			continue
		}
		until := f.End() + recoveryMargin
		if exclusive {
			for i := range busy {
				busy[i] = until
			}
		} else {
			for _, i := range f.Nodes {
				busy[i] = until
			}
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
