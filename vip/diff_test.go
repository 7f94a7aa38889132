package vip

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func TestDiff(t *testing.T) {
	plan := func(quorum bool, as ...Assignment) *Plan { return &Plan{Quorum: quorum, Assignments: as} }
	tests := []struct {
		name  string
		plan  *Plan
		local Local
		want  []ActionKind
	}{
		{
			name:  "orphan given to us: acquire",
			plan:  plan(true, Assignment{VIP: "a", Owner: "me", Reason: Orphaned}),
			local: Local{Name: "me"},
			want:  []ActionKind{Acquire},
		},
		{
			name: "eligible holder has not let go: await",
			plan: plan(true, Assignment{VIP: "a", Owner: "me", Reason: Rebalanced,
				Holders: []Holder{{Name: "n2", Eligible: true}}}),
			local: Local{Name: "me"},
			want:  []ActionKind{Await},
		},
		{
			name: "holder is leaving: acquire (make before break)",
			plan: plan(true, Assignment{VIP: "a", Owner: "me", Reason: Rebalanced,
				Holders: []Holder{{Name: "n2", Eligible: true, Leaving: true}}}),
			local: Local{Name: "me"},
			want:  []ActionKind{Acquire},
		},
		{
			name: "holder is draining: acquire at once",
			plan: plan(true, Assignment{VIP: "a", Owner: "me", Reason: Vacated,
				Holders: []Holder{{Name: "n2"}}}),
			local: Local{Name: "me"},
			want:  []ActionKind{Acquire},
		},
		{
			name:  "no quorum: never acquire",
			plan:  plan(false, Assignment{VIP: "a", Owner: "me", Reason: Kept, Holders: []Holder{{Name: "me"}}}),
			local: Local{Name: "me"},
		},
		{
			name:  "someone else's: nothing",
			plan:  plan(true, Assignment{VIP: "a", Owner: "n2"}),
			local: Local{Name: "me"},
		},
		{
			name:  "ours and held: nothing",
			plan:  plan(true, Assignment{VIP: "a", Owner: "me", Holders: []Holder{{Name: "me", Eligible: true}}}),
			local: Local{Name: "me", Held: set("a")},
		},
		{
			name:  "moving away: hand over",
			plan:  plan(true, Assignment{VIP: "a", Owner: "n2", Reason: Rebalanced, Holders: []Holder{{Name: "me", Eligible: true}}}),
			local: Local{Name: "me", Held: set("a")},
			want:  []ActionKind{Handover},
		},
		{
			name:  "handing over, new owner not there yet: wait",
			plan:  plan(true, Assignment{VIP: "a", Owner: "n2", Holders: []Holder{{Name: "me", Eligible: true, Leaving: true}}}),
			local: Local{Name: "me", Held: set("a"), Leaving: set("a")},
		},
		{
			name: "new owner claims it: release",
			plan: plan(true, Assignment{VIP: "a", Owner: "n2", Holders: []Holder{
				{Name: "me", Eligible: true, Leaving: true}, {Name: "n2", Eligible: true}}}),
			local: Local{Name: "me", Held: set("a"), Leaving: set("a"), Confirmed: set("a")},
			want:  []ActionKind{Release},
		},
		{
			name: "new owner's claim is from before the hand-over: wait",
			plan: plan(true, Assignment{VIP: "a", Owner: "n2", Holders: []Holder{
				{Name: "me", Eligible: true, Leaving: true}, {Name: "n2", Eligible: true}}}),
			local: Local{Name: "me", Held: set("a"), Leaving: set("a")},
		},
		{
			name:  "new owner announced on the wire: release",
			plan:  plan(true, Assignment{VIP: "a", Owner: "n2", Holders: []Holder{{Name: "me", Leaving: true}}}),
			local: Local{Name: "me", Held: set("a"), Leaving: set("a"), Conflicts: set("a")},
			want:  []ActionKind{Release},
		},
		{
			name:  "hand-over no longer needed: retain",
			plan:  plan(true, Assignment{VIP: "a", Owner: "me", Reason: Kept, Holders: []Holder{{Name: "me", Eligible: true, Leaving: true}}}),
			local: Local{Name: "me", Held: set("a"), Leaving: set("a")},
			want:  []ActionKind{Retain},
		},
		{
			name:  "conflict on a VIP we own with quorum: defend",
			plan:  plan(true, Assignment{VIP: "a", Owner: "me", Holders: []Holder{{Name: "me", Eligible: true}}}),
			local: Local{Name: "me", Held: set("a"), Conflicts: set("a")},
			want:  []ActionKind{Defend},
		},
		{
			name:  "conflict without quorum: release at once",
			plan:  plan(false, Assignment{VIP: "a", Owner: "me", Holders: []Holder{{Name: "me", Eligible: true}}}),
			local: Local{Name: "me", Held: set("a"), Conflicts: set("a")},
			want:  []ActionKind{Release},
		},
		{
			name:  "nobody to hand over to: keep serving",
			plan:  plan(true, Assignment{VIP: "a", Owner: "", Holders: []Holder{{Name: "me"}}}),
			local: Local{Name: "me", Held: set("a")},
		},
		{
			name:  "contest lost to another holder: hand over",
			plan:  plan(true, Assignment{VIP: "a", Owner: "n2", Reason: Contested, Holders: []Holder{{Name: "me", Eligible: true}, {Name: "n2", Eligible: true}}}),
			local: Local{Name: "me", Held: set("a")},
			want:  []ActionKind{Handover},
		},
		{
			// The winner's claim may be stale (it was cut off, or stalled):
			// the loser lets go only when the winner claims it again.
			name:  "contest lost, the winner claimed it again: release",
			plan:  plan(true, Assignment{VIP: "a", Owner: "n2", Reason: Contested, Holders: []Holder{{Name: "me", Eligible: true, Leaving: true}, {Name: "n2", Eligible: true}}}),
			local: Local{Name: "me", Held: set("a"), Leaving: set("a"), Confirmed: set("a")},
			want:  []ActionKind{Release},
		},
		{
			name:  "contest lost, the winner announced it: release",
			plan:  plan(true, Assignment{VIP: "a", Owner: "n2", Reason: Contested, Holders: []Holder{{Name: "me", Eligible: true}, {Name: "n2", Eligible: true}}}),
			local: Local{Name: "me", Held: set("a"), Conflicts: set("a")},
			want:  []ActionKind{Release},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []ActionKind
			for _, a := range Diff(tt.plan, tt.local) {
				got = append(got, a.Kind)
				if a.Why == "" || a.Cause == "" {
					t.Errorf("action %v has no reason", a.Kind)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// node is a simulated group member: what it holds, and the version of its
// claims, which goes up whenever they change or it claims them again.
type node struct {
	name     string
	eligible bool
	held     map[string]bool
	leaving  map[string]bool
	version  int
	// handing records, for each VIP it hands over, the owner it hands
	// it to and that owner's version when the hand-over began.
	handing map[string]handing
}

type handing struct {
	owner   string
	version int
}

func view(vips []Spec, nodes []*node, maxMoves int) Input {
	in := Input{VIPs: vips, Quorum: true, MaxMoves: maxMoves}
	for _, n := range nodes {
		in.Members = append(in.Members, Member{
			Name: n.name, Eligible: n.eligible,
			Holds:   slices.Sorted(maps.Keys(n.held)),
			Leaving: slices.Sorted(maps.Keys(n.leaving)),
		})
	}
	return in
}

// step lets one node look at the current state and act on it, as the
// agent does: it confirms a hand-over once the owner's version went up,
// and, owning a VIP that another member also holds, claims it again.
func step(vips []Spec, nodes []*node, n *node, maxMoves int) (acted bool) {
	p := Allocate(view(vips, nodes, maxMoves))
	byName := map[string]*node{}
	for _, m := range nodes {
		byName[m.name] = m
	}
	confirmed := map[string]bool{}
	for v, h := range n.handing {
		a, _ := p.Lookup(v)
		if o := byName[a.Owner]; o != nil && a.Owner == h.owner && o.version > h.version {
			confirmed[v] = true
		}
	}
	for _, a := range Diff(&p, Local{Name: n.name, Held: n.held, Leaving: n.leaving, Confirmed: confirmed}) {
		switch a.Kind {
		case Acquire:
			n.held[a.VIP] = true
		case Handover:
			n.leaving[a.VIP] = true
		case Release:
			delete(n.held, a.VIP)
			delete(n.leaving, a.VIP)
			delete(n.handing, a.VIP)
		case Retain:
			delete(n.leaving, a.VIP)
			delete(n.handing, a.VIP)
		default:
			continue
		}
		n.version++
		acted = true
	}
	for v := range n.leaving {
		a, _ := p.Lookup(v)
		if h, ok := n.handing[v]; (!ok || h.owner != a.Owner) && byName[a.Owner] != nil {
			n.handing[v] = handing{owner: a.Owner, version: byName[a.Owner].version}
		}
	}
	for _, a := range p.Assignments {
		if a.Owner == n.name && n.held[a.VIP] && slices.ContainsFunc(a.Holders, func(h Holder) bool { return h.Name != n.name }) {
			n.version++ // claims it again
			acted = true
		}
	}
	return acted
}

// TestProtocolConverges runs Allocate and Diff as a whole group would, one
// node at a time in random order, from random starting states: hand-overs
// never leave a served VIP unserved, the group settles, and then every VIP
// has exactly one holder and loads are balanced.
func TestProtocolConverges(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for run := 0; run < 1500; run++ {
		nn, nv := 1+r.IntN(8), r.IntN(25)
		var vips []Spec
		for i := 0; i < nv; i++ {
			s := Spec{Name: fmt.Sprintf("v%02d", i)}
			if r.IntN(6) == 0 {
				s.Prefer = []string{fmt.Sprintf("n%d", r.IntN(nn))}
			}
			vips = append(vips, s)
		}
		var nodes []*node
		for j := 0; j < nn; j++ {
			n := &node{name: fmt.Sprintf("n%d", j), eligible: r.IntN(5) != 0, held: map[string]bool{}, leaving: map[string]bool{}, handing: map[string]handing{}}
			for _, s := range vips {
				if r.IntN(nn+1) == 0 {
					n.held[s.Name] = true
				}
			}
			nodes = append(nodes, n)
		}
		maxMoves := r.IntN(3)
		served := func() map[string]bool {
			m := map[string]bool{}
			for _, n := range nodes {
				maps.Copy(m, n.held)
			}
			return m
		}
		// Rounds in random node order until a whole round changes nothing.
		for round, acted := 0, true; acted; round++ {
			if round > 500 {
				t.Fatalf("run %d: no convergence", run)
			}
			acted = false
			for _, k := range r.Perm(nn) {
				before := served()
				acted = step(vips, nodes, nodes[k], maxMoves) || acted
				for v := range before {
					if !served()[v] {
						t.Fatalf("run %d: %s went unserved during a hand-over", run, v)
					}
				}
			}
		}
		anyEligible := slices.ContainsFunc(nodes, func(n *node) bool { return n.eligible })
		if !anyEligible {
			continue
		}
		load := map[string]int{}
		for _, s := range vips {
			var holders []string
			for _, n := range nodes {
				if n.held[s.Name] {
					holders = append(holders, n.name)
					if !n.eligible {
						t.Fatalf("run %d: ineligible %s still holds %s", run, n.name, s.Name)
					}
				}
			}
			if len(holders) != 1 {
				t.Fatalf("run %d: %s held by %v after convergence", run, s.Name, holders)
			}
			load[holders[0]]++
		}
		lo, hi := nv, 0
		for _, n := range nodes {
			if n.eligible {
				lo, hi = min(lo, load[n.name]), max(hi, load[n.name])
			}
		}
		if hi-lo > 1 && !slices.ContainsFunc(vips, func(s Spec) bool { return len(s.Prefer) > 0 }) {
			t.Fatalf("run %d: unbalanced after convergence: %v", run, load)
		}
	}
}
