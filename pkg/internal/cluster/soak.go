package cluster

// The soak runner: Cluster.Soak draws a fault schedule (package schedule)
// and applies it to the live cluster while an invariant checker (package
// checker) is fed the nodes' addresses, read over netlink, and the model of
// the world the schedule changes. The schedule and the checker are pure and
// tested without root; this file is their I/O. wackalab soak and the
// end-to-end TestSoak share it.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wackamole/wackamole/pkg/control"
	"github.com/wackamole/wackamole/pkg/internal/cluster/checker"
	"github.com/wackamole/wackamole/pkg/internal/cluster/schedule"
	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// failureTimeouts are the timing profiles' failure timeouts, for the
// checker.
var failureTimeouts = map[string]time.Duration{"lan": time.Second, "fast": 150 * time.Millisecond, "wan": 5 * time.Second}

// DefaultPoll is how often the runner reads every node's addresses.
const DefaultPoll = 50 * time.Millisecond

// SoakOptions configure Cluster.Soak.
type SoakOptions struct {
	// Topology is the shape of the group (default TopologyFive: the
	// cluster's nodes, identical). With another, the cluster must have
	// its number of nodes and no daemon running: Soak writes their
	// configurations (the witness, the tie-breaker), the schedule leaves
	// out what makes no sense for the topology, and the checker models its
	// quorum.
	Topology Topology
	// Duration is the length of the fault schedule (default 2 minutes).
	// The run lasts a little longer: the last faults are undone, the group
	// converges, and every daemon is stopped gracefully.
	Duration time.Duration
	// Seed makes the schedule; the same seed replays the same faults.
	Seed int64
	// Quiet, Tolerance, QuorumLag and MaxOverlap are the checker's (see
	// checker.Options).
	Quiet, Tolerance, QuorumLag, MaxOverlap time.Duration
	// QuorumLoss is the schedule's share of quorum-loss faults (see
	// schedule.Options).
	QuorumLoss float64
	// Poll is how often every node's addresses are read (default
	// DefaultPoll).
	Poll time.Duration
	// StopTimeout bounds a graceful stop (default the daemons' drain
	// timeout, 5 s, plus 10 s).
	StopTimeout time.Duration
	// ProbeInterval is how often the client pings every VIP (default
	// 50 ms), so that its neighbour entries exist for the black-hole
	// invariant.
	ProbeInterval time.Duration
	// Progress, if set, receives one line per fault, per violation as it
	// is found, and a status line every minute; one call at a time.
	Progress func(line string)
}

// SoakReport is the outcome of a soak run.
type SoakReport struct {
	Seed     int64
	Topology Topology
	Schedule []schedule.Fault
	// FaultKinds and ViolationKinds are the kinds the topology's schedule
	// draws and its checker reports, for Summary (nil: every kind).
	FaultKinds     []schedule.FaultKind
	ViolationKinds []checker.ViolationKind
	// Injected counts the faults injected, by kind.
	Injected map[schedule.FaultKind]int
	// Violations are every broken invariant, in the order found.
	Violations []checker.Violation
	Stats      checker.Stats
	// ReadErrors counts failed readings of the nodes' addresses.
	ReadErrors int
	// Restarts counts daemons restarted after dying unexpectedly.
	Restarts int
	// Probes are what the client saw of each VIP, pinging it all along.
	Probes []lab.Result
	// Dumps are the files, in the cluster's directory, holding every
	// daemon's own view (its control-socket status) taken when a violation
	// was found or a graceful stop was slow.
	Dumps   []string
	Start   time.Time
	Elapsed time.Duration
}

