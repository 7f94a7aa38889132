package membership

import (
	"bytes"
	"time"

	"github.com/hashicorp/memberlist"
)

// heartbeatLoop tells every member we are alive, and notices members that
// stopped doing so at the moment their failure timeout runs out, not at the
// next heartbeat: detection time is the timeout, whatever the interval.
func (g *Group) heartbeatLoop() {
	defer g.wg.Done()
	send := time.NewTicker(g.cfg.Timing.HeartbeatInterval)
	defer send.Stop()
	check := time.NewTimer(g.cfg.Timing.FailureTimeout)
	defer check.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-g.beat:
			g.sendHeartbeats()
		case <-send.C:
			g.sendHeartbeats()
		case <-check.C:
		}
		g.mu.Lock()
		g.checkStallLocked(time.Now(), true)
		g.mu.Unlock()
		next := g.checkLiveness(time.Now())
		if !check.Stop() {
			select {
			case <-check.C:
			default:
			}
		}
		check.Reset(next)
	}
}

// sendHeartbeats sends this member's heartbeat, with its metadata, to every
// other member.
func (g *Group) sendHeartbeats() {
	g.mu.Lock()
	msg := encodeHeartbeat(g.cfg.Name, g.version, g.meta)
	g.mu.Unlock()
	// The roster, not ml.Members(): memberlist mutates the nodes that
	// Members returns pointers to, which races with reading them.
	for _, to := range g.roster() {
		// Best effort by design: a lost heartbeat is what the failure
		// timeout allows for.
		_ = g.ml.SendToAddress(to, msg)
	}
}

func (g *Group) numMembers() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.members)
}

// roster returns the other members' gossip addresses.
func (g *Group) roster() []memberlist.Address {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]memberlist.Address, 0, len(g.members))
	for name, p := range g.members {
		out = append(out, memberlist.Address{Addr: p.addr.String(), Name: name})
	}
	return out
}

// checkLiveness signals a change when a member's liveness differs from what
// was last signalled, and returns how long until the next member could
// time out.
func (g *Group) checkLiveness(now time.Time) time.Duration {
	g.mu.Lock()
	g.checkStallLocked(now, false)
	timeout := g.timeoutLocked()
	next := timeout / 2
	changed := false
	for name, p := range g.members {
		silent := now.Sub(p.lastHeard)
		heard := !p.lastHeard.IsZero()
		alive := heard && silent < timeout
		fresh := heard && silent < timeout/2
		switch {
		case fresh:
			next = min(next, timeout/2-silent)
		case alive:
			next = min(next, timeout-silent)
		}
		if fresh != p.fresh {
			p.fresh = fresh
			changed = true
		}
		if alive != p.alive {
			p.alive = alive
			changed = true
			if !alive {
				g.log.Warn("member silent: out of the view", "member", name, "silent", silent.Round(time.Millisecond))
			}
		}
		if p.gone && !alive {
			delete(g.members, name)
		}
	}
	if len(g.awaiting) > 0 {
		if now.Before(g.recoverBy) {
			next = min(next, g.recoverBy.Sub(now))
		} else {
			g.awaiting = nil // recovered by timeout
			changed = true
		}
	}
	g.mu.Unlock()
	if changed {
		signal(g.changed)
	}
	return max(next+time.Millisecond, time.Millisecond)
}

// heard records a heartbeat.
func (g *Group) heard(name string, v metaVersion, meta []byte) {
	g.mu.Lock()
	p, ok := g.members[name]
	wake := false
	if ok {
		p.lastHeard = time.Now()
		wake = !p.alive || !p.fresh
		if g.awaiting[name] {
			delete(g.awaiting, name)
			wake = wake || len(g.awaiting) == 0 // recovered from a stall
		}
		p.alive, p.fresh = true, true
		if v.newer(p.version) {
			wake = wake || !bytes.Equal(p.meta, meta)
			p.meta, p.version = meta, v
		}
	}
	g.mu.Unlock()
	if wake {
		signal(g.changed)
	}
}

// timeoutLocked is the failure timeout this node applies now: the
// configured one, longer while this node itself runs late.
func (g *Group) timeoutLocked() time.Duration {
	return g.cfg.Timing.FailureTimeout + g.health.tolerance()
}

// checkStallLocked notices a stall of this node: the heartbeat loop (loop
// true) or a reader of the view found that the loop had not run for
// longer than the stall threshold. The members' silence over the stall is
// forgiven (it says nothing about them), and the view is marked
// recovering until each member known before has been heard again, or a
// failure timeout has passed (then those not heard are failed, as they
// would have been).
func (g *Group) checkStallLocked(now time.Time, loop bool) {
	var stalled time.Duration
	if loop {
		stalled = g.health.ran(now)
	} else if stalled = g.health.stalledAt(now); stalled > 0 {
		g.health.last = now
	}
	if stalled == 0 {
		return
	}
	g.awaiting = map[string]bool{}
	for name, p := range g.members {
		if p.lastHeard.IsZero() {
			continue
		}
		if p.lastHeard = p.lastHeard.Add(stalled); p.lastHeard.After(now) {
			p.lastHeard = now
		}
		if now.Sub(p.lastHeard) < g.cfg.Timing.FailureTimeout {
			g.awaiting[name] = true
		}
	}
	g.recoverBy = now.Add(g.cfg.Timing.FailureTimeout)
	g.log.Warn("this node did not run for a while (stalled); the members' silence meanwhile is forgiven, and nothing is decided until they are heard again",
		"stalled", stalled.Round(time.Millisecond), "awaiting", len(g.awaiting))
}

// recoveringLocked reports whether the view is still the one from before a
// stall (see checkStallLocked).
func (g *Group) recoveringLocked(now time.Time) bool {
	return len(g.awaiting) > 0 && now.Before(g.recoverBy)
}
