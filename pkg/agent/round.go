package agent

import "github.com/wackamole/wackamole/membership"

// Round is what one reconcile round left behind, for a supervisor: the
// daemon turns it into systemd notifications (sd_notify(3): READY=1,
// STATUS=, WATCHDOG=1). Options.OnRound receives one at the end of every
// round, on the loop goroutine itself, so that a loop that stops running
// rounds also stops reporting them.
type Round struct {
	// State is this node's life-cycle state: "joining" until it has been
	// a member for the configured maturity, then "mature", or "draining".
	State string
	// Settled says that this round acted on the whole plan: the node is
	// mature and past the short wait after maturity (or after regaining
	// quorum) during which it takes nothing until it has heard every
	// member. The first settled round is when the node has applied its
	// first plan, with or without quorum: a node that is alone has then
	// waited its maturity and found nobody.
	Settled bool
	// Stopping says that the node is stopping (SIGTERM): handing its VIPs
	// over before it leaves the group.
	Stopping bool
	// Quorum is how many live, same-configured members this node sees
	// (itself included) and how many it needs.
	Quorum Quorum
	// Members is the number of live members this node sees, itself
	// included.
	Members int
	// VIPs is the number of configured VIPs; Held names those this node
	// holds at the end of the round, sorted.
	VIPs int
	Held []string
}

// endRound reports the round just run to Options.OnRound. It was settled
// if it acted on the whole plan: the node mature, neither settling nor
// recovering from a stall.
func (a *Agent) endRound() {
	if a.onRound == nil {
		return
	}
	d := a.lastDecision
	a.onRound(Round{
		State:    d.State.String(),
		Settled:  d.State != membership.Joining && !d.Settling && !d.Recovering,
		Stopping: a.stopping,
		Quorum:   Quorum{Have: d.Quorum.Have, Need: d.Quorum.Need, OK: d.Quorum.OK()},
		Members:  len(a.lastAlive) + 1,
		VIPs:     len(a.cfg.VIPs),
		Held:     a.heldNames(),
	})
}
