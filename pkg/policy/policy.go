// Package policy decides, from the group view and what a node remembers of
// earlier rounds, which members may be given VIPs, whether this node has
// quorum, and whether it may take anything now: the layer between
// membership (who is alive, what each member says) and vip.Allocate (who
// gets what).
//
// Decide is pure, like vip.Allocate: the time comes in as an argument, and
// what must be remembered from one round to the next (Memory) goes in and
// comes out as a value. Nothing reads the clock, so every rule here can be
// tested as a table of views and instants, and the agent's loop is left
// with gathering inputs and applying outputs.
//
// The rules, each of which has bitten a real deployment:
//
//   - Quorum counts the members heard within half the failure timeout
//     (membership.Member.Fresh) that run this node's VIP configuration,
//     itself included. A partitioned minority sees the others go stale
//     before any is declared failed, so it loses quorum before it could
//     take a single orphan.
//   - Reconfiguration grace: a member whose VIP list just became different
//     (a reload rolled out to every node at about the same time) is read
//     as it was for ReconfigGrace: its last claims stand and it counts for
//     quorum, so a configuration change moves nothing. The grace is for a
//     reload only: a member that went silent, or came back as another
//     process, gets none.
//   - Settling: a node that has just matured, or just regained quorum, takes
//     nothing for Config.Settle: it has only begun to hear the others, and
//     a member not heard yet looks failed, its VIPs orphaned.
//   - Recovering: a node that has just resumed from a stall (its view is
//     the one from before; see membership.View.Recovering) does nothing at
//     all until it has heard the group again.
//   - Flap damping (package damping): a VIP interface going down and the
//     health checks starting to fail are flaps of this node; a damped node
//     publishes it, and no node gives a damped member VIPs, nor does prefer
//     pull one back to it. Damping never darkens a VIP: when every
//     otherwise eligible member is damped, it is ignored. Losing quorum is
//     not a flap: a node cannot tell whether the fault is its own or the
//     others' (a survivor of a double crash is not flapping), and a node
//     that keeps losing touch is held back by the settle after each regain.
package policy

import (
	"maps"
	"math"
	"slices"
	"time"

	"github.com/wackamole/wackamole/membership"
	"github.com/wackamole/wackamole/pkg/policy/damping"
	"github.com/wackamole/wackamole/vip"
)

// ReconfigGrace is how long a member whose VIP configuration just became
// different from this node's is treated as it was. After it, the member is
// not eligible and does not count for quorum.
const ReconfigGrace = 10 * time.Second

// Config is what the policy needs of this node's configuration.
type Config struct {
	// Self is this node's member name.
	Self string
	// VIPs are the configured VIPs in configuration order: bit i of a
	// member's metadata bitmaps is VIPs[i].
	VIPs []vip.Spec
	// Fingerprint identifies this node's VIP configuration.
	Fingerprint uint64
	// QuorumNeed is how many fresh, same-configured members (this node
	// included) it takes to have quorum.
	QuorumNeed int
	// MaxMoves is vip.Input.MaxMoves.
	MaxMoves int
	// Mature is how long after its start a node takes no VIPs.
	Mature time.Duration
	// Settle is how long a node that just matured or regained quorum takes
	// nothing (see the package doc).
	Settle time.Duration
	// Damping are the flap damping parameters; the zero value never damps.
	Damping damping.Config
	// Witness: this node counts for quorum and never holds a VIP.
	Witness bool
	// Voters is the number of configured peers; TieBreaker says that a
	// tie-breaker is configured (it acts only with two voters).
	Voters     int
	TieBreaker bool
}

// Local is this node's own state, which it knows better than the metadata
// it last published (that may lag by a round).
type Local struct {
	// Started is when this node's agent started.
	Started time.Time
	// Held and Leaving are the VIPs this node holds and is handing over.
	Held, Leaving map[string]bool
	// Draining: wackatrl drain or a graceful stop.
	Draining bool
	// Healthy: health checks pass and every VIP interface is up.
	Healthy bool
	// InterfacesDown are the VIP interfaces that are down or missing, and
	// ChecksFailing says the health checks fail: the flaps damping counts.
	InterfacesDown []string
	ChecksFailing  bool
	// TieBreaker is what this node's probes found (with Config.TieBreaker).
	TieBreaker TieBreakerProbe
}

