package membership

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/wackamole/wackamole/membership/heartbeat"
)

// beats is the group as the heartbeat transport's Handler. Its methods run
// on the transport's receive goroutine, at realtime priority when so
// configured: they only update the roster under the group's lock and
// signal, and send a metadata request at most.
type beats Group

// errMetaPending says a member's heartbeats come from a process whose
// metadata has not arrived yet: it restarted, and what this node has is
// its previous process's. Such a member is never eligible and claims
// nothing until the new metadata comes (a round trip).
var errMetaPending = errors.New("metadata of the member's new process not received yet")

func (h *beats) OnBeat(from netip.AddrPort, b *heartbeat.Beat, at time.Time) {
	g := (*Group)(h)
	g.mu.Lock()
	name, ok := g.ids[b.Sender]
	p := g.members[name]
	if !ok || p == nil {
		g.mu.Unlock()
		return // not in the roster (yet): memberlist's join brings it
	}
	wake := !p.alive || !p.fresh
	// Beats queued while this node stalled are read in a burst after it,
	// oldest first: one must not take back what a later one, or the
	// stall's forgiveness, established.
	if at.After(p.lastHeard) {
		p.lastHeard = at
	}
	if at.After(p.heardAny) {
		p.heardAny = at
	}
	p.alive, p.fresh = true, true
	wake = g.vouchLocked(p, b, at, g.tr.ID()) || wake
	if p.process != b.Process {
		p.process = b.Process
		wake = true // a restart: its metadata is pending
	}
	v := metaVersion{start: b.Process, counter: b.MetaVersion}
	if v.newer(p.advertised) {
		p.advertised = v
	}
	wake = g.heardAgainLocked(name, p) || wake
	// A version not asked for yet is asked for at once: a hand-over or a
	// contest may wait on it, and the next beat is up to an interval
	// away. The same version again only after a while: the request or its
	// reply was lost.
	ask := v.newer(p.version) && (v.newer(p.askedFor) || at.Sub(p.asked) >= min(g.cfg.Timing.HeartbeatInterval, 100*time.Millisecond))
	if ask {
		p.asked, p.askedFor = at, v
	}
	g.mu.Unlock()
	if ask {
		_ = g.tr.SendMetaRequest(from, b.MetaVersion) // asked again at the next beat if lost
	}
	if wake {
		signal(g.changed)
	}
}

func (h *beats) OnMetaRequest(from netip.AddrPort, r *heartbeat.MetaRequest, at time.Time) (uint64, []byte, bool) {
	g := (*Group)(h)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.ids[r.Sender]; !ok {
		return 0, nil, false // answer members only
	}
	// g.meta is replaced, never modified: the transport may copy it
	// after the lock is released.
	return g.version.counter, g.meta, true
}

func (h *beats) OnMetaReply(from netip.AddrPort, r *heartbeat.MetaReply, at time.Time) {
	g := (*Group)(h)
	g.mu.Lock()
	name, ok := g.ids[r.Sender]
	p := g.members[name]
	changed := false
	if ok && p != nil {
		if v := (metaVersion{start: r.Process, counter: r.Version}); v.newer(p.version) {
			p.meta, p.version = slices.Clone(r.Meta), v
			changed = true
			g.heardAgainLocked(name, p)
		}
	}
	g.mu.Unlock()
	if changed {
		signal(g.changed)
	}
}

// dropLocked removes a member from the roster.
func (g *Group) dropLocked(name string) {
	if p, ok := g.members[name]; ok {
		delete(g.ids, p.id)
		g.tr.Forget(p.id)
	}
	delete(g.members, name)
}

// heardAgainLocked ends this node's wait for a member after a stall (see
// checkStallLocked) once the member is heard again and this node holds
// the metadata its beats advertise. It reports whether that ended the
// recovery.
//
// Both halves matter. A beat that arrived during the stall and was read
// after it says nothing of the member now. And the beats come first: the
// member's metadata (what it took over meanwhile) comes a round trip
// later, and a recovery that ended before it saw a group in which nobody
// else held this node's VIPs, announced them as the only holder, and
// pulled the clients away from the member that had taken them over, which
// then defended them (TestStalledOwnerResumes).
func (g *Group) heardAgainLocked(name string, p *peer) (recovered bool) {
	if !g.awaiting[name] || !p.lastHeard.After(g.stalledAt) || p.advertised.newer(p.version) {
		return false
	}
	delete(g.awaiting, name)
	return len(g.awaiting) == 0
}
