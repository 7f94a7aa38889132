package membership

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Member is one member of the view.
type Member struct {
	Name string
	Addr netip.AddrPort
	// Meta is what the member says about itself; MetaErr is set instead
	// when it could not be decoded (another version): such a member is
	// never eligible.
	Meta    Meta
	MetaErr error
	// Self is this node.
	Self bool
	// Alive: the member was heard within the failure timeout, by this
	// node or by a member that reported it in its heartbeat (see
	// hearing.go); always true for Self. Members that are not alive are
	// in the view only to be reported; they count for nothing.
	Alive bool
	// Direct: this node itself heard the member within the failure
	// timeout. An alive member that is not Direct is unreachable from
	// here (a non-transitive partition), not failed.
	Direct bool
	// Fresh: a heartbeat arrived within half the failure timeout. Quorum
	// counts fresh members only: when a partition cuts a minority off, it
	// sees the others go stale before any of them is declared failed, so
	// it loses quorum before it could take a single orphan, however the
	// heartbeats of the others happened to be spread.
	Fresh bool
	// Since is when this node first saw the member in the group.
	Since time.Time
	// LastHeard is when its last heartbeat arrived.
	LastHeard time.Time
	// Process tells the member's daemon processes apart: it changes when
	// the member restarts, never while it runs (reloads included). It is 0
	// until a heartbeat has come.
	Process uint64
	// MetaVersion counts the member process's metadata changes: a higher
	// one (of the same Process) is a newer claim. 0 until a heartbeat has
	// come.
	MetaVersion uint64
}

// View is a snapshot of the group as this node sees it.
type View struct {
	Self    string
	Members []Member // in name order, Self included
	// Recovering: this node has just resumed from a stall (it did not run
	// for longer than the failure detector allows) and has not yet heard
	// again from every member it knew. Until then the view is the one from
	// before the stall: do not act on it (see localHealth).
	Recovering bool
}

// Alive returns the members that are alive, Self included.
func (v View) Alive() []Member {
	var out []Member
	for _, m := range v.Members {
		if m.Alive {
			out = append(out, m)
		}
	}
	return out
}

// View returns the group as this node sees it now.
func (g *Group) View() View {
	now := time.Now()
	self := Member{Name: g.cfg.Name, Self: true, Alive: true, Fresh: true, Direct: true, LastHeard: now}
	self.Addr = g.self
	g.mu.Lock()
	defer g.mu.Unlock()
	g.checkStallLocked(now, false)
	timeout := g.timeoutLocked()
	self.Process, self.MetaVersion = g.version.start, g.version.counter
	v := View{Self: g.cfg.Name, Members: make([]Member, 0, len(g.members)+1), Recovering: g.recoveringLocked(now)}
	self.MetaErr = self.Meta.UnmarshalBinary(g.meta)
	v.Members = append(v.Members, self)
	for name, p := range g.members {
		m := Member{Name: name, Addr: p.addr, Since: p.since, LastHeard: p.lastHeard, Process: p.version.start, MetaVersion: p.version.counter}
		switch {
		case p.process != 0 && p.process != p.version.start:
			m.Process, m.MetaErr = p.process, errMetaPending
		default:
			m.MetaErr = m.Meta.UnmarshalBinary(p.meta)
		}
		m.Alive = !p.heardAny.IsZero() && now.Sub(p.heardAny) < timeout
		m.Fresh = !p.heardAny.IsZero() && now.Sub(p.heardAny) < timeout/2
		m.Direct = !p.lastHeard.IsZero() && now.Sub(p.lastHeard) < timeout
		v.Members = append(v.Members, m)
	}
	slices.SortFunc(v.Members, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return v
}
