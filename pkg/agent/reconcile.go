package agent

import (
	"bytes"
	"errors"
	"slices"
	"time"

	"github.com/wackamole/wackamole/membership"
	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/hooks"
	"github.com/wackamole/wackamole/pkg/policy"
	"github.com/wackamole/wackamole/vip"
)

// reconcile is one round at now: view in, policy and plan, actions
// applied, metadata and status out. It returns when it wants to run again
// (zero: only on events and the resync).
func (a *Agent) reconcile(now time.Time) time.Time {
	a.checkHealth()
	a.releaseOnDownLinks()
	a.restoreMissing(now)
	if a.refresh.due(a.cfg.ARP.Refresh, now) {
		for name := range a.held {
			a.schedule(name, 1, "refresh", now)
		}
	}
	if a.share.due(a.cfg.ARP.Cache, now) {
		a.shareNeighbors()
	}

	view := a.group.View()
	dec := policy.Decide(a.policy, view, a.local(), a.memory, now)
	a.memory = dec.Memory
	a.lastDecision = dec
	a.logEvents(dec)
	plan := vip.Allocate(dec.Input)

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

	actions := vip.Diff(&plan, vip.Local{Name: a.cfg.NodeName, Held: a.held, Leaving: a.leaving, Conflicts: conflicts,
		Confirmed: a.confirmed(plan, view)})
	if a.all {
		// announce = all: no owners, every eligible node holds all.
		actions = nil
		a.allRound(dec, now)
	}
	if dec.Recovering {
		// The view is the one from before this node's stall: acting on
		// it could release what another node just took, or defend what
		// it should yield. The round that has heard the group decides.
		actions = nil
	}
	var waiting map[string]string
	for _, act := range actions {
		switch act.Kind {
		case vip.Acquire:
			if dec.Settling || dec.Yield[act.VIP] {
				continue // see policy: settling, tie-breaker
			}
			a.acquire(act.VIP, act.Cause, act.Why, now)
		case vip.Release:
			if conflicts[act.VIP] {
				if v, ok := findVIP(a.cfg, act.VIP); ok {
					a.hook(hooks.Conflict, v, act.Cause)
				}
			}
			a.handOff(act.VIP, act.Cause, act.Why, now)
		case vip.Handover:
			a.leaving[act.VIP] = true
			delete(a.announces, act.VIP) // announcing it now would pull clients back
			a.log.Info("handing over", "vip", act.VIP, "to", act.Owner, "reason", act.Why)
		case vip.Retain:
			delete(a.leaving, act.VIP)
			a.log.Info("hand-over cancelled", "vip", act.VIP, "reason", act.Why)
		case vip.Defend:
			a.defend(act.VIP, act.Why, now)
		case vip.Await:
			if waiting == nil {
				waiting = map[string]string{}
			}
			waiting[act.VIP] = act.Why
		}
	}
	for name := range dec.Yield {
		if a.held[name] && !dec.Recovering {
			a.release(name, "yielded", "tie-breaker: the other voter is alive behind a cut and keeps this VIP")
		}
	}
	a.plan = plan
	var reclaimAt time.Time
	if !dec.Recovering && !a.all {
		if a.recovering {
			a.endRecovery(plan)
		}
		a.recordHandovers(plan, view)
		reclaimAt = a.claimShared(plan, now)
		a.noticeMembership(view, now)
	}
	if a.router != nil && !a.all {
		a.routeRound(dec, plan, now)
	}

	a.recovering = dec.Recovering
	var announceAt time.Time
	if !dec.Recovering {
		// Announcements due wait for the end of the recovery (which
		// the group signals): one made on the view from before the
		// stall pulls clients to this node while the node that took
		// the VIP over still owns it there, which defends it, and the
		// two fight over the clients (TestStalledOwnerResumes).
		a.announceDue(now)
		announceAt = a.nextAnnouncement()
	}
	a.publish(now)
	a.setStatus(dec, plan, waiting, now)
	return earliest(dec.Next, announceAt, a.refresh.next, a.share.next, a.nextLinger(), reclaimAt)
}

// local is this node's own state for the policy.
func (a *Agent) local() policy.Local {
	l := policy.Local{Started: a.started, Held: a.held, Leaving: a.leaving, Draining: a.draining, Healthy: a.healthy,
		InterfacesDown: a.down, ChecksFailing: a.failing}
	if a.tieBreaker != nil {
		l.TieBreaker = a.tieBreaker.Probe()
	}
	return l
}

// handing is a hand-over under way (see Agent.handing).
type handing struct {
	owner            string
	process, version uint64
}

// version returns a member's claims' version as this node sees them.
func version(view membership.View, name string) (process, v uint64, ok bool) {
	for _, m := range view.Members {
		if m.Name == name {
			return m.Process, m.MetaVersion, m.Alive
		}
	}
	return 0, 0, false
}

