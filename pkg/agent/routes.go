package agent

import (
	"net/netip"
	"slices"
	"time"

	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/hooks"
	"github.com/wackamole/wackamole/pkg/policy"
	"github.com/wackamole/wackamole/vip"
)

// Router announces the VIPs' host routes in bgp mode; the daemon's
// adapter over the embedded BGP speaker is one.
//
// It is level-triggered like the loop: every round hands it the whole set
// of routes this node wants announced, and it announces what is missing
// or changed and withdraws the rest. It is called on the loop goroutine
// and must not block for long (the speaker queues its updates).
type Router interface {
	SetRoutes(routes []Route) error
}

// Route is one host route this node announces.
type Route struct {
	Prefix netip.Prefix
	// Standby announces it as a standby path (a longer AS path), which
	// routers use only when no ordinary path for the prefix is left.
	Standby bool
}

// linger is how long a VIP this node handed over in bgp mode stays bound
// here, announced as a standby path, after the new owner claimed it: the
// new owner's route reaches the routers in milliseconds, but traffic they
// still send here meanwhile is served rather than dropped, and should the
// new owner's path not be there, the standby path carries it.
const linger = time.Second

// routeRound brings the bgp mode's bindings and routes in line with the
// round's plan (owner mode):
//   - a VIP this node holds is announced as an ordinary path, or, without
//     quorum, as a standby path only: a minority must not attract traffic
//     it cannot be sure it should serve, but if the whole rest of the
//     group is gone its standby path still carries it;
//   - a VIP whose planned successor this node is stays bound here and is
//     announced as a standby path, so that a router that loses the owner's
//     session forwards here at once, before the group has noticed;
//   - a VIP handed over lingers as a standby path for a second.
func (a *Agent) routeRound(dec policy.Decision, plan vip.Plan, now time.Time) {
	want := map[string]bool{}
	if dec.Quorum.OK() && !dec.Recovering {
		for name, succ := range vip.Successors(dec.Input, plan) {
			if succ == a.cfg.NodeName && !a.held[name] {
				want[name] = true
			}
		}
	}
	for name, until := range a.lingering {
		if !now.Before(until) || a.held[name] {
			delete(a.lingering, name)
			continue
		}
		want[name] = true
	}
	for name := range a.standby {
		if !want[name] && !a.held[name] {
			a.unbindStandby(name)
		}
	}
	for name := range want {
		if !a.standby[name] {
			a.bindStandby(name)
		}
	}
	a.setRoutes(!dec.Quorum.OK())
}

// allRound is announce = "all": every eligible node with quorum holds and
// announces every VIP, and routers spread flows by ECMP. A node that is
// not eligible (draining, unhealthy, damped, joining) or has no quorum
// withdraws, but only VIPs that another eligible member announces: the
// last node announcing a VIP keeps it rather than leave it dark. A VIP it
// withdraws lingers as in owner mode (see linger): its ordinary path
// becomes a standby path at once and the address stays bound for a
// second, so that what routers still send here before the withdrawal
// reaches them is served, not dropped.
func (a *Agent) allRound(dec policy.Decision, now time.Time) {
	for name, until := range a.lingering {
		if !now.Before(until) || a.held[name] {
			delete(a.lingering, name)
			a.unbindStandby(name)
		}
	}
	self, announced := false, map[string]int{}
	for _, v := range dec.Members {
		if v.Member.Self {
			self = v.Eligible
			continue
		}
		if v.Eligible && v.Member.Alive {
			for _, name := range v.Claims.Holds {
				announced[name]++
			}
		}
	}
	take := self && dec.Quorum.OK() && !dec.Settling && !dec.Recovering
	for _, v := range a.cfg.VIPs {
		switch {
		case take && !a.held[v.Name]:
			a.acquire(v.Name, "all", "announce = all: every eligible node announces every VIP", now)
		case !take && a.held[v.Name] && announced[v.Name] > 0 && !dec.Recovering:
			a.handOff(v.Name, "withdrawn", "not eligible or no quorum: other nodes announce it", now)
		}
	}
	a.setRoutes(false)
}

// setRoutes hands the router the routes of what is bound here.
func (a *Agent) setRoutes(standbyOnly bool) {
	var routes []Route
	for _, v := range a.cfg.VIPs {
		held, standby := a.held[v.Name], a.standby[v.Name]
		if !held && !standby {
			continue
		}
		for _, ad := range v.Addresses {
			routes = append(routes, Route{Prefix: hostRoute(ad.Prefix), Standby: !held || standbyOnly})
		}
	}
	if slices.Equal(routes, a.routes) {
		return
	}
	if err := a.router.SetRoutes(routes); err != nil {
		a.log.Error("announcing routes", "err", err)
		a.count(func(c *Counters) { c.Errors++ })
		return
	}
	a.routes = routes
	a.count(func(c *Counters) { c.Announcements++ })
}

// hostRoute is the /32 or /128 of a VIP address.
func hostRoute(p netip.Prefix) netip.Prefix {
	return netip.PrefixFrom(p.Addr(), p.Addr().BitLen())
}

// bindStandby binds a VIP's addresses as a standby: served if traffic
// comes, not claimed.
func (a *Agent) bindStandby(name string) {
	v, ok := findVIP(a.cfg, name)
	if !ok {
		return
	}
	var added []config.Address
	for _, ad := range v.Addresses {
		if err := a.binder.Add(ad.Interface, ad.Prefix); err != nil {
			a.log.Error("cannot bind a standby VIP", "vip", name, "addr", ad.Prefix, "err", err)
			for _, undo := range added {
				_ = a.binder.Remove(undo.Interface, undo.Prefix)
			}
			a.count(func(c *Counters) { c.Errors++ })
			return
		}
		added = append(added, ad)
	}
	a.standby[name] = true
	a.log.Info("standby for a VIP: bound here and announced as a standby path", "vip", name)
}

func (a *Agent) unbindStandby(name string) {
	delete(a.standby, name)
	if a.held[name] {
		return
	}
	v, _ := findVIP(a.cfg, name)
	for _, ad := range v.Addresses {
		if err := a.binder.Remove(ad.Interface, ad.Prefix); err != nil {
			a.log.Error("unbinding a standby VIP", "vip", name, "err", err)
		}
	}
	a.log.Info("no longer standby for a VIP", "vip", name)
}

// bound reports whether the VIP's addresses are on an interface here:
// held, or (bgp mode) standby.
func (a *Agent) bound(name string) bool { return a.held[name] || a.standby[name] }

// handOff releases a VIP whose new owner claimed it. In bgp mode it
// lingers (see linger): released, no longer claimed, but still bound here
// and announced as a standby path for a moment.
func (a *Agent) handOff(name, cause, why string, now time.Time) {
	if a.router == nil {
		a.release(name, cause, why)
		return
	}
	v, _ := findVIP(a.cfg, name)
	a.unclaim(name, cause)
	a.standby[name] = true
	a.lingering[name] = now.Add(linger)
	a.log.Info("released VIP", "vip", name, "addresses", addrList(v), "reason", why, "lingering", linger)
	a.hook(hooks.Release, v, cause)
}

// nextLinger is when the next lingering VIP stops lingering (zero: none).
func (a *Agent) nextLinger() time.Time {
	var next time.Time
	for _, t := range a.lingering {
		next = earliest(next, t)
	}
	return next
}

// boundNames are the VIPs whose addresses are bound here, in order.
func (a *Agent) boundNames() []string {
	var out []string
	for _, v := range a.cfg.VIPs {
		if a.bound(v.Name) {
			out = append(out, v.Name)
		}
	}
	return out
}
