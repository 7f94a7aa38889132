package membership

import (
	"cmp"
	"slices"
	"time"

	"github.com/wackamole/wackamole/membership/heartbeat"
)

// Who hears whom. A member leaves this node's view only when the group
// agrees it is silent, not when this node alone stops hearing it: each
// heartbeat carries how long its sender has not heard each member (the
// beat's late list), and a report "I heard X 3 ms ago" from a member this
// node hears counts as if this node had heard X then itself.
//
// That is what keeps a non-transitive partition from splitting the group.
// When only the path between n1 and n2 is cut (a firewall rule on one host,
// a broken trunk between two switches), n3 still hears both and says so in
// every heartbeat: n1 keeps n2 in its view (unreachable from here, not
// failed), its VIPs are not orphans, and nobody takes them. A real crash
// is unaffected: nobody hears the crashed member, every report about it
// grows old with the rest, and it fails after the same failure timeout.
//
// A report names the reporter's own hearing (lastHeard), never what it
// learnt from others, so that a dead member cannot be kept alive by
// members repeating each other.

// late is one member as the outgoing beat may report it.
type late struct {
	id        uint64
	age       time.Duration // since this node heard it
	suspected bool          // another member reported not hearing it
}

// age is how long ago t was, for a late list: MaxLateAge if never.
func age(now, t time.Time) time.Duration {
	if t.IsZero() {
		return heartbeat.MaxLateAge
	}
	return min(max(now.Sub(t), 0), heartbeat.MaxLateAge)
}

// pickLate chooses what the outgoing beat reports, in place. With up to
// heartbeat.MaxLate other members it reports every one, so that each
// receiver has fresh evidence of every member. With more it picks, up to
// half, the members this node has not heard for lateAfter (the others
// learn whom to vouch for), and then the members others suspect that this
// node hears best (the evidence that keeps them in the group).
func pickLate(all []late, lateAfter time.Duration) []late {
	if len(all) <= heartbeat.MaxLate {
		return all
	}
	// Own suspects first, longest silent first; then others' suspects,
	// best heard first; then the rest.
	rank := func(l late) int {
		switch {
		case l.age > lateAfter:
			return 0
		case l.suspected:
			return 1
		}
		return 2
	}
	slices.SortFunc(all, func(a, b late) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		if rank(a) == 0 {
			return cmp.Compare(b.age, a.age)
		}
		return cmp.Compare(a.age, b.age)
	})
	own := 0
	for own < len(all) && rank(all[own]) == 0 {
		own++
	}
	if own > heartbeat.MaxLate/2 {
		// Keep half for evidence: move the best-heard suspects of
		// others up behind the first half of our own suspects.
		rest := all[own:]
		n := min(len(rest), heartbeat.MaxLate-heartbeat.MaxLate/2)
		picked := append(slices.Clone(all[:heartbeat.MaxLate/2]), rest[:n]...)
		copy(all, picked)
	}
	return all[:heartbeat.MaxLate]
}

// suspected reports whether another member recently said it does not hear
// p (within the failure timeout).
func (p *peer) suspected(now time.Time, t Timing) bool {
	return !p.suspectedAt.IsZero() && now.Sub(p.suspectedAt) < t.FailureTimeout
}

// vouchLocked takes a received beat's reports as evidence: reporter heard
// each listed member age before at. It returns whether a member that had
// gone stale or silent is now fresh on that evidence.
func (g *Group) vouchLocked(reporter *peer, b *heartbeat.Beat, at time.Time, selfID uint64) (revived bool) {
	lateAfter := g.cfg.Timing.FailureTimeout / 4
	for _, l := range b.LateList() {
		if l.ID == selfID || l.ID == reporter.id {
			continue
		}
		name, ok := g.ids[l.ID]
		if !ok {
			continue
		}
		q := g.members[name]
		if l.Age > lateAfter {
			q.suspectedAt = at
		}
		if l.Age >= heartbeat.MaxLateAge {
			continue // never heard, or too long ago to matter
		}
		if t := at.Add(-l.Age); t.After(q.heardAny) {
			q.heardAny = t
			if !q.fresh && at.Sub(t) < g.cfg.Timing.FailureTimeout/2 {
				revived = true
			}
		}
	}
	return revived
}