// TieBreakerProbe is what a node of a two-voter group finds when it
// probes its tie-breaker addresses and the other voter on the link.
type TieBreakerProbe struct {
	// Reached: a tie-breaker answered recently.
	Reached bool
	// PeerAlive: the other voter's host answered recently (ARP, ICMP),
	// although its daemon is silent: the two are cut from each other, or
	// its daemon is dead or stalled on a live host.
	PeerAlive bool
	// PeerServes names the VIPs the other voter's host answers for (ARP
	// from its MAC for a VIP address; a VIP no probe can tell, such as an
	// IPv6 one, counts while PeerAlive). Only these are left to it: a
	// host alive whose daemon died, stopped or handed its VIPs over
	// serves none, and this side must take them, not leave them dark.
	PeerServes map[string]bool
}

// Equal reports whether p and q found the same.
func (p TieBreakerProbe) Equal(q TieBreakerProbe) bool {
	if p.Reached != q.Reached || p.PeerAlive != q.PeerAlive || len(p.PeerServes) != len(q.PeerServes) {
		return false
	}
	for name, ok := range p.PeerServes {
		if q.PeerServes[name] != ok {
			return false
		}
	}
	return true
}

// State is this node's life-cycle state at now.
func (l Local) State(c Config, now time.Time) membership.State {
	switch {
	case l.Draining:
		return membership.Draining
	case now.Sub(l.Started) < c.Mature:
		return membership.Joining
	}
	return membership.Mature
}

// Claims are a member's VIPs by name, which, unlike the metadata bitmaps,
// mean the same under another configuration.
type Claims struct {
	// Process is the member process the claims were read from.
	Process        uint64
	Holds, Leaving []string
}

// Memory is what the policy carries from one round to the next. The zero
// value is a node that has just started; treat it as opaque.
type Memory struct {
	started   bool
	hadQuorum bool
	// settleUntil: no acquisitions before.
	settleUntil time.Time
	noEligible  bool
	// claims are live members' last claims read under this node's
	// configuration; mismatchSince is since when a live member's
	// configuration differs; lasting marks the mismatches whose grace has
	// run out (reported once).
	claims        map[string]Claims
	mismatchSince map[string]time.Time
	lasting       map[string]bool
	// damp is this node's flap damping; down and failing are the flaps'
	// inputs as of the previous round.
	damp    damping.State
	damped  bool
	down    map[string]bool
	failing bool
	// checksPassed: the health checks have passed at least once.
	checksPassed bool
	ignoring     bool // every eligible member is damped
	// otherVoter is the other member of a two-voter group, last seen.
	otherVoter string
}

// Quorum is how many fresh, same-configured members this node sees and
// how many it needs.
type Quorum struct {
	Have, Need int
	// TieBreaker: a two-voter group lost contact and this node reached a
	// tie-breaker: it acts as if it had quorum (see TieBreaker).
	TieBreaker bool
}

// OK reports whether the node has quorum.
func (q Quorum) OK() bool { return q.Have >= q.Need || q.TieBreaker }

// Verdict is the policy's view of one member.
type Verdict struct {
	Member membership.Member
	// Compatible: this node can read the member's claims (same
	// configuration, or within the reconfiguration grace).
	Compatible bool
	// Claims are the member's claims when Compatible.
	Claims Claims
	// Eligible members may be given VIPs; Why says why not.
	Eligible bool
	Why      string
}

// EventKind names a change an operator should hear about once.
type EventKind uint8

// Event kinds.
const (
	// QuorumReached and QuorumLost: Decision.Quorum changed sides.
	QuorumReached EventKind = iota + 1
	QuorumLost
	// MismatchStarted: Member's VIP configuration became different; its
	// VIPs stay where they are for ReconfigGrace.
	MismatchStarted
	// MismatchLasting: the grace ran out; Member gets no VIPs and does not
	// count for quorum until the configurations match.
	MismatchLasting
	// NoEligible: no member at all is eligible; current owners keep their
	// VIPs rather than black-holing them.
	NoEligible
	// Flapped: this node flapped (Cause says how); Damped: it is damped
	// now; Undamped: it is eligible again.
	Flapped
	Damped
	Undamped
	// DampingIgnored: every otherwise eligible member is damped, so none
	// is: damping must not leave a VIP dark.
	DampingIgnored
)

