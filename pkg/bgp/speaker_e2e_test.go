package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/internal/lab"
	"github.com/wackamole/wackamole/pkg/internal/labtest"
	"github.com/wackamole/wackamole/pkg/internal/router"
)

// The router's AS, and node k's (each node its own AS, as in a
// leaf-spine fabric where every server is an AS).
const routerASN = 65000

func nodeASN(k int) uint32 { return 65100 + uint32(k) }

func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newLab builds a lab of nodes and adds one host per router name.
func newLab(t *testing.T, nodes int, routers ...string) (*lab.Lab, []*lab.Host) {
	t.Helper()
	testenv.RequireNetns(t, "bird", "birdc", "vtysh")
	l := labtest.New(t, lab.Options{Nodes: nodes})
	var hs []*lab.Host
	for _, name := range routers {
		h, err := l.AddHost(within(t, 30*time.Second), name)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	return l, hs
}

// nodeNeighbors is a router's view of the nodes: one neighbour each.
func nodeNeighbors(l *lab.Lab, bfd bool) []router.Neighbor {
	var ns []router.Neighbor
	for k, h := range l.Nodes {
		ns = append(ns, router.Neighbor{Address: h.Addr, ASN: nodeASN(k + 1), BFD: bfd})
	}
	return ns
}

func startBIRD(t *testing.T, h *lab.Host, cfg router.Config) *router.BIRD {
	t.Helper()
	b, err := router.StartBIRD(within(t, 30*time.Second), h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cleanupRouter(t, b)
	return b
}

func startFRR(t *testing.T, h *lab.Host, cfg router.Config) *router.FRR {
	t.Helper()
	f, err := router.StartFRR(within(t, 30*time.Second), h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cleanupRouter(t, f)
	return f
}

func cleanupRouter(t *testing.T, r router.Router) {
	t.Cleanup(func() {
		if t.Failed() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ss, err := r.Sessions(ctx)
			rs, _ := r.Routes(ctx)
			cancel()
			t.Logf("%T sessions %+v (%v), routes %+v\n%s", r, ss, err, rs, r.Log())
		}
		if err := r.Close(); err != nil {
			t.Errorf("close %T: %v", r, err)
		}
	})
}

// speakerConfig is node k's configuration with one peer per router.
func speakerConfig(k int, h *lab.Host, peers ...Peer) HelperConfig {
	return HelperConfig{ASN: nodeASN(k), RouterID: h.Addr, Peers: peers}
}

func host32(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// waitRoute waits for the router's kernel route to prefix to have exactly
// the given next hops (none: no route), and returns how long it took.
func waitRoute(t *testing.T, r router.Router, within time.Duration, prefix netip.Prefix, via ...netip.Addr) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	d, err := router.WaitRoute(ctx, r, prefix, via...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// stableRoute checks that the router's route to prefix keeps the given
// next hops for d.
func stableRoute(t *testing.T, r router.Router, d time.Duration, prefix netip.Prefix, via ...netip.Addr) {
	t.Helper()
	slices.SortFunc(via, netip.Addr.Compare)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		rs, err := r.Routes(within(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		rt, _ := router.Lookup(rs, prefix)
		if !slices.Equal(rt.NextHops, via) {
			t.Fatalf("route %v: next hops %v, want %v all along", prefix, rt.NextHops, via)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAnnounceAndWithdraw: a session with BIRD comes up (BFD too), an
// announced host route lands in BIRD's kernel table via the node, with
// the attributes asked for, and a withdrawal removes it.
func TestAnnounceAndWithdraw(t *testing.T) {
	l, rs := newLab(t, 1, "router")
	r, n1 := rs[0], l.Nodes[0]
	b := startBIRD(t, r, router.Config{ASN: routerASN, Address: r.Addr, Neighbors: nodeNeighbors(l, true)})
	n := startNode(t, n1, speakerConfig(1, n1, Peer{Address: r.Addr, ASN: routerASN, BFD: true}))

	st := n.waitEstablished(20*time.Second, r.Addr, true)
	if st.HoldTime != DefaultHoldTime || st.Uptime <= 0 || st.ASN != routerASN {
		t.Errorf("status %+v: want hold time %v, an uptime, ASN %d", st, DefaultHoldTime, routerASN)
	}
	if err := router.WaitEstablished(within(t, 10*time.Second), b, true, n1.Addr); err != nil {
		t.Fatal(err)
	}

	vip := host32(l.VIP(0))
	path := Path{Communities: []Community{NewCommunity(65000, 100), NoExport}}
	n.announce(vip, path)
	d := waitRoute(t, b, 10*time.Second, vip, n1.Addr)
	t.Logf("announced route installed by the router after %v", d.Round(time.Millisecond))
	n.announce(vip, path) // idempotent
	if got := n.announced(); len(got) != 1 || got[0].Prefix != vip || !got[0].Path.Equal(path) {
		t.Errorf("Announced() = %+v, want %v with %+v", got, vip, path)
	}
	out, err := b.Command(within(t, 5*time.Second), "show", "route", "all", vip.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"BGP.as_path: 65101", "(65000,100)", "(65535,65281)", "BGP.next_hop: " + n1.Addr.String()} {
		if !strings.Contains(out, want) {
			t.Errorf("BIRD's route lacks %q:\n%s", want, out)
		}
	}
	if st := n.peer(r.Addr); st.Advertised != 1 || st.Received != 0 {
		t.Errorf("status %+v: want 1 advertised, 0 received", st)
	}

	n.withdraw(vip)
	waitRoute(t, b, 10*time.Second, vip)
	n.withdraw(vip) // not announced: nothing to do
	if got := n.announced(); len(got) != 0 {
		t.Errorf("Announced() after withdraw = %+v", got)
	}
	if st := n.peer(r.Addr); st.Flaps != 0 || st.State != Established {
		t.Errorf("the session changed: %+v", st)
	}
}

// TestStandbyPath: the standby path of a second node is never preferred
// while the owner's path exists, even by a router that does ECMP, and it
// takes over when the owner goes: gracefully (Close withdraws first) and,
// with BFD, when the owner dies.
func TestStandbyPath(t *testing.T) {
	l, rs := newLab(t, 2, "router")
	r, h1, h2 := rs[0], l.Nodes[0], l.Nodes[1]
	b := startBIRD(t, r, router.Config{ASN: routerASN, Address: r.Addr, Neighbors: nodeNeighbors(l, true), ECMP: true})
	peer := Peer{Address: r.Addr, ASN: routerASN, BFD: true}
	n1 := startNode(t, h1, speakerConfig(1, h1, peer))
	n2 := startNode(t, h2, speakerConfig(2, h2, peer))
	n1.waitEstablished(20*time.Second, r.Addr, true)
	n2.waitEstablished(20*time.Second, r.Addr, true)

	vip, vip2 := host32(l.VIP(0)), host32(l.VIP(1))
	n1.announce(vip, Path{})
	n2.announce(vip, Path{Standby: true})
	waitRoute(t, b, 10*time.Second, vip, h1.Addr)
	stableRoute(t, b, time.Second, vip, h1.Addr)
	out, err := b.Command(within(t, 5*time.Second), "show", "route", "all", vip.String())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "BGP.as_path: 65102 65102 65102 65102") {
		t.Errorf("the standby path is not prepended 3 times:\n%s", out)
	}

	// A hand-over, make-before-break: the new owner's ordinary path first
	// (a router with ECMP spreads over both meanwhile), then the old
	// owner's withdrawal.
	n2.announce(vip, Path{})
	waitRoute(t, b, 10*time.Second, vip, h1.Addr, h2.Addr)
	n1.announce(vip, Path{Standby: true})
	waitRoute(t, b, 10*time.Second, vip, h2.Addr)
	n1.announce(vip, Path{})
	n2.announce(vip, Path{Standby: true})
	waitRoute(t, b, 10*time.Second, vip, h1.Addr)

	// A graceful stop of the owner: the standby takes over.
	n1.announce(vip2, Path{})
	n2.announce(vip2, Path{Standby: true})
	waitRoute(t, b, 10*time.Second, vip2, h1.Addr)
	n1.close()
	waitRoute(t, b, 10*time.Second, vip, h2.Addr)
	waitRoute(t, b, 10*time.Second, vip2, h2.Addr)
}

// TestBFDDetectsDeadOwner: with BFD at 100 ms x 3 and a 9 s hold time,
// the router moves the route to the standby path within the BFD detection
// time after the owner loses its link and its speaker dies.
func TestBFDDetectsDeadOwner(t *testing.T) {
	l, rs := newLab(t, 2, "router")
	r, h1, h2 := rs[0], l.Nodes[0], l.Nodes[1]
	b := startBIRD(t, r, router.Config{ASN: routerASN, Address: r.Addr, Neighbors: nodeNeighbors(l, true)})
	peer := Peer{Address: r.Addr, ASN: routerASN, BFD: true, BFDInterval: 100 * time.Millisecond, BFDMultiplier: 3}
	n1 := startNode(t, h1, speakerConfig(1, h1, peer))
	n2 := startNode(t, h2, speakerConfig(2, h2, peer))
	n1.waitEstablished(20*time.Second, r.Addr, true)
	n2.waitEstablished(20*time.Second, r.Addr, true)
	if err := router.WaitEstablished(within(t, 10*time.Second), b, true, h1.Addr, h2.Addr); err != nil {
		t.Fatal(err)
	}
	vip := host32(l.VIP(0))
	n1.announce(vip, Path{})
	n2.announce(vip, Path{Standby: true})
	waitRoute(t, b, 10*time.Second, vip, h1.Addr)

	start := time.Now()
	n1.crash(within(t, 5*time.Second))
	// Generous: far below the 9 s hold time, so only BFD can have done it.
	waitRoute(t, b, 3*time.Second, vip, h2.Addr)
	t.Logf("owner crash (link down, SIGKILL): the router moved the route to the standby after %v (BFD 100 ms x 3)", time.Since(start).Round(time.Millisecond))
	if st := n2.peer(r.Addr); st.State != Established || st.Flaps != 0 {
		t.Errorf("the standby's session changed: %+v", st)
	}
}

// TestECMP: two owners of one VIP (announce = "all") give the router one
// multipath route over both nodes; one withdrawing leaves the other.
func TestECMP(t *testing.T) {
	l, rs := newLab(t, 2, "router")
	r, h1, h2 := rs[0], l.Nodes[0], l.Nodes[1]
	b := startBIRD(t, r, router.Config{ASN: routerASN, Address: r.Addr, Neighbors: nodeNeighbors(l, false), ECMP: true})
	peer := Peer{Address: r.Addr, ASN: routerASN}
	n1 := startNode(t, h1, speakerConfig(1, h1, peer))
	n2 := startNode(t, h2, speakerConfig(2, h2, peer))
	vip := host32(l.VIP(0))
	n1.announce(vip, Path{})
	n2.announce(vip, Path{})
	waitRoute(t, b, 20*time.Second, vip, h1.Addr, h2.Addr)
	n1.withdraw(vip)
	waitRoute(t, b, 10*time.Second, vip, h2.Addr)
}

// TestWrongASNRefused: a router with another AS than configured, and a
// router expecting another AS than ours, are both refused and logged,
// while the session with a correctly configured router carries the
// routes as if nothing were wrong.
func TestWrongASNRefused(t *testing.T) {
	l, rs := newLab(t, 1, "good", "wrongas", "expects")
	good, wrongAS, expects, h1 := rs[0], rs[1], rs[2], l.Nodes[0]
	b := startBIRD(t, good, router.Config{ASN: routerASN, Address: good.Addr, Neighbors: nodeNeighbors(l, false)})
	startBIRD(t, wrongAS, router.Config{ASN: 65009, Address: wrongAS.Addr, Neighbors: nodeNeighbors(l, false)})
	bx := startBIRD(t, expects, router.Config{ASN: routerASN, Address: expects.Addr, Neighbors: []router.Neighbor{{Address: h1.Addr, ASN: 65199}}})
	cfg := speakerConfig(1, h1,
		Peer{Address: good.Addr, ASN: routerASN},
		Peer{Address: wrongAS.Addr, ASN: routerASN}, // it is 65009
		Peer{Address: expects.Addr, ASN: routerASN}, // it wants us as 65199
	)
	cfg.StuckAfter = 3 * time.Second
	n := startNode(t, h1, cfg)
	n.waitEstablished(20*time.Second, good.Addr, false)
	vip := host32(l.VIP(0))
	n.announce(vip, Path{})
	waitRoute(t, b, 10*time.Second, vip, h1.Addr)

	deadline := time.Now().Add(15 * time.Second)
	for !(n.logged("session refused", wrongAS.Addr.String(), "bad-peer-as") && n.logged("session refused", expects.Addr.String(), "our AS number")) {
		if time.Now().After(deadline) {
			t.Fatalf("refusals not logged:\n%s", n.Log(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st := n.peer(wrongAS.Addr); st.State == Established || !strings.Contains(st.LastError, "bad-peer-as") {
		t.Errorf("peer %v: %+v, want refused with bad-peer-as", wrongAS.Addr, st)
	}
	if st := n.peer(expects.Addr); st.State == Established || st.LastError == "" {
		t.Errorf("peer %v: %+v, want refused", expects.Addr, st)
	}
	ss, err := bx.Sessions(within(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := router.SessionWith(ss, h1.Addr); s.Established {
		t.Errorf("the router expecting AS 65199 established a session: %+v", s)
	}
	if st := n.peer(good.Addr); st.State != Established || st.Flaps != 0 || st.Advertised != 1 {
		t.Errorf("the good session suffered: %+v", st)
	}
	stableRoute(t, b, time.Second, vip, h1.Addr)
}

// TestWrongPasswordRefused: a router with another TCP MD5 password never
// gets a session (Linux drops the segments: nobody sees an error) and the
// speaker says so in its log; a router with the right password gets the
// routes.
func TestWrongPasswordRefused(t *testing.T) {
	l, rs := newLab(t, 1, "good", "other")
	good, other, h1 := rs[0], rs[1], l.Nodes[0]
	nb := nodeNeighbors(l, false)
	nb[0].Password = "right horse"
	b := startBIRD(t, good, router.Config{ASN: routerASN, Address: good.Addr, Neighbors: nb})
	nb[0].Password = "wrong horse"
	bo := startBIRD(t, other, router.Config{ASN: routerASN, Address: other.Addr, Neighbors: nb})
	cfg := speakerConfig(1, h1,
		Peer{Address: good.Addr, ASN: routerASN, Password: "right horse"},
		Peer{Address: other.Addr, ASN: routerASN, Password: "right horse"},
	)
	cfg.StuckAfter = 3 * time.Second
	n := startNode(t, h1, cfg)
	n.waitEstablished(20*time.Second, good.Addr, false)
	vip := host32(l.VIP(0))
	n.announce(vip, Path{})
	waitRoute(t, b, 10*time.Second, vip, h1.Addr)

	deadline := time.Now().Add(15 * time.Second)
	for !n.logged("no session with peer", other.Addr.String(), "MD5") {
		if time.Now().After(deadline) {
			t.Fatalf("the stuck session was not logged:\n%s", n.Log(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st := n.peer(other.Addr); st.State == Established {
		t.Errorf("session with a wrong password: %+v", st)
	}
	ss, err := bo.Sessions(within(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := router.SessionWith(ss, h1.Addr); s.Established {
		t.Errorf("the router with the wrong password established a session: %+v", s)
	}
	if rt, ok := router.Lookup(routes(t, bo), vip); ok {
		t.Errorf("the router with the wrong password has the route: %+v", rt)
	}
	if st := n.peer(good.Addr); st.State != Established || st.Flaps != 0 {
		t.Errorf("the good session suffered: %+v", st)
	}
}

// watchFlaps checks for d that the session with addr stays established
// with BFD up and does not flap, and returns its status at the end.
func watchFlaps(t *testing.T, n *node, d time.Duration, addr netip.Addr) PeerStatus {
	t.Helper()
	first := n.peer(addr)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		st := n.peer(addr)
		if st.State != Established || st.Flaps != first.Flaps || st.BFD != BFDUp {
			t.Fatalf("session with %v flapped: was %+v, now %+v\n%s", addr, first, st, n.Log(30))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return n.peer(addr)
}

// flapLoopCase is a router whose BGP and BFD sessions end together, and
// how to make them end: BIRD killed and started again, FRR's dynamic
// neighbours (a listen range) cleared.
type flapLoopCase struct {
	name    string
	start   func(t *testing.T, l *lab.Lab, r *lab.Host) router.Router
	restart func(t *testing.T, r router.Router)
}

var flapLoopCases = []flapLoopCase{
	{
		name: "BIRD restart",
		start: func(t *testing.T, l *lab.Lab, r *lab.Host) router.Router {
			return startBIRD(t, r, router.Config{ASN: routerASN, Address: r.Addr, Neighbors: nodeNeighbors(l, true)})
		},
		restart: func(t *testing.T, r router.Router) {
			if err := r.(*router.BIRD).Restart(within(t, 20*time.Second)); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		name: "FRR listen range cleared",
		start: func(t *testing.T, l *lab.Lab, r *lab.Host) router.Router {
			return startFRR(t, r, router.Config{ASN: routerASN, Address: r.Addr, Neighbors: []router.Neighbor{{Range: l.Subnet, BFD: true}}})
		},
		restart: func(t *testing.T, r router.Router) {
			if _, err := r.(*router.FRR).Command(within(t, 5*time.Second), "clear bgp *"); err != nil {
				t.Fatal(err)
			}
		},
	},
}

// TestNoBFDFlapLoop guards against GoBGP v4.8.0's stale administrative
// reset (osrg/gobgp#3561, the loop Antrea met in PR 8360): a BFD failure
// while the BGP session is already down leaves a reset queued that kills
// the next session the moment it is established. A session with BFD must
// stay up; after the router's BGP and BFD sessions end together, it must
// come back once, with BFD, and stay up.
func TestNoBFDFlapLoop(t *testing.T) {
	for _, tc := range flapLoopCases {
		t.Run(tc.name, func(t *testing.T) {
			l, rs := newLab(t, 1, "router")
			r, h1 := rs[0], l.Nodes[0]
			rt := tc.start(t, l, r)
			n := startNode(t, h1, speakerConfig(1, h1, Peer{Address: r.Addr, ASN: routerASN, BFD: true}))
			n.waitEstablished(20*time.Second, r.Addr, true)
			watchFlaps(t, n, 5*time.Second, r.Addr)
			tc.restart(t, rt)
			st := n.waitEstablished(30*time.Second, r.Addr, true)
			if st.Flaps != 1 {
				t.Errorf("%d flaps to come back, want 1: %+v", st.Flaps, st)
			}
			st = watchFlaps(t, n, 15*time.Second, r.Addr)
			t.Logf("15 s after coming back: %+v", st)
		})
	}
}

// TestGoBGPBFDFlapLoop shows the loop that TestNoBFDFlapLoop guards
// against, with BFD configured the way GoBGP intends (for the life of the
// peer): on v4.8.0 the session never stays up again. It takes minutes and
// shows GoBGP's bug rather than testing this package, so it runs only
// with WACKAMOLE_BGP_SHOW_LOOP=1; it fails once GoBGP is fixed, which is
// the time to drop sessions.renew.
func TestGoBGPBFDFlapLoop(t *testing.T) {
	if os.Getenv("WACKAMOLE_BGP_SHOW_LOOP") != "1" {
		t.Skip("shows GoBGP v4.8.0's BFD flap loop; set WACKAMOLE_BGP_SHOW_LOOP=1 to run")
	}
	for _, tc := range flapLoopCases {
		t.Run(tc.name, func(t *testing.T) {
			l, rs := newLab(t, 1, "router")
			r, h1 := rs[0], l.Nodes[0]
			rt := tc.start(t, l, r)
			cfg := speakerConfig(1, h1, Peer{Address: r.Addr, ASN: routerASN, BFD: true})
			cfg.KeepBFD = true
			n := startNode(t, h1, cfg)
			n.waitEstablished(20*time.Second, r.Addr, false)
			tc.restart(t, rt)
			time.Sleep(40 * time.Second)
			st := n.peer(r.Addr)
			t.Logf("40 s after the router's sessions ended: %+v\n%s", st, n.Log(12))
			if st.Flaps < 3 {
				t.Errorf("only %d flaps: GoBGP's BFD no longer loops here", st.Flaps)
			}
		})
	}
}

// TestFRR: FRR as the router, with one "bgp listen range" for the rack
// (the usual way to peer with every server), BFD and ECMP. The owner's
// path wins over the standby, two ordinary paths share the load, the
// standby takes over when the owner dies, and a route FRR sends a node
// is counted but neither accepted nor passed on to the node's other
// router (BIRD): a node is never a transit path.
func TestFRR(t *testing.T) {
	l, rs := newLab(t, 2, "frr", "bird")
	fr, br, h1, h2 := rs[0], rs[1], l.Nodes[0], l.Nodes[1]
	transit := netip.MustParsePrefix("198.19.5.0/24")
	f := startFRR(t, fr, router.Config{ASN: routerASN, Address: fr.Addr, ECMP: true, Neighbors: []router.Neighbor{{
		Range: l.Subnet, BFD: true, Export: []netip.Prefix{transit},
	}}})
	b := startBIRD(t, br, router.Config{ASN: 65001, Address: br.Addr, Neighbors: []router.Neighbor{{Address: h1.Addr, ASN: nodeASN(1)}}})
	n1 := startNode(t, h1, speakerConfig(1, h1, Peer{Address: fr.Addr, ASN: routerASN, BFD: true}, Peer{Address: br.Addr, ASN: 65001}))
	n2 := startNode(t, h2, speakerConfig(2, h2, Peer{Address: fr.Addr, ASN: routerASN, BFD: true}))
	n1.waitEstablished(20*time.Second, fr.Addr, true)
	n1.waitEstablished(20*time.Second, br.Addr, false)
	n2.waitEstablished(20*time.Second, fr.Addr, true)

	vip, vip2 := host32(l.VIP(0)), host32(l.VIP(1))
	n1.announce(vip, Path{})
	n2.announce(vip, Path{Standby: true})
	n1.announce(vip2, Path{})
	n2.announce(vip2, Path{})
	waitRoute(t, f, 10*time.Second, vip, h1.Addr)
	waitRoute(t, f, 10*time.Second, vip2, h1.Addr, h2.Addr)
	stableRoute(t, f, time.Second, vip, h1.Addr)
	waitRoute(t, b, 10*time.Second, vip, h1.Addr)

	st := n1.waitPeer(10*time.Second, fr.Addr, "sent the transit prefix", func(p PeerStatus) bool { return p.Received == 1 })
	if st.Accepted != 0 {
		t.Errorf("the node accepted a route from its router: %+v", st)
	}
	time.Sleep(time.Second) // time for a wrongly passed-on route to arrive
	if rt, ok := router.Lookup(routes(t, b), transit); ok {
		t.Errorf("the node passed %v from FRR on to BIRD: %+v", transit, rt)
	}

	start := time.Now()
	n1.crash(within(t, 5*time.Second))
	waitRoute(t, f, 3*time.Second, vip, h2.Addr)
	t.Logf("owner crash: FRR moved the route to the standby after %v (BFD 100 ms x 3)", time.Since(start).Round(time.Millisecond))
	waitRoute(t, f, 3*time.Second, vip2, h2.Addr)
}

// TestIPv6: a host route of an IPv6 VIP goes to an IPv6 peer, with the
// session's own address as its next hop. (2001:2::/48 is the IPv6
// benchmarking range of RFC 5180.)
func TestIPv6(t *testing.T) {
	l, rs := newLab(t, 1, "router")
	r, h1 := rs[0], l.Nodes[0]
	ctx := within(t, 30*time.Second)
	ra, na := netip.MustParseAddr("2001:2::3"), netip.MustParseAddr("2001:2::11")
	for h, a := range map[*lab.Host]netip.Addr{r: ra, h1: na} {
		if err := h.AddAddr(ctx, netip.PrefixFrom(a, 64)); err != nil {
			t.Fatal(err)
		}
	}
	b := startBIRD(t, r, router.Config{ASN: routerASN, Address: r.Addr, Neighbors: []router.Neighbor{{Address: na, ASN: nodeASN(1)}}})
	n := startNode(t, h1, speakerConfig(1, h1, Peer{Address: ra, ASN: routerASN}))
	n.waitEstablished(20*time.Second, ra, false)
	vip := netip.MustParsePrefix("2001:2::100/128")
	n.announce(vip, Path{})
	waitRoute(t, b, 10*time.Second, vip, na)
	n.withdraw(vip)
	waitRoute(t, b, 10*time.Second, vip)
}

func routes(t *testing.T, r router.Router) []router.Route {
	t.Helper()
	rs, err := r.Routes(within(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// exampleAddrs moves the documentation addresses of examples/bgp into the
// lab: the rack 192.0.2.0/24 and the VIPs 198.51.100.0/24 become the lab
// subnet, leaf1 (.1) and leaf2 (.2) the lab's first two extra hosts (.3
// and .4), the servers keep their last byte.
var exampleAddrs = regexp.MustCompile(`\b(192\.0\.2|198\.51\.100)\.(\d+)\b`)

func labText(text string) string {
	return exampleAddrs.ReplaceAllStringFunc(text, func(a string) string {
		m := exampleAddrs.FindStringSubmatch(a)
		switch m[2] {
		case "1":
			return "198.18.0.3"
		case "2":
			return "198.18.0.4"
		}
		return "198.18.0." + m[2]
	})
}

func readExample(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "bgp", name))
	if err != nil {
		t.Fatal(err)
	}
	return labText(string(data))
}

// exampleSpeaker parses examples/bgp/wackamole.toml as node k's file (its
// own name, address and AS; the gossip key left out, the password file
// written) and returns the speaker configuration it describes.
func exampleSpeaker(t *testing.T, k int, password string) HelperConfig {
	t.Helper()
	text := readExample(t, "wackamole.toml")
	pw := filepath.Join(t.TempDir(), "leaf2.password")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for old, repl := range map[string]string{
		`secret_key_file = "/etc/wackamole/gossip.key"`: "insecure = true",
		`"/etc/wackamole/leaf2.password"`:               strconv.Quote(pw),
		`node_name = "web1"`:                            fmt.Sprintf(`node_name = "web%d"`, k),
		`bind = "198.18.0.11:7946"`:                     fmt.Sprintf(`bind = "198.18.0.%d:7946"`, 10+k),
		"asn = 65101":                                   fmt.Sprintf("asn = %d", nodeASN(k)),
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("examples/bgp/wackamole.toml no longer has %q", old)
		}
		text = strings.Replace(text, old, repl, 1)
	}
	c, err := config.Parse("wackamole.toml", []byte(text))
	if err != nil {
		t.Fatalf("examples/bgp/wackamole.toml: %v", err)
	}
	hc := HelperConfig{ASN: c.BGP.ASN, RouterID: c.BGP.RouterID}
	for _, p := range c.BGP.Peers {
		hc.Peers = append(hc.Peers, Peer{
			Address: p.Address, ASN: p.ASN, HoldTime: p.HoldTime, Password: p.Password,
			BFD: p.BFD, BFDInterval: p.BFDInterval, BFDMultiplier: p.BFDMultiplier,
		})
	}
	return hc
}

// TestExamples runs examples/bgp as written (addresses moved into the
// lab): two servers configured by wackamole.toml, each peering with leaf1
// (BIRD, bird.conf) and leaf2 (FRR, frr.conf). Both leaves prefer the
// owner's path over the standby's, spread an ordinary VIP over both
// servers, and move everything to the survivor when a server dies.
func TestExamples(t *testing.T) {
	l, rs := newLab(t, 2, "leafa", "leafb")
	la, lb, h1, h2 := rs[0], rs[1], l.Nodes[0], l.Nodes[1]
	if la.Addr != netip.MustParseAddr("198.18.0.3") || lb.Addr != netip.MustParseAddr("198.18.0.4") {
		t.Fatalf("leaves at %v and %v, not where labText puts them", la.Addr, lb.Addr)
	}
	frrConf := readExample(t, "frr.conf")
	password := regexp.MustCompile(`neighbor servers password (\S+)`).FindStringSubmatch(frrConf)
	if password == nil {
		t.Fatal("examples/bgp/frr.conf has no password for the servers")
	}
	b := startBIRD(t, la, router.Config{Raw: readExample(t, "bird.conf")})
	f := startFRR(t, lb, router.Config{Raw: frrConf})
	n1 := startNode(t, h1, exampleSpeaker(t, 1, password[1]))
	n2 := startNode(t, h2, exampleSpeaker(t, 2, password[1]))
	for _, n := range []*node{n1, n2} {
		n.waitEstablished(30*time.Second, la.Addr, true)
		n.waitEstablished(30*time.Second, lb.Addr, true)
	}
	owned, shared := host32(netip.MustParseAddr("198.18.0.101")), host32(netip.MustParseAddr("198.18.0.102"))
	n1.announce(owned, Path{})
	n2.announce(owned, Path{Standby: true})
	n1.announce(shared, Path{})
	n2.announce(shared, Path{})
	for _, r := range []router.Router{b, f} {
		waitRoute(t, r, 10*time.Second, owned, h1.Addr)
		waitRoute(t, r, 10*time.Second, shared, h1.Addr, h2.Addr)
	}
	stableRoute(t, b, time.Second, owned, h1.Addr)
	stableRoute(t, f, time.Second, owned, h1.Addr)

	start := time.Now()
	n1.crash(within(t, 5*time.Second))
	for _, r := range []router.Router{b, f} {
		waitRoute(t, r, 3*time.Second, owned, h2.Addr)
		t.Logf("%T moved the owned VIP to the standby %v after the owner's crash", r, time.Since(start).Round(time.Millisecond))
		waitRoute(t, r, 3*time.Second, shared, h2.Addr)
	}
}
