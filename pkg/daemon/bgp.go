package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/wackamole/wackamole/pkg/agent"
	"github.com/wackamole/wackamole/pkg/bgp"
	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/control"
)

// startSpeaker starts the embedded BGP speaker of bgp mode.
func startSpeaker(c *config.Config, log *slog.Logger) (*bgp.Speaker, error) {
	bc := bgp.Config{ASN: c.BGP.ASN, RouterID: c.BGP.RouterID, Logger: log.With("component", "bgp")}
	for _, p := range c.BGP.Peers {
		bc.Peers = append(bc.Peers, bgp.Peer{
			Address: p.Address, ASN: p.ASN, HoldTime: p.HoldTime,
			BFD: p.BFD, BFDInterval: p.BFDInterval, BFDMultiplier: p.BFDMultiplier, Password: p.Password,
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := bgp.Start(ctx, bc)
	if err != nil {
		return nil, fmt.Errorf("bgp: %w", err)
	}
	return s, nil
}

// routes is the agent's Router over the speaker: it announces what the
// agent wants and withdraws the rest.
type routes struct{ s *bgp.Speaker }

func (r routes) SetRoutes(want []agent.Route) error {
	wanted := map[netip.Prefix]bool{}
	var errs []error
	for _, rt := range want {
		wanted[rt.Prefix] = true
		if err := r.s.Announce(rt.Prefix, bgp.Path{Standby: rt.Standby}); err != nil {
			errs = append(errs, err)
		}
	}
	for _, rt := range r.s.Announced() {
		if !wanted[rt.Prefix] {
			if err := r.s.Withdraw(rt.Prefix); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// bgpStatus is the speaker's state in the control protocol's terms.
func bgpStatus(s *bgp.Speaker) *control.BGP {
	if s == nil {
		return nil
	}
	out := &control.BGP{Peers: []control.BGPPeer{}, Routes: []control.BGPRoute{}}
	for _, p := range s.Peers() {
		out.Peers = append(out.Peers, control.BGPPeer{
			Address: p.Address.String(), ASN: p.ASN, State: p.State.String(), Uptime: p.Uptime.Round(time.Second).String(),
			BFD: p.BFD.String(), Received: p.Received, Accepted: p.Accepted, Advertised: p.Advertised, Flaps: p.Flaps,
			LastError: p.LastError,
		})
	}
	for _, rt := range s.Announced() {
		out.Routes = append(out.Routes, control.BGPRoute{Prefix: rt.Prefix.String(), Standby: rt.Path.Standby})
	}
	return out
}
