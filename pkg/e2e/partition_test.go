package e2e

import (
	"context"
	"crypto/rand"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

// watchAcquisitions polls the holders until stop is closed and reports
// every VIP that one of nodes acquired (held at some poll but not at the
// first).
func watchAcquisitions(t *testing.T, c *cluster.Cluster, nodes []string, stop <-chan struct{}) <-chan []string {
	out := make(chan []string, 1)
	go func() {
		var gained []string
		first, err := c.Holders(context.Background())
		if err != nil {
			t.Error(err)
		}
		for {
			select {
			case <-stop:
				out <- gained
				return
			case <-time.After(20 * time.Millisecond):
			}
			h, err := c.Holders(context.Background())
			if err != nil {
				continue
			}
			for v, hs := range h {
				for _, n := range hs {
					if slices.Contains(nodes, n) && !slices.Contains(first[v], n) {
						gained = append(gained, n+" took "+v.String())
					}
				}
			}
		}
	}()
	return out
}

// One node loses the gossip of the others (its ARP and ICMP still flow:
// the split brain that made the old wackamole infamous). The isolated node,
// without quorum, takes nothing and gives its VIP up as soon as the
// majority announces it; after healing, the group merges by itself and no
// VIP is held twice.
func TestPartitionMinorityTakesNothing(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3})
	h := start(t, c)
	lone := c.Nodes[2]
	v := heldBy(h, lone.Name)[0]
	p := ping(t, c, v)

	stop := make(chan struct{})
	gained := watchAcquisitions(t, c, []string{lone.Name}, stop)
	if err := lone.Host.Isolate(context.Background(), cluster.GossipPort, cluster.HeartbeatPort); err != nil {
		t.Fatal(err)
	}
	majority := others(c.Nodes, lone)
	h = converge(t, c, 20*time.Second, majority...)
	if got := heldBy(h, lone.Name); len(got) != 0 {
		t.Fatalf("the isolated node still holds %v", got)
	}
	reachable(t, p, 10*time.Second)
	stable(t, c, 2*time.Second, h)
	close(stop)
	if g := <-gained; len(g) > 0 {
		t.Fatalf("the minority acquired: %v", g)
	}
	r := p.Snapshot()
	t.Logf("client-visible outage of %s during the partition: %v", v, r.MaxGap.Round(time.Millisecond))

	if err := lone.Host.Heal(context.Background()); err != nil {
		t.Fatal(err)
	}
	h = converge(t, c, 30*time.Second, c.Nodes...)
	stable(t, c, 2*time.Second, h)
}

// Five nodes split 2 against 3: the two never acquire an orphan, the three
// take everything, and the group heals by itself.
func TestPartitionTwoAgainstThree(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 5})
	start(t, c)
	small, big := c.Nodes[:2], c.Nodes[2:]
	addrs := func(nodes []*cluster.Node) []netip.Addr {
		out := []netip.Addr{c.Lab.Client.Addr}
		for _, n := range nodes {
			out = append(out, n.Host.Addr)
		}
		return out
	}
	stop := make(chan struct{})
	gained := watchAcquisitions(t, c, cluster.Names(small...), stop)
	for _, side := range [][]*cluster.Node{small, big} {
		for _, n := range side {
			if err := n.Host.IsolateAll(context.Background(), addrs(side)...); err != nil {
				t.Fatal(err)
			}
		}
	}
	h := converge(t, c, 20*time.Second, big...)
	stable(t, c, 3*time.Second, h)
	close(stop)
	if g := <-gained; len(g) > 0 {
		t.Fatalf("the minority acquired: %v", g)
	}
	for _, n := range c.Nodes {
		if err := n.Host.Heal(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	h = converge(t, c, 30*time.Second, c.Nodes...)
	stable(t, c, 2*time.Second, h)
}

// A node with another key can neither join the group nor take a VIP.
func TestWrongKeyCannotJoin(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 4, VIPs: 3})
	stranger := c.Nodes[3]
	key := make([]byte, 32)
	rand.Read(key)
	if err := c.SetKey(stranger, key); err != nil {
		t.Fatal(err)
	}
	if err := c.StartAll(); err != nil {
		t.Fatal(err)
	}
	members := others(c.Nodes, stranger)
	h := converge(t, c, 30*time.Second, members...)
	stable(t, c, 3*time.Second, h)
	if got := heldBy(h, stranger.Name); len(got) > 0 {
		t.Fatalf("the stranger holds %v", got)
	}
}
