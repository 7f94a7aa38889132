package membership

import (
	"net/netip"
	"slices"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/wackamole/wackamole/membership/heartbeat"
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
	p, ok := g.members[n.Name]
	if !ok {
		p = &peer{since: time.Now(), id: heartbeat.ID(n.Name)}
		g.members[n.Name] = p
		g.ids[p.id] = n.Name
	}
	p.gone = false
	g.updateLocked(p, n)
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
	if p, ok := g.members[n.Name]; ok && !p.heardAny.IsZero() && time.Since(p.heardAny) < g.cfg.Timing.FailureTimeout {
		p.gone, kept = true, true
	} else {
		g.dropLocked(n.Name)
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
	changed := false
	if p, ok := g.members[n.Name]; ok {
		changed = g.updateLocked(p, n)
	}
	g.mu.Unlock()
	// memberlist also calls this when only the member's incarnation
	// changed (it refuted a suspicion), and for metadata that the
	// heartbeats' pull brought already: most calls while a group starts.
	// Each would cost every member a round for nothing.
	if changed {
		signal(g.changed)
	}
}

// updateLocked takes what memberlist says of a member: its address, its
// heartbeat port and, when newer than what this node has, its metadata
// (see envelope.go). It reports whether any of them changed.
func (g *Group) updateLocked(p *peer, n *memberlist.Node) (changed bool) {
	addr := nodeAddr(n)
	changed = addr != p.addr
	p.addr = addr
	v, port, meta, err := decodeEnvelope(n.Meta)
	if err != nil {
		return changed
	}
	hb := netip.AddrPortFrom(p.addr.Addr(), port)
	changed = changed || hb != p.hbAddr
	p.hbAddr = hb
	if v.newer(p.version) {
		p.meta, p.version = slices.Clone(meta), v
		changed = true
		g.heardAgainLocked(n.Name, p)
	}
	return changed
}

func nodeAddr(n *memberlist.Node) netip.AddrPort {
	a, _ := netip.AddrFromSlice(n.Addr)
	return netip.AddrPortFrom(a.Unmap(), n.Port)
}
