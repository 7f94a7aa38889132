package daemon

import (
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

// tieBreaker probes a two-voter group's tie-breaker addresses and the
// other voter's host, all the time, so that the answer is ready when the
// two lose contact (see policy.TieBreakerProbe): ARP for an address on a
// subnet of one of this host's interfaces, ICMP echo otherwise.
type tieBreaker struct {
	targets []netip.Addr
	peer    netip.Addr // the other voter's host; invalid if unknown
	every   time.Duration
	fresh   time.Duration // how long an answer counts
	log     *slog.Logger
	wake    func()

	mu      sync.Mutex
	reached time.Time // the last answer of a tie-breaker
	alive   time.Time // the last answer of the peer
}

// newTieBreaker returns the prober of c, or nil when c has no tie-breaker.
func newTieBreaker(c *config.Config, t membership.Timing, self netip.AddrPort, log *slog.Logger) *tieBreaker {
	if len(c.TieBreaker) == 0 || len(c.Peers) != 2 {
		return nil
	}
	tb := &tieBreaker{targets: c.TieBreaker, log: log}
	for _, p := range c.Peers {
		if ap, err := membership.ParseHostPort(p); err == nil && ap.Addr() != self.Addr() {
			tb.peer = ap.Addr()
		}
	}
	// Probe twice per failure timeout: when the other voter falls silent
	// the answer is at most half a timeout old.
	tb.every = max(t.FailureTimeout/2, 100*time.Millisecond)
	tb.fresh = 3 * tb.every
	return tb
}

// Probe implements agent.TieBreaker.
func (tb *tieBreaker) Probe() policy.TieBreakerProbe {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	now := time.Now()
	return policy.TieBreakerProbe{
		Reached:   !tb.reached.IsZero() && now.Sub(tb.reached) < tb.fresh,
		PeerAlive: !tb.alive.IsZero() && now.Sub(tb.alive) < tb.fresh,
	}
}

// run probes until ctx ends.
func (tb *tieBreaker) run(ctx context.Context) {
	t := time.NewTicker(tb.every)
	defer t.Stop()
	last := policy.TieBreakerProbe{}
	for {
		reached := false
		for _, a := range tb.targets {
			if tb.answers(ctx, a) {
				reached = true
				break
			}
		}
		alive := tb.peer.IsValid() && tb.answers(ctx, tb.peer)
		tb.mu.Lock()
		now := time.Now()
		if reached {
			tb.reached = now
		}
		if alive {
			tb.alive = now
		}
		tb.mu.Unlock()
		if p := tb.Probe(); p != last {
			tb.log.Info("tie-breaker probes", "tie_breaker_reached", p.Reached, "peer_host_alive", p.PeerAlive)
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

// answers probes one address, within one probe period.
func (tb *tieBreaker) answers(ctx context.Context, a netip.Addr) bool {
	ctx, cancel := context.WithTimeout(ctx, tb.every)
	defer cancel()
	if ifi := onLink(a); ifi != nil && a.Is4() {
		c, err := arp.Dial(ifi)
		if err == nil {
			defer c.Close()
			if dl, ok := ctx.Deadline(); ok {
				c.SetDeadline(dl)
			}
			if _, err := c.Resolve(a); err == nil {
				return true
			}
			return false
		}
	}
	return health.Ping(ctx, a) == nil
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
