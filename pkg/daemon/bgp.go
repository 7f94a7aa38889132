package daemon

import (
	"fmt"
	"os"
	"time"

	"github.com/wackamole/wackamole/pkg/agent"
	"github.com/wackamole/wackamole/pkg/bgp/remote"
	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/control"
)

// startSpeaker starts the BGP speaker of bgp mode, in its own process
// (see pkg/bgp/remote for why).
func startSpeaker(c *config.Config) (*remote.Client, error) {
	rc := remote.Config{ASN: c.BGP.ASN, RouterID: c.BGP.RouterID}
	for _, p := range c.BGP.Peers {
		rc.Peers = append(rc.Peers, remote.Peer{
			Address: p.Address, ASN: p.ASN, HoldTime: p.HoldTime,
			BFD: p.BFD, BFDInterval: p.BFDInterval, BFDMultiplier: p.BFDMultiplier, Password: p.Password,
		})
	}
	s, err := remote.Start(remote.Program(), rc, os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("bgp: %w", err)
	}
	return s, nil
}

// routes is the agent's Router over the speaker.
type routes struct{ s *remote.Client }

func (r routes) SetRoutes(want []agent.Route) error {
	rs := make([]remote.Route, len(want))
	for i, rt := range want {
		rs[i] = remote.Route{Prefix: rt.Prefix, Standby: rt.Standby}
	}
	return r.s.SetRoutes(rs)
}

// bgpStatus is the speaker's state in the control protocol's terms; nil in
// l2 mode.
func bgpStatus(s *remote.Client) *control.BGP {
	if s == nil {
		return nil
	}
	out := &control.BGP{Peers: []control.BGPPeer{}, Routes: []control.BGPRoute{}}
	announced, peers, err := s.Status()
	if err != nil {
		out.Error = err.Error()
		return out
	}
	for _, p := range peers {
		out.Peers = append(out.Peers, control.BGPPeer{
			Address: p.Address.String(), ASN: p.ASN, State: p.State, Uptime: p.Uptime.Round(time.Second).String(),
			BFD: p.BFD, Received: p.Received, Accepted: p.Accepted, Advertised: p.Advertised, Flaps: p.Flaps,
			LastError: p.LastError,
		})
	}
	for _, rt := range announced {
		out.Routes = append(out.Routes, control.BGPRoute{Prefix: rt.Prefix.String(), Standby: rt.Standby})
	}
	return out
}
