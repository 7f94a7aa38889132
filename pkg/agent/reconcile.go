package agent

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/wackamole/wackamole/membership"
	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/hooks"
	"github.com/wackamole/wackamole/vip"
)

// reconcile is one round: view in, plan, actions applied, metadata and
// status out.
func (a *Agent) reconcile() {
	now := a.now()
	a.checkHealth()
	a.restoreMissing()

	view := a.group.View()
	in, quorum := a.input(view)
	plan := vip.Allocate(in)

	a.conflictMu.Lock()
	conflicts := a.conflicts
	a.conflicts = map[string]bool{}
	a.conflictMu.Unlock()
	for name := range conflicts {
		if !a.held[name] {
			delete(conflicts, name) // not ours: nothing to defend or yield
		} else {
			a.count(func(c *Counters) { c.Conflicts++ })
		}
	}

	actions := vip.Diff(&plan, vip.Local{Name: a.cfg.NodeName, Held: a.held, Leaving: a.leaving, Conflicts: conflicts})
	var waiting map[string]string
	if quorum.ok() != a.hadQuorum {
		if quorum.ok() {
			a.log.Info("quorum reached", "have", quorum.have, "need", quorum.need)
			// A node that (re)gains quorum has just begun to hear the
			// others again: one it has not heard yet looks failed and its
			// VIPs orphaned. Take nothing until the view has filled in.
			a.settleUntil = later(a.settleUntil, now.Add(a.settle))
		} else {
			a.log.Warn("quorum lost: taking nothing, keeping what is held until another host claims it", "have", quorum.have, "need", quorum.need)
		}
		a.hadQuorum = quorum.ok()
	}
	settling := now.Before(a.settleUntil)
	for _, act := range actions {
		switch act.Kind {
		case vip.Acquire:
			if settling {
				continue // see Agent.settle
			}
			a.acquire(act.VIP, act.Cause, act.Why)
		case vip.Release:
			if conflicts[act.VIP] {
				if v, ok := findVIP(a.cfg, act.VIP); ok {
					a.hook(hooks.Conflict, v, act.Cause)
				}
			}
			a.release(act.VIP, act.Cause, act.Why)
		case vip.Handover:
			a.leaving[act.VIP] = true
			a.log.Info("handing over", "vip", act.VIP, "to", act.Owner, "reason", act.Why)
		case vip.Retain:
			delete(a.leaving, act.VIP)
			a.log.Info("hand-over cancelled", "vip", act.VIP, "reason", act.Why)
		case vip.Defend:
			a.defend(act.VIP, act.Why)
		case vip.Await:
			if waiting == nil {
				waiting = map[string]string{}
			}
			waiting[act.VIP] = act.Why
		}
	}

	notes := a.noticeMembership(view, quorum, in)
	a.publish()
	a.setStatus(view, plan, quorum, waiting, notes, now)
}

// reconfigGrace is how long a member whose VIP configuration just became
// different from this node's is treated as it was: a configuration change
// rolled out to every node within this time moves no VIP. After it, the
// member is not eligible and does not count for quorum.
const reconfigGrace = 10 * time.Second

// claims are a member's VIPs by name, which, unlike the metadata bitmaps,
// mean the same under another configuration.
type claims struct {
	process        uint64 // the member's process they were read from
	holds, leaving []string
}

// claimsIn reads the claims in metadata written under this node's
// configuration: the bitmaps index this node's VIP list.
func (a *Agent) claimsIn(meta membership.Meta) claims {
	var c claims
	for i, v := range a.cfg.VIPs {
		if meta.Held.Has(i) {
			c.holds = append(c.holds, v.Name)
		}
		if meta.Leaving.Has(i) {
			c.leaving = append(c.leaving, v.Name)
		}
	}
	return c
}

