package membership

import (
	"net/netip"
	"slices"
	"time"

	"github.com/hashicorp/memberlist"
)

// events is the group as memberlist's EventDelegate. memberlist calls it
// with its node lock held: it only updates the roster and signals.
type events Group

func (e *events) NotifyJoin(n *memberlist.Node) {
	g := (*Group)(e)
	if n.Name == g.cfg.Name {
		return
	}
	g.mu.Lock()
	p := &peer{addr: nodeAddr(n), meta: slices.Clone(n.Meta), since: time.Now()}
	if old, ok := g.members[n.Name]; ok {
		p.since, p.lastHeard, p.alive, p.fresh = old.since, old.lastHeard, old.alive, old.fresh
		if old.version != (metaVersion{}) {
			p.meta, p.version = old.meta, old.version // heartbeats know better
		}
	}
	g.members[n.Name] = p
	delete(g.lost, n.Name)
	g.mu.Unlock()
	g.log.Info("member joined", "member", n.Name, "addr", nodeAddr(n))
	signal(g.changed)
}

func (e *events) NotifyLeave(n *memberlist.Node) {
	g := (*Group)(e)
	if n.Name == g.cfg.Name {
		return
	}
	g.mu.Lock()
	kept := false
	if p, ok := g.members[n.Name]; ok && !p.lastHeard.IsZero() && time.Since(p.lastHeard) < g.cfg.Timing.FailureTimeout {
		p.gone, kept = true, true
	} else {
		delete(g.members, n.Name)
	}
	if kept || n.State == memberlist.StateDead {
		g.lost[n.Name] = lostPeer{addr: nodeAddr(n), at: time.Now()}
	}
	g.mu.Unlock()
	how := "left"
	if n.State == memberlist.StateDead {
		how = "failed"
	}
	if kept {
		g.log.Info("gossip says member "+how+", but it is still heard: keeping it while its heartbeats last", "member", n.Name)
		return
	}
	g.log.Info("member "+how, "member", n.Name, "addr", nodeAddr(n))
	signal(g.changed)
}

func (e *events) NotifyUpdate(n *memberlist.Node) {
	g := (*Group)(e)
	if n.Name == g.cfg.Name {
		return
	}
	g.mu.Lock()
	if p, ok := g.members[n.Name]; ok {
		if p.version == (metaVersion{}) {
			p.meta = slices.Clone(n.Meta) // heartbeats know better once they came
		}
		p.addr = nodeAddr(n)
	}
	g.mu.Unlock()
	signal(g.changed)
}

func nodeAddr(n *memberlist.Node) netip.AddrPort {
	a, _ := netip.AddrFromSlice(n.Addr)
	return netip.AddrPortFrom(a.Unmap(), n.Port)
}
