package vip

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func specs(names ...string) []Spec {
	out := make([]Spec, len(names))
	for i, n := range names {
		out[i] = Spec{Name: n}
	}
	return out
}

func owners(p Plan) map[string]string {
	m := make(map[string]string, len(p.Assignments))
	for _, a := range p.Assignments {
		m[a.VIP] = a.Owner
	}
	return m
}

func TestAllocateTable(t *testing.T) {
	three := specs("a", "b", "c")
	tests := []struct {
		name string
		in   Input
		want map[string]string
		why  map[string]Reason
	}{
		{
			name: "cold start spreads one each",
			in: Input{VIPs: three, Quorum: true, Members: []Member{
				{Name: "n1", Eligible: true}, {Name: "n2", Eligible: true}, {Name: "n3", Eligible: true},
			}},
			// Which member gets which is the rendezvous choice; checked by
			// the balance property. Here: one each.
		},
		{
			name: "sticky holders keep their VIPs",
			in: Input{VIPs: three, Quorum: true, Members: []Member{
				{Name: "n1", Eligible: true, Holds: []string{"c"}},
				{Name: "n2", Eligible: true, Holds: []string{"a"}},
				{Name: "n3", Eligible: true, Holds: []string{"b"}},
			}},
			want: map[string]string{"a": "n2", "b": "n3", "c": "n1"},
			why:  map[string]Reason{"a": Kept, "b": Kept, "c": Kept},
		},
		{
			name: "dead member's VIP is orphaned to a survivor",
			in: Input{VIPs: three, Quorum: true, Members: []Member{
				{Name: "n1", Eligible: true, Holds: []string{"c"}},
				{Name: "n2", Eligible: true, Holds: []string{"a"}},
			}},
			want: map[string]string{"a": "n2", "c": "n1"},
			why:  map[string]Reason{"a": Kept, "b": Orphaned, "c": Kept},
		},
		{
			name: "draining member's VIP is vacated",
			in: Input{VIPs: three, Quorum: true, Members: []Member{
				{Name: "n1", Eligible: true, Holds: []string{"c"}},
				{Name: "n2", Eligible: true, Holds: []string{"a"}},
				{Name: "n3", Eligible: false, Holds: []string{"b"}},
			}},
			want: map[string]string{"a": "n2", "c": "n1"},
			why:  map[string]Reason{"a": Kept, "b": Vacated, "c": Kept},
		},
		{
			name: "no quorum: keep what is held, take nothing",
			in: Input{VIPs: three, Quorum: false, Members: []Member{
				{Name: "n1", Eligible: true, Holds: []string{"c"}},
			}},
			want: map[string]string{"a": "", "b": "", "c": "n1"},
			why:  map[string]Reason{"a": Unowned, "b": Unowned, "c": Kept},
		},
		{
			name: "no eligible member: keep what is held",
			in: Input{VIPs: three, Quorum: true, Members: []Member{
				{Name: "n1", Holds: []string{"c"}}, {Name: "n2"},
			}},
			want: map[string]string{"a": "", "b": "", "c": "n1"},
		},
		{
			name: "prefer moves a VIP to its preferred member",
			in: Input{VIPs: []Spec{{Name: "a", Prefer: []string{"gone", "n1"}}, {Name: "b"}}, Quorum: true, Members: []Member{
				{Name: "n1", Eligible: true, Holds: []string{"b"}},
				{Name: "n2", Eligible: true, Holds: []string{"a"}},
			}},
			want: map[string]string{"a": "n1", "b": "n2"},
			why:  map[string]Reason{"a": Preferred, "b": Rebalanced},
		},
		{
			name: "max moves defers the second hand-over",
			in: Input{VIPs: []Spec{{Name: "a", Prefer: []string{"n1"}}, {Name: "b", Prefer: []string{"n2"}}}, Quorum: true, MaxMoves: 1, Members: []Member{
				{Name: "n1", Eligible: true, Holds: []string{"b"}},
				{Name: "n2", Eligible: true, Holds: []string{"a"}},
			}},
			want: map[string]string{"a": "n1", "b": "n1"},
			why:  map[string]Reason{"a": Preferred, "b": Deferred},
		},
		{
			name: "a hand-over under way counts against max moves",
			in: Input{VIPs: []Spec{{Name: "a", Prefer: []string{"n1"}}, {Name: "b", Prefer: []string{"n2"}}}, Quorum: true, MaxMoves: 1, Members: []Member{
				{Name: "n1", Eligible: true, Holds: []string{"b"}},
				{Name: "n2", Eligible: true, Holds: []string{"a"}, Leaving: []string{"a"}},
			}},
			want: map[string]string{"a": "n1", "b": "n1"},
			why:  map[string]Reason{"a": Preferred, "b": Deferred},
		},
		{
			name: "the new holder beats the leaving one",
			in: Input{VIPs: three, Quorum: true, Members: []Member{
				{Name: "n1", Eligible: true, Holds: []string{"a", "b"}, Leaving: []string{"b"}},
				{Name: "n2", Eligible: true, Holds: []string{"b"}},
				{Name: "n3", Eligible: true, Holds: []string{"c"}},
			}},
			want: map[string]string{"a": "n1", "b": "n2", "c": "n3"},
			why:  map[string]Reason{"a": Kept, "b": Kept, "c": Kept},
		},
		{
			name: "a healed partition: two holders, one keeps it",
			in: Input{VIPs: specs("a"), Quorum: true, Members: []Member{
				{Name: "n1", Eligible: true, Holds: []string{"a"}},
				{Name: "n2", Eligible: true, Holds: []string{"a"}},
			}},
			why: map[string]Reason{"a": Contested},
		},
		{
			name: "unknown VIP names in claims are ignored",
			in: Input{VIPs: specs("a"), Quorum: true, Members: []Member{
				{Name: "n1", Eligible: true, Holds: []string{"zz", "a"}, Leaving: []string{"yy"}},
			}},
			want: map[string]string{"a": "n1"},
		},
		{
			name: "empty input",
			in:   Input{Quorum: true},
			want: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Allocate(tt.in)
			if len(p.Assignments) != len(sortedSpecs(tt.in.VIPs)) {
				t.Fatalf("got %d assignments, want %d", len(p.Assignments), len(tt.in.VIPs))
			}
			got := owners(p)
			for v, want := range tt.want {
				if got[v] != want {
					t.Errorf("owner of %s = %q, want %q (plan %v)", v, got[v], want, got)
				}
			}
			for v, want := range tt.why {
				a, _ := p.Lookup(v)
				if a.Reason != want {
					t.Errorf("reason of %s = %v, want %v", v, a.Reason, want)
				}
			}
			if tt.in.Quorum && slices.ContainsFunc(tt.in.Members, func(m Member) bool { return m.Eligible }) && tt.in.MaxMoves == 0 {
				checkBalanced(t, tt.in, p)
			}
		})
	}
}