// observe keeps, for a live member, what the reconfiguration grace needs:
// its last claims read under this node's configuration, and since when its
// configuration differs.
func (a *Agent) observe(m membership.Member, now time.Time) {
	if m.MetaErr == nil && m.Meta.Fingerprint == a.fingerprint {
		delete(a.mismatchSince, m.Name)
		c := a.claimsIn(m.Meta)
		c.process = m.Process
		a.lastClaims[m.Name] = c
		return
	}
	if _, ok := a.mismatchSince[m.Name]; !ok {
		a.mismatchSince[m.Name] = now
	}
}

// forget drops what observe kept of members that are not alive: one that
// comes back may have changed anything meanwhile, and its old claims would
// pass for current ones.
func (a *Agent) forget(alive map[string]bool) {
	maps.DeleteFunc(a.lastClaims, func(name string, _ claims) bool { return !alive[name] })
	maps.DeleteFunc(a.mismatchSince, func(name string, _ time.Time) bool { return !alive[name] })
}

// claimsOf returns a member's claims and whether this node can read them
// (whether the member is compatible). It can for itself, for a member with
// the same fingerprint, and, for less than reconfigGrace, for a member
// whose fingerprint just changed while it stayed alive and ran on: a
// reload, not a restart. Those are the claims it made just before.
func (a *Agent) claimsOf(m membership.Member, now time.Time) (claims, bool) {
	switch {
	case m.Self:
		return claims{holds: a.heldNames(), leaving: sortedKeys(a.leaving)}, true
	case m.MetaErr != nil:
		return claims{}, false
	case m.Meta.Fingerprint == a.fingerprint:
		return a.claimsIn(m.Meta), true
	}
	c, known := a.lastClaims[m.Name]
	since, differs := a.mismatchSince[m.Name]
	return c, known && differs && c.process == m.Process && now.Sub(since) < reconfigGrace
}

// eligible says whether a member may be given VIPs, and if not, why.
func (a *Agent) eligible(m membership.Member, compatible bool) (bool, string) {
	switch {
	case !m.Alive:
		return false, "silent"
	case m.MetaErr != nil:
		return false, "unreadable metadata: " + m.MetaErr.Error()
	case !compatible:
		return false, "different VIP configuration"
	case m.Meta.State == membership.Joining:
		return false, "joining"
	case m.Meta.State == membership.Draining:
		return false, "draining"
	case !m.Meta.Healthy:
		return false, "unhealthy"
	}
	return true, ""
}

type quorumState struct {
	have, need int
}

func (q quorumState) ok() bool { return q.have >= q.need }

// input turns the view into the allocator's input. This node's own entry is
// built from what it actually holds, not from the metadata it last
// published, which may lag by a round.
func (a *Agent) input(view membership.View) (vip.Input, quorumState) {
	now := a.now()
	in := vip.Input{MaxMoves: a.cfg.Balance.MaxMoves}
	for _, v := range a.cfg.VIPs {
		in.VIPs = append(in.VIPs, vip.Spec{Name: v.Name, Prefer: v.Prefer})
	}
	q := quorumState{need: a.cfg.QuorumNeeded()}
	alive := map[string]bool{}
	for _, m := range view.Members {
		if m.Self {
			m.Meta, m.MetaErr = a.selfMeta(), nil
		} else if m.Alive {
			a.observe(m, now)
			alive[m.Name] = true
		}
		c, compatible := a.claimsOf(m, now)
		if m.Fresh && compatible {
			q.have++
		}
		if !m.Alive {
			continue // a silent member is out of the plan altogether
		}
		ok, _ := a.eligible(m, compatible)
		mem := vip.Member{Name: m.Name, Eligible: ok}
		if compatible {
			mem.Holds, mem.Leaving = c.holds, c.leaving
		}
		in.Members = append(in.Members, mem)
	}
	a.forget(alive)
	in.Quorum = q.ok()
	return in, q
}

// state is this node's life-cycle state.
func (a *Agent) state() membership.State {
	switch {
	case a.draining:
		return membership.Draining
	case a.now().Sub(a.started) < a.cfg.Mature:
		return membership.Joining
	}
	return membership.Mature
}

