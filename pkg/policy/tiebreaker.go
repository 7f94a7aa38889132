package policy

import (
	"hash/fnv"

	"github.com/wackamole/wackamole/membership"
)

// The tie-breaker of a two-voter group. Two nodes with majority quorum
// cannot fail over at all (the survivor has 1 of 2); with quorum = 1 a
// partition between them gives every VIP to both. A tie-breaker is an
// address both can reach, usually the gateway: when the two lose contact,
// each probes it, and only a side that reaches it acts as if it had
// quorum. That resolves:
//
//   - a crash, or a dead link, of one node: the survivor reaches the
//     gateway, the other does not exist or cannot;
//   - a cut that leaves one node without the gateway (its cable, its
//     switch port, a switch of a stack): only the other side reaches it.
//
// When both sides reach it, the cut is between the two nodes themselves
// (a firewall rule, a broken link between two switches that both lead to
// the gateway). Each side then also sees the other's host alive on the
// link (it answers ARP or ICMP while its heartbeats do not come): then
// every VIP stays with the node that wins its rendezvous hash, the same
// answer on both sides, so that each VIP has exactly one holder. A side
// leaves a VIP to the other only while the other's host answers for it
// (TieBreakerProbe.PeerServes): a live host whose daemon is dead, stopped
// or has handed its VIPs over serves none of them, and they must not go
// dark.
//
// A side that is damped (its port or its checks flap) never acts on the
// tie-breaker: the stable side does.
//
// What it cannot resolve: each side reaches a tie-breaker but not the
// other node at all (two gateways, one per side; or a router between the
// halves that answers both): each then thinks the other dead and serves
// every VIP, until the partition heals. corosync's two_node mode has the
// same limit without fencing; a witness (a third voter) has none.

// tieBreak applies the tie-breaker to the decision's quorum.
func (m *Memory) tieBreak(c Config, l Local, view membership.View, d *Decision) {
	if !c.TieBreaker || c.Voters != 2 {
		return
	}
	for _, mb := range view.Members {
		if !mb.Self && mb.MetaErr == nil && mb.Meta.Fingerprint == c.Fingerprint {
			m.otherVoter = mb.Name
		}
	}
	if d.Quorum.Have >= d.Quorum.Need || d.Quorum.Have != 1 || !l.TieBreaker.Reached {
		return
	}
	if m.damped {
		// A flapping side reaches the tie-breaker in every up period of
		// its port and loses the other in every down period: it would
		// take the VIPs back each time while the other, stable side
		// serves them. Only a stable side stands in for a majority.
		return
	}
	d.Quorum.TieBreaker = true
	if !l.TieBreaker.PeerAlive || m.otherVoter == "" {
		return // the other is gone: this side serves everything
	}
	d.Yield = map[string]bool{}
	for _, v := range c.VIPs {
		if l.TieBreaker.PeerServes[v.Name] && rendezvous(v.Name, m.otherVoter) > rendezvous(v.Name, c.Self) {
			d.Yield[v.Name] = true
		}
	}
}

// rendezvous is the score of a VIP on a node; the higher wins.
func rendezvous(vip, node string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(vip))
	h.Write([]byte{0})
	h.Write([]byte(node))
	return h.Sum64()
}
