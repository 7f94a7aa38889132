package e2e

// Faults real fleets see besides crashes and partitions (issue 11): a
// stalled process, a flapping switch port, CPU starvation, a cut path
// between two members, a lossy LAN. Every test runs 3 nodes and 3 VIPs,
// VIP i preferring node i+1 (so the owner of a VIP is its preferred node),
// with the client pinging every VIP every 5 ms and a watcher reading, every
// 10 ms, who holds each VIP and where the client's neighbour entry for it
// points.
//
// Each test failed on the daemon of 6964af2 (run them against a prebuilt
// daemon with WACKAMOLE_E2E_DAEMON, see main_test.go), except the lossy
// LAN with fast at 10 %, which it handled too; each says how.

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wackamole/wackamole/internal/testenv"
	"github.com/wackamole/wackamole/pkg/internal/cluster"
	"github.com/wackamole/wackamole/pkg/internal/lab"
	"github.com/wackamole/wackamole/vip"
)

// failureTimeout is each timing profile's failure timeout.
var failureTimeout = map[string]time.Duration{"lan": time.Second, "fast": 150 * time.Millisecond}

// probeInterval is the client's ping interval in these tests.
const probeInterval = 5 * time.Millisecond

// outageMin is the shortest gap between replies counted as an outage: a
// few lost probes on a loaded machine are not one.
const outageMin = 100 * time.Millisecond

// blackHoleGrace is how long after the last change of a VIP's holders the
// client may still send to a MAC that does not hold it (issue 11: 1 s).
const blackHoleGrace = time.Second

// faultRig is the common set-up: the cluster, a prober per VIP and the
// watcher.
type faultRig struct {
	t      *testing.T
	c      *cluster.Cluster
	timing string
	probes map[netip.Addr]*lab.Prober
	w      *cluster.Watcher
	t0     time.Time
	tl     *cluster.Timeline
}

// newFaultRig starts the cluster (extra appended to every node's file),
// waits until every VIP is on its preferred node, and starts the probes
// and the watcher.
func newFaultRig(t *testing.T, timing, extra string) *faultRig {
	t.Helper()
	return newFaultRigOf(t, cluster.Options{Timing: timing, Extra: extra})
}

// newFaultRigOf is newFaultRig with more options (the binary); Nodes and
// Prefer are the rig's.
func newFaultRigOf(t *testing.T, opt cluster.Options) *faultRig {
	t.Helper()
	opt.Nodes, opt.Prefer = 3, true
	timing := opt.Timing
	c := newCluster(t, opt)
	r := &faultRig{t: t, c: c, timing: timing, probes: map[netip.Addr]*lab.Prober{}}
	if err := c.StartAll(); err != nil {
		t.Fatal(err)
	}
	converge(t, c, 30*time.Second, c.Nodes...)
	r.waitPreferred(30 * time.Second)
	for _, v := range c.VIPs {
		p, err := c.Lab.Client.Ping(within(t, 5*time.Minute), v, probeInterval)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop() })
		if err := p.WaitReplies(within(t, 10*time.Second), 20); err != nil {
			t.Fatalf("client cannot reach %s: %v", v, err)
		}
		r.probes[v] = p
	}
	w, err := c.Watch(10 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	r.w = w
	r.t0 = time.Now()
	t.Cleanup(func() {
		tl := r.stop()
		if t.Failed() {
			for _, v := range c.VIPs {
				t.Logf("timeline of %s (s from the start of the watch):\n%s", v, tl.Describe(v, r.t0))
			}
		}
	})
	return r
}