func TestAllocateContestedWinnerIsStable(t *testing.T) {
	// Whichever order the claims come in, the same holder wins.
	in := Input{VIPs: specs("a"), Quorum: true, Members: []Member{
		{Name: "n1", Eligible: true, Holds: []string{"a"}},
		{Name: "n2", Eligible: true, Holds: []string{"a"}},
		{Name: "n3", Eligible: true, Holds: []string{"a"}},
	}}
	want := Allocate(in).Assignments[0].Owner
	slices.Reverse(in.Members)
	if got := Allocate(in).Assignments[0].Owner; got != want {
		t.Fatalf("winner depends on order: %s vs %s", got, want)
	}
}

// randomView makes a random but reproducible input.
func randomView(r *rand.Rand) Input {
	nv, nm := r.IntN(40), 1+r.IntN(12)
	in := Input{Quorum: r.IntN(4) != 0, MaxMoves: r.IntN(4)}
	for j := 0; j < nm; j++ {
		in.Members = append(in.Members, Member{Name: fmt.Sprintf("n%02d", j), Eligible: r.IntN(10) < 7})
	}
	for i := 0; i < nv; i++ {
		s := Spec{Name: fmt.Sprintf("v%03d", i)}
		if r.IntN(5) == 0 {
			s.Prefer = []string{fmt.Sprintf("n%02d", r.IntN(nm+2)), fmt.Sprintf("n%02d", r.IntN(nm))}
		}
		in.VIPs = append(in.VIPs, s)
		for k := r.IntN(3); k > 0; k-- {
			m := &in.Members[r.IntN(nm)]
			if slices.Contains(m.Holds, s.Name) {
				continue
			}
			m.Holds = append(m.Holds, s.Name)
			if r.IntN(6) == 0 {
				m.Leaving = append(m.Leaving, s.Name)
			}
		}
	}
	return in
}

func shuffled(r *rand.Rand, in Input) Input {
	out := Input{Quorum: in.Quorum, MaxMoves: in.MaxMoves}
	out.VIPs = slices.Clone(in.VIPs)
	r.Shuffle(len(out.VIPs), func(i, j int) { out.VIPs[i], out.VIPs[j] = out.VIPs[j], out.VIPs[i] })
	for _, m := range in.Members {
		m.Holds = slices.Clone(m.Holds)
		r.Shuffle(len(m.Holds), func(i, j int) { m.Holds[i], m.Holds[j] = m.Holds[j], m.Holds[i] })
		out.Members = append(out.Members, m)
	}
	r.Shuffle(len(out.Members), func(i, j int) { out.Members[i], out.Members[j] = out.Members[j], out.Members[i] })
	return out
}

