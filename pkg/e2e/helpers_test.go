package e2e

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// converge waits until the VIPs are spread over live, one holder each.
func converge(t *testing.T, c *cluster.Cluster, d time.Duration, live ...*cluster.Node) map[netip.Addr][]string {
	t.Helper()
	h, err := c.WaitConverged(within(t, d), cluster.Names(live...))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// stable asserts that the ownership stays exactly as it is, with no VIP
// held twice, for d: the "never two owners after convergence" invariant.
func stable(t *testing.T, c *cluster.Cluster, d time.Duration, want map[netip.Addr][]string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		h, err := c.Holders(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if dup := cluster.Duplicates(h); len(dup) > 0 {
			t.Fatalf("two owners after convergence: %v", dup)
		}
		for v, hs := range want {
			if !slices.Equal(h[v], hs) {
				t.Fatalf("ownership changed after convergence: %s held by %v, was %v", v, h[v], hs)
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// ping starts the client pinging v every 10 ms and waits until it answers.
func ping(t *testing.T, c *cluster.Cluster, v netip.Addr) *lab.Prober {
	t.Helper()
	ctx := within(t, 2*time.Minute)
	p, err := c.Lab.Client.Ping(ctx, v, lab.DefaultInterval)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	if err := p.WaitReplies(within(t, 10*time.Second), 5); err != nil {
		t.Fatalf("client cannot reach %s: %v", v, err)
	}
	return p
}

// reachable asserts that the client gets answers from v again.
func reachable(t *testing.T, p *lab.Prober, d time.Duration) {
	t.Helper()
	if err := p.WaitReplies(within(t, d), 10); err != nil {
		t.Fatalf("the client does not reach the VIP again: %v", err)
	}
}

// heldBy returns the VIPs node holds.
func heldBy(h map[netip.Addr][]string, node string) []netip.Addr {
	var out []netip.Addr
	for v, hs := range h {
		if slices.Contains(hs, node) {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

func others(all []*cluster.Node, not ...*cluster.Node) []*cluster.Node {
	var out []*cluster.Node
	for _, n := range all {
		if !slices.Contains(not, n) {
			out = append(out, n)
		}
	}
	return out
}

func start(t *testing.T, c *cluster.Cluster) map[netip.Addr][]string {
	t.Helper()
	if err := c.StartAll(); err != nil {
		t.Fatal(err)
	}
	return converge(t, c, 30*time.Second, c.Nodes...)
}
