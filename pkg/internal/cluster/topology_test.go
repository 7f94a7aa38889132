package cluster

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/wackamole/wackamole/pkg/internal/cluster/checker"
	"github.com/wackamole/wackamole/pkg/internal/cluster/schedule"
)

func TestTopology(t *testing.T) {
	gw := netip.MustParseAddr("198.18.0.2")
	for _, c := range []struct {
		name        string
		want        Topology
		nodes, vips int
		extras      []string
	}{
		{"", TopologyFive, 5, 5, []string{"", "", "", "", ""}},
		{"five", TopologyFive, 5, 5, []string{"", "", "", "", ""}},
		{"witness", TopologyWitness, 3, 4, []string{"", "", "witness = true\n"}},
		{"tiebreaker", TopologyTieBreaker, 2, 4, []string{"tie_breaker = [\"198.18.0.2\"]\n", "tie_breaker = [\"198.18.0.2\"]\n"}},
	} {
		got, err := ParseTopology(c.name)
		if err != nil || got != c.want {
			t.Fatalf("ParseTopology(%q) = %q, %v", c.name, got, err)
		}
		if got.Nodes() != c.nodes || got.VIPs() != c.vips {
			t.Errorf("%s: %d nodes, %d VIPs", got, got.Nodes(), got.VIPs())
		}
		for i, want := range c.extras {
			if e := got.extra(i, gw); e != want {
				t.Errorf("%s: node %d gets %q, want %q", got, i, e, want)
			}
		}
		if got.Describe() == "" {
			t.Errorf("%s: no description", got)
		}
	}
	if _, err := ParseTopology("three"); err == nil || !strings.Contains(err.Error(), "five, witness, tiebreaker") {
		t.Errorf("ParseTopology(three): %v", err)
	}
}

// A two-node report lists the kinds of its topology: no split in a
// tie-breaker's, witness-held in a witness's; a five-node report as
// before.
func TestTopologySummary(t *testing.T) {
	tie := &SoakReport{Topology: TopologyTieBreaker, FaultKinds: schedule.Options{TieBreaker: true}.Kinds(), ViolationKinds: checker.Options{}.Kinds()}
	if s := tie.Summary(); strings.Contains(s, "split") || strings.Contains(s, "quorum-kill") || strings.Contains(s, "witness-held") || !strings.Contains(s, "cut 0") {
		t.Errorf("tie-breaker summary:\n%s", s)
	}
	w := &SoakReport{Topology: TopologyWitness, FaultKinds: schedule.Options{Nodes: 3}.Kinds(), ViolationKinds: checker.Options{Witnesses: []string{"n3"}}.Kinds(),
		Violations: []checker.Violation{{Kind: checker.ViolationWitness}}}
	if s := w.Summary(); !strings.Contains(s, "witness-held 1") || !strings.Contains(s, "split 0") {
		t.Errorf("witness summary:\n%s", s)
	}
	five := &SoakReport{FaultKinds: schedule.Options{}.Kinds(), ViolationKinds: checker.Options{}.Kinds()}
	if s := five.Summary(); strings.Contains(s, "witness") || !strings.Contains(s, "black-hole 0)") || !strings.Contains(s, "cut 0)") {
		t.Errorf("five-node summary:\n%s", s)
	}
}