const propertyRuns = 5000

func TestPropertyDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for run := 0; run < propertyRuns; run++ {
		in := randomView(r)
		want := Allocate(in)
		got := Allocate(shuffled(r, in))
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("run %d: plan depends on input order:\n%v\n%v", run, owners(want), owners(got))
		}
	}
}

func TestPropertyOwnersAreValid(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for run := 0; run < propertyRuns; run++ {
		in := randomView(r)
		p := Allocate(in)
		eligible := map[string]bool{}
		anyEligible := false
		for _, m := range in.Members {
			eligible[m.Name] = m.Eligible
			anyEligible = anyEligible || m.Eligible
		}
		for _, a := range p.Assignments {
			held := slices.ContainsFunc(a.Holders, func(h Holder) bool { return h.Name == a.Owner })
			switch {
			case in.Quorum && anyEligible:
				if !eligible[a.Owner] {
					t.Fatalf("run %d: %s given to %q, not an eligible member", run, a.VIP, a.Owner)
				}
			case a.Owner == "":
				if len(a.Holders) > 0 {
					t.Fatalf("run %d: without quorum %s lost its holders %v", run, a.VIP, a.Holders)
				}
			case !held:
				t.Fatalf("run %d: without quorum %s gained owner %s it did not have", run, a.VIP, a.Owner)
			}
		}
		if in.Quorum && anyEligible && in.MaxMoves == 0 {
			checkBalanced(t, in, p)
		}
	}
}

func checkBalanced(t *testing.T, in Input, p Plan) {
	t.Helper()
	load := map[string]int{}
	for _, m := range in.Members {
		if m.Eligible {
			load[m.Name] = 0
		}
	}
	for _, a := range p.Assignments {
		load[a.Owner]++
	}
	lo, hi := len(p.Assignments), 0
	for _, l := range load {
		lo, hi = min(lo, l), max(hi, l)
	}
	if hi-lo > 1 {
		t.Fatalf("unbalanced loads %v", load)
	}
}

// settle runs the allocator until holders equal owners: the state a group
// reaches once every hand-over is done.
func settle(t *testing.T, in Input) Input {
	t.Helper()
	for round := 0; round < 100; round++ {
		p := Allocate(in)
		next := Input{VIPs: in.VIPs, Quorum: in.Quorum, MaxMoves: in.MaxMoves}
		for _, m := range in.Members {
			m.Holds, m.Leaving = p.Owned(m.Name), nil
			next.Members = append(next.Members, m)
		}
		if reflect.DeepEqual(owners(p), owners(Allocate(next))) {
			return next
		}
		in = next
	}
	t.Fatalf("allocation does not settle")
	return in
}

func stableView(r *rand.Rand, n, v int) Input {
	in := Input{Quorum: true}
	for j := 0; j < n; j++ {
		in.Members = append(in.Members, Member{Name: fmt.Sprintf("n%04d", j), Eligible: true})
	}
	for i := 0; i < v; i++ {
		in.VIPs = append(in.VIPs, Spec{Name: fmt.Sprintf("v%05d", i)})
	}
	return in
}

func TestPropertySettledIsFixedPoint(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for run := 0; run < 1000; run++ {
		in := randomView(r)
		in.Quorum = true
		s := settle(t, in)
		p := Allocate(s)
		for _, a := range p.Assignments {
			if a.Owner != "" && a.Reason != Kept {
				t.Fatalf("run %d: settled view still moves %s (%v)", run, a.VIP, a.Reason)
			}
		}
	}
}

func TestPropertyLeaveMovesOnlyTheLeaversVIPs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for run := 0; run < 2000; run++ {
		in := settle(t, stableView(r, 2+r.IntN(10), r.IntN(50)))
		before := owners(Allocate(in))
		k := r.IntN(len(in.Members))
		leaver := in.Members[k].Name
		in.Members = slices.Delete(slices.Clone(in.Members), k, k+1)
		after := owners(Allocate(in))
		for v, o := range after {
			if before[v] != o && before[v] != leaver {
				t.Fatalf("run %d: %s moved from %s to %s when %s left", run, v, before[v], o, leaver)
			}
			if before[v] == leaver && o == leaver {
				t.Fatalf("run %d: %s stayed with the leaver", run, v)
			}
		}
	}
}

