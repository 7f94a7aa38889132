// Package cluster runs real wackamole daemons in a network-namespace lab
// (package lab): it writes each node's configuration, starts and stops the
// daemons, and reads who holds which VIP from the nodes' interfaces. The
// end-to-end tests, the failover benchmarks, the soak test and the demo are
// built on it. The soak test's runner is here (Cluster.Soak); its fault
// schedule and its invariant checker are the pure subpackages schedule and
// checker.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
	"github.com/wackamole/wackamole/pkg/internal/router"
)

// GossipPort is the port the daemons gossip on.
const GossipPort = 7946

// HeartbeatPort is the daemons' heartbeat port: the gossip port plus one.
const HeartbeatPort = GossipPort + 1

// Options configure a cluster.
type Options struct {
	// Binary is the wackamole executable.
	Binary string
	// Dir receives configurations, keys, sockets and logs.
	Dir string
	// Nodes is the number of nodes; VIPs the number of VIPs (default Nodes).
	Nodes, VIPs int
	// Timing is the timing profile (default "lan").
	Timing string
	// Mature is how long a new node waits before taking VIPs (default 1s:
	// the daemon's 5s default would only slow the tests down).
	Mature time.Duration
	// Quorum overrides the majority quorum when not 0.
	Quorum int
	// Extra is appended to every node's configuration (TOML).
	Extra string
	// Prefer makes VIP i prefer node PreferredNode(i, Nodes) ("vip-01"
	// prefers "n1"), so that every node owns one VIP of its own when all
	// are up, as with keepalived's rotated priorities.
	Prefer bool
	// IPv6 gives every VIP an IPv6 address too (VIP6), and the client an
	// address in the same /64, so that it reaches them on the link.
	IPv6 bool
	// Prefix names the lab's namespaces (default: random).
	Prefix string
	// Logf receives progress messages.
	Logf func(format string, args ...any)
	// LogLevel is the daemons' --log-level (default "debug").
	LogLevel string
	// StaticNeighbors is lab.Options.StaticNeighbors: permanent ARP
	// entries between the nodes, which a lab of more than about 15 nodes
	// needs (the machine's neighbour table overflows otherwise).
	StaticNeighbors bool
	// CPUProfile makes every daemon write a CPU profile (its undocumented
	// --cpuprofile flag) to ProfilePath. A daemon writes it when it exits
	// by itself (SIGTERM): a killed one leaves an empty file.
	CPUProfile bool
	// BGP, when set, runs the daemons in bgp mode in a fabric: a routed
	// lab whose router runs BIRD or FRR with eBGP to every node (see
	// fabric.go). Then the client is behind the router, the VIPs come
	// from the lab's VIP subnet, each node binds them on lo, and Holders
	// reads the router's routes.
	BGP *BGPOptions
}

// BGPOptions configure a cluster in bgp mode.
type BGPOptions struct {
	// FabricOptions set up the router; its BFD settings are also every
	// node's for its [[bgp.peer]] (the two sides must agree).
	FabricOptions
	// Announce is the [bgp] announce policy, "owner" (default) or "all".
	Announce string
	// Peers is TOML appended to every node's [bgp] table after the
	// router's [[bgp.peer]]: more peers, such as misconfigured routers on
	// extra hosts.
	Peers string
}

// Cluster is a lab with a wackamole daemon on each node.
type Cluster struct {
	Lab *lab.Lab
	// Router is the fabric's router in bgp mode (Options.BGP), nil
	// otherwise.
	Router router.Router
	Nodes  []*Node
	// VIPs are the VIP addresses, VIPs[i] of VIP "vip-NN" with NN = i+1.
	VIPs []netip.Addr
	// VIP6 are their IPv6 addresses when Options.IPv6 is set.
	VIP6 []netip.Addr
	opt  Options
	key  string
}

// Node is one node of the cluster.
type Node struct {
	Name       string
	Host       *lab.Host
	ConfigPath string
	KeyPath    string
	Socket     string
	LogPath    string

	cable

	mu   sync.Mutex
	proc *lab.Process
	runs int
}

