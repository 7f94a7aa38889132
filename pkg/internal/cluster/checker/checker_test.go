package checker

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// trace feeds a checker with synthetic snapshots of 5 nodes and 5 VIPs.
type trace struct {
	t    *testing.T
	c    *Checker
	base time.Time
	vips []netip.Addr
	now  time.Duration // time of the next snapshot
	got  []Violation
}

func newTrace(t *testing.T) *trace {
	var vips []netip.Addr
	for i := range 5 {
		vips = append(vips, netip.AddrFrom4([4]byte{198, 18, 0, byte(100 + i)}))
	}
	x := &trace{t: t, base: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC), vips: vips}
	x.c = New(Options{Nodes: []string{"n1", "n2", "n3", "n4", "n5"}, VIPs: vips})
	return x
}

// at is the absolute time of offset d.
func (x *trace) at(d time.Duration) time.Time { return x.base.Add(d) }

// hold parses "n1 n2,n3 - n4 n5": the holders of each VIP in order.
func (x *trace) hold(spec string) map[netip.Addr][]string {
	f := strings.Fields(spec)
	if len(f) != len(x.vips) {
		x.t.Fatalf("holders %q: want %d fields", spec, len(x.vips))
	}
	h := map[netip.Addr][]string{}
	for i, s := range f {
		h[x.vips[i]] = nil
		if s != "-" {
			h[x.vips[i]] = strings.Split(s, ",")
		}
	}
	return h
}

// run observes spec every 50 ms for d.
func (x *trace) run(d time.Duration, spec string) {
	h := x.hold(spec)
	for end := x.now + d; x.now < end; x.now += 50 * time.Millisecond {
		x.got = append(x.got, x.c.Observe(Snapshot{Time: x.at(x.now), Holders: h})...)
	}
}

func (x *trace) kinds() []ViolationKind {
	var out []ViolationKind
	for _, v := range x.got {
		out = append(out, v.Kind)
	}
	return out
}

func (x *trace) want(kinds ...ViolationKind) {
	x.t.Helper()
	if got := x.kinds(); !slices.Equal(got, kinds) {
		for _, v := range x.got {
			x.t.Log(v)
		}
		x.t.Fatalf("violations %v, want %v", got, kinds)
	}
	if !slices.Equal(x.kinds(), kindsOf(x.c.Violations())) {
		x.t.Fatalf("Observe returned %v, Violations has %v", x.kinds(), kindsOf(x.c.Violations()))
	}
}

func kindsOf(vs []Violation) []ViolationKind {
	var out []ViolationKind
	for _, v := range vs {
		out = append(out, v.Kind)
	}
	return out
}

const steady = "n1 n2 n3 n4 n5"

func TestCheckerClean(t *testing.T) {
	x := newTrace(t)
	x.run(20*time.Second, steady)
	x.want()
	if s := x.c.Stats(); s.Snapshots != 400 || s.Converged != 400 {
		t.Errorf("stats %+v", s)
	}
}

// A full fault cycle that goes right: n1 killed, its VIP orphaned then
// taken by n2, n1 back, the VIP handed back with a make-before-break
// overlap under the tolerance.
func TestCheckerCleanFailoverAndHandback(t *testing.T) {
	x := newTrace(t)
	x.run(time.Second, steady)
	x.c.SetDaemon(x.at(x.now), "n1", DaemonKilled)
	x.run(100*time.Millisecond, steady) // stale until the cleanup
	x.c.SetDaemon(x.at(x.now), "n1", DaemonDown)
	x.run(900*time.Millisecond, "- n2 n3 n4 n5")
	x.run(6*time.Second, "n2 n2 n3 n4 n5") // converged without n1
	x.c.SetDaemon(x.at(x.now), "n1", DaemonRunning)
	x.run(2*time.Second, "n2 n2 n3 n4 n5")
	x.run(150*time.Millisecond, "n1,n2 n2 n3 n4 n5") // hand-over overlap
	x.run(10*time.Second, steady)
	x.want()
	if s := x.c.Stats(); s.MaxSettle < 2*time.Second || s.MaxOverlap == 0 {
		t.Errorf("stats %+v", s)
	}
}

