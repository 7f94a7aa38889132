package e2e

import (
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

// Three nodes, three VIPs: each node ends up with exactly one, and the
// client reaches every VIP.
func TestStartSpreadsOneVIPPerNode(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3})
	if err := c.StartAll(); err != nil {
		t.Fatal(err)
	}
	ctx := within(t, 30*time.Second)
	h, err := c.WaitConverged(ctx, cluster.Names(c.Nodes...))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("holders: %v", h)
	for _, v := range c.VIPs {
		p, err := c.Lab.Client.Ping(ctx, v, 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitReplies(ctx, 5); err != nil {
			t.Fatalf("client cannot reach %s: %v", v, err)
		}
		p.Stop()
	}
}
