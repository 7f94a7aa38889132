package vip_test

import (
	"fmt"

	"github.com/wackamole/wackamole/vip"
)

// Three web nodes share three VIPs. web3 has just died: web1 and web2 are
// left, each holding its own VIP, and www-3 is an orphan. The allocator
// gives it to one of the survivors and moves nothing else; every node that
// sees this view computes the same plan.
func ExampleAllocate() {
	plan := vip.Allocate(vip.Input{
		VIPs: []vip.Spec{{Name: "www-1"}, {Name: "www-2"}, {Name: "www-3"}},
		Members: []vip.Member{
			{Name: "web1", Eligible: true, Holds: []string{"www-1"}},
			{Name: "web2", Eligible: true, Holds: []string{"www-2"}},
		},
		Quorum: true,
	})
	for _, a := range plan.Assignments {
		fmt.Printf("%s -> %s (%s)\n", a.VIP, a.Owner, a.Reason)
	}
	// Output:
	// www-1 -> web1 (kept)
	// www-2 -> web2 (kept)
	// www-3 -> web2 (orphaned)
}

// A hand-over is make-before-break. web1 is draining: the plan gives its
// VIP to web2. web1 first marks it leaving and keeps serving it; web2,
// seeing it leaving, acquires it; once web2 claims it (a claim newer than
// the hand-over: Confirmed), web1 releases it.
func ExampleDiff() {
	in := vip.Input{
		VIPs:   []vip.Spec{{Name: "www-1"}},
		Quorum: true,
		Members: []vip.Member{
			{Name: "web1", Holds: []string{"www-1"}}, // draining: not eligible
			{Name: "web2", Eligible: true},
		},
	}
	step := func(node string, held, leaving, confirmed bool) {
		plan := vip.Allocate(in)
		l := vip.Local{Name: node, Held: map[string]bool{"www-1": held}, Leaving: map[string]bool{"www-1": leaving},
			Confirmed: map[string]bool{"www-1": confirmed}}
		for _, act := range vip.Diff(&plan, l) {
			fmt.Printf("%s: %s %s (%s)\n", node, act.Kind, act.VIP, act.Why)
		}
	}
	step("web1", true, false, false)

	in.Members[0].Leaving = []string{"www-1"}
	step("web2", false, false, false)

	in.Members[1].Holds = []string{"www-1"}
	step("web1", true, true, true)
	// Output:
	// web1: handover www-1 (vacated: handing over to web2)
	// web2: acquire www-1 (vacated)
	// web1: release www-1 (web2 holds it now)
}
