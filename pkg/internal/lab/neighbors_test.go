package lab

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// permanentNeighbors returns h's permanent IPv4 neighbour entries on eth0
// as "address mac".
func permanentNeighbors(t *testing.T, ctx context.Context, h *Host) []string {
	t.Helper()
	out, err := h.ip(ctx, "-4", "-j", "neigh", "show", "dev", hostIf, "nud", "permanent")
	if err != nil {
		t.Fatal(err)
	}
	var es []struct {
		Dst    string `json:"dst"`
		LLAddr string `json:"lladdr"`
	}
	if err := json.Unmarshal([]byte(out), &es); err != nil {
		t.Fatalf("%s: %v: %s", h, err, out)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Dst+" "+e.LLAddr)
	}
	slices.Sort(got)
	return got
}

func wantPermanent(h *Host, nodes []*Host) []string {
	var want []string
	for _, o := range nodes {
		if o != h {
			want = append(want, o.Addr.String()+" "+o.MAC.String())
		}
	}
	slices.Sort(want)
	return want
}

func TestStaticNeighbors(t *testing.T) {
	l := newTest(t, Options{Nodes: 3, StaticNeighbors: true})
	ctx := testContext(t)
	check := func(when string) {
		t.Helper()
		for _, h := range l.Nodes {
			if got, want := permanentNeighbors(t, ctx, h), wantPermanent(h, l.Nodes); !slices.Equal(got, want) {
				t.Errorf("%s: %s: permanent neighbours\n%s\nwant\n%s", when, h, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
		// The client's entries stay dynamic, and so do the nodes' of it.
		if got := permanentNeighbors(t, ctx, l.Client); len(got) != 0 {
			t.Errorf("%s: the client has permanent neighbours %v", when, got)
		}
	}
	check("after New")

	// The kernel flushes eth0's entries, permanent ones included, when
	// it goes down: LinkUp puts them back.
	n1 := l.Nodes[0]
	if err := n1.LinkDown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := permanentNeighbors(t, ctx, n1); len(got) != 0 {
		t.Logf("%s kept its permanent entries over link down: %v", n1, got)
	}
	if err := n1.LinkUp(ctx); err != nil {
		t.Fatal(err)
	}
	check("after LinkDown and LinkUp")

	if _, err := l.AddNode(ctx); err != nil {
		t.Fatal(err)
	}
	check("after AddNode")

	// Without the option nothing is added.
	plain := newTest(t, Options{Nodes: 2})
	for _, h := range plain.Nodes {
		if got := permanentNeighbors(t, ctx, h); len(got) != 0 {
			t.Errorf("%s without StaticNeighbors: permanent neighbours %v", h, got)
		}
	}
}