// Event is a change of the policy's conclusions, for the log.
type Event struct {
	Kind   EventKind
	Member string // MismatchStarted, MismatchLasting
	Cause  string // Flapped
}

// Decision is the policy's answer for one round.
type Decision struct {
	// Input is the allocator's input.
	Input  vip.Input
	Quorum Quorum
	// State is this node's life-cycle state.
	State membership.State
	// Settling: this node must take nothing this round (see the package
	// doc); the plan and its other actions stand.
	Settling bool
	// NoEligible: quorum, but no member is eligible.
	NoEligible bool
	// Recovering: this node has just resumed from a stall and has not
	// heard the group since; it must do nothing this round.
	Recovering bool
	// Damping is this node's own flap damping.
	Damping DampingState
	// Yield are the VIPs this node must neither hold nor take: a
	// tie-breaker split, in which the other voter keeps them.
	Yield map[string]bool
	// Members has one verdict per member of the view, in view order.
	Members []Verdict
	// Events are the changes since the previous round.
	Events []Event
	// Next is when the decision would change with nothing else changing
	// (the end of maturity, of settling, of a reconfiguration grace); zero
	// for never.
	Next time.Time
	// Memory is what to pass to the next round.
	Memory Memory
}

// DampingState is this node's flap damping as of a round.
type DampingState struct {
	Damped  bool
	Penalty float64
	// Until is when a damped node is eligible again.
	Until time.Time
	// Flaps counts the flaps since the node last had no penalty.
	Flaps int
}

// Decide is one round of the policy. It does not modify mem.
func Decide(c Config, view membership.View, local Local, mem Memory, now time.Time) Decision {
	next := mem.clone()
	d := Decision{State: local.State(c, now), Recovering: view.Recovering}
	first := !next.started
	if first {
		next.started = true
		next.settleUntil = local.Started.Add(c.Mature + c.Settle)
	}
	next.flaps(c, local, first, now, &d.Events)
	d.Input = vip.Input{MaxMoves: c.MaxMoves, VIPs: c.VIPs}
	d.Quorum.Need = c.QuorumNeed
	alive := map[string]bool{}
	for _, m := range view.Members {
		if m.Self {
			m.Meta, m.MetaErr = next.Meta(c, local, now), nil
		} else if m.Alive {
			next.observe(c, m, now, &d.Events)
			alive[m.Name] = true
		}
		v := Verdict{Member: m}
		v.Claims, v.Compatible = next.claimsOf(c, m, local, now)
		v.Eligible, v.Why = eligible(m, v.Compatible)
		if m.Fresh && v.Compatible {
			d.Quorum.Have++
		}
		d.Members = append(d.Members, v)
		if !m.Alive {
			continue // a silent member is out of the plan altogether
		}
		mem := vip.Member{Name: m.Name, Eligible: v.Eligible}
		if v.Compatible {
			mem.Holds, mem.Leaving = v.Claims.Holds, v.Claims.Leaving
		}
		d.Input.Members = append(d.Input.Members, mem)
	}
	next.forget(alive)
	next.tieBreak(c, local, view, &d)
	d.Input.Quorum = d.Quorum.OK()
	next.undamp(&d)

	if d.Quorum.OK() != next.hadQuorum && !d.Recovering {
		if d.Quorum.OK() {
			d.Events = append(d.Events, Event{Kind: QuorumReached})
			next.settleUntil = later(next.settleUntil, now.Add(c.Settle))
		} else {
			d.Events = append(d.Events, Event{Kind: QuorumLost})
		}
		next.hadQuorum = d.Quorum.OK()
	}
	d.Damping = next.dampingState(c, now)
	d.Settling = now.Before(next.settleUntil)

	d.NoEligible = d.Quorum.OK() && d.State != membership.Joining && len(c.VIPs) > 0 &&
		!slices.ContainsFunc(d.Input.Members, func(m vip.Member) bool { return m.Eligible })
	if d.NoEligible && !next.noEligible {
		d.Events = append(d.Events, Event{Kind: NoEligible})
	}
	next.noEligible = d.NoEligible

	d.Next = next.deadline(c, local, now)
	d.Memory = next
	return d
}

