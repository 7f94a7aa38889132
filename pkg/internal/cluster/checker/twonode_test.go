package checker

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// newTwoNodeTrace feeds a checker of opt (its Nodes and the rest) with 4
// VIPs.
func newTwoNodeTrace(t *testing.T, opt Options) *trace {
	var vips []netip.Addr
	for i := range 4 {
		vips = append(vips, netip.AddrFrom4([4]byte{198, 18, 0, byte(100 + i)}))
	}
	opt.VIPs = vips
	x := &trace{t: t, base: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC), vips: vips}
	x.c = New(opt)
	return x
}

// Two web nodes and a witness (n3).
func newWitnessTrace(t *testing.T) *trace {
	return newTwoNodeTrace(t, Options{Nodes: []string{"n1", "n2", "n3"}, Witnesses: []string{"n3"}})
}

// Two nodes with a tie-breaker.
func newTieBreakerTrace(t *testing.T) *trace {
	return newTwoNodeTrace(t, Options{Nodes: []string{"n1", "n2"}, TieBreaker: true})
}

const twoSteady = "n1 n2 n1 n2"

// The witness holds nothing and counts for no balance: 2-2-0 is balanced,
// and with a web node down, the other holds everything.
func TestCheckerWitnessClean(t *testing.T) {
	x := newWitnessTrace(t)
	x.run(10*time.Second, twoSteady)
	x.c.SetDaemon(x.at(x.now), "n1", DaemonKilled)
	x.c.SetDaemon(x.at(x.now), "n1", DaemonDown)
	x.run(900*time.Millisecond, "- n2 - n2")
	x.run(10*time.Second, "n2 n2 n2 n2") // n2 and the witness: a majority
	x.want()
	// With 3 VIPs on two web nodes, 2-1 next to the witness's 0.
	x = newWitnessTrace(t)
	x.run(10*time.Second, "n1 n2 n1 -")
	x.want(ViolationUnheld, ViolationDark)
	x = newWitnessTrace(t)
	x.run(10*time.Second, "n1 n1 n1 n2")
	x.want(ViolationUnbalanced)
}

// A witness that holds a VIP is a violation at once, converged or not,
// reachable or not; once per VIP while it lasts.
func TestCheckerWitnessHolds(t *testing.T) {
	x := newWitnessTrace(t)
	x.c.Change(x.at(0))
	x.run(time.Second, "n1 n2 n1 n2,n3")
	x.want(ViolationWitness)
	if v := x.got[0]; v.Node != "n3" || v.VIP != x.vips[3] || !strings.Contains(v.Detail, "witness") {
		t.Errorf("violation %v", v)
	}
	x.run(time.Second, "n1 n2 n1 n2") // let go
	x.c.SetLink(x.at(x.now), "n3", false)
	x.run(time.Second, "n1 n2 n1 n2,n3") // again, unreachable
	x.want(ViolationWitness, ViolationWitness)

	// Held by the witness alone in a converged group: no stray, no
	// imbalance on top.
	x = newWitnessTrace(t)
	x.run(10*time.Second, "n1 n2 n1 n3")
	x.want(ViolationWitness)
	if !slices.Contains(x.c.opt.Kinds(), ViolationWitness) {
		t.Error("Kinds lacks witness-held with a witness")
	}
	if slices.Contains((Options{}).Kinds(), ViolationWitness) || len((Options{}).Kinds()) != len(ViolationKinds)-1 {
		t.Errorf("Kinds without witnesses: %v", (Options{}).Kinds())
	}
}

// The witness never counts as a node that could take an unheld VIP: with
// n1 down and n2 stalled, a VIP unheld for 10 s is no violation; with n2
// running it is.
func TestCheckerWitnessNeverEligible(t *testing.T) {
	x := newWitnessTrace(t)
	x.run(time.Second, twoSteady)
	x.c.SetDaemon(x.at(x.now), "n1", DaemonDown)
	x.c.SetCondition(x.at(x.now), "n2", Paused, true)
	x.run(10*time.Second, "- n2 - n2")
	x.want()
	x.c.SetCondition(x.at(x.now), "n2", Paused, false)
	x.run(5*time.Second, "- n2 - n2")
	x.want(ViolationDark, ViolationDark)

	// Both web nodes down: the witness alone has no quorum, and holds
	// nothing: nothing to report.
	x = newWitnessTrace(t)
	x.run(time.Second, twoSteady)
	x.c.SetDaemon(x.at(x.now), "n1", DaemonDown)
	x.c.SetDaemon(x.at(x.now), "n2", DaemonDown)
	x.run(10*time.Second, "- - - -")
	x.want()
}

// A web node cut off from the other and the witness is a minority of 3.
func TestCheckerWitnessMinority(t *testing.T) {
	x := newWitnessTrace(t)
	x.run(time.Second, twoSteady)
	x.c.Isolate(x.at(x.now), "n1")
	x.run(time.Second, twoSteady)
	x.run(8*time.Second, "n2 n2 n2 n2")
	x.want()
	x.run(time.Second, "n2,n1 n2 n2 n2")
	x.want(ViolationMinority, ViolationDuplicate)
}