// ViolationCounts counts the violations by kind.
func (r *SoakReport) ViolationCounts() map[checker.ViolationKind]int {
	out := map[checker.ViolationKind]int{}
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
	faultKinds := r.FaultKinds
	if faultKinds == nil {
		faultKinds = schedule.FaultKinds
	}
	for _, k := range faultKinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, r.Injected[k]))
		total += r.Injected[k]
	}
	fmt.Fprintf(&b, "faults injected: %d (%s)\n", total, strings.Join(parts, ", "))
	counts := r.ViolationCounts()
	parts = parts[:0]
	violationKinds := r.ViolationKinds
	if violationKinds == nil {
		violationKinds = checker.ViolationKinds
	}
	for _, k := range violationKinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	fmt.Fprintf(&b, "violations: %d (%s)\n", len(r.Violations), strings.Join(parts, ", "))
	s := r.Stats
	fmt.Fprintf(&b, "snapshots: %d (%d in converged periods), read errors %d, daemons restarted after dying %d\n", s.Snapshots, s.Converged, r.ReadErrors, r.Restarts)
	fmt.Fprintf(&b, "longest VIP overlap on two nodes: %v during faults, %v in converged periods; acquisitions within the quorum lag: %d; longest settle after a change: %v\n",
		s.MaxOverlap.Round(time.Millisecond), s.MaxOverlapConverged.Round(time.Millisecond), s.LagAcquisitions, s.MaxSettle.Round(time.Millisecond))
	fmt.Fprintf(&b, "longest VIP unheld: %v, of which %v while a node could take it; client's neighbour entries checked in %d snapshots, longest on a non-holder %v\n",
		s.MaxUnheld.Round(time.Millisecond), s.MaxDark.Round(time.Millisecond), s.NeighChecked, s.MaxMisdirected.Round(time.Millisecond))
	if len(r.Probes) > 0 {
		var parts []string
		for _, p := range r.Probes {
			parts = append(parts, fmt.Sprintf("%s %v (%d of %d lost)", p.Target, p.MaxGap.Round(time.Millisecond), p.Lost(), p.Sent))
		}
		fmt.Fprintf(&b, "client's longest gap per VIP: %s\n", strings.Join(parts, ", "))
	}
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
		opt.Quiet = checker.DefaultQuiet
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
	if opt.ProbeInterval <= 0 {
		opt.ProbeInterval = 50 * time.Millisecond
	}
	if opt.Topology == "" {
		opt.Topology = TopologyFive
	}
	rep := &SoakReport{Seed: opt.Seed, Topology: opt.Topology, Injected: map[schedule.FaultKind]int{}, Start: time.Now()}
	schedOpt := schedule.Options{Nodes: len(c.Nodes), Length: opt.Duration, Seed: opt.Seed, Quiet: opt.Quiet, QuorumLoss: opt.QuorumLoss,
		TieBreaker: opt.Topology == TopologyTieBreaker}
	chkOpt := checker.Options{Nodes: Names(c.Nodes...), VIPs: c.VIPs, Quorum: c.opt.Quorum, Quiet: opt.Quiet, Tolerance: opt.Tolerance, QuorumLag: opt.QuorumLag, MaxOverlap: opt.MaxOverlap,
		FailureTimeout: failureTimeouts[c.opt.Timing], TieBreaker: opt.Topology == TopologyTieBreaker}
	if opt.Topology != TopologyFive {
		if err := opt.Topology.configure(c); err != nil {
			return rep, err
		}
		for _, i := range opt.Topology.Witnesses() {
			chkOpt.Witnesses = append(chkOpt.Witnesses, c.Nodes[i].Name)
		}
	}
	rep.FaultKinds, rep.ViolationKinds = schedOpt.Kinds(), chkOpt.Kinds()
	sched, err := schedule.New(schedOpt)
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
	// Every VIP on one web node, balanced: the witness holds none.
	web := slices.Clone(c.Nodes)
	for _, i := range slices.Backward(opt.Topology.Witnesses()) {
		web = slices.Delete(web, i, i+1)
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	_, err = c.WaitConverged(wait, Names(web...))
	cancel()
	if err != nil {
		return rep, fmt.Errorf("cluster: soak: the group did not converge before the first fault: %w", err)
	}
	reader, err := newAddrReader(c)
	if err != nil {
		return rep, err
	}
	defer reader.Close()
	// The client talks to every VIP all along: its neighbour entries show
	// where it sends each VIP's packets.
	var probes []*lab.Prober
	defer func() {
		for _, p := range probes {
			rep.Probes = append(rep.Probes, p.Stop())
		}
	}()
	for _, v := range c.VIPs {
		p, err := c.Lab.Client.Ping(ctx, v, opt.ProbeInterval)
		if err != nil {
			return rep, err
		}
		probes = append(probes, p)
	}
	macs := map[string]string{}
	for _, n := range c.Nodes {
		macs[n.Name] = n.Host.MAC.String()
	}
	chkOpt.MACs = macs

	r := &soakRun{
		c:         c,
		opt:       opt,
		rep:       rep,
		reader:    reader,
		chk:       checker.New(chkOpt),
		died:      make(chan *Node, 4*len(c.Nodes)),
		termSent:  map[*Node]time.Time{},
		stop:      make(chan struct{}),
		flappings: map[int]*lab.Flapping{},
		limits:    map[int]*lab.CPULimit{},
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
	chk    *checker.Checker
	start  time.Time
	// died receives the nodes whose daemon exited unexpectedly.
	died chan *Node
	stop chan struct{} // closed at the end: the poller and watchers stop
	// flappings and limits are the flapping ports and CPU limits of the
	// faults under way, by fault ID.
	flappings map[int]*lab.Flapping
	limits    map[int]*lab.CPULimit

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
		var nb map[netip.Addr]string
		if err == nil {
			nb, err = r.reader.neighbours()
		}
		if err != nil {
			r.mu.Lock()
			r.readErrors++
			r.rep.ReadErrors = r.readErrors
			r.mu.Unlock()
			continue
		}
		for _, v := range r.chk.Observe(checker.Snapshot{Time: at, Holders: h, Neigh: nb}) {
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
	fault schedule.Fault
	undo  bool
}

// run plays the schedule, then lets the group converge and stops every
// daemon gracefully.
func (r *soakRun) run(ctx context.Context, sched []schedule.Fault) error {
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
	r.chk.SetDaemon(time.Now(), n.Name, checker.DaemonDown)
	r.rep.Restarts++
	r.progress("%s cleaned up and restarted after dying", n.Name)
	return r.startNode(n)
}

func (r *soakRun) nodes(f schedule.Fault) []*Node {
	out := make([]*Node, 0, len(f.Nodes))
	for _, i := range f.Nodes {
		if i >= 0 && i < len(r.c.Nodes) {
			out = append(out, r.c.Nodes[i])
		}
	}
	return out
}

func (r *soakRun) line(f schedule.Fault, format string, args ...any) {
	r.progress("#%-4d %-14s %-14s %s", f.ID, f.Kind, strings.Join(f.NodeNames(), ","), fmt.Sprintf(format, args...))
}

// inject starts fault f.
func (r *soakRun) inject(ctx context.Context, f schedule.Fault) error {
	nodes := r.nodes(f)
	now := time.Now
	r.chk.Change(now())
	switch f.Kind {
	case schedule.FaultKill, schedule.FaultQuorumKill:
		for _, n := range nodes {
			r.chk.SetDaemon(now(), n.Name, checker.DaemonKilled)
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
			r.chk.SetDaemon(now(), n.Name, checker.DaemonDown)
		}
		r.line(f, "killed (SIGKILL) and cleaned up; restart in %v", f.Duration)
	case schedule.FaultTerm:
		for _, n := range nodes {
			if err := r.term(n); err != nil {
				return err
			}
		}
		r.line(f, "SIGTERM sent; restart in %v", f.Duration)
	case schedule.FaultFlap:
		for _, n := range nodes {
			if err := r.c.LinkDown(ctx, n); err != nil {
				return err
			}
			r.chk.SetLink(now(), n.Name, false)
		}
		r.line(f, "link down for %v", f.Duration)
	case schedule.FaultIsolate, schedule.FaultQuorumIsolate:
		for _, n := range nodes {
			if err := n.Host.Isolate(ctx, GossipPort, HeartbeatPort); err != nil {
				return err
			}
		}
		for _, n := range nodes {
			r.chk.Isolate(now(), n.Name)
		}
		r.line(f, "cut off from the gossip port (ARP flows) for %v", f.Duration)
	case schedule.FaultSplit:
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
	case schedule.FaultPause:
		for _, n := range nodes {
			if !n.Running() {
				r.line(f, "no daemon to pause")
				return nil
			}
			if err := r.c.Pause(n); err != nil {
				return err
			}
			r.chk.SetCondition(now(), n.Name, checker.Paused, true)
		}
		r.line(f, "daemon stalled (SIGSTOP) for %v", f.Duration)
	case schedule.FaultFlapping:
		for _, n := range nodes {
			fl, err := r.c.Flap(ctx, n, f.Period, f.Duration)
			if err != nil {
				return err
			}
			r.flappings[f.ID] = fl
			r.chk.SetCondition(now(), n.Name, checker.Flapping, true)
		}
		r.line(f, "switch port down %v, up %v, and so on for %v", f.Period/2, f.Period/2, f.Duration)
	case schedule.FaultStarve:
		for _, n := range nodes {
			if !n.Running() {
				r.line(f, "no daemon to starve")
				return nil
			}
			lim, err := r.c.LimitCPU(n, float64(f.Percent))
			if err != nil {
				return err
			}
			r.limits[f.ID] = lim
			r.chk.SetCondition(now(), n.Name, checker.Starved, true)
		}
		r.line(f, "daemon limited to %d%% of a CPU for %v", f.Percent, f.Duration)
	case schedule.FaultLoss:
		for _, n := range nodes {
			if err := r.c.DropRandom(ctx, n, f.Percent); err != nil {
				return err
			}
			r.chk.SetCondition(now(), n.Name, checker.Lossy, true)
		}
		r.line(f, "%d%% of IP packets lost each way for %v", f.Percent, f.Duration)
	case schedule.FaultCut:
		if len(nodes) != 2 {
			return fmt.Errorf("a cut path needs 2 nodes, not %d", len(nodes))
		}
		if err := r.c.CutPath(ctx, nodes[0], nodes[1]); err != nil {
			return err
		}
		r.chk.Cut(now(), nodes[0].Name, nodes[1].Name, true)
		r.line(f, "path between them cut (both reach the others) for %v", f.Duration)
	default:
		return fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	r.rep.Injected[f.Kind]++
	return nil
}

// undo ends fault f.
func (r *soakRun) undo(ctx context.Context, f schedule.Fault) error {
	nodes := r.nodes(f)
	before := len(r.chk.Violations())
	now := time.Now
	var what string
	switch f.Kind {
	case schedule.FaultKill, schedule.FaultQuorumKill:
		for _, n := range nodes {
			if n.Running() {
				continue // died and was restarted meanwhile? Never twice.
			}
			if err := r.startNode(n); err != nil {
				return err
			}
		}
		what = "restarted"
	case schedule.FaultTerm:
		for _, n := range nodes {
			if err := r.awaitStop(ctx, n); err != nil {
				return err
			}
			if err := r.startNode(n); err != nil {
				return err
			}
		}
		what = "restarted"
	case schedule.FaultFlap:
		r.chk.Change(now())
		for _, n := range nodes {
			r.chk.SetLink(now(), n.Name, true)
			if err := r.c.LinkUp(ctx, n); err != nil {
				return err
			}
		}
		what = "link up"
	case schedule.FaultIsolate, schedule.FaultQuorumIsolate, schedule.FaultSplit:
		r.chk.Change(now())
		r.chk.Heal(now(), Names(nodes...)...)
		heal := nodes
		if f.Kind == schedule.FaultSplit {
			heal = r.c.Nodes
		}
		for _, n := range heal {
			if err := n.Host.Heal(ctx); err != nil {
				return err
			}
		}
		what = "healed"
	case schedule.FaultPause:
		for _, n := range nodes {
			r.chk.SetCondition(now(), n.Name, checker.Paused, false)
			if p := n.Process(); p != nil && !p.Exited() {
				if err := p.Resume(); err != nil {
					return err
				}
			}
		}
		what = "resumed (SIGCONT)"
	case schedule.FaultFlapping:
		for _, n := range nodes {
			r.chk.SetCondition(now(), n.Name, checker.Flapping, false)
		}
		if fl := r.flappings[f.ID]; fl != nil {
			delete(r.flappings, f.ID)
			if err := fl.Stop(); err != nil {
				return err
			}
			what = fmt.Sprintf("port up after %d flaps", fl.Flaps())
		}
	case schedule.FaultStarve:
		for _, n := range nodes {
			r.chk.SetCondition(now(), n.Name, checker.Starved, false)
		}
		if lim := r.limits[f.ID]; lim != nil {
			delete(r.limits, f.ID)
			if err := lim.Remove(); err != nil {
				return err
			}
		}
		what = "CPU limit lifted"
	case schedule.FaultLoss:
		for _, n := range nodes {
			r.chk.SetCondition(now(), n.Name, checker.Lossy, false)
			if err := n.Host.Heal(ctx); err != nil {
				return err
			}
		}
		what = "no more loss"
	case schedule.FaultCut:
		if len(nodes) == 2 {
			r.chk.Cut(now(), nodes[0].Name, nodes[1].Name, false)
			if err := r.c.HealPath(ctx, nodes[0], nodes[1]); err != nil {
				return err
			}
		}
		what = "path healed"
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
	r.chk.SetDaemon(time.Now(), n.Name, checker.DaemonRunning)
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
	r.chk.SetDaemon(time.Now(), n.Name, checker.DaemonStopping)
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
		fmt.Fprintf(&b, "holders: %s\n", checker.FormatHolders(h))
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
func formatStatus(st control.Status) string {
	var b strings.Builder
	tie := ""
	if st.Quorum.TieBreaker {
		tie = " (by the tie-breaker)"
	}
	fmt.Fprintf(&b, "== %s: state %s, healthy %v, quorum %d/%d%s\n", st.Node, st.State, st.Healthy, st.Quorum.Have, st.Quorum.Need, tie)
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
			if r.chk.Daemon(n.Name) != checker.DaemonStopping {
				break
			}
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	r.chk.Report(checker.Violation{Kind: checker.ViolationStop, Time: time.Now(), Since: sent, Node: n.Name,
		Detail: fmt.Sprintf("the daemon did not exit within %v of SIGTERM; killed", r.opt.StopTimeout)})
	r.chk.SetDaemon(time.Now(), n.Name, checker.DaemonKilled)
	if err := r.c.Kill(n); err != nil {
		return err
	}
	if err := r.cleanup(ctx, n); err != nil {
		return err
	}
	r.chk.SetDaemon(time.Now(), n.Name, checker.DaemonDown)
	return nil
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
				r.chk.Report(checker.Violation{Kind: checker.ViolationLog, Time: time.Now(), Node: n.Name, Detail: hit})
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