// The make-before-break overlap of a hand-over in a converged period (a
// rebalance) is under the tolerance: not a violation. A longer one is.
func TestCheckerHandoverTolerance(t *testing.T) {
	x := newTrace(t)
	x.run(6*time.Second, steady)
	x.run(150*time.Millisecond, "n1,n2 n2 n3 n4 n5")
	x.run(2*time.Second, "n2 n1 n3 n4 n5")
	x.want()
	s := x.c.Stats()
	if s.MaxOverlapConverged != 100*time.Millisecond {
		t.Errorf("MaxOverlapConverged %v, want 100ms (3 snapshots)", s.MaxOverlapConverged)
	}
	if len(s.LongestOverlaps) != 1 || s.LongestOverlaps[0].String() != "198.18.0.100 on n1,n2 for 100ms from 12:00:06.000" {
		t.Errorf("LongestOverlaps %v", s.LongestOverlaps)
	}
	x.run(500*time.Millisecond, "n1,n2 n2 n3 n4 n5")
	x.run(time.Second, steady)
	x.want(ViolationDuplicate)
	v := x.got[0]
	if v.VIP != x.vips[0] || v.Time.Sub(v.Since) != 200*time.Millisecond || !strings.Contains(v.String(), "198.18.0.100=n1,n2") {
		t.Errorf("violation %v", v)
	}
}

// A graceful stop: SIGTERM, hand-over with overlap, exit, nothing left.
func TestCheckerGracefulStop(t *testing.T) {
	x := newTrace(t)
	x.run(6*time.Second, steady)
	x.c.SetDaemon(x.at(x.now), "n1", DaemonStopping)
	x.run(300*time.Millisecond, "n1,n2 n2 n3 n4 n5")
	x.run(100*time.Millisecond, "n2 n2 n3 n4 n5")
	// The exit is reported after a snapshot taken before it still showed
	// the address: no leftover.
	exit := x.at(x.now + 10*time.Millisecond)
	x.got = append(x.got, x.c.Observe(Snapshot{Time: x.at(x.now), Holders: x.hold("n1,n2 n2 n3 n4 n5")})...)
	x.now += 50 * time.Millisecond
	if !x.c.Exited(exit, "n1", "exit status 0", true) {
		t.Fatal("a stop after SIGTERM was unexpected")
	}
	x.run(10*time.Second, "n2 n2 n3 n4 n5")
	x.want()
}

func TestCheckerLeftover(t *testing.T) {
	x := newTrace(t)
	x.run(time.Second, steady)
	x.c.SetDaemon(x.at(x.now), "n1", DaemonStopping)
	x.run(time.Second, "n2 n2 n3 n4 n5")
	x.c.Exited(x.at(x.now), "n1", "exit status 0", true)
	x.run(time.Second, "n1,n2 n2 n3 n4 n5")
	x.want(ViolationLeftover) // once, not per snapshot
	if !strings.Contains(x.got[0].Detail, "SIGTERM") {
		t.Errorf("detail %q", x.got[0].Detail)
	}

	// After a kill: stale addresses are fine until the cleanup, not after.
	x = newTrace(t)
	x.c.SetDaemon(x.at(x.now), "n3", DaemonKilled)
	x.run(time.Second, steady)
	x.want()
	x.c.SetDaemon(x.at(x.now), "n3", DaemonDown)
	x.run(time.Second, steady)
	x.want(ViolationLeftover)
}

func TestCheckerDaemonExits(t *testing.T) {
	x := newTrace(t)
	if x.c.Exited(x.at(0), "n2", "signal: segmentation fault", false) {
		t.Error("a running daemon's exit was expected")
	}
	x.c.SetDaemon(x.at(time.Second), "n3", DaemonStopping)
	if !x.c.Exited(x.at(2*time.Second), "n3", "exit status 66", false) {
		t.Error("a stopping daemon's exit was unexpected")
	}
	x.c.SetDaemon(x.at(3*time.Second), "n4", DaemonKilled)
	if !x.c.Exited(x.at(3*time.Second), "n4", "signal: killed", false) {
		t.Error("a killed daemon's exit was unexpected")
	}
	x.c.Report(Violation{Kind: ViolationLog, Node: "n5", Detail: "panic: boom"})
	got := x.c.Violations()
	if !slices.Equal(kindsOf(got), []ViolationKind{ViolationDied, ViolationStop, ViolationLog}) {
		t.Fatalf("violations %v", got)
	}
	// The dead daemon's addresses are not leftovers: nobody cleaned up.
	x.run(time.Second, steady)
	if len(x.got) != 0 {
		t.Errorf("after the death: %v", x.got)
	}
}

