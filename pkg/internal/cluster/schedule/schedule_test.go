package schedule

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestScheduleDeterministic(t *testing.T) {
	opt := Options{Length: 30 * time.Minute, Seed: 42}
	a, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two schedules")
	}
	opt.Seed = 43
	c, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("seeds 42 and 43 gave the same schedule")
	}
}

// Outside quorum-loss episodes at most MaxFaulty nodes are faulty at once;
// splits and quorum losses overlap nothing; no node has two faults at once.
func TestScheduleAtMostTwoFaulty(t *testing.T) {
	for seed := range int64(40) {
		for _, nodes := range []int{3, 5, 7} {
			faults, err := New(Options{Nodes: nodes, Length: 30 * time.Minute, Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range faults {
				// The set of faults active at f's start: checking at every
				// start is enough, since the count only grows at starts.
				active := map[int]int{} // node -> faults
				others := 0
				for _, g := range faults {
					if g.At <= f.At && f.At < g.End() {
						if g.ID != f.ID {
							others++
						}
						if g.Kind == FaultQuorumIsolate {
							continue // every node, but alone: checked below
						}
						for _, n := range g.Nodes {
							active[n]++
						}
					}
				}
				exclusive := (Options{Nodes: nodes}).Exclusive(f.Kind)
				if exclusive && others > 0 {
					t.Fatalf("seed %d, %d nodes: %s overlaps %d other faults", seed, nodes, f, others)
				}
				// A cut path alone (three nodes) has its two ends faulty.
				if !f.Kind.LosesQuorum() && !(f.Kind == FaultCut && exclusive) && len(active) > MaxFaulty(nodes) {
					t.Fatalf("seed %d, %d nodes: %d nodes faulty at %v (%v)", seed, nodes, len(active), f.At, active)
				}
				for n, k := range active {
					if k > 1 {
						t.Fatalf("seed %d: node %d has %d faults at %v", seed, n, k, f.At)
					}
				}
			}
		}
	}
}

func TestScheduleKinds(t *testing.T) {
	const length = 2 * time.Hour
	faults, err := New(Options{Length: length, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[FaultKind]int{}
	quietGaps := 0
	var lastEnd time.Duration
	for i, f := range faults {
		seen[f.Kind]++
		if f.ID != i+1 {
			t.Errorf("fault %d has ID %d", i+1, f.ID)
		}
		if i > 0 && f.At < faults[i-1].At {
			t.Errorf("%s starts before %s", f, faults[i-1])
		}
		if f.At >= length || f.Duration <= 0 {
			t.Errorf("%s: outside the schedule or empty", f)
		}
		if !slices.IsSorted(f.Nodes) || len(slices.Compact(slices.Clone(f.Nodes))) != len(f.Nodes) {
			t.Errorf("%s: nodes not sorted and distinct", f)
		}
		for _, n := range f.Nodes {
			if n < 0 || n >= 5 {
				t.Errorf("%s: node %d out of range", f, n)
			}
		}
		want := map[FaultKind]int{FaultKill: 1, FaultTerm: 1, FaultFlap: 1, FaultIsolate: 1, FaultSplit: 2, FaultQuorumKill: 3, FaultQuorumIsolate: 5,
			FaultPause: 1, FaultFlapping: 1, FaultStarve: 1, FaultLoss: 1, FaultCut: 2}[f.Kind]
		if len(f.Nodes) != want {
			t.Errorf("%s: %d nodes, want %d", f, len(f.Nodes), want)
		}
		// Only flapping has a period, only starvation and loss a percentage.
		if (f.Period > 0) != (f.Kind == FaultFlapping) || f.Kind == FaultFlapping && f.Period != FlappingPeriod {
			t.Errorf("%s: period %v", f, f.Period)
		}
		wantPct := map[FaultKind]int{FaultStarve: StarvePercent, FaultLoss: LossPercent}[f.Kind]
		if f.Percent != wantPct {
			t.Errorf("%s: %d%%, want %d%%", f, f.Percent, wantPct)
		}
		if f.At-lastEnd >= DefaultQuiet {
			quietGaps++
		}
		lastEnd = max(lastEnd, f.End())
	}
	for _, k := range FaultKinds {
		if seen[k] == 0 {
			t.Errorf("no %s fault in %v of schedule: %v", k, length, seen)
		}
	}
	if quietGaps < len(faults)/5 {
		t.Errorf("only %d of %d gaps leave the group alone for %v", quietGaps, len(faults), DefaultQuiet)
	}
	t.Logf("%d faults in %v: %v; %d quiet gaps", len(faults), length, seen, quietGaps)
}

// pkg/e2e's TestSoak runs seed 35675 for 2 minutes by default: every kind
// of fault must be in it, and faults that overlap.
func TestScheduleCISeed(t *testing.T) {
	faults, err := New(Options{Length: 2 * time.Minute, Seed: 35675})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[FaultKind]bool{}
	overlaps := 0
	for i, f := range faults {
		seen[f.Kind] = true
		if i > 0 && f.At < faults[i-1].End() {
			overlaps++
		}
	}
	if overlaps == 0 {
		t.Error("no two faults overlap")
	}
	for _, k := range FaultKinds {
		if !seen[k] {
			t.Errorf("no %s fault", k)
		}
	}
}

func TestFaultString(t *testing.T) {
	for _, c := range []struct {
		f    Fault
		want string
	}{
		{Fault{ID: 3, Kind: FaultFlapping, Nodes: []int{1}, At: time.Second, Duration: 5 * time.Second, Period: time.Second}, "#3 flapping n2 at 1s for 5s every 1s"},
		{Fault{ID: 4, Kind: FaultLoss, Nodes: []int{0}, At: 0, Duration: 10 * time.Second, Percent: 10}, "#4 loss n1 at 0s for 10s at 10%"},
		{Fault{ID: 5, Kind: FaultCut, Nodes: []int{0, 4}, At: time.Minute, Duration: 7 * time.Second}, "#5 cut n1,n5 at 1m0s for 7s"},
	} {
		if got := c.f.String(); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
}

func TestScheduleOptions(t *testing.T) {
	if _, err := New(Options{Nodes: 2, Length: time.Minute}); err == nil {
		t.Error("2 nodes: no error")
	}
	if _, err := New(Options{Length: -time.Second}); err == nil {
		t.Error("negative length: no error")
	}
	if f, err := New(Options{}); err != nil || len(f) != 0 {
		t.Errorf("zero length: %v, %v", f, err)
	}
	faults, err := New(Options{Length: 2 * time.Hour, Seed: 1, QuorumLoss: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range faults {
		if f.Kind.LosesQuorum() {
			t.Fatalf("QuorumLoss < 0 and yet %s", f)
		}
	}
}

// Two nodes with a tie-breaker: one faulty at a time, every other kind
// but splits and quorum losses, a cut path alone.
func TestScheduleTieBreaker(t *testing.T) {
	opt := Options{TieBreaker: true, Length: 2 * time.Hour, Seed: 5}
	if got, want := opt.Kinds(), []FaultKind{FaultKill, FaultTerm, FaultFlap, FaultIsolate, FaultPause, FaultFlapping, FaultStarve, FaultLoss, FaultCut}; !slices.Equal(got, want) {
		t.Fatalf("kinds %v, want %v", got, want)
	}
	seen := map[FaultKind]int{}
	for seed := range int64(20) {
		opt.Seed = seed
		faults, err := New(opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range faults {
			seen[f.Kind]++
			if !slices.Contains(opt.Kinds(), f.Kind) {
				t.Fatalf("seed %d: %s in a two-node schedule", seed, f)
			}
			if want := map[FaultKind]int{FaultCut: 2}[f.Kind]; len(f.Nodes) != max(want, 1) {
				t.Errorf("seed %d: %s: %d nodes", seed, f, len(f.Nodes))
			}
			for _, n := range f.Nodes {
				if n < 0 || n > 1 {
					t.Fatalf("seed %d: %s: node %d of 2", seed, f, n)
				}
			}
			// One node faulty at a time (recovery margin included): no
			// fault starts before the previous one's end plus the margin.
			for _, g := range faults {
				if g.ID < f.ID && f.At < g.End()+recoveryMargin {
					t.Fatalf("seed %d: %s starts during %s", seed, f, g)
				}
			}
		}
	}
	for _, k := range opt.Kinds() {
		if seen[k] == 0 {
			t.Errorf("no %s fault: %v", k, seen)
		}
	}
	if (Options{TieBreaker: true}).nodes() != 2 {
		t.Error("a tie-breaker group is not 2 nodes by default")
	}
	if _, err := New(Options{TieBreaker: true, Nodes: 3, Length: time.Minute}); err == nil {
		t.Error("3 nodes with a tie-breaker: no error")
	}
}

// Three nodes (two web nodes and a witness): a cut path joins the two
// ends through the third only, so it is alone; it is drawn nonetheless.
func TestScheduleThreeNodesCut(t *testing.T) {
	cuts := 0
	for seed := range int64(10) {
		opt := Options{Nodes: 3, Length: time.Hour, Seed: seed}
		faults, err := New(opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range faults {
			if f.Kind != FaultCut {
				continue
			}
			cuts++
			for _, g := range faults {
				if g.ID != f.ID && g.At < f.End()+recoveryMargin && f.At < g.End()+recoveryMargin {
					t.Fatalf("seed %d: %s overlaps %s", seed, f, g)
				}
			}
		}
	}
	if cuts == 0 {
		t.Error("no cut path in 10 hours of three-node schedules")
	}
}
