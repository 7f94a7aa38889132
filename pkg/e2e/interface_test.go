package e2e

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

// An address removed by hand (`ip addr del`) is put back by its owner, and
// announced again so that the client is not left without it.
func TestAddressRemovedByHandIsRestored(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3})
	h := start(t, c)
	v := c.VIPs[1]
	owner := c.Node(cluster.Owner(h, v))
	p := ping(t, c, v)
	if err := owner.Host.DelAddr(context.Background(), netip.PrefixFrom(v, 32)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ok, _ := owner.Host.HasAddr(context.Background(), v); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the owner did not put the address back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	reachable(t, p, 5*time.Second)
	r := p.Stop()
	t.Logf("address removed by hand: largest gap %v", r.MaxGap.Round(time.Millisecond))
	stable(t, c, time.Second, h)
}

// A node whose link flaps (down for a few seconds, then up) loses its VIP
// to a survivor while it is cut off, and the group settles with every VIP
// held exactly once when it is back.
func TestLinkFlap(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3})
	h := start(t, c)
	n := c.Nodes[0]
	v := heldBy(h, n.Name)[0]
	p := ping(t, c, v)
	if err := c.LinkDown(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	reachable(t, p, 10*time.Second)
	converge(t, c, 10*time.Second, others(c.Nodes, n)...)
	time.Sleep(3 * time.Second)
	if err := c.LinkUp(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	// Back: the node still had its address on the downed link, and it was
	// cut off without quorum. The contest is settled and the group
	// rebalanced without a second owner left behind.
	h = converge(t, c, 30*time.Second, c.Nodes...)
	stable(t, c, 2*time.Second, h)
	reachable(t, p, 5*time.Second)
	r := p.Stop()
	t.Logf("link flap of %s: largest gap seen by the client of %s: %v", n.Name, v, r.MaxGap.Round(time.Millisecond))
}