// Two nodes with a tie-breaker: the survivor of a crash acts as if it had
// quorum and must take every VIP; without the tie-breaker it has 1 of 2
// and nothing is expected of it.
func TestCheckerTieBreakerCrash(t *testing.T) {
	x := newTieBreakerTrace(t)
	x.run(time.Second, twoSteady)
	x.c.SetDaemon(x.at(x.now), "n1", DaemonKilled)
	x.c.SetDaemon(x.at(x.now), "n1", DaemonDown)
	x.run(900*time.Millisecond, "- n2 - n2")
	x.run(10*time.Second, "n2 n2 n2 n2")
	x.want()
	x.c.SetDaemon(x.at(x.now), "n1", DaemonRunning)
	x.run(3*time.Second, "n2 n2 n2 n2")
	x.run(10*time.Second, twoSteady)
	x.want()

	x = newTieBreakerTrace(t)
	x.run(time.Second, twoSteady)
	x.c.SetDaemon(x.at(x.now), "n1", DaemonDown)
	x.run(10*time.Second, "- n2 - n2")
	x.want(ViolationDark, ViolationDark, ViolationUnheld, ViolationUnheld)
	if v := x.got[0]; !strings.Contains(v.Detail, "tie-breaker") {
		t.Errorf("violation %v", v)
	}

	// Without a tie-breaker (or with it, but three nodes) the survivor
	// of two has no quorum.
	for _, c := range []struct {
		opt             Options
		before, crashed string
	}{
		{Options{Nodes: []string{"n1", "n2"}}, twoSteady, "- n2 - n2"},
		{Options{Nodes: []string{"n1", "n2", "n3"}, TieBreaker: true}, "n1 n2 n3 n3", "- - n3 n3"},
	} {
		x = newTwoNodeTrace(t, c.opt)
		x.run(time.Second, c.before)
		for _, n := range c.opt.Nodes[:len(c.opt.Nodes)-1] {
			x.c.SetDaemon(x.at(x.now), n, DaemonDown)
		}
		x.run(10*time.Second, c.crashed)
		x.want()
	}
}

// The node whose link is down reaches no tie-breaker: it must not
// acquire, and the other takes everything.
func TestCheckerTieBreakerLinkDown(t *testing.T) {
	x := newTieBreakerTrace(t)
	x.run(time.Second, twoSteady)
	x.c.SetLink(x.at(x.now), "n1", false)
	x.run(time.Second, twoSteady)
	x.run(8*time.Second, "n2,n1 n2 n2,n1 n2") // n1's addresses are unreachable
	x.want()
	x.run(time.Second, "n2,n1 n2,n1 n2,n1 n2")
	x.want(ViolationMinority)

	x = newTieBreakerTrace(t)
	x.run(time.Second, twoSteady)
	x.c.SetLink(x.at(x.now), "n1", false)
	x.run(5*time.Second, twoSteady)
	x.want(ViolationDark, ViolationDark)
}

// Cut off from each other (an isolation, a cut path), both reach the
// tie-breaker: both may acquire, and every VIP must end on exactly one of
// them, whatever the balance.
func TestCheckerTieBreakerBothReach(t *testing.T) {
	for name, fault := range map[string]func(x *trace, on bool){
		"isolate": func(x *trace, on bool) {
			if on {
				x.c.Isolate(x.at(x.now), "n1")
			} else {
				x.c.Heal(x.at(x.now), "n1")
			}
		},
		"cut": func(x *trace, on bool) { x.c.Cut(x.at(x.now), "n2", "n1", on) },
	} {
		t.Run(name, func(t *testing.T) {
			x := newTieBreakerTrace(t)
			x.t = t
			x.run(time.Second, twoSteady)
			fault(x, true)
			x.run(time.Second, twoSteady)
			x.run(100*time.Millisecond, "n1 n2 n1 n2,n1") // n1 wins vip 3's hash
			x.run(10*time.Second, "n1 n2 n1 n1")          // 3-1: fine
			x.want()
			x.run(time.Second, "n1 n2,n1 n1 n1") // converged, two holders
			x.run(time.Second, "n1 - n1 n1")     // converged, none
			x.want(ViolationDuplicate, ViolationUnheld)
			fault(x, false)
			x.run(time.Second, "n1 n2 n1 n1")
			x.run(10*time.Second, twoSteady)
			x.want(ViolationDuplicate, ViolationUnheld)
			// Heard again: the balance is checked again.
			x.run(time.Second, "n1 n1 n1 n2")
			x.want(ViolationDuplicate, ViolationUnheld, ViolationUnbalanced)
		})
	}

	// Without a tie-breaker two nodes cut off from each other have no
	// quorum: nobody may acquire.
	x := newTwoNodeTrace(t, Options{Nodes: []string{"n1", "n2"}})
	x.run(time.Second, twoSteady)
	x.c.Isolate(x.at(x.now), "n1")
	x.run(time.Second, twoSteady)
	x.run(time.Second, "n1 n2 n1 n2,n1")
	x.want(ViolationMinority)
}
