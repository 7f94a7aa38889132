package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
	"github.com/wackamole/wackamole/pkg/control"
	"github.com/wackamole/wackamole/pkg/internal/cluster"
	"github.com/wackamole/wackamole/pkg/internal/lab"
	"github.com/wackamole/wackamole/pkg/internal/router"
)

// The bgp mode tests run the daemons in a fabric (cluster.Options.BGP): a
// router namespace with a leg on the nodes' bridge and one on the
// client's, running BIRD 2 (or FRR) with eBGP and BFD (100 ms x 3) to
// every node and ECMP into its kernel table. The client reaches the VIPs
// only through the router, so who the router forwards a VIP to is who
// serves it: cluster.Holders reads the router's kernel routes. Every node
// serves HTTP on port 80 answering its name, so the client can tell which
// node it reached.

// bgpFabric is the router side of the tests: BFD 100 ms x 3, the target
// setting of the issue.
func bgpFabric(kind cluster.RouterKind) cluster.FabricOptions {
	return cluster.FabricOptions{Router: kind, BFD: true, BFDInterval: 100 * time.Millisecond, BFDMultiplier: 3}
}

// newBGPCluster builds a cluster in bgp mode behind a router, with a
// name-answering web server on every node; start runs it.
func newBGPCluster(t *testing.T, opt cluster.Options) *cluster.Cluster {
	t.Helper()
	testenv.RequireNetns(t, "bird", "birdc", "vtysh", "nft")
	if opt.BGP == nil {
		opt.BGP = &cluster.BGPOptions{FabricOptions: bgpFabric(cluster.BIRD)}
	}
	c := newCluster(t, opt)
	for _, n := range c.Nodes {
		if err := cluster.ServeName(n.Host, cluster.WebPort); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// startBGP starts every daemon and waits until every node's session
// with the router is up with BFD and the VIPs are spread, one owner each
// (the router's view).
func startBGP(t *testing.T, c *cluster.Cluster) map[netip.Addr][]string {
	t.Helper()
	if err := c.StartAll(); err != nil {
		t.Fatal(err)
	}
	var addrs []netip.Addr
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Host.Addr)
	}
	if err := router.WaitEstablished(within(t, 30*time.Second), c.Router, true, addrs...); err != nil {
		t.Fatal(err)
	}
	return converge(t, c, 30*time.Second, c.Nodes...)
}

// servedBy asks VIP v over HTTP from the client which node serves it.
func servedBy(t *testing.T, c *cluster.Cluster, v netip.Addr) string {
	t.Helper()
	body, err := c.Lab.Client.HTTPGet(within(t, 5*time.Second), fmt.Sprintf("http://%s:%d/", v, cluster.WebPort))
	if err != nil {
		t.Fatalf("asking %s which node serves it: %v", v, err)
	}
	return body
}

// servedFrom asks VIP v over HTTP from the client's source address src.
func servedFrom(ctx context.Context, c *cluster.Cluster, src, v netip.Addr) (string, error) {
	var conn net.Conn
	err := c.Lab.Client.Do(func() error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
		var err error
		conn, err = d.DialContext(ctx, "tcp", net.JoinHostPort(v.String(), strconv.Itoa(cluster.WebPort)))
		return err
	})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", v); err != nil {
		return "", err
	}
	resp, err := io.ReadAll(conn)
	if err != nil {
		return "", err
	}
	_, body, ok := strings.Cut(string(resp), "\r\n\r\n")
	if !ok || !strings.HasPrefix(string(resp), "HTTP/1.0 200") {
		return "", fmt.Errorf("GET http://%s/ from %s: %q", v, src, resp)
	}
	return body, nil
}

// A birdPath is one of the paths BIRD has for a prefix ("show route all").
type birdPath struct {
	NextHop netip.Addr
	ASPath  []uint32
	// Primary is the path BIRD selected (marked "*").
	Primary bool
}

// birdPaths returns the paths BIRD has for prefix p.
func birdPaths(t *testing.T, b *router.BIRD, p netip.Prefix) ([]birdPath, string) {
	t.Helper()
	out, err := b.Command(within(t, 5*time.Second), "show", "route", "for", p.String(), "all")
	if err != nil {
		t.Fatal(err)
	}
	return parseBIRDPaths(out), out
}