func (a *Agent) selfMeta() membership.Meta {
	m := membership.Meta{
		State:       a.state(),
		Healthy:     a.healthy,
		Fingerprint: a.fingerprint,
		Held:        membership.NewBitmap(len(a.cfg.VIPs)),
		Leaving:     membership.NewBitmap(len(a.cfg.VIPs)),
	}
	for i, v := range a.cfg.VIPs {
		if a.held[v.Name] {
			m.Held.Set(i)
		}
		if a.leaving[v.Name] {
			m.Leaving.Set(i)
		}
	}
	return m
}

// publish spreads this node's metadata if it changed.
func (a *Agent) publish() {
	b, err := a.selfMeta().MarshalBinary()
	if err != nil {
		a.log.Error("encoding node metadata", "err", err)
		return
	}
	if bytes.Equal(b, a.lastMeta) {
		return
	}
	if err := a.group.SetMeta(b); err != nil {
		a.log.Error("publishing node metadata", "err", err)
		return
	}
	a.lastMeta = b
}

// acquire binds every address of a VIP and announces them. It is all or
// nothing: if one address cannot be added, those already added are removed
// and the VIP is not claimed.
func (a *Agent) acquire(name, cause, why string) {
	v, ok := findVIP(a.cfg, name)
	if !ok {
		return
	}
	var added []config.Address
	for _, ad := range v.Addresses {
		if err := a.binder.Add(ad.Interface, ad.Prefix); err != nil {
			a.log.Error("cannot acquire VIP", "vip", name, "addr", ad.Prefix, "interface", ad.Interface, "err", err)
			for _, undo := range added {
				_ = a.binder.Remove(undo.Interface, undo.Prefix)
			}
			a.count(func(c *Counters) { c.Errors++ })
			return
		}
		added = append(added, ad)
	}
	a.held[name] = true
	delete(a.leaving, name)
	a.since[name] = a.now()
	a.schedule(name, a.cfg.ARP.Repeat, "acquired")
	a.count(func(c *Counters) { c.Acquired[cause]++ })
	a.log.Info("acquired VIP", "vip", name, "addresses", addrList(v), "reason", why)
	a.hook(hooks.Acquire, v, cause)
}

// release removes every address of a VIP at once: an address left on an
// interface is still answered by the kernel.
func (a *Agent) release(name, cause, why string) {
	v, _ := findVIP(a.cfg, name)
	var errs []error
	for _, ad := range v.Addresses {
		if err := a.binder.Remove(ad.Interface, ad.Prefix); err != nil {
			errs = append(errs, err)
		}
	}
	delete(a.held, name)
	delete(a.leaving, name)
	delete(a.since, name)
	delete(a.announces, name)
	a.count(func(c *Counters) { c.Released[cause]++ })
	if err := errors.Join(errs...); err != nil {
		a.log.Error("releasing VIP", "vip", name, "err", err)
		a.count(func(c *Counters) { c.Errors++ })
		return
	}
	a.log.Info("released VIP", "vip", name, "addresses", addrList(v), "reason", why)
	a.hook(hooks.Release, v, cause)
}

// hook tells the operator's hook about an event; it never blocks.
func (a *Agent) hook(kind string, v config.VIP, reason string) {
	if a.hooks == nil {
		return
	}
	ev := hooks.Event{Kind: kind, VIP: v.Name, Reason: reason, Node: a.cfg.NodeName}
	for _, ad := range v.Addresses {
		ev.Addresses = append(ev.Addresses, ad.Prefix.String())
		if !slices.Contains(ev.Interfaces, ad.Interface) {
			ev.Interfaces = append(ev.Interfaces, ad.Interface)
		}
	}
	a.hooks.Run(ev)
}

func (a *Agent) defend(name, why string) {
	if last, ok := a.lastDefend[name]; ok && a.now().Sub(last) < defendInterval {
		return
	}
	a.lastDefend[name] = a.now()
	a.log.Warn("another host announced a VIP this node owns: defending", "vip", name, "reason", why)
	a.schedule(name, 1, "defend")
	if v, ok := findVIP(a.cfg, name); ok {
		a.hook(hooks.Conflict, v, "defended")
	}
}

