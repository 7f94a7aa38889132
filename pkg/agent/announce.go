package agent

import (
	"net/netip"
	"slices"
	"time"

	"github.com/wackamole/wackamole/arp"
	"github.com/wackamole/wackamole/membership"
)

// announcement is a pending series of gratuitous announcements of one VIP.
type announcement struct {
	next    time.Time
	left    int
	why     string
	unicast bool // also to the shared neighbours; sticky until the series ends
}

// unicastReasons are the announcements that also go, by unicast, to the
// hosts the group's members have been talking to: when a VIP changes hands,
// those hosts may hold the old owner's MAC.
var unicastReasons = map[string]bool{"acquired": true, "restored": true}

// schedule announces a VIP now and n-1 more times, ARP.Interval apart.
// Repeats spaced over more than a second beat receivers' ARP locktime; a
// series already pending is extended, never shortened. A VIP this node is
// handing over is never announced (whatever the reason: a membership
// change, a refresh): that would pull its clients back to a node about to
// let go, after the new owner's announcements, and keep them there until
// their neighbour entries fail.
func (a *Agent) schedule(name string, n int, why string, now time.Time) {
	if n < 1 || !a.held[name] || a.leaving[name] || a.announcer == nil {
		return // nothing to announce, being handed over, or nothing to announce it with (bgp mode)
	}
	if p, ok := a.announces[name]; ok {
		p.next = now
		p.left = max(p.left, n)
		p.why = why
		p.unicast = p.unicast || unicastReasons[why]
		return
	}
	a.announces[name] = &announcement{next: now, left: n, why: why, unicast: unicastReasons[why]}
}

// announceDue sends the announcements whose time has come.
func (a *Agent) announceDue(now time.Time) {
	for name, p := range a.announces {
		if p.next.After(now) {
			continue
		}
		a.announceNow(name, p.why, p.unicast)
		p.left--
		if p.left <= 0 {
			delete(a.announces, name)
			continue
		}
		p.next = now.Add(a.cfg.ARP.Interval)
	}
}

func (a *Agent) announceNow(name, why string, neighbours bool) {
	v, ok := findVIP(a.cfg, name)
	if !ok || !a.held[name] {
		return
	}
	var shared []membership.Neighbor
	if neighbours && a.cfg.ARP.Cache > 0 {
		shared = a.group.SharedNeighbors()
	}
	for _, ad := range v.Addresses {
		notify := a.notifyFor(ad.Prefix.Addr(), shared)
		if err := a.announcer.AnnounceTo(ad.Interface, ad.Prefix.Addr(), notify); err != nil {
			a.log.Warn("announcing a VIP address", "vip", name, "addr", ad.Prefix.Addr(), "interface", ad.Interface, "err", err)
			a.count(func(c *Counters) { c.Errors++ })
			continue
		}
		a.count(func(c *Counters) { c.Announcements++ })
	}
	a.log.Debug("announced", "vip", name, "why", why)
}

// notifyFor returns the notify hosts and the shared neighbours (with their
// MACs) of addr's family, without addr itself and without duplicates.
func (a *Agent) notifyFor(addr netip.Addr, shared []membership.Neighbor) []arp.Host {
	hosts := arp.Hosts(a.cfg.ARP.Notify)
	for _, n := range shared {
		hosts = append(hosts, arp.Host(n))
	}
	var out []arp.Host
	for _, h := range hosts {
		if h.Addr.Is4() == addr.Is4() && h.Addr != addr && !slices.ContainsFunc(out, func(o arp.Host) bool { return o.Addr == h.Addr }) {
			out = append(out, h)
		}
	}
	return out
}

// nextAnnouncement is when the next pending announcement is due (zero for
// none).
func (a *Agent) nextAnnouncement() time.Time {
	var next time.Time
	for _, p := range a.announces {
		next = earliest(next, p.next)
	}
	return next
}
