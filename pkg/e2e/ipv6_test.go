package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

// A VIP with an IPv4 and an IPv6 address fails over as one: the client
// reaches the IPv6 address again and its neighbour entry (learned from the
// new owner's unsolicited neighbour advertisement) points at the new owner.
func TestIPv6VIPFailsOver(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3, IPv6: true})
	h := start(t, c)
	v4, v6 := c.VIPs[0], c.VIP6[0]
	victim := c.Node(cluster.Owner(h, v4))
	if ok, err := victim.Host.HasAddr(context.Background(), v6); err != nil || !ok {
		t.Fatalf("the owner of %s does not have %s too (%v)", v4, v6, err)
	}
	p := ping(t, c, v6)
	if mac, _, err := c.Lab.Client.Neigh(context.Background(), v6); err != nil || mac != victim.Host.MAC.String() {
		t.Fatalf("client neighbour for %s: %q (%v), want the owner's %s", v6, mac, err, victim.Host.MAC)
	}

	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	if err := c.LinkDown(context.Background(), victim); err != nil {
		t.Fatal(err)
	}
	reachable(t, p, 15*time.Second)
	r := p.Stop()
	t.Logf("IPv6 client-visible outage: %v (%d of %d lost)", r.MaxGap.Round(time.Millisecond), r.Lost(), r.Sent)
	h = converge(t, c, 15*time.Second, others(c.Nodes, victim)...)
	heir := c.Node(cluster.Owner(h, v4))
	if ok, err := heir.Host.HasAddr(context.Background(), v6); err != nil || !ok {
		t.Fatalf("the new owner %s of %s does not have %s (%v)", heir.Name, v4, v6, err)
	}
	mac, state, err := c.Lab.Client.Neigh(context.Background(), v6)
	if err != nil || mac != heir.Host.MAC.String() {
		t.Fatalf("client neighbour for %s: %q %s (%v), want the new owner %s's %s", v6, mac, state, err, heir.Name, heir.Host.MAC)
	}
}