func TestCheckerUnheldAndStray(t *testing.T) {
	x := newTrace(t)
	x.run(6*time.Second, "n1 n2 - n4 n5")
	x.want(ViolationUnheld, ViolationDark)

	// n1 isolated keeps its VIP (nobody took it): stray once converged.
	x = newTrace(t)
	x.run(time.Second, steady)
	x.c.Isolate(x.at(x.now), "n1")
	x.run(10*time.Second, steady)
	x.want(ViolationStray)

	// Not converged yet (a change 1 s ago): nothing.
	x = newTrace(t)
	x.c.Change(x.at(0))
	x.run(time.Second, "n1,n2 - n3 n4 n5")
	x.want()
}

func TestCheckerUnbalanced(t *testing.T) {
	x := newTrace(t)
	x.run(6*time.Second, "n1 n1 n3 n4 n5")
	x.want(ViolationUnbalanced)
	// With n5 down, 2-1-1-1 is balanced.
	x = newTrace(t)
	x.c.SetDaemon(x.at(0), "n5", DaemonDown)
	x.run(8*time.Second, "n1 n2 n3 n4 n1")
	x.want()
}

// A node whose link went down may be damped for a while after it is back:
// it holds nothing and the others' 2-1-1-1 is balanced. After the damping
// it must get its share.
func TestCheckerDampedNode(t *testing.T) {
	x := newTrace(t)
	x.c.SetLink(x.at(0), "n5", false)
	x.run(time.Second, "n1 n2 n3 n4 n1")
	x.c.SetLink(x.at(x.now), "n5", true)
	x.run(20*time.Second, "n1 n2 n3 n4 n1")
	x.want()
	x.run(20*time.Second, "n1 n2 n3 n4 n1")
	x.want(ViolationUnbalanced)
}

// The isolated node never acquires, except within the quorum lag; the
// majority takes its VIP and it yields.
func TestCheckerMinority(t *testing.T) {
	x := newTrace(t)
	x.run(time.Second, steady)
	x.c.Isolate(x.at(x.now), "n1")
	x.run(1200*time.Millisecond, steady)
	x.run(100*time.Millisecond, "n2,n1 n2 n3 n4 n5") // majority took vip 0 (duplicate: not converged, fine)
	x.run(6*time.Second, "n2 n2 n3 n4 n5")           // n1 yielded
	x.want()
	x.run(time.Second, "n2 n2,n1 n3 n4 n5") // n1 takes vip 1: violation (and a duplicate)
	x.want(ViolationMinority, ViolationDuplicate)
	if v := x.got[0]; v.Node != "n1" || v.VIP != x.vips[1] {
		t.Errorf("violation %v", v)
	}

	// Giving a VIP up and taking it back is acquiring.
	x = newTrace(t)
	x.run(time.Second, steady)
	x.c.SetLink(x.at(x.now), "n1", false)
	x.run(500*time.Millisecond, steady)
	x.run(time.Second, "n2 n2 n3 n4 n5")
	x.run(time.Second, "n2,n1 n2 n3 n4 n5")
	x.want(ViolationMinority)

	// Within the quorum lag: allowed, counted.
	x = newTrace(t)
	x.c.Change(x.at(0)) // n1's VIP was just orphaned
	x.run(time.Second, "- n2 n3 n4 n5")
	x.c.Isolate(x.at(x.now), "n1")
	x.run(300*time.Millisecond, "- n2 n3 n4 n5")
	x.run(400*time.Millisecond, "n1 n2 n3 n4 n5")
	x.run(time.Second, "- n2 n3 n4 n5")
	x.want()
	if s := x.c.Stats(); s.LagAcquisitions != 1 {
		t.Errorf("LagAcquisitions = %d, want 1", s.LagAcquisitions)
	}

	// Healed: taking VIPs is fine again.
	x = newTrace(t)
	x.c.Change(x.at(0))
	x.run(800*time.Millisecond, "- n2 n3 n4 n5")
	x.c.Isolate(x.at(x.now), "n1")
	x.run(time.Second, "- n2 n3 n4 n5")
	x.c.Heal(x.at(x.now), "n1")
	x.run(time.Second, "n1 n2 n3 n4 n5")
	x.want()
}