// checkHealth marks the node unhealthy while an interface its VIPs live on
// is missing or down (it could not serve them) or its health checks fail.
func (a *Agent) checkHealth() {
	var down []string
	for _, ifname := range Interfaces(a.cfg) {
		up, err := a.binder.LinkUp(ifname)
		if err != nil || !up {
			down = append(down, ifname)
		}
	}
	checks := a.health == nil || a.health.Healthy()
	healthy := len(down) == 0 && checks
	if healthy != a.healthy {
		switch {
		case healthy:
			a.log.Info("healthy again: VIP interfaces up and health checks passing")
		case len(down) > 0:
			a.log.Warn("unhealthy: VIP interface down; handing VIPs over", "interfaces", down)
		default:
			a.log.Warn("unhealthy: health checks failing; handing VIPs over")
		}
	}
	a.healthy = healthy
}

// restoreMissing puts back addresses of held VIPs that disappeared (removed
// by hand, or flushed with the link) and announces them again.
func (a *Agent) restoreMissing() {
	for _, name := range a.heldNames() {
		v, ok := findVIP(a.cfg, name)
		if !ok {
			continue
		}
		restored := false
		for _, ad := range v.Addresses {
			has, err := a.binder.Has(ad.Interface, ad.Prefix)
			if err != nil || has {
				continue
			}
			if err := a.binder.Add(ad.Interface, ad.Prefix); err != nil {
				a.log.Warn("cannot restore a VIP address", "vip", name, "addr", ad.Prefix, "err", err)
				continue
			}
			restored = true
			a.log.Warn("restored a VIP address removed behind our back", "vip", name, "addr", ad.Prefix, "interface", ad.Interface)
		}
		if restored {
			a.schedule(name, a.cfg.ARP.Repeat, "restored")
		}
	}
}

// noticeMembership logs quorum changes and configuration mismatches once,
// and re-announces every held VIP when the set of live members changed: a
// node that was cut off and is back may have left clients with a stale MAC.
func (a *Agent) noticeMembership(view membership.View, q quorumState, in vip.Input) (notes []string) {
	if !q.ok() {
		notes = append(notes, fmt.Sprintf("no quorum (%d of %d members): taking nothing, keeping what is held until another host announces it", q.have, q.need))
	}
	noEligible := q.ok() && a.state() != membership.Joining && len(in.VIPs) > 0 && !slices.ContainsFunc(in.Members, func(m vip.Member) bool { return m.Eligible })
	if noEligible {
		notes = append(notes, "no eligible member (all unhealthy, draining or joining): current owners keep their VIPs rather than black-holing them")
	}
	if noEligible && !a.noEligible {
		a.log.Warn("no eligible member: every member is unhealthy, draining or joining; current owners keep their VIPs")
	}
	a.noEligible = noEligible
	var alive []string
	for _, m := range view.Members {
		if !m.Alive || m.Self {
			continue
		}
		alive = append(alive, m.Name)
		since, differs := a.mismatchSince[m.Name]
		lasting := differs && a.now().Sub(since) >= reconfigGrace
		if differs && !a.mismatch[m.Name] {
			a.log.Warn("member has a different VIP configuration; its VIPs stay where they are while the change reaches every node",
				"member", m.Name, "grace", reconfigGrace, "ours", a.cfg.Fingerprint()[:16])
		}
		if lasting && !a.mismatchLogged[m.Name] {
			a.log.Error("member still has a different VIP configuration: it gets no VIPs and does not count for quorum until the configs match",
				"member", m.Name, "ours", a.cfg.Fingerprint()[:16], "err", m.MetaErr)
		}
		a.mismatch[m.Name] = differs
		a.mismatchLogged[m.Name] = lasting
	}
	if !slices.Equal(alive, a.lastAlive) {
		if a.lastAlive != nil {
			for name := range a.held {
				a.schedule(name, 1, "membership changed")
			}
		}
		a.lastAlive = alive
	}
	return notes
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