// flaps notes this round's flaps of this node: a VIP interface that went
// down, health checks that began to fail.
//
// What is down or failing at start is no flap: checks start failing until
// they pass rise times, and an interface may come up after the daemon.
func (m *Memory) flaps(c Config, l Local, first bool, now time.Time, events *[]Event) {
	down := map[string]bool{}
	for _, ifname := range l.InterfacesDown {
		down[ifname] = true
		if !m.down[ifname] && !first {
			m.flap(c, "interface "+ifname+" down", now, events)
		}
	}
	m.down = down
	if !l.ChecksFailing {
		m.checksPassed = true
	}
	if l.ChecksFailing && !m.failing && m.checksPassed {
		m.flap(c, "health checks failing", now, events)
	}
	m.failing = l.ChecksFailing
	if m.damped && !m.damp.Damped(c.Damping, now) {
		m.damped = false
		*events = append(*events, Event{Kind: Undamped})
	}
}

func (m *Memory) flap(c Config, cause string, now time.Time, events *[]Event) {
	if !c.Damping.Enabled() {
		return
	}
	m.damp = m.damp.Flap(c.Damping, now)
	*events = append(*events, Event{Kind: Flapped, Cause: cause})
	if !m.damped && m.damp.Damped(c.Damping, now) {
		m.damped = true
		*events = append(*events, Event{Kind: Damped})
	}
}

func (m *Memory) dampingState(c Config, now time.Time) DampingState {
	return DampingState{
		Damped:  m.damped,
		Penalty: m.damp.Penalty(c.Damping, now),
		Until:   m.damp.Until(c.Damping, now),
		Flaps:   m.damp.Flaps(),
	}
}

// Meta is the metadata this node publishes at now, given its memory.
func (m Memory) Meta(c Config, l Local, now time.Time) membership.Meta {
	meta := l.meta(c, l.State(c, now))
	if m.damped {
		meta.Damped = true
		meta.Penalty = uint16(math.Min(m.damp.Penalty(c.Damping, now), math.MaxUint16))
		if u := m.damp.Until(c.Damping, now); !u.IsZero() {
			meta.DampedFor = uint16(math.Min(math.Ceil(u.Sub(now).Seconds()), math.MaxUint16))
		}
	}
	return meta
}

// undamp makes damped members ineligible, unless every member that is
// otherwise eligible is damped: then damping is ignored, since it must
// never leave a VIP dark.
func (m *Memory) undamp(d *Decision) {
	undamped, damped := false, false
	for _, v := range d.Members {
		if v.Eligible && v.Member.Alive {
			if v.Member.Meta.Damped {
				damped = true
			} else {
				undamped = true
			}
		}
	}
	ignoring := damped && !undamped
	if ignoring && !m.ignoring {
		d.Events = append(d.Events, Event{Kind: DampingIgnored})
	}
	m.ignoring = ignoring
	if !undamped {
		return
	}
	ineligible := map[string]bool{}
	for i := range d.Members {
		v := &d.Members[i]
		if v.Eligible && v.Member.Meta.Damped {
			v.Eligible, v.Why = false, "damped (flapping)"
			ineligible[v.Member.Name] = true
		}
	}
	for i := range d.Input.Members {
		if ineligible[d.Input.Members[i].Name] {
			d.Input.Members[i].Eligible = false
		}
	}
}

func (m Memory) clone() Memory {
	m.claims = maps.Clone(m.claims)
	m.mismatchSince = maps.Clone(m.mismatchSince)
	m.lasting = maps.Clone(m.lasting)
	if m.claims == nil {
		m.claims = map[string]Claims{}
	}
	if m.mismatchSince == nil {
		m.mismatchSince = map[string]time.Time{}
	}
	if m.lasting == nil {
		m.lasting = map[string]bool{}
	}
	return m
}