// A 2-3 split: the two never acquire, the three take their VIPs.
func TestCheckerSplit(t *testing.T) {
	x := newTrace(t)
	x.run(time.Second, steady)
	x.c.Isolate(x.at(x.now), "n1", "n2")
	x.run(time.Second, steady)
	x.run(8*time.Second, "n3 n4 n3 n4 n5")
	x.want()
	x.run(time.Second, "n3,n1 n4 n3 n4 n5")
	x.want(ViolationMinority, ViolationDuplicate)
}

// Without a majority (3 of 5 killed) nobody may acquire, unheld VIPs are
// fine, and the majority is back as soon as one node restarts.
func TestCheckerQuorumLost(t *testing.T) {
	x := newTrace(t)
	x.run(time.Second, steady)
	for _, n := range []string{"n3", "n4", "n5"} {
		x.c.SetDaemon(x.at(x.now), n, DaemonKilled)
	}
	x.run(100*time.Millisecond, steady)
	for _, n := range []string{"n3", "n4", "n5"} {
		x.c.SetDaemon(x.at(x.now), n, DaemonDown)
	}
	x.run(10*time.Second, "n1 n2 - - -")
	x.want()
	x.run(time.Second, "n1 n2 n1 - -")
	x.want(ViolationMinority)
	x.c.SetDaemon(x.at(x.now), "n3", DaemonRunning)
	x.run(time.Second, "n1 n2 n1 n2 n3")
	x.want(ViolationMinority)

	// Everyone isolated: each keeps its own, nothing else.
	x = newTrace(t)
	x.run(time.Second, steady)
	for _, n := range []string{"n1", "n2", "n3", "n4", "n5"} {
		x.c.Isolate(x.at(x.now), n)
	}
	x.run(10*time.Second, steady)
	x.want()
}

// A node whose link is down is invisible: the majority's new owner and its
// stale copy are no duplicate.
func TestCheckerLinkDownInvisible(t *testing.T) {
	x := newTrace(t)
	x.run(time.Second, steady)
	x.c.SetLink(x.at(x.now), "n1", false)
	x.run(10*time.Second, "n1,n2 n2 n3 n4 n5")
	x.want()
	x.c.SetLink(x.at(x.now), "n1", true)
	x.run(2*time.Second, "n1,n2 n2 n3 n4 n5") // resolving: not converged
	x.run(8*time.Second, "n1 n2 n3 n4 n5")
	x.want()
}

