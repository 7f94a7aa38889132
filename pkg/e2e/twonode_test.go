package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

// Two web nodes and a witness form a group of three: a web node's crash
// fails over, a partition between the web nodes leaves every VIP on the
// side with the witness, and the witness never holds an address.
func TestWitness(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3, VIPs: 2})
	web1, web2, w := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	for _, n := range c.Nodes {
		extra := ""
		if n == w {
			extra = "witness = true"
		}
		if err := c.WriteConfig(n, extra); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.StartAll(); err != nil {
		t.Fatal(err)
	}
	h := converge(t, c, 30*time.Second, web1, web2)
	noWitness := func(h map[netip.Addr][]string) {
		t.Helper()
		if got := heldBy(h, w.Name); len(got) != 0 {
			t.Fatalf("the witness holds %v", got)
		}
	}
	noWitness(h)

	// A partition between the web nodes, the witness on web2's side:
	// web1 alone has 1 of 3 and gives its VIP up to web2.
	if err := web1.Host.IsolateAll(context.Background(), c.Lab.Client.Addr); err != nil {
		t.Fatal(err)
	}
	h = eventuallyHolders(t, c, 10*time.Second, "every VIP on web2 alone", func(h map[netip.Addr][]string) bool {
		return len(heldBy(h, web2.Name)) == 2 && len(heldBy(h, web1.Name)) == 0
	})
	noWitness(h)
	if err := web1.Host.Heal(context.Background()); err != nil {
		t.Fatal(err)
	}
	h = converge(t, c, 30*time.Second, web1, web2)
	noWitness(h)

	// A crash of a web node: the other takes its VIP.
	v := heldBy(h, web1.Name)[0]
	p := ping(t, c, v)
	if err := c.LinkDown(context.Background(), web1); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(web1); err != nil {
		t.Fatal(err)
	}
	h = converge(t, c, 10*time.Second, web2)
	noWitness(h)
	time.Sleep(200 * time.Millisecond)
	r := p.Stop()
	t.Logf("web1 crashed: %s moved to web2 after an outage of %v (%d probes lost)", v, r.MaxGap.Round(time.Millisecond), r.Lost())
	if r.MaxGap > 3*time.Second {
		t.Errorf("failover with a witness took %v", r.MaxGap)
	}
}

// Two web nodes with the client's address as their tie-breaker (the
// gateway of a real set-up): a crash fails over; a cut that leaves one
// side without the gateway leaves every VIP on the other; a cut between
// the two nodes only, both still reaching the gateway, ends with exactly
// one holder per VIP.
func TestTieBreaker(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 2, VIPs: 4})
	gw := c.Lab.Client.Addr
	for _, n := range c.Nodes {
		if err := c.WriteConfig(n, fmt.Sprintf("tie_breaker = [%q]", gw)); err != nil {
			t.Fatal(err)
		}
	}
	h := start(t, c)
	n1, n2 := c.Nodes[0], c.Nodes[1]

	t.Run("cut between the two", func(t *testing.T) {
		// IP between n1 and n2 dropped; both reach the client, and see
		// each other on the link (ARP flows).
		if err := n1.Host.IsolateAll(context.Background(), gw); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		h := mustHolders(t, c)
		if d := cluster.Duplicates(h); len(d) > 0 {
			t.Errorf("a VIP on both sides of the cut: %v", d)
		}
		for _, v := range c.VIPs {
			if len(h[v]) != 1 {
				t.Errorf("%s held by %v during the cut, want exactly one node", v, h[v])
			}
		}
		stableOwners(t, c, 3*time.Second)
		if err := n1.Host.Heal(context.Background()); err != nil {
			t.Fatal(err)
		}
		converge(t, c, 30*time.Second, n1, n2)
	})

	t.Run("one side without the gateway", func(t *testing.T) {
		// n1 hears nothing at all, ARP included, its link still up.
		if err := n1.Host.Silence(context.Background()); err != nil {
			t.Fatal(err)
		}
		eventuallyHolders(t, c, 10*time.Second, "every VIP on n2", func(h map[netip.Addr][]string) bool {
			return len(heldBy(h, n2.Name)) == len(c.VIPs)
		})
		// n1 takes nothing: it holds at most what it held before.
		if got := heldBy(mustHolders(t, c), n1.Name); len(got) > len(heldBy(h, n1.Name)) {
			t.Errorf("n1, without the gateway, took %v", got)
		}
		if err := n1.Host.Heal(context.Background()); err != nil {
			t.Fatal(err)
		}
		h = converge(t, c, 30*time.Second, n1, n2)
	})

	t.Run("crash", func(t *testing.T) {
		v := heldBy(h, n1.Name)[0]
		p := ping(t, c, v)
		if err := c.LinkDown(context.Background(), n1); err != nil {
			t.Fatal(err)
		}
		if err := c.Kill(n1); err != nil {
			t.Fatal(err)
		}
		converge(t, c, 10*time.Second, n2)
		time.Sleep(200 * time.Millisecond)
		r := p.Stop()
		t.Logf("n1 crashed: %s on n2 after an outage of %v (%d probes lost)", v, r.MaxGap.Round(time.Millisecond), r.Lost())
		if r.MaxGap > 4*time.Second {
			t.Errorf("failover with a tie-breaker took %v", r.MaxGap)
		}
	})
}

// An icmp check on the gateway moves the VIPs away from a node that can
// no longer reach it.
func TestICMPCheckOnTheGateway(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3})
	extra := fmt.Sprintf("[[check]]\nkind = \"icmp\"\naddress = %q\ninterval = \"500ms\"\ntimeout = \"400ms\"\nrise = 1\nfall = 2\n", c.Lab.Client.Addr)
	for _, n := range c.Nodes {
		if err := c.WriteConfig(n, extra); err != nil {
			t.Fatal(err)
		}
	}
	h := start(t, c)
	sick := c.Nodes[0]
	held := heldBy(h, sick.Name)
	// The gateway stops answering this node's pings (ICMP only: the
	// client still reaches its VIPs, the group still hears it).
	if _, err := sick.Host.Run(context.Background(), "nft", "add table inet wkicmp { chain out { type filter hook output priority 0; ip daddr "+c.Lab.Client.Addr.String()+" icmp type echo-request drop; }; }"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sick.Host.Run(context.Background(), "nft", "delete table inet wkicmp") })
	h = converge(t, c, 15*time.Second, c.Nodes[1], c.Nodes[2])
	if got := heldBy(h, sick.Name); len(got) != 0 {
		t.Fatalf("the node without its gateway still holds %v", got)
	}
	for _, v := range held {
		if len(h[v]) != 1 {
			t.Fatalf("%s held by %v", v, h[v])
		}
	}
}

// eventuallyHolders polls the holders until ok, or fails the test.
func eventuallyHolders(t *testing.T, c *cluster.Cluster, d time.Duration, what string, ok func(map[netip.Addr][]string) bool) map[netip.Addr][]string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		h := mustHolders(t, c)
		if ok(h) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; holders %v", what, d, h)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stableOwners asserts that no VIP changes holders for d.
func stableOwners(t *testing.T, c *cluster.Cluster, d time.Duration) {
	t.Helper()
	want := mustHolders(t, c)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		h := mustHolders(t, c)
		for v, hs := range want {
			if !slices.Equal(h[v], hs) {
				t.Fatalf("%s moved from %v to %v", v, hs, h[v])
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}