// observe keeps, for a live member, what the reconfiguration grace needs:
// its last claims read under this node's configuration, and since when its
// configuration differs.
func (m *Memory) observe(c Config, mb membership.Member, now time.Time, events *[]Event) {
	if mb.MetaErr == nil && mb.Meta.Fingerprint == c.Fingerprint {
		delete(m.mismatchSince, mb.Name)
		delete(m.lasting, mb.Name)
		cl := claimsIn(c, mb.Meta)
		cl.Process = mb.Process
		m.claims[mb.Name] = cl
		return
	}
	since, ok := m.mismatchSince[mb.Name]
	if !ok {
		m.mismatchSince[mb.Name] = now
		*events = append(*events, Event{Kind: MismatchStarted, Member: mb.Name})
		return
	}
	if now.Sub(since) >= ReconfigGrace && !m.lasting[mb.Name] {
		m.lasting[mb.Name] = true
		*events = append(*events, Event{Kind: MismatchLasting, Member: mb.Name})
	}
}

// forget drops what observe kept of members that are not alive: one that
// comes back may have changed anything meanwhile, and its old claims would
// pass for current ones.
func (m *Memory) forget(alive map[string]bool) {
	gone := func(name string) bool { return !alive[name] }
	maps.DeleteFunc(m.claims, func(name string, _ Claims) bool { return gone(name) })
	maps.DeleteFunc(m.mismatchSince, func(name string, _ time.Time) bool { return gone(name) })
	maps.DeleteFunc(m.lasting, func(name string, _ bool) bool { return gone(name) })
}

// claimsOf returns a member's claims and whether this node can read them.
// It can for itself, for a member with the same fingerprint, and, for less
// than ReconfigGrace, for a member whose fingerprint just changed while it
// stayed alive and ran on: a reload, not a restart. Those are the claims it
// made just before.
func (m *Memory) claimsOf(c Config, mb membership.Member, local Local, now time.Time) (Claims, bool) {
	switch {
	case mb.Self:
		return Claims{Holds: sortedKeys(local.Held), Leaving: sortedKeys(local.Leaving)}, true
	case mb.MetaErr != nil:
		return Claims{}, false
	case mb.Meta.Fingerprint == c.Fingerprint:
		return claimsIn(c, mb.Meta), true
	}
	cl, known := m.claims[mb.Name]
	since, differs := m.mismatchSince[mb.Name]
	return cl, known && differs && cl.Process == mb.Process && now.Sub(since) < ReconfigGrace
}

// deadline is the next instant at which the decision changes by itself.
func (m *Memory) deadline(c Config, local Local, now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	consider(local.Started.Add(c.Mature))
	consider(m.settleUntil)
	consider(m.damp.Until(c.Damping, now))
	for _, since := range m.mismatchSince {
		consider(since.Add(ReconfigGrace))
	}
	return next
}

// claimsIn reads the claims in metadata written under this node's
// configuration: the bitmaps index this node's VIP list.
func claimsIn(c Config, meta membership.Meta) Claims {
	var cl Claims
	for i, v := range c.VIPs {
		if meta.Held.Has(i) {
			cl.Holds = append(cl.Holds, v.Name)
		}
		if meta.Leaving.Has(i) {
			cl.Leaving = append(cl.Leaving, v.Name)
		}
	}
	return cl
}

// eligible says whether a member may be given VIPs, and if not, why.
func eligible(m membership.Member, compatible bool) (bool, string) {
	switch {
	case !m.Alive:
		return false, "silent"
	case m.MetaErr != nil:
		return false, "unreadable metadata: " + m.MetaErr.Error()
	case !compatible:
		return false, "different VIP configuration"
	case m.Meta.Witness:
		return false, "witness"
	case m.Meta.State == membership.Joining:
		return false, "joining"
	case m.Meta.State == membership.Draining:
		return false, "draining"
	case !m.Meta.Healthy:
		return false, "unhealthy"
	}
	return true, ""
}

// meta is this node's metadata as it is now (what it will publish).
func (l Local) meta(c Config, s membership.State) membership.Meta {
	m := membership.Meta{
		State:       s,
		Healthy:     l.Healthy,
		Witness:     c.Witness,
		Fingerprint: c.Fingerprint,
		Held:        membership.NewBitmap(len(c.VIPs)),
		Leaving:     membership.NewBitmap(len(c.VIPs)),
	}
	for i, v := range c.VIPs {
		if l.Held[v.Name] {
			m.Held.Set(i)
		}
		if l.Leaving[v.Name] {
			m.Leaving.Set(i)
		}
	}
	return m
}

func sortedKeys(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