// parseBIRDPaths reads the paths out of BIRD 2's "show route ... all":
// each path starts with a line naming its protocol in brackets, followed
// by indented attribute lines.
func parseBIRDPaths(out string) []birdPath {
	var paths []birdPath
	for line := range strings.Lines(out) {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.Contains(line, " [") && (strings.Contains(line, "unicast") || strings.Contains(line, "via")) && !strings.HasPrefix(line, "\t"):
			paths = append(paths, birdPath{Primary: strings.Contains(line, "] * ")})
		case len(paths) == 0:
		case strings.HasPrefix(trimmed, "via "):
			if f := strings.Fields(trimmed); len(f) >= 2 {
				paths[len(paths)-1].NextHop, _ = netip.ParseAddr(f[1])
			}
		case strings.HasPrefix(trimmed, "BGP.as_path:"):
			for _, f := range strings.Fields(strings.TrimPrefix(trimmed, "BGP.as_path:")) {
				if n, err := strconv.ParseUint(f, 10, 32); err == nil {
					paths[len(paths)-1].ASPath = append(paths[len(paths)-1].ASPath, uint32(n))
				}
			}
		}
	}
	return paths
}

// nodeByAddr returns the node whose address is a.
func nodeByAddr(c *cluster.Cluster, a netip.Addr) *cluster.Node {
	for _, n := range c.Nodes {
		if n.Host.Addr == a {
			return n
		}
	}
	return nil
}

// nodeIndex is n's number k (node k is in AS cluster.NodeASN(k)).
func nodeIndex(c *cluster.Cluster, n *cluster.Node) int { return slices.Index(c.Nodes, n) + 1 }

// ownerAndStandby checks BIRD's paths for VIP v: exactly one ordinary
// path, from the owner (AS path: its AS), selected, and exactly one
// standby path, from another node, with that node's AS four times. It
// returns the two nodes.
func ownerAndStandby(t *testing.T, c *cluster.Cluster, b *router.BIRD, v netip.Addr) (owner, standby *cluster.Node) {
	t.Helper()
	paths, out := birdPaths(t, b, netip.PrefixFrom(v, 32))
	for _, p := range paths {
		n := nodeByAddr(c, p.NextHop)
		if n == nil {
			t.Fatalf("%s: a path via %s, not a node:\n%s", v, p.NextHop, out)
		}
		asn := cluster.NodeASN(nodeIndex(c, n))
		switch {
		case slices.Equal(p.ASPath, []uint32{asn}):
			if owner != nil {
				t.Fatalf("%s: two ordinary paths:\n%s", v, out)
			}
			if !p.Primary {
				t.Errorf("%s: the ordinary path via %s is not BIRD's choice:\n%s", v, n.Name, out)
			}
			owner = n
		case slices.Equal(p.ASPath, []uint32{asn, asn, asn, asn}):
			if standby != nil {
				t.Fatalf("%s: two standby paths:\n%s", v, out)
			}
			if p.Primary {
				t.Errorf("%s: BIRD chose the standby path via %s:\n%s", v, n.Name, out)
			}
			standby = n
		default:
			t.Fatalf("%s: path via %s with AS path %v: neither ordinary nor standby:\n%s", v, n.Name, p.ASPath, out)
		}
	}
	if owner == nil || standby == nil || owner == standby {
		t.Fatalf("%s: want an ordinary path and a standby path from two nodes, have owner %v, standby %v:\n%s", v, owner, standby, out)
	}
	return owner, standby
}

// status returns node n's status.
func status(t *testing.T, n *cluster.Node) control.Status {
	t.Helper()
	var st control.Status
	wackatrlJSON(t, n, &st, "status")
	return st
}

// announces returns what node n announces: prefix to standby.
func announces(t *testing.T, n *cluster.Node) map[string]bool {
	t.Helper()
	st := status(t, n)
	if st.BGP == nil {
		t.Fatalf("%s: no bgp section in the status", n.Name)
	}
	out := map[string]bool{}
	for _, r := range st.BGP.Routes {
		out[r.Prefix] = r.Standby
	}
	return out
}

