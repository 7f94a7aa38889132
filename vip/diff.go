package vip

import "fmt"

// Local is what one node holds, as Diff needs it.
type Local struct {
	// Name is this node's member name.
	Name string
	// Held are the VIPs whose addresses this node has bound.
	Held map[string]bool
	// Leaving are the held VIPs this node is handing over.
	Leaving map[string]bool
	// Conflicts are held VIPs that another host announced on the wire
	// (gratuitous ARP, ARP reply, neighbour advertisement) since the last
	// round.
	Conflicts map[string]bool
	// Confirmed are held VIPs whose planned owner has claimed them again
	// since this node began to hand them over: a claim newer than the
	// hand-over, not one from before it (a claim the owner made before a
	// stall or a partition may no longer be true). The caller tracks the
	// owner's metadata versions.
	Confirmed map[string]bool
}

// ActionKind is what a node does about one VIP.
type ActionKind uint8

// Action kinds, as Diff returns them.
const (
	// Acquire: add the VIP's addresses and announce them now.
	Acquire ActionKind = iota + 1
	// Await: this node is the owner, but an eligible holder has not started
	// handing the VIP over yet. Nothing to do until it does.
	Await
	// Handover: mark the VIP leaving and keep serving it until the new owner
	// has announced it.
	Handover
	// Release: remove the VIP's addresses now.
	Release
	// Retain: cancel a hand-over; the VIP stays here.
	Retain
	// Defend: another host announced a VIP this node owns; announce it
	// again (the caller rate-limits this, as RFC 5227 does).
	Defend
)

var actionNames = [...]string{
	Acquire:  "acquire",
	Await:    "await",
	Handover: "handover",
	Release:  "release",
	Retain:   "retain",
	Defend:   "defend",
}

// String returns the kind's name as logs show it.
func (k ActionKind) String() string {
	if int(k) < len(actionNames) && actionNames[k] != "" {
		return actionNames[k]
	}
	return "unknown"
}

// Action is one thing a node does about one VIP.
type Action struct {
	Kind ActionKind
	VIP  string
	// Owner is the plan's owner of the VIP ("" for nobody).
	Owner string
	// Cause is a short, fixed word for metrics and scripts: the plan's
	// Reason for Acquire, Await, Handover and Retain; "handed-over",
	// "yielded" (another host announced it and this node has no quorum or
	// is not the owner) or "lost-contest" for Release; "conflict" for Defend.
	Cause string
	// Why explains the action for logs.
	Why string
}

// Diff compares a plan with what this node holds and returns what the node
// must do, in VIP order. It is pure, like Allocate.
//
// The hand-over protocol it implements is make-before-break and never lets
// a VIP become unowned while a live member serves it:
//   - a node acquires an orphan, or a VIP whose holders are ineligible or
//     leaving, at once; from an eligible holder that still wants it, it
//     waits (Await) until that holder marks it leaving;
//   - a holder that is not the owner marks the VIP leaving (Handover) and
//     releases it only when the owner announces it on the wire, or claims
//     it anew after the hand-over began (Local.Confirmed): the loser of a
//     contest too, since the winner's claim may be stale;
//   - without quorum a node acquires nothing, and releases a VIP as soon as
//     another host announces it.
func Diff(p *Plan, l Local) []Action {
	var actions []Action
	for _, a := range p.Assignments {
		v := a.VIP
		act := func(k ActionKind, cause, format string, args ...any) {
			actions = append(actions, Action{Kind: k, VIP: v, Owner: a.Owner, Cause: cause, Why: fmt.Sprintf(format, args...)})
		}
		reason := a.Reason.String()
		if !l.Held[v] {
			if a.Owner != l.Name || !p.Quorum {
				continue
			}
			if h, ok := blocking(a, l.Name); ok {
				act(Await, reason, "waiting for %s to hand it over", h)
				continue
			}
			act(Acquire, reason, "%s", a.Reason)
			continue
		}
		conflict := l.Conflicts[v]
		switch {
		case conflict && !p.Quorum:
			act(Release, "yielded", "another host announced it and this node has no quorum")
		case a.Owner == l.Name || a.Owner == "":
			switch {
			case conflict:
				act(Defend, "conflict", "another host announced it; this node owns it")
			case l.Leaving[v]:
				act(Retain, reason, "%s", a.Reason)
			}
		case conflict && l.Leaving[v]:
			act(Release, "handed-over", "the new owner %s announced it", a.Owner)
		case conflict:
			act(Release, "yielded", "another host announced it; %s owns it", a.Owner)
		case claims(a, a.Owner) && l.Confirmed[v] && a.Reason == Contested:
			act(Release, "lost-contest", "%s also holds it, wins the contest and claimed it again", a.Owner)
		case claims(a, a.Owner) && l.Confirmed[v]:
			act(Release, "handed-over", "%s holds it now", a.Owner)
		case claims(a, a.Owner) && !l.Leaving[v]:
			act(Handover, reason, "%s also holds it: handing over once it claims it again", a.Owner)
		case claims(a, a.Owner):
			// Leaving, and the owner's claim predates the hand-over.
		case !l.Leaving[v]:
			act(Handover, reason, "%s: handing over to %s", a.Reason, a.Owner)
		}
	}
	return actions
}

// blocking returns another eligible holder of the VIP that is not leaving:
// taking the VIP from it before it lets go would make two owners.
func blocking(a Assignment, self string) (string, bool) {
	for _, h := range a.Holders {
		if h.Name != self && h.Eligible && !h.Leaving {
			return h.Name, true
		}
	}
	return "", false
}

// claims reports whether member holds the VIP and is not leaving it.
func claims(a Assignment, member string) bool {
	for _, h := range a.Holders {
		if h.Name == member && !h.Leaving {
			return true
		}
	}
	return false
}
