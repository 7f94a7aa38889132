package agent

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wackamole/wackamole/pkg/health"
	"github.com/wackamole/wackamole/pkg/policy"
	"github.com/wackamole/wackamole/vip"
)

// Status is what the agent reports to the control socket and metrics: one
// glance answers who owns what.
type Status struct {
	Node         string    `json:"node"`
	State        string    `json:"state"`
	Healthy      bool      `json:"healthy"`
	Quorum       Quorum    `json:"quorum"`
	Fingerprint  string    `json:"fingerprint"`
	Timing       string    `json:"timing"`
	Started      time.Time `json:"started"`
	GossipHealth int       `json:"gossip_health"`
	// Damping is this node's flap damping.
	Damping DampingStatus  `json:"damping"`
	Members []MemberStatus `json:"members"`
	VIPs    []VIPStatus    `json:"vips"`
	// Checks are this node's health checks.
	Checks   []health.CheckStatus `json:"checks,omitempty"`
	Counters Counters             `json:"counters"`
	// Notes are conditions an operator should know about, in words.
	Notes []string `json:"notes,omitempty"`
}

// DampingStatus is a node's flap damping (see pkg/policy/damping).
type DampingStatus struct {
	// Damped: the node takes no VIPs until Until.
	Damped bool `json:"damped"`
	// Penalty is the current penalty; Flaps the flaps since it was last 0.
	Penalty int       `json:"penalty"`
	Flaps   int       `json:"flaps"`
	Until   time.Time `json:"until,omitzero"`
}

// Quorum is how many live, same-configured members this node sees and how
// many it needs.
type Quorum struct {
	Have int  `json:"have"`
	Need int  `json:"need"`
	OK   bool `json:"ok"`
	// TieBreaker: OK by the tie-breaker of a two-voter group.
	TieBreaker bool `json:"tie_breaker,omitempty"`
}

// MemberStatus is one member as this node sees it.
type MemberStatus struct {
	Name    string `json:"name"`
	Addr    string `json:"addr"`
	Self    bool   `json:"self"`
	Alive   bool   `json:"alive"`
	State   string `json:"state"`
	Healthy bool   `json:"healthy"`
	Damped  bool   `json:"damped,omitempty"`
	Witness bool   `json:"witness,omitempty"`
	// Unreachable: alive by others' reports, not heard by this node.
	Unreachable bool `json:"unreachable,omitempty"`
	Eligible    bool `json:"eligible"`
	// Why is the reason a member is not eligible.
	Why     string    `json:"why,omitempty"`
	Since   time.Time `json:"since"`
	Held    []string  `json:"held"`
	Leaving []string  `json:"leaving,omitempty"`
}

// VIPStatus is one VIP: who holds it and who should.
type VIPStatus struct {
	Name      string   `json:"name"`
	Addresses []string `json:"addresses"`
	// Owner is the member serving the VIP ("" for nobody); Holders lists
	// every member claiming it (more than one during a hand-over).
	Owner   string   `json:"owner"`
	Holders []string `json:"holders"`
	// Since is when this node first saw Owner hold it.
	Since time.Time `json:"since,omitzero"`
	// Planned is the owner the allocator wants; it differs from Owner
	// while a hand-over is under way.
	Planned string `json:"planned"`
	Reason  string `json:"reason"`
	// Waiting explains why the planned owner has not taken it yet.
	Waiting string `json:"waiting,omitempty"`
}

// Counters count what the agent did since it started.
type Counters struct {
	Acquired      map[string]uint64 `json:"acquired"` // by vip.Action.Cause
	Released      map[string]uint64 `json:"released"` // by vip.Action.Cause, or "shutdown", "reconfigured"
	Conflicts     uint64            `json:"conflicts"`
	Announcements uint64            `json:"announcements"`
	Errors        uint64            `json:"errors"`
}

func (a *Agent) count(f func(*Counters)) {
	a.statusMu.Lock()
	if a.counters.Acquired == nil {
		a.counters.Acquired, a.counters.Released = map[string]uint64{}, map[string]uint64{}
	}
	f(&a.counters)
	a.statusMu.Unlock()
}

// Status returns the state as of the last round.
func (a *Agent) Status() Status {
	a.statusMu.RLock()
	defer a.statusMu.RUnlock()
	s := a.status
	s.Counters = a.counters
	s.Counters.Acquired = maps.Clone(a.counters.Acquired)
	s.Counters.Released = maps.Clone(a.counters.Released)
	return s
}