// echoReplies returns how many ICMP echo replies host h has sent
// (/proc/net/snmp of its namespace).
func echoReplies(t *testing.T, h *lab.Host) int {
	t.Helper()
	out, err := h.Run(within(t, 5*time.Second), "cat", "/proc/net/snmp")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "Icmp:" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		if i := slices.Index(names, "OutEchoReps"); i >= 0 && i+1 < len(f) {
			n, err := strconv.Atoi(f[i+1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("%s: no OutEchoReps in /proc/net/snmp:\n%s", h, out)
	return 0
}

// TestBGPOwnersAnnounce: every VIP's owner announces an ordinary path, the
// router forwards the VIP to it, and the VIP's successor announces a
// standby path (its AS four times) with the address bound, which BIRD
// keeps but does not use. wackatrl status shows both.
func TestBGPOwnersAnnounce(t *testing.T) {
	c := newBGPCluster(t, cluster.Options{Nodes: 3})
	h := startBGP(t, c)
	b := c.Router.(*router.BIRD)
	bound, err := c.Bound(within(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range c.VIPs {
		owner, standby := ownerAndStandby(t, c, b, v)
		if cluster.Owner(h, v) != owner.Name {
			t.Errorf("%s: the router forwards to %v, the ordinary path is %s's", v, h[v], owner.Name)
		}
		if got := bound[v]; !slices.Contains(got, owner.Name) || !slices.Contains(got, standby.Name) || len(got) != 2 {
			t.Errorf("%s is bound on %v, want its owner %s and its standby %s", v, got, owner.Name, standby.Name)
		}
		if got := servedBy(t, c, v); got != owner.Name {
			t.Errorf("%s served by %s, want its owner %s", v, got, owner.Name)
		}
		prefix := netip.PrefixFrom(v, 32).String()
		if st, ok := announces(t, owner)[prefix]; !ok || st {
			t.Errorf("%s's status: %s announced %v, standby %v; want an ordinary path", owner.Name, prefix, ok, st)
		}
		if st, ok := announces(t, standby)[prefix]; !ok || !st {
			t.Errorf("%s's status: %s announced %v, standby %v; want a standby path", standby.Name, prefix, ok, st)
		}
		t.Logf("%s: owner %s, standby %s", v, owner.Name, standby.Name)
	}
	for _, n := range c.Nodes {
		st := status(t, n)
		if len(st.BGP.Peers) != 1 || st.BGP.Peers[0].State != "established" || st.BGP.Peers[0].BFD != "up" || st.BGP.Peers[0].Flaps != 0 {
			t.Errorf("%s's status: peers %+v, want one established, BFD up, no flap", n.Name, st.BGP.Peers)
		}
		code, out, _ := wackatrl(t, n, "status")
		if code != 0 || !strings.Contains(out, c.Lab.Router.Addr.String()) || !strings.Contains(out, "standby") {
			t.Errorf("wackatrl status of %s (exit %d) shows neither the router nor a standby route:\n%s", n.Name, code, out)
		}
	}
	stable(t, c, time.Second, h)
}

// crashBound is the most an owner crash may cost the client with BFD at
// 100 ms x 3: generous for a loaded machine, and far below the 9 s hold
// time, so only BFD can have met it. The figures are the bench's
// (wackalab bench-compare -bgp).
const crashBound = 2 * time.Second

// TestBGPOwnerCrash: the owner of a VIP dies with its host (link down,
// kill -9). The router notices by BFD, before the group does, and forwards
// to the VIP's successor, whose standby path and bound address were
// there all along; the group then makes it the owner, and a new
// successor announces a standby path. With BIRD and with FRR.
func TestBGPOwnerCrash(t *testing.T) {
	for _, kind := range []cluster.RouterKind{cluster.BIRD, cluster.FRR} {
		t.Run(string(kind), func(t *testing.T) {
			c := newBGPCluster(t, cluster.Options{Nodes: 3, BGP: &cluster.BGPOptions{FabricOptions: bgpFabric(kind)}})
			h := startBGP(t, c)
			v := c.VIPs[0]
			owner := c.Node(cluster.Owner(h, v))
			var successor *cluster.Node
			for _, n := range others(c.Nodes, owner) {
				if standby, ok := announces(t, n)[netip.PrefixFrom(v, 32).String()]; ok && standby {
					successor = n
				}
			}
			if successor == nil {
				t.Fatalf("no node announces a standby path for %s", v)
			}
			p := ping(t, c, v)

			// The link first: a daemon killed on a live host has its
			// kernel close the BGP session (FIN), which tells the router
			// at once. A host that dies tells nobody: only BFD notices.
			start := time.Now()
			if err := c.LinkDown(context.Background(), owner); err != nil {
				t.Fatal(err)
			}
			if err := c.Kill(owner); err != nil {
				t.Fatal(err)
			}
			reroute, err := router.WaitRoute(within(t, 15*time.Second), c.Router, netip.PrefixFrom(v, 32), successor.Host.Addr)
			if err != nil {
				t.Fatal(err)
			}
			reachable(t, p, 15*time.Second)
			r := p.Stop()
			t.Logf("%s: owner %s crashed; the router forwarded %s to the successor %s after %v; client-visible outage %v (%d of %d probes lost)",
				kind, owner.Name, v, successor.Name, reroute.Round(time.Millisecond), r.MaxGap.Round(time.Millisecond), r.Lost(), r.Sent)
			if r.MaxGap > crashBound {
				t.Errorf("outage %v, want at most %v (BFD 100 ms x 3; the hold time is 9 s)", r.MaxGap, crashBound)
			}
			if time.Since(start) < time.Second {
				// The group needs its failure timeout (1 s) to notice:
				// the router did it alone.
				if hs, err := c.Bound(context.Background()); err == nil && !slices.Contains(hs[v], successor.Name) {
					t.Errorf("the successor %s no longer has %s bound", successor.Name, v)
				}
			}
			survivors := others(c.Nodes, owner)
			h = converge(t, c, 15*time.Second, survivors...)
			if got := cluster.Owner(h, v); got != successor.Name {
				t.Errorf("%s went to %s, not to its successor %s", v, got, successor.Name)
			}
			if got := servedBy(t, c, v); got != successor.Name {
				t.Errorf("%s served by %s, want %s", v, got, successor.Name)
			}
			// The survivors announce a standby path for every VIP again:
			// one ordinary and one standby path each.
			eventually(t, 10*time.Second, func() string {
				for _, v := range c.VIPs {
					prefix := netip.PrefixFrom(v, 32).String()
					ordinary, standby := 0, 0
					for _, n := range survivors {
						if st, ok := announces(t, n)[prefix]; ok && st {
							standby++
						} else if ok {
							ordinary++
						}
					}
					if ordinary != 1 || standby != 1 {
						return fmt.Sprintf("%s: %d ordinary and %d standby paths from the survivors, want 1 and 1", v, ordinary, standby)
					}
				}
				return ""
			})
			stable(t, c, time.Second, h)
		})
	}
}

// lossless is how many probes a graceful stop or a drain may lose: none.
// Both are make-before-break in bgp mode: the new owner's ordinary path
// reaches the router before the old owner's turns into a standby path,
// and the old owner keeps the address bound for a second after that.
const lossless = 0

// TestBGPDrainAndStopLoseNothing: wackatrl drain, then a graceful stop
// (SIGTERM), each of the owner of a VIP the client pings every 10 ms:
// the router moves the VIP to another node and not one probe is lost.
func TestBGPDrainAndStopLoseNothing(t *testing.T) {
	c := newBGPCluster(t, cluster.Options{Nodes: 3})
	h := startBGP(t, c)

	v := c.VIPs[0]
	drained := c.Node(cluster.Owner(h, v))
	p := ping(t, c, v)
	time.Sleep(200 * time.Millisecond)
	code, out, errOut := wackatrl(t, drained, "drain", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("drain of %s: exit %d: %s%s", drained.Name, code, out, errOut)
	}
	rest := others(c.Nodes, drained)
	h = converge(t, c, 15*time.Second, rest...)
	time.Sleep(1500 * time.Millisecond) // past the linger: the old owner unbinds
	r := p.Stop()
	t.Logf("drain of %s: %s moved to %s; largest gap %v, %d of %d probes lost", drained.Name, v, cluster.Owner(h, v), r.MaxGap.Round(time.Millisecond), r.Lost(), r.Sent)
	if r.Lost() > lossless {
		t.Errorf("the drain lost %d probes, want %d", r.Lost(), lossless)
	}
	if got := servedBy(t, c, v); got == drained.Name {
		t.Errorf("%s still served by the drained %s", v, got)
	}
	if a := announces(t, drained); len(a) != 0 {
		t.Errorf("the drained %s still announces %v", drained.Name, a)
	}
	if code, out, errOut := wackatrl(t, drained, "undrain"); code != 0 {
		t.Fatalf("undrain: exit %d: %s%s", code, out, errOut)
	}
	h = converge(t, c, 20*time.Second, c.Nodes...)

	w := c.VIPs[1]
	stopped := c.Node(cluster.Owner(h, w))
	p = ping(t, c, w)
	time.Sleep(200 * time.Millisecond)
	if err := c.Stop(stopped, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	r = p.Stop()
	h = converge(t, c, 15*time.Second, others(c.Nodes, stopped)...)
	t.Logf("graceful stop of %s: %s moved to %s; largest gap %v, %d of %d probes lost", stopped.Name, w, cluster.Owner(h, w), r.MaxGap.Round(time.Millisecond), r.Lost(), r.Sent)
	if r.Lost() > lossless {
		t.Errorf("the graceful stop lost %d probes, want %d", r.Lost(), lossless)
	}
	ps, err := stopped.Host.Addrs(context.Background(), cluster.BGPInterface)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ps {
		if slices.Contains(c.VIPs, a.Addr()) {
			t.Errorf("the stopped %s left %s on %s", stopped.Name, a, cluster.BGPInterface)
		}
	}
	ss, err := c.Router.Sessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := router.SessionWith(ss, stopped.Host.Addr); s.Established {
		t.Errorf("the router still has a session with the stopped %s: %+v", stopped.Name, s)
	}
	stable(t, c, time.Second, h)
}

// TestBGPFailingCheckWithdraws: a node whose health check fails hands its
// VIP over (make-before-break) and announces nothing as owner: the router
// forwards the VIP to another node. Once the check passes again, the node
// takes a VIP again.
func TestBGPFailingCheckWithdraws(t *testing.T) {
	flags := t.TempDir()
	c := newBGPCluster(t, cluster.Options{Nodes: 3})
	for _, n := range c.Nodes {
		check := fmt.Sprintf(`
[[check]]
name = "service"
kind = "exec"
command = ["/usr/bin/test", "!", "-e", %q]
interval = "200ms"
timeout = "150ms"
rise = 2
fall = 2
`, filepath.Join(flags, n.Name+".down"))
		if err := c.WriteConfig(n, check); err != nil {
			t.Fatal(err)
		}
	}
	h := startBGP(t, c)
	v := c.VIPs[0]
	sick := c.Node(cluster.Owner(h, v))
	p := ping(t, c, v)

	if err := os.WriteFile(filepath.Join(flags, sick.Name+".down"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	healthy := others(c.Nodes, sick)
	h = converge(t, c, 15*time.Second, healthy...)
	time.Sleep(300 * time.Millisecond)
	r := p.Snapshot()
	t.Logf("check failed on %s: the router forwards %s to %s; client's largest gap %v, %d lost", sick.Name, v, cluster.Owner(h, v), r.MaxGap.Round(time.Millisecond), r.Lost())
	if r.Lost() > lossless {
		t.Errorf("the hand-over of an unhealthy node lost %d probes; it is make-before-break", r.Lost())
	}
	if got := servedBy(t, c, v); got == sick.Name {
		t.Errorf("%s still served by the unhealthy %s", v, got)
	}
	eventually(t, 5*time.Second, func() string {
		for prefix, standby := range announces(t, sick) {
			if !standby {
				return fmt.Sprintf("the unhealthy %s still announces %s as owner", sick.Name, prefix)
			}
		}
		return ""
	})

	if err := os.Remove(filepath.Join(flags, sick.Name+".down")); err != nil {
		t.Fatal(err)
	}
	h = converge(t, c, 30*time.Second, c.Nodes...)
	if len(heldBy(h, sick.Name)) != 1 {
		t.Fatalf("the recovered node got no VIP back: %v", h)
	}
	stable(t, c, time.Second, h)
}

// clientSources gives the client n more source addresses in its subnet
// and returns them with its own first.
func clientSources(t *testing.T, c *cluster.Cluster, n int) []netip.Addr {
	t.Helper()
	srcs := []netip.Addr{c.Lab.Client.Addr}
	for i := 1; i <= n; i++ {
		a := c.Lab.ClientAddr(i)
		if err := c.Lab.Client.AddAddr(within(t, 5*time.Second), netip.PrefixFrom(a, c.Lab.ClientSubnet.Bits())); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, a)
	}
	return srcs
}

// spread asks VIP v from every source address and returns which node
// answered each.
func spread(t *testing.T, c *cluster.Cluster, srcs []netip.Addr, v netip.Addr) map[netip.Addr]string {
	t.Helper()
	out := map[netip.Addr]string{}
	for _, src := range srcs {
		name, err := servedFrom(within(t, 5*time.Second), c, src, v)
		if err != nil {
			t.Fatal(err)
		}
		out[src] = name
	}
	return out
}

func distinct(m map[netip.Addr]string) []string {
	var out []string
	for _, name := range m {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// waitAllRoutes waits until the router forwards every VIP to exactly the
// given nodes (ECMP).
func waitAllRoutes(t *testing.T, c *cluster.Cluster, d time.Duration, nodes ...*cluster.Node) {
	t.Helper()
	var want []netip.Addr
	for _, n := range nodes {
		want = append(want, n.Host.Addr)
	}
	for _, v := range c.VIPs {
		if _, err := router.WaitRoute(within(t, d), c.Router, netip.PrefixFrom(v, 32), want...); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBGPAnnounceAll: with announce = "all" every node announces every
// VIP and the router spreads flows over all of them: clients at several
// source addresses reach several nodes. A drained node withdraws without
// losing a probe of the flow it served; a node cut off from the group
// (no quorum) withdraws too, and comes back after healing.
func TestBGPAnnounceAll(t *testing.T) {
	c := newBGPCluster(t, cluster.Options{Nodes: 3, VIPs: 2, BGP: &cluster.BGPOptions{FabricOptions: bgpFabric(cluster.BIRD), Announce: "all"}})
	if err := c.StartAll(); err != nil {
		t.Fatal(err)
	}
	waitAllRoutes(t, c, 30*time.Second, c.Nodes...)
	srcs := clientSources(t, c, 15)
	v := c.VIPs[0]
	served := spread(t, c, srcs, v)
	t.Logf("%d client addresses reach %s on %v", len(srcs), v, distinct(served))
	if len(distinct(served)) < 2 {
		t.Fatalf("every flow to %s reached %v: no ECMP spread", v, distinct(served))
	}
	for _, n := range c.Nodes {
		for prefix, standby := range announces(t, n) {
			if standby {
				t.Errorf("%s announces %s as a standby path in announce = all", n.Name, prefix)
			}
		}
	}

	// Drain the node that serves the client's own address: its flow
	// moves to the others without a loss. The probe goes every
	// millisecond here: a withdrawal that removed the address at once
	// (before the router had the withdrawal) lost the 3 to 9 ms between
	// the two, which a 10 ms probe misses more often than not.
	drained := c.Node(served[c.Lab.Client.Addr])
	p, err := c.Lab.Client.Ping(within(t, time.Minute), v, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	if err := p.WaitReplies(within(t, 10*time.Second), 20); err != nil {
		t.Fatal(err)
	}
	before := echoReplies(t, drained.Host)
	time.Sleep(200 * time.Millisecond)
	if echoReplies(t, drained.Host) == before {
		t.Fatalf("the client's pings to %s do not reach %s, which serves its HTTP", v, drained.Name)
	}
	code, out, errOut := wackatrl(t, drained, "drain", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("drain of %s: exit %d: %s%s", drained.Name, code, out, errOut)
	}
	rest := others(c.Nodes, drained)
	waitAllRoutes(t, c, 10*time.Second, rest...)
	time.Sleep(1500 * time.Millisecond)
	r := p.Stop()
	t.Logf("drain of %s in announce = all: largest gap %v, %d of %d probes lost", drained.Name, r.MaxGap.Round(time.Millisecond), r.Lost(), r.Sent)
	if r.Lost() > lossless {
		t.Errorf("the drain lost %d probes, want %d", r.Lost(), lossless)
	}
	for src, name := range spread(t, c, srcs, v) {
		if name == drained.Name {
			t.Errorf("%s still reaches the drained %s", src, name)
		}
	}
	if code, out, errOut := wackatrl(t, drained, "undrain"); code != 0 {
		t.Fatalf("undrain: exit %d: %s%s", code, out, errOut)
	}
	waitAllRoutes(t, c, 20*time.Second, c.Nodes...)

	// Cut a node off from the other nodes (the router and the client
	// still reach it): without quorum it withdraws, while the majority
	// keeps announcing.
	lone := c.Nodes[2]
	if err := lone.Host.IsolateAll(context.Background(), c.Lab.Router.Addr, c.Lab.Client.Addr); err != nil {
		t.Fatal(err)
	}
	waitAllRoutes(t, c, 15*time.Second, others(c.Nodes, lone)...)
	for src, name := range spread(t, c, srcs, v) {
		if name == lone.Name {
			t.Errorf("%s reaches the cut-off %s", src, name)
		}
	}
	if err := lone.Host.Heal(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitAllRoutes(t, c, 30*time.Second, c.Nodes...)
}

// TestBGPPartitionedMinorityWithdraws: the owner of a VIP is cut off
// from the other nodes (the router and the client still reach it).
// Without quorum it announces what it holds as standby paths only, so
// the majority's new owner attracts the traffic: the minority gets none,
// although it keeps the address. After healing the group merges, with one
// ordinary path per VIP.
func TestBGPPartitionedMinorityWithdraws(t *testing.T) {
	c := newBGPCluster(t, cluster.Options{Nodes: 3})
	h := startBGP(t, c)
	b := c.Router.(*router.BIRD)
	v := c.VIPs[0]
	lone := c.Node(cluster.Owner(h, v))
	p := ping(t, c, v)

	if err := lone.Host.IsolateAll(context.Background(), c.Lab.Router.Addr, c.Lab.Client.Addr); err != nil {
		t.Fatal(err)
	}
	majority := others(c.Nodes, lone)
	h = converge(t, c, 20*time.Second, majority...)
	reachable(t, p, 10*time.Second)
	r := p.Stop()
	t.Logf("%s cut off: the router forwards %s to %s; client's largest gap %v, %d of %d lost", lone.Name, v, cluster.Owner(h, v), r.MaxGap.Round(time.Millisecond), r.Lost(), r.Sent)
	for _, w := range c.VIPs {
		paths, out := birdPaths(t, b, netip.PrefixFrom(w, 32))
		for _, p := range paths {
			if p.NextHop == lone.Host.Addr && len(p.ASPath) == 1 {
				t.Errorf("%s: the minority %s still has an ordinary path:\n%s", w, lone.Name, out)
			}
		}
	}
	if a := announces(t, lone); a[netip.PrefixFrom(v, 32).String()] != true {
		t.Errorf("the minority %s announces %v, want %s as a standby path (it keeps what it holds)", lone.Name, a, v)
	}
	// No traffic to the minority while the majority announces.
	before := echoReplies(t, lone.Host)
	var probes []*lab.Prober
	for _, w := range c.VIPs {
		probes = append(probes, ping(t, c, w))
	}
	time.Sleep(time.Second)
	for _, pr := range probes {
		if r := pr.Stop(); r.Lost() > 0 {
			t.Errorf("%s lost %d of %d probes during the partition", r.Target, r.Lost(), r.Sent)
		}
	}
	if got := echoReplies(t, lone.Host) - before; got != 0 {
		t.Errorf("the minority %s answered %d pings during the partition", lone.Name, got)
	}
	stable(t, c, time.Second, h)

	if err := lone.Host.Heal(context.Background()); err != nil {
		t.Fatal(err)
	}
	h = converge(t, c, 30*time.Second, c.Nodes...)
	for _, w := range c.VIPs {
		ownerAndStandby(t, c, b, w)
	}
	stable(t, c, time.Second, h)
}

// logLine returns the first line of node n's log (its first run) that
// has every one of parts, "" if none.
func logLine(t *testing.T, n *cluster.Node, parts ...string) string {
	t.Helper()
	data, err := os.ReadFile(n.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// TestBGPRefusedPeers: besides the fabric's router, every node peers
// with a router that has another AS than configured and one with another
// TCP MD5 password. Both are refused and logged (the wrong AS at once,
// the silent password failure after 30 s without a session), neither
// gets a session or a route, and nothing else changes: the good
// router's sessions never flap and it has every VIP from its owner.
func TestBGPRefusedPeers(t *testing.T) {
	c := newBGPCluster(t, cluster.Options{Nodes: 3})
	ctx := within(t, time.Minute)
	var nodes []router.Neighbor
	for k, n := range c.Nodes {
		nodes = append(nodes, router.Neighbor{Address: n.Host.Addr, ASN: cluster.NodeASN(k + 1)})
	}
	start := func(name string, cfg router.Config) *router.BIRD {
		h, err := c.Lab.AddHost(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Address = h.Addr
		b, err := router.StartBIRD(ctx, h, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s:\n%s", name, b.Log())
			}
			b.Close()
		})
		return b
	}
	wrongAS := start("wrongas", router.Config{ASN: 65009, Neighbors: nodes}) // the nodes expect 65000
	for i := range nodes {
		nodes[i].Password = "wrong horse"
	}
	wrongPW := start("wrongpw", router.Config{ASN: cluster.RouterASN, Neighbors: nodes})
	asAddr, pwAddr := c.Lab.Extras[0].Addr, c.Lab.Extras[1].Addr
	pw := filepath.Join(t.TempDir(), "router.password")
	if err := os.WriteFile(pw, []byte("right horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.SetBGPPeers(fmt.Sprintf("\n[[bgp.peer]]\naddress = %q\nasn = %d\n\n[[bgp.peer]]\naddress = %q\nasn = %d\npassword_file = %q\n",
		asAddr, cluster.RouterASN, pwAddr, cluster.RouterASN, pw)); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		if err := c.WriteConfig(n, ""); err != nil {
			t.Fatal(err)
		}
	}
	h := startBGP(t, c)

	for _, want := range [][]string{
		{"session refused", asAddr.String(), "bad-peer-as"},
		{"no session with peer", pwAddr.String(), "MD5"},
	} {
		eventually(t, 45*time.Second, func() string {
			for _, n := range c.Nodes {
				if logLine(t, n, want...) == "" {
					return fmt.Sprintf("%s logged no line with %q", n.Name, want)
				}
			}
			return ""
		})
		t.Logf("%s logged: %s", c.Nodes[0].Name, logLine(t, c.Nodes[0], want...))
	}
	for _, b := range []*router.BIRD{wrongAS, wrongPW} {
		ss, err := b.Sessions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			if s.Established {
				t.Errorf("a misconfigured router established a session: %+v", s)
			}
		}
		routes, err := b.Routes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range c.VIPs {
			if rt, ok := router.Lookup(routes, netip.PrefixFrom(v, 32)); ok {
				t.Errorf("a misconfigured router has a route: %+v", rt)
			}
		}
	}
	for _, n := range c.Nodes {
		for _, p := range status(t, n).BGP.Peers {
			switch p.Address {
			case c.Lab.Router.Addr.String():
				if p.State != "established" || p.BFD != "up" || p.Flaps != 0 {
					t.Errorf("%s: the good router's session suffered: %+v", n.Name, p)
				}
			case asAddr.String():
				if p.State == "established" || !strings.Contains(p.LastError, "bad-peer-as") {
					t.Errorf("%s: the router with the wrong AS: %+v", n.Name, p)
				}
			case pwAddr.String():
				if p.State == "established" {
					t.Errorf("%s: the router with the wrong password: %+v", n.Name, p)
				}
			default:
				t.Errorf("%s: unexpected peer %+v", n.Name, p)
			}
		}
	}
	for _, v := range c.VIPs {
		ownerAndStandby(t, c, c.Router.(*router.BIRD), v)
	}
	stable(t, c, time.Second, h)
}
