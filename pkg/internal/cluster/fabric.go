package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
	"github.com/wackamole/wackamole/pkg/internal/router"
)

// A fabric is a routed lab (lab.Options.Routed) whose router runs a real
// routing daemon with external BGP to every node, as a rack's leaf router
// does: the nodes announce the VIPs' host routes (wackamole in bgp mode,
// or ExaBGP), the router installs them in its kernel table, every equal
// path as one multipath route (ECMP: BIRD's "merge paths", FRR's
// "maximum-paths" with "multipath-relax"), and forwards the client's
// traffic along them. Who the router forwards a VIP to is then what
// decides who serves it, so the holders of a fabric's VIPs are read from
// the router's kernel table (see RouteHolders), not from the nodes.

// RouterKind is the routing daemon of a fabric's router.
type RouterKind string

// The routers a fabric can run.
const (
	// BIRD is BIRD 2 (Debian bird2).
	BIRD RouterKind = "bird"
	// FRR is FRR's zebra, bgpd and bfdd (Debian frr).
	FRR RouterKind = "frr"
)

// RouterASN is the AS of a fabric's router. Node k is in AS NodeASN(k):
// every server an AS of its own, as is usual in leaf-spine fabrics.
const RouterASN = 65000

// NodeASN is node k's AS number (k from 1).
func NodeASN(k int) uint32 { return 65100 + uint32(k) }

// FabricOptions configure a fabric's router.
type FabricOptions struct {
	// Router is the routing daemon (default BIRD).
	Router RouterKind
	// BFD runs BFD on every session, every BFDInterval (default 100 ms)
	// with multiplier BFDMultiplier (default 3).
	BFD           bool
	BFDInterval   time.Duration
	BFDMultiplier int
	// HoldTime is the hold time the router offers (default 9 s).
	HoldTime time.Duration
	// Debug makes the router log its BGP and BFD events in detail.
	Debug bool
}

func (o FabricOptions) kind() RouterKind {
	if o.Router == "" {
		return BIRD
	}
	return o.Router
}

func (o FabricOptions) validate() error {
	switch o.kind() {
	case BIRD, FRR:
		return nil
	}
	return fmt.Errorf("cluster: unknown router %q (want %s or %s)", o.Router, BIRD, FRR)
}

// Describe says how the router is set up, for reports.
func (o FabricOptions) Describe() string {
	s := fmt.Sprintf("%s, eBGP to every node (AS %d; node k in AS %d+k), ECMP into the kernel", o.kind(), RouterASN, NodeASN(0))
	if o.BFD {
		iv, mult := o.BFDInterval, o.BFDMultiplier
		if iv == 0 {
			iv = 100 * time.Millisecond
		}
		if mult == 0 {
			mult = 3
		}
		s += fmt.Sprintf(", BFD %v x %d", iv, mult)
	}
	hold := o.HoldTime
	if hold == 0 {
		hold = 9 * time.Second
	}
	return s + fmt.Sprintf(", hold time %v", hold)
}

// startFabricRouter starts the router daemon on l's router host, with
// one neighbour per node of l.
func startFabricRouter(ctx context.Context, l *lab.Lab, o FabricOptions) (router.Router, error) {
	if l.Router == nil {
		return nil, fmt.Errorf("cluster: lab %s is not routed", l.Prefix)
	}
	cfg := router.Config{ASN: RouterASN, Address: l.Router.Addr, ECMP: true, Debug: o.Debug}
	for k, h := range l.Nodes {
		cfg.Neighbors = append(cfg.Neighbors, router.Neighbor{
			Address: h.Addr, ASN: NodeASN(k + 1), HoldTime: o.HoldTime,
			BFD: o.BFD, Interval: o.BFDInterval, Multiplier: o.BFDMultiplier,
		})
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch o.kind() {
	case FRR:
		return router.StartFRR(ctx, l.Router, cfg)
	default:
		return router.StartBIRD(ctx, l.Router, cfg)
	}
}

// RouteHolders maps each of vips to the nodes the router forwards it to:
// the next hops of its host route in routes (the router's kernel table),
// by node name, in order. A VIP without a route maps to nil.
func RouteHolders(routes []router.Route, vips []netip.Addr, nodes []*lab.Host) map[netip.Addr][]string {
	byAddr := make(map[netip.Addr]string, len(nodes))
	for _, h := range nodes {
		byAddr[h.Addr] = h.Name
	}
	out := make(map[netip.Addr][]string, len(vips))
	for _, v := range vips {
		rt, _ := router.Lookup(routes, netip.PrefixFrom(v, v.BitLen()))
		var names []string
		for _, nh := range rt.NextHops {
			name, ok := byAddr[nh]
			if !ok {
				name = nh.String()
			}
			names = append(names, name)
		}
		slices.SortFunc(names, compareNodeNames)
		out[v] = names
	}
	return out
}

// compareNodeNames orders "n2" before "n10".
func compareNodeNames(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}
