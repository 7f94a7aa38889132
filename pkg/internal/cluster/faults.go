package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// The faults of package lab, on a node's daemon or link.

// Pause stops node n's daemon (SIGSTOP to its process group) as a stalled
// VM would be; its host's kernel still answers for the addresses it has.
func (c *Cluster) Pause(n *Node) error {
	p := n.Process()
	if p == nil {
		return fmt.Errorf("cluster: pause %s: no daemon started", n.Name)
	}
	return p.Pause()
}

// Resume continues node n's paused daemon (SIGCONT).
func (c *Cluster) Resume(n *Node) error {
	p := n.Process()
	if p == nil {
		return fmt.Errorf("cluster: resume %s: no daemon started", n.Name)
	}
	return p.Resume()
}

// LimitCPU caps node n's daemon at percent of one CPU until the limit is
// removed (see lab.Process.LimitCPU); the lab's Close removes it too.
func (c *Cluster) LimitCPU(n *Node, percent float64) (*lab.CPULimit, error) {
	p := n.Process()
	if p == nil {
		return nil, fmt.Errorf("cluster: limit the CPU of %s: no daemon started", n.Name)
	}
	return p.LimitCPU(percent)
}

// Flap makes node n's switch port flap: down half of period, up the other
// half, for d (see lab.Host.Flap). The node sees its carrier come and go;
// Holders still counts it.
func (c *Cluster) Flap(ctx context.Context, n *Node, period, d time.Duration) (*lab.Flapping, error) {
	return n.Host.Flap(ctx, period, d)
}

// DropRandom drops percent of the IP packets node n sends or receives, at
// random; n.Host.Heal ends it.
func (c *Cluster) DropRandom(ctx context.Context, n *Node, percent int) error {
	return n.Host.DropRandom(ctx, percent)
}

// DropRandomInbound drops percent of the IP packets node n receives (see
// lab.Host.DropRandomInbound); Heal ends it.
func (c *Cluster) DropRandomInbound(ctx context.Context, n *Node, percent int) error {
	return n.Host.DropRandomInbound(ctx, percent)
}

// CutPath cuts the path between nodes a and b (no IP between them, ARP
// flows, both reach everybody else); HealPath restores it.
func (c *Cluster) CutPath(ctx context.Context, a, b *Node) error {
	return c.Lab.CutPath(ctx, a.Host, b.Host)
}

// HealPath restores the path CutPath cut.
func (c *Cluster) HealPath(ctx context.Context, a, b *Node) error {
	return c.Lab.HealPath(ctx, a.Host, b.Host)
}
