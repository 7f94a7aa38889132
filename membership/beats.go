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
	p.lastHeard = at
	if at.After(p.heardAny) {
		p.heardAny = at
	}
	p.alive, p.fresh = true, true
	if g.awaiting[name] {
		delete(g.awaiting, name)
		wake = wake || len(g.awaiting) == 0 // recovered from a stall
	}
	wake = g.vouchLocked(p, b, at, g.tr.ID()) || wake
	if p.process != b.Process {
		p.process = b.Process
		wake = true // a restart: its metadata is pending
	}
	v := metaVersion{start: b.Process, counter: b.MetaVersion}
	ask := v.newer(p.version) && at.Sub(p.asked) >= min(g.cfg.Timing.HeartbeatInterval, 100*time.Millisecond)
	if ask {
		p.asked = at
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