// cable is a node's link as the harness left it: a node whose cable is
// pulled is left out of Holders, since nobody can reach what it has.
type cable struct {
	mu     sync.Mutex
	pulled bool
}

func (c *cable) pull(ctx context.Context, h *lab.Host) error {
	c.mu.Lock()
	c.pulled = true
	c.mu.Unlock()
	return h.LinkDown(ctx)
}

func (c *cable) plug(ctx context.Context, h *lab.Host) error {
	if err := h.LinkUp(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	c.pulled = false
	c.mu.Unlock()
	return nil
}

func (c *cable) connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.pulled
}

// wired is what holders needs of a node, ours or a rival's.
type wired interface {
	label() string
	host() *lab.Host
	connected() bool
}

func (n *Node) label() string        { return n.Name }
func (n *Node) host() *lab.Host      { return n.Host }
func (n *RivalNode) label() string   { return n.Name }
func (n *RivalNode) host() *lab.Host { return n.Host }

// holders maps each of vips to the nodes that have it on their interface,
// read with ip addr; nodes whose cable is pulled are left out.
func holders[N wired](ctx context.Context, vips []netip.Addr, nodes []N) (map[netip.Addr][]string, error) {
	out := make(map[netip.Addr][]string, len(vips))
	for _, v := range vips {
		out[v] = nil
	}
	for _, n := range nodes {
		if !n.connected() {
			continue
		}
		ps, err := n.host().Addrs(ctx, lab.IfName)
		if err != nil {
			return nil, fmt.Errorf("cluster: addresses of %s: %w", n.label(), err)
		}
		for _, p := range ps {
			if _, ok := out[p.Addr()]; ok {
				out[p.Addr()] = append(out[p.Addr()], n.label())
			}
		}
	}
	return out, nil
}