// confirmed returns the VIPs this node hands over whose owner has claimed
// them again since the hand-over began.
func (a *Agent) confirmed(plan vip.Plan, view membership.View) map[string]bool {
	out := map[string]bool{}
	for name, h := range a.handing {
		as, ok := plan.Lookup(name)
		if !ok || as.Owner != h.owner {
			continue
		}
		if p, v, ok := version(view, h.owner); ok && (p != h.process || v > h.version) {
			out[name] = true
		}
	}
	return out
}

// recordHandovers notes, for each VIP this node is handing over, the
// owner's version at the start (or when the owner changed).
func (a *Agent) recordHandovers(plan vip.Plan, view membership.View) {
	for name := range a.handing {
		if !a.leaving[name] {
			delete(a.handing, name)
		}
	}
	for name := range a.leaving {
		as, ok := plan.Lookup(name)
		if !ok || as.Owner == "" || as.Owner == a.cfg.NodeName {
			continue
		}
		if h, ok := a.handing[name]; ok && h.owner == as.Owner {
			continue
		}
		if p, v, ok := version(view, as.Owner); ok {
			a.handing[name] = handing{owner: as.Owner, process: p, version: v}
		}
	}
}

// claimShared handles the VIPs this node owns and holds that another
// member holds too (a contest after a partition or a stall, a hand-over
// ending): it claims them again, at most once per defendInterval, so that
// the other lets go on a claim it knows is current (vip.Local.Confirmed),
// and it announces them, so that clients follow and the other sees it on
// the wire. When the other has let go, this node has the last word: it
// announces again, or clients that the other answered last would keep its
// MAC until their neighbour entry fails (about 8 s on Linux).
//
// It returns when to claim again while a contest lasts (zero if none
// does): the other may be waiting for a claim newer than what it saw, and
// nothing else need wake this node meanwhile.
func (a *Agent) claimShared(plan vip.Plan, now time.Time) (next time.Time) {
	reclaim := false
	for _, as := range plan.Assignments {
		name := as.VIP
		others := slices.ContainsFunc(as.Holders, func(h vip.Holder) bool { return h.Name != a.cfg.NodeName })
		if !a.held[name] {
			delete(a.shared, name)
			delete(a.reclaimed, name)
			continue
		}
		owned := as.Owner == a.cfg.NodeName && !a.leaving[name]
		switch {
		case others && owned:
			a.shared[name] = true
			if last, ok := a.reclaimed[name]; !ok || now.Sub(last) >= defendInterval {
				a.reclaimed[name] = now
				reclaim = true
				a.log.Info("another member also holds a VIP this node owns: claiming it again", "vip", name, "holders", holderNames(as.Holders))
				a.schedule(name, 1, "reclaimed", now)
			}
			next = earliest(next, a.reclaimed[name].Add(defendInterval))
		case !others && a.shared[name]:
			delete(a.shared, name)
			delete(a.reclaimed, name)
			if owned {
				// Twice, ARP.Interval apart: a client that took the
				// other's announcement less than its lock time (1 s on
				// Linux) ago ignores the first.
				a.log.Info("the other holder let go: announcing once more", "vip", name)
				a.schedule(name, 2, "last word", now)
			}
		}
	}
	if reclaim {
		a.reclaim()
	}
	return next
}

// endRecovery runs in the first round after this node recovered from a
// stall. A contest over a VIP it owns may have begun and ended while it was
// recovering (the other holder let go on seeing this node's claim or
// announcement), so claimShared never saw two holders: every VIP it holds
// and owns counts as shared, and gets the last word if nobody else holds
// it any more, or is claimed again if somebody does.
func (a *Agent) endRecovery(plan vip.Plan) {
	for name := range a.held {
		if as, ok := plan.Lookup(name); ok && as.Owner == a.cfg.NodeName && !a.leaving[name] {
			a.shared[name] = true
		}
	}
}

// reclaim publishes this node's metadata again: the same claims, a newer
// version.
func (a *Agent) reclaim() {
	if a.lastMeta == nil {
		return
	}
	if err := a.group.SetMeta(a.lastMeta); err != nil {
		a.log.Error("publishing node metadata", "err", err)
	}
}

func holderNames(hs []vip.Holder) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Name
	}
	return out
}

// releaseOnDownLinks releases at once every held VIP with an address on an
// interface that is down: it serves nobody there (keepalived's FAULT
// state), whatever the quorum says, and it is not announced.
func (a *Agent) releaseOnDownLinks() {
	if len(a.down) == 0 {
		return
	}
	down := map[string]bool{}
	for _, ifname := range a.down {
		down[ifname] = true
	}
	for _, name := range a.heldNames() {
		v, ok := findVIP(a.cfg, name)
		if !ok {
			continue
		}
		for _, ad := range v.Addresses {
			if down[ad.Interface] {
				a.release(name, "link-down", "interface "+ad.Interface+" is down: the VIP serves nobody here")
				break
			}
		}
	}
}

