package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/arp"

	"github.com/wackamole/wackamole/membership"
	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/health"
	"github.com/wackamole/wackamole/pkg/policy"
)

// tieBreaker probes a two-voter group's tie-breaker addresses, the other
// voter's host and the VIPs that host answers for, all the time, so that
// the answer is ready when the two lose contact (see
// policy.TieBreakerProbe): ARP for an address on a subnet of one of this
// host's interfaces, ICMP echo otherwise.
type tieBreaker struct {
	targets []netip.Addr
	peer    netip.Addr // the other voter's host; invalid if unknown
	vips    []config.VIP
	every   time.Duration
	// fresh is how long the peer's answers count: two rounds and a half,
	// so that one lost reply changes nothing (a VIP the peer serves
	// seeming unserved would be taken, then yielded again), and short,
	// since a VIP the peer stopped serving is dark until its answer
	// expires. A round that never ends (a stuck probe) also ends the
	// tie-breaker's answer after fresh.
	fresh time.Duration
	log   *slog.Logger
	wake  func()

	mu sync.Mutex
	// reached is when the last round ended, if a tie-breaker answered in
	// it. Unlike the peer's answers it does not outlive a round that got
	// none: a node that went deaf must stop acting on the tie-breaker at
	// once, before it would notice the peer's silence (a failure timeout
	// takes two rounds or more), or it takes every VIP on stale answers.
	// Taking nothing for a round after a lost reply is the safe side.
	reached time.Time
	alive   time.Time            // the last answer of the peer
	serves  map[string]time.Time // the peer's last answer for each VIP
}

// newTieBreaker returns the prober of c, or nil when c has no tie-breaker.
func newTieBreaker(c *config.Config, t membership.Timing, self netip.AddrPort, log *slog.Logger) *tieBreaker {
	if len(c.TieBreaker) == 0 || len(c.Peers) != 2 {
		return nil
	}
	tb := &tieBreaker{targets: c.TieBreaker, vips: c.VIPs, log: log, serves: map[string]time.Time{}}
	for _, p := range c.Peers {
		if ap, err := membership.ParseHostPort(p); err == nil && ap.Addr() != self.Addr() {
			tb.peer = ap.Addr()
		}
	}
	// Probe twice per failure timeout: when the other voter falls silent
	// the answer is at most half a timeout old.
	tb.every = max(t.FailureTimeout/2, 100*time.Millisecond)
	tb.fresh = 2*tb.every + tb.every/2
	return tb
}

// Probe implements agent.TieBreaker.
func (tb *tieBreaker) Probe() policy.TieBreakerProbe {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	now := time.Now()
	p := policy.TieBreakerProbe{
		Reached:   !tb.reached.IsZero() && now.Sub(tb.reached) < tb.fresh,
		PeerAlive: !tb.alive.IsZero() && now.Sub(tb.alive) < tb.fresh,
	}
	for name, t := range tb.serves {
		if p.PeerAlive && now.Sub(t) < tb.fresh {
			if p.PeerServes == nil {
				p.PeerServes = map[string]bool{}
			}
			p.PeerServes[name] = true
		}
	}
	return p
}

// run probes until ctx ends.
func (tb *tieBreaker) run(ctx context.Context) {
	t := time.NewTicker(tb.every)
	defer t.Stop()
	last := policy.TieBreakerProbe{}
	for {
		reached := false
		for _, a := range tb.targets {
			if ok, _ := tb.resolve(ctx, a); ok {
				reached = true
				break
			}
		}
		alive, peerMAC := false, net.HardwareAddr(nil)
		if tb.peer.IsValid() {
			alive, peerMAC = tb.resolve(ctx, tb.peer)
		}
		var served []string
		if alive {
			served = tb.served(ctx, peerMAC)
		}
		tb.mu.Lock()
		now := time.Now()
		tb.reached = time.Time{}
		if reached {
			tb.reached = now
		}
		if alive {
			tb.alive = now
		}
		for _, name := range served {
			tb.serves[name] = now
		}
		tb.mu.Unlock()
		if p := tb.Probe(); !p.Equal(last) {
			tb.log.Info("tie-breaker probes", "tie_breaker_reached", p.Reached, "peer_host_alive", p.PeerAlive, "peer_serves", len(p.PeerServes))
			last = p
			if tb.wake != nil {
				tb.wake()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// resolve probes one address within one probe period, and returns the
// hardware address that answered if it was asked by ARP (nil after ICMP).
func (tb *tieBreaker) resolve(ctx context.Context, a netip.Addr) (bool, net.HardwareAddr) {
	ctx, cancel := context.WithTimeout(ctx, tb.every)
	defer cancel()
	if ifi := onLink(a); ifi != nil && a.Is4() {
		c, err := arp.Dial(ifi)
		if err == nil {
			defer c.Close()
			if dl, ok := ctx.Deadline(); ok {
				c.SetDeadline(dl)
			}
			mac, err := c.Resolve(a)
			return err == nil, mac
		}
	}
	return health.Ping(ctx, a) == nil, nil
}

// served returns the VIPs the peer's host, at peerMAC, answers for: an ARP
// request for every IPv4 address of every VIP on its interface, the
// replies read for half a probe period (the peer is on the link: it
// answers within a millisecond). A VIP with no address ARP can ask
// about (IPv6 only), or any VIP when the peer answered by ICMP (peerMAC
// nil: not on a shared link), counts as served: nothing tells otherwise,
// and leaving it to the peer is the split the rendezvous hash decides.
func (tb *tieBreaker) served(ctx context.Context, peerMAC net.HardwareAddr) []string {
	byIf := map[string][]netip.Addr{}
	owner := map[netip.Addr]string{}
	var out []string
	probed := 0
	for _, v := range tb.vips {
		asked := false
		for _, a := range v.Addresses {
			if ip := a.Prefix.Addr(); ip.Is4() && peerMAC != nil {
				byIf[a.Interface] = append(byIf[a.Interface], ip)
				owner[ip] = v.Name
				asked = true
			}
		}
		if asked {
			probed++
		} else {
			out = append(out, v.Name)
		}
	}
	deadline := time.Now().Add(tb.every / 2)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	seen := map[string]bool{}
	for ifname, addrs := range byIf {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			continue
		}
		c, err := arp.Dial(ifi)
		if err != nil {
			continue
		}
		c.SetDeadline(deadline)
		for _, ip := range addrs {
			c.Request(ip)
		}
		for {
			p, _, err := c.Read()
			if err != nil {
				break // the deadline
			}
			if name, ok := owner[p.SenderIP]; ok && p.Operation == arp.OperationReply && bytes.Equal(p.SenderHardwareAddr, peerMAC) && !seen[name] {
				seen[name] = true
				out = append(out, name)
				if len(seen) == probed {
					break
				}
			}
		}
		c.Close()
	}
	return out
}

// onLink returns the interface with a subnet that holds a, or nil.
func onLink(a netip.Addr) *net.Interface {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	for i := range ifs {
		addrs, err := ifs[i].Addrs()
		if err != nil {
			continue
		}
		for _, ad := range addrs {
			if p, err := netip.ParsePrefix(ad.String()); err == nil && p.Bits() < p.Addr().BitLen() && p.Masked().Contains(a) {
				return &ifs[i]
			}
		}
	}
	return nil
}