// New builds the lab and writes every node's configuration; StartAll (or
// Start) runs the daemons.
func New(ctx context.Context, opt Options) (*Cluster, error) {
	if opt.Binary == "" {
		return nil, errors.New("cluster: Options.Binary is required")
	}
	if opt.Dir == "" {
		return nil, errors.New("cluster: Options.Dir is required")
	}
	if opt.VIPs == 0 {
		opt.VIPs = opt.Nodes
	}
	if opt.Timing == "" {
		opt.Timing = "lan"
	}
	if opt.Mature == 0 {
		opt.Mature = time.Second
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	if opt.LogLevel == "" {
		opt.LogLevel = "debug"
	}
	if opt.BGP != nil {
		if err := opt.BGP.validate(); err != nil {
			return nil, err
		}
		if opt.IPv6 {
			return nil, errors.New("cluster: IPv6 VIPs are not supported in bgp mode")
		}
	}
	l, err := lab.New(ctx, lab.Options{Prefix: opt.Prefix, Nodes: opt.Nodes, Logf: opt.Logf, Routed: opt.BGP != nil, StaticNeighbors: opt.StaticNeighbors})
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	c := &Cluster{Lab: l, opt: opt, key: base64.StdEncoding.EncodeToString(key)}
	if opt.BGP != nil {
		if c.Router, err = startFabricRouter(ctx, l, opt.BGP.FabricOptions); err != nil {
			l.Close()
			return nil, err
		}
	}
	for i := 0; i < opt.VIPs; i++ {
		c.VIPs = append(c.VIPs, l.VIP(i))
		if opt.IPv6 {
			c.VIP6 = append(c.VIP6, vip6(i))
		}
	}
	if opt.IPv6 {
		if err := setupIPv6(ctx, l); err != nil {
			l.Close()
			return nil, err
		}
	}
	for _, h := range l.Nodes {
		c.Nodes = append(c.Nodes, c.newNode(h))
	}
	for _, n := range c.Nodes {
		if err := c.WriteConfig(n, ""); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (o *BGPOptions) validate() error {
	switch o.Announce {
	case "", "owner", "all":
	default:
		return fmt.Errorf("cluster: announce %q: want owner or all", o.Announce)
	}
	return o.FabricOptions.validate()
}

// BGPInterface is where the daemons bind VIPs in bgp mode.
const BGPInterface = "lo"

func (c *Cluster) newNode(h *lab.Host) *Node {
	return &Node{
		Name:       h.Name,
		Host:       h,
		ConfigPath: filepath.Join(c.opt.Dir, h.Name+".toml"),
		KeyPath:    filepath.Join(c.opt.Dir, h.Name+".key"),
		Socket:     filepath.Join(c.opt.Dir, h.Name+".sock"),
		LogPath:    filepath.Join(c.opt.Dir, h.Name+".log"),
	}
}

// Subnet6 is the IPv6 subnet of the lab (from 2001:2::/48, the range
// reserved for benchmarking, as 198.18.0.0/15 is for IPv4).
var Subnet6 = netip.MustParsePrefix("2001:2::/64")

// ClientAddr6 is the client's IPv6 address when Options.IPv6 is set.
var ClientAddr6 = netip.MustParseAddr("2001:2::2")

// NodeAddr6 is node k's own IPv6 address (k from 1) when Options.IPv6 is
// set: web nodes have an address in the VIPs' subnet, which is what gives
// them a route back to the clients.
func NodeAddr6(k int) netip.Addr {
	b := Subnet6.Addr().As16()
	b[15] = byte(10 + k)
	return netip.AddrFrom16(b)
}

// setupIPv6 gives the client and the nodes their IPv6 addresses (no DAD:
// usable at once) and waits until every link-local address is usable, as
// it long is on a real host by the time a daemon starts.
func setupIPv6(ctx context.Context, l *lab.Lab) error {
	hosts := append([]*lab.Host{l.Client}, l.Nodes...)
	for k, h := range hosts {
		a := ClientAddr6
		if k > 0 {
			a = NodeAddr6(k)
		}
		if _, err := h.Run(ctx, "ip", "-6", "addr", "add", a.String()+"/64", "dev", lab.IfName, "nodad"); err != nil {
			return err
		}
	}
	for _, h := range hosts {
		for {
			out, err := h.Run(ctx, "ip", "-6", "addr", "show", "dev", lab.IfName, "tentative")
			if err != nil {
				return err
			}
			if strings.TrimSpace(out) == "" {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("cluster: %s: IPv6 addresses still tentative: %w", h.NS, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func vip6(i int) netip.Addr {
	b := Subnet6.Addr().As16()
	b[14], b[15] = byte((0x100+i)>>8), byte(0x100+i)
	return netip.AddrFrom16(b)
}

// VIPName is the name of VIP i.
func VIPName(i int) string { return fmt.Sprintf("vip-%02d", i+1) }

// Config returns node n's configuration text, with extra appended.
func (c *Cluster) Config(n *Node, extra string) string {
	var peers []string
	for _, m := range c.Nodes {
		peers = append(peers, fmt.Sprintf("%q", netip.AddrPortFrom(m.Host.Addr, GossipPort).String()))
	}
	var b strings.Builder
	if c.opt.BGP != nil {
		b.WriteString("mode = \"bgp\"\n")
	}
	fmt.Fprintf(&b, "node_name = %q\n", n.Name)
	fmt.Fprintf(&b, "bind = %q\n", netip.AddrPortFrom(n.Host.Addr, GossipPort).String())
	fmt.Fprintf(&b, "peers = [%s]\n", strings.Join(peers, ", "))
	fmt.Fprintf(&b, "secret_key_file = %q\n", n.KeyPath)
	if c.opt.Quorum > 0 {
		fmt.Fprintf(&b, "quorum = %d\n", c.opt.Quorum)
	}
	fmt.Fprintf(&b, "mature = %q\n", c.opt.Mature.String())
	if c.opt.BGP == nil {
		fmt.Fprintf(&b, "interface = %q\n", lab.IfName)
	}
	fmt.Fprintf(&b, "control_socket = %q\n", n.Socket)
	fmt.Fprintf(&b, "timing = %q\n", c.opt.Timing)
	b.WriteString("drain_timeout = \"5s\"\n")
	b.WriteString(c.opt.Extra)
	b.WriteString(extra)
	b.WriteString("\n")
	if o := c.opt.BGP; o != nil {
		c.writeBGP(&b, n, o)
	}
	for i, a := range c.VIPs {
		addrs := fmt.Sprintf("%q", netip.PrefixFrom(a, 32).String())
		if c.opt.IPv6 {
			addrs += fmt.Sprintf(", %q", netip.PrefixFrom(c.VIP6[i], 128).String())
		}
		fmt.Fprintf(&b, "\n[[vip]]\nname = %q\naddresses = [%s]\n", VIPName(i), addrs)
		if c.opt.Prefer && len(c.Nodes) > 0 {
			fmt.Fprintf(&b, "prefer = [%q]\n", fmt.Sprintf("n%d", PreferredNode(i, c.opt.Nodes)))
		}
	}
	return b.String()
}

// SetBGPPeers replaces BGPOptions.Peers for the configurations written
// from now on (WriteConfig), for peers on hosts added after New.
func (c *Cluster) SetBGPPeers(toml string) error {
	if c.opt.BGP == nil {
		return errors.New("cluster: SetBGPPeers: not in bgp mode")
	}
	o := *c.opt.BGP
	o.Peers = toml
	c.opt.BGP = &o
	return nil
}

// writeBGP writes node n's [bgp] table: its own AS, the router as its
// peer (with the fabric's BFD settings), and o.Peers.
func (c *Cluster) writeBGP(b *strings.Builder, n *Node, o *BGPOptions) {
	k := slices.Index(c.Lab.Nodes, n.Host) + 1
	b.WriteString("\n[bgp]\n")
	fmt.Fprintf(b, "asn = %d\n", NodeASN(k))
	if o.Announce != "" {
		fmt.Fprintf(b, "announce = %q\n", o.Announce)
	}
	fmt.Fprintf(b, "interface = %q\n", BGPInterface)
	fmt.Fprintf(b, "\n[[bgp.peer]]\naddress = %q\nasn = %d\n", c.Lab.Router.Addr, RouterASN)
	if o.HoldTime != 0 {
		fmt.Fprintf(b, "hold_time = %q\n", o.HoldTime.String())
	}
	if o.BFD {
		b.WriteString("bfd = true\n")
		if o.BFDInterval != 0 {
			fmt.Fprintf(b, "bfd_interval = %q\n", o.BFDInterval.String())
		}
		if o.BFDMultiplier != 0 {
			fmt.Fprintf(b, "bfd_multiplier = %d\n", o.BFDMultiplier)
		}
	}
	b.WriteString(o.Peers)
	b.WriteString("\n")
}

// WriteConfig writes node n's configuration (with extra appended) and its
// copy of the group key.
func (c *Cluster) WriteConfig(n *Node, extra string) error {
	if err := os.WriteFile(n.KeyPath, []byte(c.key+"\n"), 0o600); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := os.WriteFile(n.ConfigPath, []byte(c.Config(n, extra)), 0o600); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// SetKey gives node n a key of its own, as a stranger would have.
func (c *Cluster) SetKey(n *Node, key []byte) error {
	return os.WriteFile(n.KeyPath, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600)
}

// AddNode adds a node to the lab (with the same peers list, so the group
// sees it as a newcomer) without starting it. Not in bgp mode: the router
// has a neighbour per node it started with.
func (c *Cluster) AddNode(ctx context.Context) (*Node, error) {
	if c.Router != nil {
		return nil, errors.New("cluster: AddNode is not supported in bgp mode")
	}
	h, err := c.Lab.AddNode(ctx)
	if err != nil {
		return nil, err
	}
	n := c.newNode(h)
	c.Nodes = append(c.Nodes, n)
	return n, c.WriteConfig(n, "")
}

// Start runs node n's daemon.
func (c *Cluster) Start(n *Node) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && !n.proc.Exited() {
		return fmt.Errorf("cluster: %s is already running", n.Name)
	}
	n.runs++
	logPath := n.LogPath
	if n.runs > 1 {
		logPath = fmt.Sprintf("%s.%d", n.LogPath, n.runs)
	}
	args := []string{"-c", n.ConfigPath, "--log-level", c.opt.LogLevel}
	if c.opt.CPUProfile {
		args = append(args, "--cpuprofile", n.profilePath(n.runs))
	}
	p, err := n.Host.Start(c.opt.Binary, args, logPath)
	if err != nil {
		return err
	}
	n.proc = p
	c.opt.Logf("started wackamole on %s (pid %d, log %s)", n.Name, p.Pid(), logPath)
	return nil
}

// profilePath is where run k (from 1) of the node's daemon writes its CPU
// profile with Options.CPUProfile.
func (n *Node) profilePath(k int) string {
	p := strings.TrimSuffix(n.LogPath, ".log") + ".cpu"
	if k > 1 {
		p = fmt.Sprintf("%s.%d", p, k)
	}
	return p
}

// ProfilePaths are the CPU profiles node n's daemons were started to
// write with Options.CPUProfile, one per start, oldest first.
func (n *Node) ProfilePaths() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for k := 1; k <= n.runs; k++ {
		out = append(out, n.profilePath(k))
	}
	return out
}

// StartAll runs every node's daemon.
func (c *Cluster) StartAll() error {
	for _, n := range c.Nodes {
		if err := c.Start(n); err != nil {
			return err
		}
	}
	return nil
}

// Process is node n's current daemon process, nil if never started.
func (n *Node) Process() *lab.Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// Running reports whether node n's daemon runs.
func (n *Node) Running() bool {
	p := n.Process()
	return p != nil && !p.Exited()
}

// Stop sends SIGTERM and waits for the daemon to exit; it returns the exit
// status error, if any.
func (c *Cluster) Stop(n *Node, timeout time.Duration) error {
	p := n.Process()
	if p == nil {
		return nil
	}
	if err := p.Signal(syscall.SIGTERM); err != nil && !p.Exited() {
		return err
	}
	st, err := p.Wait(timeout)
	if err != nil {
		return fmt.Errorf("cluster: %s did not stop within %v: %w", n.Name, timeout, err)
	}
	if !st.Success() {
		return fmt.Errorf("cluster: %s exited with %v", n.Name, st)
	}
	return nil
}

// Kill sends SIGKILL: the daemon dies without cleaning up.
func (c *Cluster) Kill(n *Node) error {
	p := n.Process()
	if p == nil {
		return nil
	}
	if err := p.Kill(); err != nil {
		return err
	}
	_, err := p.Wait(5 * time.Second)
	if errors.Is(err, lab.ErrRunning) {
		return fmt.Errorf("cluster: %s survived SIGKILL", n.Name)
	}
	return nil
}

// LinkDown takes node n's link down (both ends of its cable). While it is
// down, Holders ignores the node: what it has on its interface is not
// reachable by anyone.
func (c *Cluster) LinkDown(ctx context.Context, n *Node) error { return n.pull(ctx, n.Host) }

// LinkUp brings node n's link back.
func (c *Cluster) LinkUp(ctx context.Context, n *Node) error { return n.plug(ctx, n.Host) }

// Holders maps each VIP address to the nodes that have it on their
// interface right now (read with ip addr, not from the daemons). Nodes
// whose link is down are left out. In bgp mode it maps each VIP to the
// nodes the router forwards it to (RouteHolders): a VIP's successor has
// its address bound too (see Bound), but the router sends it nothing
// while the owner's path exists.
func (c *Cluster) Holders(ctx context.Context) (map[netip.Addr][]string, error) {
	if c.Router != nil {
		routes, err := c.Router.Routes(ctx)
		if err != nil {
			return nil, err
		}
		return RouteHolders(routes, c.VIPs, c.Lab.Nodes), nil
	}
	return holders(ctx, c.VIPs, c.Nodes)
}

// Bound maps each VIP address to the nodes that have it on the interface
// the daemons bind VIPs to (eth0, or lo in bgp mode), whether or not
// anyone sends them traffic; nodes whose link is down are left out.
func (c *Cluster) Bound(ctx context.Context) (map[netip.Addr][]string, error) {
	if c.Router == nil {
		return holders(ctx, c.VIPs, c.Nodes)
	}
	out := make(map[netip.Addr][]string, len(c.VIPs))
	for _, v := range c.VIPs {
		out[v] = nil
	}
	for _, n := range c.Nodes {
		if !n.connected() {
			continue
		}
		ps, err := n.Host.Addrs(ctx, BGPInterface)
		if err != nil {
			return nil, fmt.Errorf("cluster: addresses of %s: %w", n.Name, err)
		}
		for _, p := range ps {
			if _, ok := out[p.Addr()]; ok {
				out[p.Addr()] = append(out[p.Addr()], n.Name)
			}
		}
	}
	return out, nil
}

// Converged reports whether every VIP is held by exactly one node, each of
// them among live, and loads are balanced (differ by at most one) over live.
// It returns a description of what is off otherwise.
func Converged(holders map[netip.Addr][]string, live []string) (bool, string) {
	load := map[string]int{}
	for _, n := range live {
		load[n] = 0
	}
	var problems []string
	for _, v := range sortedAddrs(holders) {
		hs := holders[v]
		switch {
		case len(hs) != 1:
			problems = append(problems, fmt.Sprintf("%s held by %v", v, hs))
		case !slices.Contains(live, hs[0]):
			problems = append(problems, fmt.Sprintf("%s held by %s, not a live node", v, hs[0]))
		default:
			load[hs[0]]++
		}
	}
	lo, hi := len(holders), 0
	for _, l := range load {
		lo, hi = min(lo, l), max(hi, l)
	}
	if len(live) > 0 && hi-lo > 1 {
		problems = append(problems, fmt.Sprintf("unbalanced: %v", load))
	}
	return len(problems) == 0, strings.Join(problems, "; ")
}

// Duplicates returns the VIPs held by more than one node.
func Duplicates(holders map[netip.Addr][]string) []string {
	var out []string
	for _, v := range sortedAddrs(holders) {
		if len(holders[v]) > 1 {
			out = append(out, fmt.Sprintf("%s held by %v", v, holders[v]))
		}
	}
	return out
}

func sortedAddrs(m map[netip.Addr][]string) []netip.Addr {
	var out []netip.Addr
	for a := range m {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// WaitConverged polls until Converged holds for live, or ctx ends.
func (c *Cluster) WaitConverged(ctx context.Context, live []string) (map[netip.Addr][]string, error) {
	var last string
	for {
		h, err := c.Holders(ctx)
		if err == nil {
			ok, why := Converged(h, live)
			if ok {
				return h, nil
			}
			last = why
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return h, fmt.Errorf("cluster: not converged on %v: %s", live, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Names returns the names of the given nodes.
func Names(nodes ...*Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}

// Owner returns the single holder of VIP v ("" if none or several).
func Owner(holders map[netip.Addr][]string, v netip.Addr) string {
	if hs := holders[v]; len(hs) == 1 {
		return hs[0]
	}
	return ""
}

// Node returns the node with the given name.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Logs returns the tail of every node's daemon logs, for failure reports.
func (c *Cluster) Logs(lines int) string {
	var files []string
	for _, n := range c.Nodes {
		files = append(files, n.logFiles()...)
	}
	out := tails(files, lines)
	if c.Router != nil {
		out += fmt.Sprintf("==== router (%T)\n%s\n", c.Router, c.Router.Log())
	}
	return out
}

// logFiles are the node's daemon logs, one per run (see Cluster.Start).
func (n *Node) logFiles() []string {
	fs, _ := filepath.Glob(n.LogPath + "*")
	return fs
}

// tails returns the last lines of each of files, each under a header
// naming it; a file that cannot be read is left out.
func tails(files []string, lines int) string {
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		ls := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(ls) > lines {
			ls = ls[len(ls)-lines:]
		}
		fmt.Fprintf(&b, "==== %s (last %d lines)\n%s\n", f, len(ls), strings.Join(ls, "\n"))
	}
	return b.String()
}

// Close stops every daemon (SIGKILL), the router, and removes the lab.
func (c *Cluster) Close() error {
	var err error
	if c.Router != nil {
		err = c.Router.Close()
	}
	return errors.Join(err, c.Lab.Close())
}