// logEvents tells the operator what the policy concluded differently from
// the round before.
func (a *Agent) logEvents(dec policy.Decision) {
	for _, ev := range dec.Events {
		switch ev.Kind {
		case policy.QuorumReached:
			a.log.Info("quorum reached", "have", dec.Quorum.Have, "need", dec.Quorum.Need)
		case policy.QuorumLost:
			a.log.Warn("quorum lost: taking nothing, keeping what is held until another host claims it", "have", dec.Quorum.Have, "need", dec.Quorum.Need)
		case policy.MismatchStarted:
			a.log.Warn("member has a different VIP configuration; its VIPs stay where they are while the change reaches every node",
				"member", ev.Member, "grace", policy.ReconfigGrace, "ours", a.cfg.Fingerprint()[:16])
		case policy.MismatchLasting:
			a.log.Error("member still has a different VIP configuration: it gets no VIPs and does not count for quorum until the configs match",
				"member", ev.Member, "ours", a.cfg.Fingerprint()[:16], "err", metaErr(dec, ev.Member))
		case policy.NoEligible:
			a.log.Warn("no eligible member: every member is unhealthy, draining or joining; current owners keep their VIPs")
		case policy.Flapped:
			a.log.Info("flap", "cause", ev.Cause, "penalty", int(dec.Damping.Penalty))
		case policy.Damped:
			a.log.Warn("damped: this node flaps; it takes no VIPs until it has been stable for a while",
				"penalty", int(dec.Damping.Penalty), "until", dec.Damping.Until.Format(time.TimeOnly))
		case policy.Undamped:
			a.log.Info("no longer damped: eligible for VIPs again")
		case policy.DampingIgnored:
			a.log.Warn("every eligible member is damped: ignoring damping rather than leave VIPs dark")
		}
	}
}

func metaErr(dec policy.Decision, member string) error {
	for _, v := range dec.Members {
		if v.Member.Name == member {
			return v.Member.MetaErr
		}
	}
	return nil
}

// publish spreads this node's metadata if it changed.
func (a *Agent) publish(now time.Time) {
	b, err := a.memory.Meta(a.policy, a.local(), now).MarshalBinary()
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
func (a *Agent) acquire(name, cause, why string, now time.Time) {
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
	a.setHolding(name, true)
	delete(a.leaving, name)
	a.since[name] = now
	a.schedule(name, a.cfg.ARP.Repeat, "acquired", now)
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
	delete(a.standby, name)
	delete(a.lingering, name)
	a.unclaim(name, cause)
	if err := errors.Join(errs...); err != nil {
		a.log.Error("releasing VIP", "vip", name, "err", err)
		a.count(func(c *Counters) { c.Errors++ })
		return
	}
	a.log.Info("released VIP", "vip", name, "addresses", addrList(v), "reason", why)
	a.hook(hooks.Release, v, cause)
}

// unclaim forgets that this node holds a VIP (its addresses are the
// caller's business).
func (a *Agent) unclaim(name, cause string) {
	delete(a.held, name)
	a.setHolding(name, false)
	delete(a.leaving, name)
	delete(a.since, name)
	delete(a.announces, name)
	a.count(func(c *Counters) { c.Released[cause]++ })
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

func (a *Agent) defend(name, why string, now time.Time) {
	if last, ok := a.lastDefend[name]; ok && now.Sub(last) < defendInterval {
		return
	}
	a.lastDefend[name] = now
	a.log.Warn("another host announced a VIP this node owns: defending", "vip", name, "reason", why)
	a.schedule(name, 1, "defend", now)
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
	failing := a.health != nil && !a.health.Healthy()
	healthy := len(down) == 0 && !failing
	if healthy != a.healthy {
		switch {
		case healthy:
			a.log.Info("healthy again: VIP interfaces up and health checks passing")
		case len(down) > 0:
			a.log.Warn("unhealthy: VIP interface down; releasing its VIPs and handing the others over", "interfaces", down)
		default:
			a.log.Warn("unhealthy: health checks failing; handing VIPs over")
		}
	}
	a.healthy, a.down, a.failing = healthy, down, failing
}

// restoreMissing puts back addresses of held VIPs that disappeared (removed
// by hand, or flushed with the link) and announces them again.
func (a *Agent) restoreMissing(now time.Time) {
	for _, name := range a.boundNames() {
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
			a.schedule(name, a.cfg.ARP.Repeat, "restored", now)
		}
	}
}

// noticeMembership re-announces every held VIP when the set of live
// members changed: a node that was cut off and is back may have left
// clients with a stale MAC.
func (a *Agent) noticeMembership(view membership.View, now time.Time) {
	var alive []string
	for _, m := range view.Members {
		if m.Alive && !m.Self {
			alive = append(alive, m.Name)
		}
	}
	if slices.Equal(alive, a.lastAlive) {
		return
	}
	if a.lastAlive != nil {
		for name := range a.held {
			a.schedule(name, 1, "membership changed", now)
		}
	}
	a.lastAlive = alive
}
