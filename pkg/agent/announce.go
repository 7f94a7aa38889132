package agent

import (
	"net/netip"
	"time"
)

// announcement is a pending series of gratuitous announcements of one VIP.
type announcement struct {
	next time.Time
	left int
	why  string
}

// schedule announces a VIP now and n-1 more times, ARP.Interval apart.
// Repeats spaced over more than a second beat receivers' ARP locktime; a
// series already pending is extended, never shortened.
func (a *Agent) schedule(name string, n int, why string) {
	if n < 1 || !a.held[name] {
		return
	}
	if p, ok := a.announces[name]; ok {
		p.next = a.now()
		p.left = max(p.left, n)
		p.why = why
		return
	}
	a.announces[name] = &announcement{next: a.now(), left: n, why: why}
}

// announceDue sends the announcements whose time has come.
func (a *Agent) announceDue() {
	now := a.now()
	for name, p := range a.announces {
		if p.next.After(now) {
			continue
		}
		a.announceNow(name, p.why)
		p.left--
		if p.left <= 0 {
			delete(a.announces, name)
			continue
		}
		p.next = now.Add(a.cfg.ARP.Interval)
	}
}

func (a *Agent) announceNow(name, why string) {
	v, ok := findVIP(a.cfg, name)
	if !ok || !a.held[name] {
		return
	}
	for _, ad := range v.Addresses {
		notify := a.notifyFor(ad.Prefix.Addr())
		if err := a.announcer.Announce(ad.Interface, ad.Prefix.Addr(), notify); err != nil {
			a.log.Warn("announcing a VIP address", "vip", name, "addr", ad.Prefix.Addr(), "interface", ad.Interface, "err", err)
			a.count(func(c *Counters) { c.Errors++ })
			continue
		}
		a.count(func(c *Counters) { c.Announcements++ })
	}
	a.log.Debug("announced", "vip", name, "why", why)
}

// notifyFor returns the notify hosts of the same address family.
func (a *Agent) notifyFor(addr netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, n := range a.cfg.ARP.Notify {
		if n.Is4() == addr.Is4() {
			out = append(out, n)
		}
	}
	return out
}

// armAnnounce sets the timer to the next due announcement; due ones are
// sent at once.
func (a *Agent) armAnnounce(t *time.Timer) {
	if len(a.announces) == 0 {
		return
	}
	a.announceDue()
	var next time.Time
	for _, p := range a.announces {
		if next.IsZero() || p.next.Before(next) {
			next = p.next
		}
	}
	if next.IsZero() {
		return
	}
	t.Reset(max(next.Sub(a.now()), time.Millisecond))
}
