package daemon

import (
	"github.com/wackamole/wackamole/pkg/agent"
	"github.com/wackamole/wackamole/pkg/control"
	"github.com/wackamole/wackamole/pkg/health"
)

// Status is the node's state as of the agent's last round, in the control
// protocol's terms. With Drain, Undrain and Reload it makes the Daemon the
// control socket's backend (control.Backend) and the metrics' source
// (metrics.Source).
func (d *Daemon) Status() control.Status {
	s := controlStatus(d.agent.Status())
	s.BGP = bgpStatus(d.speaker)
	return s
}

// controlStatus converts the agent's status to the control protocol's. The
// two are separate types so that the agent's may change freely: the wire
// format is control's, pinned by its golden files. Every field is named
// here, so that a field renamed or dropped on either side fails to compile
// instead of vanishing from the wire; TestControlStatusFillsEveryField
// catches a field added to control and forgotten here.
func controlStatus(s agent.Status) control.Status {
	out := control.Status{
		Node:         s.Node,
		State:        s.State,
		Healthy:      s.Healthy,
		Quorum:       control.Quorum{Have: s.Quorum.Have, Need: s.Quorum.Need, OK: s.Quorum.OK, TieBreaker: s.Quorum.TieBreaker},
		Fingerprint:  s.Fingerprint,
		Timing:       s.Timing,
		Started:      s.Started,
		GossipHealth: s.GossipHealth,
		Damping: control.Damping{
			Damped:  s.Damping.Damped,
			Penalty: s.Damping.Penalty,
			Flaps:   s.Damping.Flaps,
			Until:   s.Damping.Until,
		},
		Counters: control.Counters{
			Acquired:      s.Counters.Acquired,
			Released:      s.Counters.Released,
			Conflicts:     s.Counters.Conflicts,
			Announcements: s.Counters.Announcements,
			Errors:        s.Counters.Errors,
		},
		Notes: s.Notes,
	}
	// nil stays nil: the wire shows null, not [], for an empty list, as
	// it always did.
	if s.Members != nil {
		out.Members = make([]control.Member, len(s.Members))
		for i, m := range s.Members {
			out.Members[i] = controlMember(m)
		}
	}
	if s.VIPs != nil {
		out.VIPs = make([]control.VIP, len(s.VIPs))
		for i, v := range s.VIPs {
			out.VIPs[i] = controlVIP(v)
		}
	}
	if s.Checks != nil {
		out.Checks = make([]control.Check, len(s.Checks))
		for i, c := range s.Checks {
			out.Checks[i] = controlCheck(c)
		}
	}
	return out
}

func controlMember(m agent.MemberStatus) control.Member {
	return control.Member{
		Name:        m.Name,
		Addr:        m.Addr,
		Self:        m.Self,
		Alive:       m.Alive,
		State:       m.State,
		Healthy:     m.Healthy,
		Damped:      m.Damped,
		Witness:     m.Witness,
		Unreachable: m.Unreachable,
		Eligible:    m.Eligible,
		Why:         m.Why,
		Since:       m.Since,
		Held:        m.Held,
		Leaving:     m.Leaving,
	}
}

func controlVIP(v agent.VIPStatus) control.VIP {
	return control.VIP{
		Name:      v.Name,
		Addresses: v.Addresses,
		Owner:     v.Owner,
		Holders:   v.Holders,
		Since:     v.Since,
		Planned:   v.Planned,
		Reason:    v.Reason,
		Waiting:   v.Waiting,
	}
}

func controlCheck(c health.CheckStatus) control.Check {
	return control.Check{
		Name:       c.Name,
		Kind:       c.Kind,
		Healthy:    c.Healthy,
		LastError:  c.LastError,
		LastCheck:  c.LastCheck,
		LastChange: c.LastChange,
		Successes:  c.Successes,
		Failures:   c.Failures,
	}
}