func (a *Agent) setStatus(dec policy.Decision, plan vip.Plan, waiting map[string]string, now time.Time) {
	s := Status{
		Node:         a.cfg.NodeName,
		State:        dec.State.String(),
		Healthy:      a.healthy,
		Quorum:       Quorum{Have: dec.Quorum.Have, Need: dec.Quorum.Need, OK: dec.Quorum.OK(), TieBreaker: dec.Quorum.TieBreaker},
		Fingerprint:  a.cfg.Fingerprint(),
		Timing:       a.cfg.Timing,
		Started:      a.started,
		GossipHealth: a.group.HealthScore(),
		Damping: DampingStatus{Damped: dec.Damping.Damped, Penalty: int(dec.Damping.Penalty), Flaps: dec.Damping.Flaps,
			Until: dec.Damping.Until},
	}
	if !dec.Quorum.OK() {
		s.Notes = append(s.Notes, fmt.Sprintf("no quorum (%d of %d members): taking nothing, keeping what is held until another host announces it", dec.Quorum.Have, dec.Quorum.Need))
	}
	if dec.Recovering {
		s.Notes = append(s.Notes, "recovering from a stall of this node: doing nothing until every member has been heard again")
	}
	if dec.Damping.Damped {
		s.Notes = append(s.Notes, fmt.Sprintf("damped (flapping): taking no VIPs until %s", dec.Damping.Until.Format(time.TimeOnly)))
	}
	if dec.NoEligible {
		s.Notes = append(s.Notes, "no eligible member (all unhealthy, draining or joining): current owners keep their VIPs rather than black-holing them")
	}
	if a.health != nil {
		s.Checks = a.health.Status()
	}
	for _, v := range dec.Members {
		m := v.Member
		ms := MemberStatus{Name: m.Name, Addr: m.Addr.String(), Self: m.Self, Alive: m.Alive, Since: m.Since, Eligible: v.Eligible, Why: v.Why,
			Unreachable: m.Alive && !m.Direct && !m.Self}
		if m.Self {
			m.Meta, m.MetaErr = a.memory.Meta(a.policy, a.local(), now), nil
			ms.Since = a.started
		}
		if m.MetaErr == nil {
			ms.State, ms.Healthy, ms.Damped, ms.Witness = m.Meta.State.String(), m.Meta.Healthy, m.Meta.Damped, m.Meta.Witness
		}
		switch {
		case m.Self:
			// What it holds after this round's actions, not before.
			ms.Held, ms.Leaving = a.heldNames(), sortedKeys(a.leaving)
		case v.Compatible:
			ms.Held, ms.Leaving = v.Claims.Holds, v.Claims.Leaving
		}
		s.Members = append(s.Members, ms)
	}
	a.statusMu.RLock()
	prev := map[string]VIPStatus{}
	for _, v := range a.status.VIPs {
		prev[v.Name] = v
	}
	a.statusMu.RUnlock()
	for _, as := range plan.Assignments {
		v, _ := findVIP(a.cfg, as.VIP)
		vs := VIPStatus{Name: as.VIP, Addresses: addrList(v), Planned: as.Owner, Reason: as.Reason.String(), Waiting: waiting[as.VIP]}
		// The plan's holders are from before this round's actions; this
		// node's own part is what it holds now.
		holders := slices.DeleteFunc(slices.Clone(as.Holders), func(h vip.Holder) bool { return h.Name == a.cfg.NodeName })
		if a.held[as.VIP] {
			holders = append(holders, vip.Holder{Name: a.cfg.NodeName, Leaving: a.leaving[as.VIP]})
			slices.SortFunc(holders, func(x, y vip.Holder) int { return strings.Compare(x.Name, y.Name) })
		}
		for _, h := range holders {
			vs.Holders = append(vs.Holders, h.Name)
			if vs.Owner == "" || !h.Leaving {
				vs.Owner = h.Name
			}
		}
		switch p, ok := prev[as.VIP]; {
		case vs.Owner == a.cfg.NodeName:
			vs.Since = a.since[as.VIP]
		case ok && p.Owner == vs.Owner:
			vs.Since = p.Since
		case vs.Owner != "":
			vs.Since = now
		}
		s.VIPs = append(s.VIPs, vs)
	}
	a.statusMu.Lock()
	a.status = s
	a.statusMu.Unlock()
}

func sortedKeys(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}