func TestPropertyJoinMovesOnlyWhatBalanceNeeds(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for run := 0; run < 2000; run++ {
		n, v := 1+r.IntN(10), r.IntN(60)
		in := settle(t, stableView(r, n, v))
		before := owners(Allocate(in))
		loads := map[string]int{}
		for _, o := range before {
			loads[o]++
		}
		joined := in
		joined.Members = append(slices.Clone(in.Members), Member{Name: "new", Eligible: true})
		joined.MaxMoves = r.IntN(3)
		after := owners(Allocate(joined))

		// The fewest moves that balance the group: everyone over floor
		// gives up the excess, except that r of them may keep one more.
		q, rem := v/(n+1), v%(n+1)
		need, over := 0, 0
		for _, l := range loads {
			if l > q {
				need += l - q
				over++
			}
		}
		need -= min(rem, over)

		moved := 0
		for vip, o := range after {
			if o != before[vip] {
				moved++
			}
		}
		if joined.MaxMoves == 0 && moved != need {
			t.Fatalf("run %d: join of 1 to %d members with %d VIPs moved %d, balance needs %d", run, n, v, moved, need)
		}
		if joined.MaxMoves > 0 && moved != min(need, joined.MaxMoves) {
			t.Fatalf("run %d: moved %d with max_moves %d, need %d", run, moved, joined.MaxMoves, need)
		}
	}
}

func TestPropertyPreferHonoured(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for run := 0; run < 2000; run++ {
		in := randomView(r)
		in.Quorum, in.MaxMoves = true, 0
		eligible := map[string]bool{}
		n := 0
		for _, m := range in.Members {
			eligible[m.Name] = m.Eligible
			if m.Eligible {
				n++
			}
		}
		if n == 0 {
			continue
		}
		first := func(s Spec) string {
			for _, p := range s.Prefer {
				if eligible[p] {
					return p
				}
			}
			return ""
		}
		// Prefer can only be honoured within the balance bounds.
		wanted := map[string]int{}
		for _, s := range in.VIPs {
			if p := first(s); p != "" {
				wanted[p]++
			}
		}
		fits := true
		for _, c := range wanted {
			fits = fits && c <= len(in.VIPs)/n
		}
		if !fits {
			continue
		}
		p := Allocate(in)
		for _, s := range in.VIPs {
			if want := first(s); want != "" {
				if a, _ := p.Lookup(s.Name); a.Owner != want {
					t.Fatalf("run %d: %s went to %s, preferred %s is eligible", run, s.Name, a.Owner, want)
				}
			}
		}
	}
}

func TestPropertyOrphansSpread(t *testing.T) {
	// 10 members, 100 VIPs: the 10 VIPs of a dead member land on many
	// survivors, not on one.
	in := settle(t, stableView(nil, 10, 100))
	before := owners(Allocate(in))
	dead := in.Members[0].Name
	in.Members = in.Members[1:]
	after := owners(Allocate(in))
	takers := map[string]bool{}
	for v, o := range before {
		if o == dead {
			takers[after[v]] = true
		}
	}
	if len(takers) < 5 {
		t.Fatalf("a dead member's 10 VIPs went to only %d survivors", len(takers))
	}
}

func TestSuccessors(t *testing.T) {
	in := Input{
		VIPs:   []Spec{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}},
		Quorum: true,
		Members: []Member{
			{Name: "n1", Eligible: true, Holds: []string{"a", "d"}},
			{Name: "n2", Eligible: true, Holds: []string{"b"}},
			{Name: "n3", Eligible: true, Holds: []string{"c"}},
			{Name: "n4"}, // not eligible: never a successor
		},
	}
	p := Allocate(in)
	succ := Successors(in, p)
	for _, a := range p.Assignments {
		s, ok := succ[a.VIP]
		if !ok || s == a.Owner || s == "n4" {
			t.Fatalf("%s owned by %s: successor %q", a.VIP, a.Owner, s)
		}
		// The successor is who really gets it when the owner fails.
		without := in
		without.Members = slices.DeleteFunc(slices.Clone(in.Members), func(m Member) bool { return m.Name == a.Owner })
		plan := Allocate(without)
		if after, _ := plan.Lookup(a.VIP); after.Owner != s {
			t.Fatalf("%s: successor %s, but without %s it goes to %s", a.VIP, s, a.Owner, after.Owner)
		}
	}
	// Alone: no successor.
	one := Input{VIPs: in.VIPs, Quorum: true, Members: []Member{{Name: "n1", Eligible: true}}}
	if s := Successors(one, Allocate(one)); len(s) != 0 {
		t.Fatalf("successors with one member: %v", s)
	}
}
