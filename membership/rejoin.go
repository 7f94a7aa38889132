package membership

import (
	"net/netip"
	"slices"
	"time"
)

// lostPeer is a member that failed, kept so the group can join it again
// when it comes back (a healed partition, a restarted node).
type lostPeer struct {
	addr netip.AddrPort
	at   time.Time
}

// forgetLost is how long a failed member is joined again before the group
// gives up on it (seeds are joined again forever).
const forgetLost = 24 * time.Hour

// Rejoin makes the group join its missing seeds and lost members now
// rather than at the next RejoinInterval. Call it when they may have just
// become reachable again, for example when a link came back up: memberlist
// drops the members it cannot reach while the link is down, and until they
// are joined again this node neither hears them nor sees what they hold.
// It never blocks.
func (g *Group) Rejoin() { signal(g.rejoin) }

// rejoinLoop joins seeds and lost members that are not in the roster: the
// only way two halves of a healed partition find each other again.
func (g *Group) rejoinLoop() {
	defer g.wg.Done()
	t := time.NewTicker(g.cfg.Timing.RejoinInterval)
	defer t.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-g.stop:
				return
			case <-t.C:
			case <-g.rejoin:
			}
		}
		for _, addr := range g.missing() {
			if !g.startJoin(addr) {
				continue // still trying from an earlier round
			}
			go func() {
				defer g.endJoin(addr)
				if _, err := g.ml.Join([]string{addr}); err == nil {
					g.log.Info("joined", "peer", addr)
				} else {
					g.log.Debug("peer unreachable; will try again", "peer", addr, "err", err)
				}
			}()
		}
	}
}

// startJoin marks a join to addr as under way; false if one already is.
// Joins run on their own: one that waits for a TCP timeout (a black-holed
// peer) must not hold back the others, nor the next round.
func (g *Group) startJoin(addr string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.joining[addr] || g.closed {
		return false
	}
	g.joining[addr] = true
	return true
}

// endJoin marks the join to addr as done. Joins are not waited for on
// Shutdown: one may hang in a TCP connect for memberlist's TCP timeout,
// and it can do no harm once memberlist is shut down.
func (g *Group) endJoin(addr string) {
	g.mu.Lock()
	delete(g.joining, addr)
	g.mu.Unlock()
}

// seeds returns the seed addresses other than this node's own.
func (g *Group) seeds() []string {
	self := g.self
	var out []string
	for _, s := range g.cfg.Seeds {
		if ap, err := netip.ParseAddrPort(s); err == nil && ap == self {
			continue
		}
		out = append(out, s)
	}
	return out
}

// missing returns the seeds and lost members that are not in the roster.
func (g *Group) missing() []string {
	now := time.Now()
	g.mu.Lock()
	present := map[string]bool{}
	for _, p := range g.members {
		if !p.gone {
			present[p.addr.String()] = true
		}
	}
	var out []string
	for name, l := range g.lost {
		if now.Sub(l.at) > forgetLost {
			delete(g.lost, name)
			continue
		}
		if !present[l.addr.String()] {
			out = append(out, l.addr.String())
			present[l.addr.String()] = true
		}
	}
	g.mu.Unlock()
	for _, s := range g.seeds() {
		if !present[s] {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