// waitPreferred waits until VIP i is held by node i+1 alone.
func (r *faultRig) waitPreferred(d time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for {
		h, err := r.c.Holders(context.Background())
		ok := err == nil
		for i, v := range r.c.VIPs {
			ok = ok && slices.Equal(h[v], []string{r.owner(i).Name})
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the VIPs are not on their preferred nodes after %v: %v", d, h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// owner is the preferred node of VIP i.
func (r *faultRig) owner(i int) *cluster.Node {
	return r.c.Nodes[cluster.PreferredNode(i, len(r.c.Nodes))-1]
}

// stop ends the watch (once) and returns its timeline.
func (r *faultRig) stop() *cluster.Timeline {
	if r.tl == nil {
		r.tl = r.w.Stop()
		if r.tl.Errors > 0 {
			r.t.Logf("watcher: %d of %d polls failed, last: %v", r.tl.Errors, r.tl.Polls+r.tl.Errors, r.tl.LastErr)
		}
	}
	return r.tl
}

// outages returns the client's gaps of at least outageMin on v that ended
// after from.
func (r *faultRig) outages(v netip.Addr, from time.Time) []lab.Gap {
	res := r.probes[v].Snapshot()
	var out []lab.Gap
	for _, g := range res.Gaps {
		if g.End.After(from) && g.Duration() >= outageMin {
			out = append(out, g)
		}
	}
	return out
}

func describeGaps(gs []lab.Gap, t0 time.Time) string {
	var parts []string
	for _, g := range gs {
		parts = append(parts, fmt.Sprintf("%v at %+.3fs", g.Duration().Round(time.Millisecond), g.Start.Sub(t0).Seconds()))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func longestGap(gs []lab.Gap) time.Duration {
	var d time.Duration
	for _, g := range gs {
		d = max(d, g.Duration())
	}
	return d
}

// report logs, for every VIP, the figures issue 11 asks for over
// [from, to): ownership changes, longest client outage, two-holder time,
// longest time without a holder; and checks the invariants every fault
// test shares: no black hole (after from) and, at the end, one holder per
// VIP with the client sending to it.
func (r *faultRig) report(what string, from, to time.Time) {
	r.t.Helper()
	tl := r.stop()
	for _, v := range r.c.VIPs {
		acq := tl.Acquisitions(v, from, to)
		two := tl.TwoHolders(v, from, to)
		r.t.Logf("%s: %s: %d ownership changes, longest outage %v (%s), two holders for %v, longest unheld %v",
			what, v, len(acq), longestGap(r.outages(v, from)).Round(time.Millisecond), describeGaps(r.outages(v, from), r.t0),
			cluster.Total(two).Round(time.Millisecond), cluster.Longest(tl.Unheld(v, from, to)).Duration().Round(time.Millisecond))
		if bh := tl.BlackHoles(v, from, to, blackHoleGrace); len(bh) > 0 {
			r.t.Errorf("%s: the client was black-holed on %s more than %v after the last change of its holders: %v", what, v, blackHoleGrace, bh)
		}
	}
	final := tl.Final()
	for _, v := range r.c.VIPs {
		hs := final.Holders[v]
		if len(hs) != 1 {
			r.t.Errorf("%s: at the end %s is held by %v, want one holder", what, v, hs)
			continue
		}
		if mac := final.Neigh[v]; mac != tl.MACs[hs[0]] {
			r.t.Errorf("%s: at the end the client sends %s to %q, but %s (%s) holds it", what, v, mac, hs[0], tl.MACs[hs[0]])
		}
	}
}

// contestWinner returns the VIP whose owner, stalled, is taken over by a
// survivor and then wins the contest when it is back: the allocator keeps
// the VIP with the node that was stalled, so the survivor must let go and
// the client, which the survivor's announcements moved to it, must be
// told again (the "last word").
func contestWinner(t *testing.T, r *faultRig) (int, *cluster.Node) {
	t.Helper()
	specs := make([]vip.Spec, len(r.c.VIPs))
	for i := range specs {
		specs[i] = vip.Spec{Name: cluster.VIPName(i), Prefer: []string{r.owner(i).Name}}
	}
	for i := range r.c.VIPs {
		o := r.owner(i).Name
		var survivors []vip.Member
		for j, n := range r.c.Nodes {
			if n.Name != o {
				survivors = append(survivors, vip.Member{Name: n.Name, Eligible: true, Holds: []string{cluster.VIPName(j)}})
			}
		}
		during := vip.Allocate(vip.Input{VIPs: specs, Members: survivors, Quorum: true})
		a, _ := during.Lookup(cluster.VIPName(i))
		if a.Owner == "" {
			continue
		}
		members := []vip.Member{{Name: o, Eligible: true, Holds: []string{cluster.VIPName(i)}}}
		for _, m := range survivors {
			if m.Name == a.Owner {
				m.Holds = append(m.Holds, cluster.VIPName(i))
			}
			members = append(members, m)
		}
		after := vip.Allocate(vip.Input{VIPs: specs, Members: members, Quorum: true})
		b, _ := after.Lookup(cluster.VIPName(i))
		t.Logf("%s: stalled %s, taken over by %s; both holding it, the allocator gives it to %s (%s)", cluster.VIPName(i), o, a.Owner, b.Owner, b.Reason)
		if b.Owner == o {
			return i, r.c.Node(a.Owner)
		}
	}
	t.Fatal("no VIP whose stalled owner wins the contest after resuming")
	return 0, nil
}

// arpInterval and arpRepeat are the daemons' default announcement
// settings: a new holder announces a VIP arpRepeat times, arpInterval
// apart.
const (
	arpInterval = 1100 * time.Millisecond
	arpRepeat   = 3
)

// maxStarvedMoves bounds the ownership changes of TestCPUStarvedOwner
// with realtime = true: two episodes of a survivor taking a VIP and
// handing it back, which this VM's own stalls (40-60 ms now and then under
// the lab's load, for a C program at any priority) can cause. With every
// thread of the daemons realtime there were 0 or 1 in 15 runs; with only
// the heartbeat threads realtime (ebdc40c and before) 3 to 16 (12 in CI),
// and 1 to 29 without realtime.
const maxStarvedMoves = 4

// contestSettle bounds the time two nodes hold a VIP after a stalled one
// resumes: its recovery (it must hear every member), a claim and the
// other's release, with room for a loaded machine.
const contestSettle = 2 * time.Second

// The owner of a VIP is stalled (SIGSTOP) for about 3 s, then resumes: a
// VM paused for live migration. A survivor takes the VIP meanwhile; when
// the stalled node is back it wins the contest (the VIP is chosen so), the
// survivor lets go, and the resumed owner must announce the VIP again after
// that (the "last word"), or the client stays on the survivor's MAC. The
// resume is timed just before the survivor's last gratuitous ARP (3 s into
// the stall with lan), the worst moment: that announcement moves the
// client to the survivor after the resumed node's own. After the resume
// the client must see no outage at all (make-before-break), no VIP may be
// unheld for longer than a failure timeout, the client must not be
// black-holed, and each VIP must end with one holder.
//
// On 6964af2 the client was black-holed for 8 s after the resume (nobody
// announced the VIP once the survivor had let go), or the resumed node,
// seeing every member silent after its stall, released at the same time as
// the survivor, which lost the contest: nobody held the VIP for 0.15-0.8 s.
func TestStalledOwnerResumes(t *testing.T) {
	for _, timing := range []string{"lan", "fast"} {
		t.Run(timing, func(t *testing.T) {
			r := newFaultRig(t, timing, "")
			i, survivor := contestWinner(t, r)
			v, o := r.c.VIPs[i], r.owner(i)
			time.Sleep(500 * time.Millisecond)
			if err := r.c.Pause(o); err != nil {
				t.Fatal(err)
			}
			paused := time.Now()
			var took time.Time
			for took.IsZero() {
				h, err := r.c.Holders(context.Background())
				if err == nil && slices.Contains(h[v], survivor.Name) {
					took = time.Now()
				}
				if time.Since(paused) > 5*time.Second {
					t.Fatalf("%s did not take %s over within 5 s of the stall of %s", survivor.Name, v, o.Name)
				}
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(time.Until(took.Add((arpRepeat-1)*arpInterval - 100*time.Millisecond)))
			if err := r.c.Resume(o); err != nil {
				t.Fatal(err)
			}
			resumed := time.Now()
			t.Logf("%s stalled for %v; %s took %s over after %v", o.Name, resumed.Sub(paused).Round(time.Millisecond), survivor.Name, v, took.Sub(paused).Round(time.Millisecond))
			time.Sleep(6 * time.Second)
			tl := r.stop()
			limit := failureTimeout[timing]
			for _, u := range r.c.VIPs {
				if l := cluster.Longest(tl.Unheld(u, resumed, time.Time{})); l.Duration() > limit {
					t.Errorf("after the resume %s was held by nobody for %v, longer than the failure timeout %v", u, l, limit)
				}
				if out := r.outages(u, resumed); len(out) > 0 {
					t.Errorf("the client lost %s after the resume: %s", u, describeGaps(out, r.t0))
				}
				// The contest settles in a few rounds: the winner claims
				// it again at once, the loser lets go on that claim.
				if l := cluster.Longest(tl.TwoHolders(u, resumed, time.Time{})); l.Duration() > contestSettle {
					t.Errorf("after the resume %s had two holders for %v, longer than %v", u, l, contestSettle)
				}
			}
			r.report("stall of "+o.Name, resumed, time.Time{})
			h := converge(t, r.c, 10*time.Second, r.c.Nodes...)
			stable(t, r.c, time.Second, h)
		})
	}
}

// The owner's switch port goes down and up every second (down 1 s, up
// 1 s) for 20 s (lan): a flapping link. The owner releases its VIP at once on carrier loss and is
// damped, so the VIP moves once to a survivor and stays there: at most 4
// ownership changes, one client outage, and no black hole after the
// flapping stops.
//
// On 6964af2 the VIP moved 40 times (the owner kept it on its down link
// and pulled it back each time the link came up), the client lost most of
// its pings, and after the flapping it could be black-holed for 8 s.
func TestFlappingPort(t *testing.T) {
	// Down for a second, up for a second: a state change every second,
	// as in issue 11's lab. (With half a second down, the owner is never
	// silent for a failure timeout, and 6964af2 moved the VIP only twice.)
	const flapPeriod = 2 * time.Second
	r := newFaultRig(t, "lan", "")
	v, o := r.c.VIPs[0], r.owner(0)
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	f, err := r.c.Flap(within(t, time.Minute), o, flapPeriod, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Wait(within(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	time.Sleep(5 * time.Second)
	tl := r.stop()
	acq := tl.Acquisitions(v, start, time.Time{})
	t.Logf("%d flaps of %s's port; %s moved %d times: %v", f.Flaps(), o.Name, v, len(acq), acq)
	if len(acq) > 4 {
		t.Errorf("%s changed owner %d times during 20 s of flapping, want at most 4", v, len(acq))
	}
	if out := r.outages(v, start); len(out) > 1 {
		t.Errorf("the client saw %d outages of %s: %s, want at most one", len(out), v, describeGaps(out, r.t0))
	}
	if out := r.outages(v, stopped); len(out) > 0 && out[len(out)-1].End.After(stopped.Add(time.Second)) {
		t.Errorf("the client was cut off from %s after the flapping stopped: %s", v, describeGaps(out, r.t0))
	}
	r.report("flapping port of "+o.Name, start, time.Time{})
}

// The owner's daemon gets 2 % of one CPU for 20 s (a cgroup quota) with the
// fast profile. With realtime = true every thread of the daemon is
// realtime and runs within the realtime budget the lab's group has besides
// the quota (5 % of a CPU per second, lab's rtChildRuntime): at most maxStarvedMoves ownership changes,
// each settled without a client outage the control does not share. The
// same without realtime is measured and reported: there the heartbeat
// thread shares the quota, and the others take the VIP over again and
// again.
//
// On 6964af2, which knows no realtime key, the daemons refuse to start
// with it: the realtime case fails at its start. Without realtime its VIP
// moved 18 times in 20 s (this tree: 13; the starved node's heartbeats
// are late, so the others take its VIP, whatever it does about its own
// lateness).
func TestCPUStarvedOwner(t *testing.T) {
	for _, c := range []struct {
		name, extra string
		strict      bool
	}{
		{"realtime", "realtime = true\n", true},
		{"ordinary", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			testenv.RequireNetns(t, "nft")
			if _, err := lab.CPUController(); err != nil {
				// The machines CI runs on have one: never skip there.
				if os.Getenv(testenv.E2EEnv) == "1" {
					t.Fatalf("%v (%s=1, so this is a failure)", err, testenv.E2EEnv)
				}
				t.Skipf("%v (set %s=1 to fail instead)", err, testenv.E2EEnv)
			}
			r := newFaultRig(t, "fast", c.extra)
			o := r.owner(0)
			if c.strict {
				for _, n := range r.c.Nodes {
					if err := allRealtime(n.Process().Pid()); err != nil {
						t.Fatalf("%s: %v", n.Name, err)
					}
				}
			}
			// The control: a node the fault leaves alone, pinged by its
			// own address, which no daemon touches. A gap the VIPs share
			// with it is the lab's (this VM stalls for tens of ms now
			// and then), not a failover's.
			var other *cluster.Node
			for _, n := range r.c.Nodes {
				if n != o {
					other = n
				}
			}
			control, err := r.c.Lab.Client.Ping(within(t, 5*time.Minute), other.Host.Addr, probeInterval)
			if err != nil {
				t.Fatal(err)
			}
			defer control.Stop()
			time.Sleep(500 * time.Millisecond)
			lim, err := r.c.LimitCPU(o, 2)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			time.Sleep(20 * time.Second)
			if err := lim.Remove(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
			tl := r.stop()
			moves := 0
			for _, v := range r.c.VIPs {
				moves += len(tl.Acquisitions(v, start, time.Time{}))
			}
			r.report("2% of a CPU for "+o.Name+" ("+c.name+")", start, time.Time{})
			t.Logf("%s scheduling: %d ownership changes during and after 20 s at 2%% of a CPU", c.name, moves)
			if c.strict && moves > maxStarvedMoves {
				t.Errorf("with realtime = true, %d ownership changes while %s was starved, want at most %d", moves, o.Name, maxStarvedMoves)
			}
			var stalls []lab.Gap
			for _, g := range control.Snapshot().Gaps {
				if g.End.After(start) && g.Duration() >= outageMin/2 {
					stalls = append(stalls, g)
				}
			}
			t.Logf("the control (%s's own address) had %d gaps of %v or more: %s", other.Name, len(stalls), outageMin/2, describeGaps(stalls, r.t0))
			for _, v := range r.c.VIPs {
				if out := withoutShared(r.outages(v, start), stalls); c.strict && len(out) > 0 {
					t.Errorf("with realtime = true, the client lost %s while %s was starved: %s", v, o.Name, describeGaps(out, r.t0))
				}
			}
		})
	}
}

// withoutShared returns the gaps of gs that overlap none of control's.
func withoutShared(gs, control []lab.Gap) []lab.Gap {
	var out []lab.Gap
	for _, g := range gs {
		if !slices.ContainsFunc(control, func(c lab.Gap) bool { return c.Start.Before(g.End) && g.Start.Before(c.End) }) {
			out = append(out, g)
		}
	}
	return out
}

// allRealtime checks that every thread of process pid runs SCHED_FIFO, as
// realtime = true makes the daemon's threads (those of the fault rig run
// no hook or check, so none keeps the ordinary thread programs start
// from).
func allRealtime(pid int) error {
	normal, total, err := threadPolicies(pid)
	if err != nil {
		return err
	}
	if len(normal) > 0 {
		return fmt.Errorf("with realtime = true, threads %v of %d (of %d) do not run SCHED_FIFO", normal, pid, total)
	}
	return nil
}

// threadPolicies returns the threads of process pid that do not run
// SCHED_FIFO, and how many threads it has.
func threadPolicies(pid int) (notFIFO []int, total int, err error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, 0, err
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		attr, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			continue // the thread is gone
		}
		total++
		if attr.Policy != unix.SCHED_FIFO {
			notFIFO = append(notFIFO, tid)
		}
	}
	return notFIFO, total, nil
}

// The path between n1 and n2 is cut for 20 s (IP dropped both ways at the
// switch, ARP still flowing, both still reach n3 and the client): a
// non-transitive partition. n3 hears both, so each of n1 and n2 is
// "unreachable from here" for the other, not failed: no VIP moves, and no
// VIP is ever on two nodes.
//
// On 6964af2 n2 declared n1 failed and took its VIP, which then had two
// holders for the whole cut (19 s).
func TestCutPathBetweenTwoMembers(t *testing.T) {
	r := newFaultRig(t, "lan", "")
	n1, n2 := r.c.Nodes[0], r.c.Nodes[1]
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	if err := r.c.CutPath(within(t, time.Minute), n1, n2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Second)
	if err := r.c.HealPath(within(t, time.Minute), n1, n2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	tl := r.stop()
	for _, v := range r.c.VIPs {
		if two := tl.TwoHolders(v, start, time.Time{}); len(two) > 0 {
			t.Errorf("%s had two holders for %v (longest %v) with the path n1-n2 cut", v, cluster.Total(two).Round(time.Millisecond), cluster.Longest(two))
		}
		if acq := tl.Acquisitions(v, start, time.Time{}); len(acq) > 0 {
			t.Errorf("%s changed owner with the path n1-n2 cut: %v", v, acq)
		}
	}
	r.report("cut path n1-n2", start, time.Time{})
}

// Loss at random for 60 s (lan and fast, side by side): heartbeats get
// lost, but no member may be declared failed for it, so no VIP moves.
// With lan every node loses 10 % of its IP packets each way, 19 % of the
// packets between two nodes. With fast, 10 % frame loss, the target's
// measure: every node loses 10 % of what it receives, so 10 % of the
// packets between two nodes, and the daemons are release builds. At 19 %
// fast (4 beats in 20 ms) moved a VIP once in eight one-minute runs of
// release builds here; race-built daemons also stall for 20-60 ms on a
// busy 2-core machine, a stall, which fast does not forgive by design, and
// moved VIPs in half of their runs. Release builds stall too when the VM
// does (one make test here: 18 stalls of 16-57 ms on one node in a minute,
// often on all three at the same instant, and five moves): a change of
// owner that a stall a daemon logged explains is reported, not failed;
// any other fails.
//
// 6964af2 passes the lan case too, as issue 11 found. Heavier loss tells
// them apart, but not reliably enough for CI: at 25 %, 6964af2 moved VIPs
// 5 times in 60 s (lan) and 23 times (fast), this tree 0 or 1 times (lan)
// and once (fast); at 20 % (lan) neither moved any.
func TestLossyLAN(t *testing.T) {
	for _, c := range []struct {
		timing  string
		percent int
	}{{"lan", 10}, {"fast", 10}} {
		t.Run(fmt.Sprintf("%s-%d%%", c.timing, c.percent), func(t *testing.T) {
			t.Parallel()
			opt, drop := cluster.Options{Timing: c.timing}, (*cluster.Cluster).DropRandom
			if c.timing == "fast" {
				opt.Binary, drop = releaseBinary, (*cluster.Cluster).DropRandomInbound
			}
			r := newFaultRigOf(t, opt)
			time.Sleep(500 * time.Millisecond)
			start := time.Now()
			for _, n := range r.c.Nodes {
				if err := drop(r.c, within(t, time.Minute), n, c.percent); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(60 * time.Second)
			for _, n := range r.c.Nodes {
				if err := n.Host.Heal(within(t, time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(2 * time.Second)
			tl := r.stop()
			stalls := r.c.Stalls()
			t.Logf("the daemons logged %d stalls of their own", len(stalls))
			for _, v := range r.c.VIPs {
				for _, a := range tl.Acquisitions(v, start, time.Time{}) {
					if s, ok := cluster.StallBefore(stalls, a.At, failureTimeout[c.timing]); ok {
						t.Logf("%v: after a stall of %s (%v, ended %s), not the loss", a, s.Node, s.Length, s.End.Format("15:04:05.000"))
						continue
					}
					t.Errorf("%v with %d%% loss on every node (%s), and no stall to explain it", a, c.percent, c.timing)
				}
			}
			r.report(fmt.Sprintf("%d%% loss on every node (%s)", c.percent, c.timing), start, time.Time{})
		})
	}
}