// With MaxOverlap, a long overlap during faults is a violation too.
func TestCheckerMaxOverlap(t *testing.T) {
	vips := []netip.Addr{netip.MustParseAddr("198.18.0.100")}
	c := New(Options{Nodes: []string{"n1", "n2", "n3"}, VIPs: vips, MaxOverlap: time.Second})
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Change(base)
	var got []Violation
	for ms := 0; ms < 3000; ms += 50 {
		h := map[netip.Addr][]string{vips[0]: {"n1", "n2"}}
		if ms < 500 || ms >= 2500 {
			h[vips[0]] = []string{"n1"}
		}
		got = append(got, c.Observe(Snapshot{Time: base.Add(time.Duration(ms) * time.Millisecond), Holders: h})...)
	}
	if len(got) != 1 || got[0].Kind != ViolationOverlap || got[0].Time.Sub(got[0].Since) != 1050*time.Millisecond {
		t.Fatalf("violations %v", got)
	}
	if s := c.Stats(); s.MaxOverlap != 1950*time.Millisecond || len(s.LongestOverlaps) != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestCheckerUnknownNodes(t *testing.T) {
	x := newTrace(t)
	x.c.SetDaemon(x.at(0), "n9", DaemonDown)
	x.c.SetLink(x.at(0), "n9", false)
	x.c.Isolate(x.at(0), "n9")
	x.c.Heal(x.at(0), "n9")
	if x.c.Exited(x.at(0), "n9", "exit status 1", false) {
		t.Error("an unknown node's exit was expected")
	}
	x.run(6*time.Second, steady)
	x.want()
}

func TestFormatHolders(t *testing.T) {
	a, b := netip.MustParseAddr("198.18.0.101"), netip.MustParseAddr("198.18.0.100")
	if got := FormatHolders(map[netip.Addr][]string{a: {"n2", "n3"}, b: nil}); got != "198.18.0.100=- 198.18.0.101=n2,n3" {
		t.Errorf("FormatHolders = %q", got)
	}
}

// neigh parses "n1 n2 - n4 n5": the node whose MAC the client's entry for
// each VIP holds ("-": unresolved).
func (x *trace) neigh(spec string) map[netip.Addr]string {
	f := strings.Fields(spec)
	out := map[netip.Addr]string{}
	for i, s := range f {
		if s != "-" {
			out[x.vips[i]] = macOf(s)
		}
	}
	return out
}

func macOf(node string) string { return "02:00:00:00:00:0" + strings.TrimPrefix(node, "n") }

// runNeigh is run with the client's neighbour entries.
func (x *trace) runNeigh(d time.Duration, spec, neigh string) {
	h, nb := x.hold(spec), x.neigh(neigh)
	for end := x.now + d; x.now < end; x.now += 50 * time.Millisecond {
		x.got = append(x.got, x.c.Observe(Snapshot{Time: x.at(x.now), Holders: h, Neigh: nb})...)
	}
}

func newNeighTrace(t *testing.T) *trace {
	x := newTrace(t)
	macs := map[string]string{}
	for _, n := range []string{"n1", "n2", "n3", "n4", "n5"} {
		macs[n] = macOf(n)
	}
	x.c = New(Options{Nodes: []string{"n1", "n2", "n3", "n4", "n5"}, VIPs: x.vips, MACs: macs})
	return x
}

// A VIP may be unheld for the failure timeout plus the slack (2 s) while a
// node can take it; not while the group has no quorum, and a group that
// regains it gets Settle first.
func TestCheckerDark(t *testing.T) {
	// n1 killed and cleaned up: its VIP taken after 1.5 s is fine, after
	// 2.5 s it is dark.
	for _, c := range []struct {
		unheld time.Duration
		want   []ViolationKind
	}{{1500 * time.Millisecond, nil}, {2500 * time.Millisecond, []ViolationKind{ViolationDark}}} {
		x := newTrace(t)
		x.run(time.Second, steady)
		x.c.SetDaemon(x.at(x.now), "n1", DaemonKilled)
		x.c.SetDaemon(x.at(x.now), "n1", DaemonDown)
		x.run(c.unheld, "- n2 n3 n4 n5")
		x.run(time.Second, "n2 n2 n3 n4 n5")
		x.want(c.want...)
		if s := x.c.Stats(); s.MaxDark < c.unheld-100*time.Millisecond || s.MaxUnheld < s.MaxDark {
			t.Errorf("unheld %v: stats %+v", c.unheld, s)
		}
	}

	// Three of five killed: no quorum, nothing to take for 10 s. Back, the
	// survivors get Settle (2 s) + 2 s.
	x := newTrace(t)
	x.run(time.Second, steady)
	for _, n := range []string{"n1", "n2", "n3"} {
		x.c.SetDaemon(x.at(x.now), n, DaemonDown)
	}
	x.run(10*time.Second, "- - - n4 n5")
	for _, n := range []string{"n1", "n2", "n3"} {
		x.c.SetDaemon(x.at(x.now), n, DaemonRunning)
	}
	x.run(3900*time.Millisecond, "- - - n4 n5")
	x.want()
	x.run(300*time.Millisecond, "- - - n4 n5")
	x.want(ViolationDark, ViolationDark, ViolationDark)

	// Every node stalled or starved: nobody could take it.
	x = newTrace(t)
	x.run(time.Second, steady)
	x.c.SetDaemon(x.at(x.now), "n1", DaemonDown)
	for i, n := range []string{"n2", "n3", "n4", "n5"} {
		x.c.SetCondition(x.at(x.now), n, []Condition{Paused, Starved}[i%2], true)
	}
	x.run(10*time.Second, "- n2 n3 n4 n5")
	x.want()
}

// A flapping node's addresses are unreachable: its VIP must move. After
// the flapping it may be damped for Damping: balanced without it.
func TestCheckerFlapping(t *testing.T) {
	x := newTrace(t)
	x.run(time.Second, steady)
	x.c.SetCondition(x.at(x.now), "n5", Flapping, true)
	x.run(3*time.Second, steady)
	x.want(ViolationDark)

	x = newTrace(t)
	x.run(time.Second, steady)
	x.c.SetCondition(x.at(x.now), "n5", Flapping, true)
	x.run(time.Second, "n1 n2 n3 n4 n5")
	x.run(20*time.Second, "n1 n2 n3 n4 n1") // flapping, cut off: takes nothing
	x.c.SetCondition(x.at(x.now), "n5", Flapping, false)
	x.run(30*time.Second, "n1 n2 n3 n4 n1") // damped for 32 s after the flapping
	x.want()
	x.run(5*time.Second, "n1 n2 n3 n4 n1")
	x.want(ViolationUnbalanced)
}

// The client's neighbour entry must point at a holder 1 s after the last
// change of holders, once no fault is active.
func TestCheckerBlackHole(t *testing.T) {
	x := newNeighTrace(t)
	x.runNeigh(time.Second, steady, steady)
	// A hand-over: the client follows after 0.9 s: fine.
	x.c.Change(x.at(x.now))
	x.runNeigh(50*time.Millisecond, "n1,n2 n2 n3 n4 n5", steady)
	x.runNeigh(900*time.Millisecond, "n2 n2 n3 n4 n5", steady)
	x.runNeigh(time.Second, "n2 n2 n3 n4 n5", "n2 n2 n3 n4 n5")
	x.want()
	// Left on the old holder: a black hole after 1 s + the tolerance.
	x.c.Change(x.at(x.now))
	x.runNeigh(50*time.Millisecond, "n1 n2 n3 n4 n5", "n2 n2 n3 n4 n5")
	x.runNeigh(3*time.Second, "n1 n2 n3 n4 n5", "n2 n2 n3 n4 n5")
	x.want(ViolationBlackHole)
	if v := x.got[0]; v.VIP != x.vips[0] || !strings.Contains(v.Detail, "n2 (") {
		t.Errorf("violation %v", v)
	}
	// An unresolved entry for a held VIP is one too.
	x = newNeighTrace(t)
	x.runNeigh(3*time.Second, steady, "n1 n2 - n4 n5")
	x.want(ViolationBlackHole)

	// During a fault (n4 lossy, a path cut) nothing is checked; after it,
	// the grace counts from its end.
	for _, fault := range []func(x *trace, on bool){
		func(x *trace, on bool) { x.c.SetCondition(x.at(x.now), "n4", Lossy, on) },
		func(x *trace, on bool) { x.c.Cut(x.at(x.now), "n2", "n1", on) },
	} {
		x = newNeighTrace(t)
		fault(x, true)
		x.runNeigh(5*time.Second, steady, "n2 n2 n3 n4 n5")
		fault(x, false)
		x.runNeigh(time.Second, steady, "n2 n2 n3 n4 n5")
		x.want()
		x.runNeigh(time.Second, steady, "n2 n2 n3 n4 n5")
		x.want(ViolationBlackHole)
		if s := x.c.Stats(); s.NeighChecked == 0 || s.MaxMisdirected < time.Second {
			t.Errorf("stats %+v", s)
		}
	}
	// Without MACs the invariant is off.
	x = newTrace(t)
	x.runNeigh(3*time.Second, steady, "n2 n2 n3 n4 n5")
	x.want()
}

// A cut path leaves both ends in the majority: the one that keeps its VIP
// is no minority, and nothing is unheld.
func TestCheckerCut(t *testing.T) {
	x := newTrace(t)
	x.run(time.Second, steady)
	x.c.Cut(x.at(x.now), "n1", "n2", true)
	x.run(10*time.Second, steady)
	x.c.Cut(x.at(x.now), "n1", "n2", false)
	x.run(6*time.Second, steady)
	x.want()
}
