package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Address plan, as offsets from the start of the lab subnet (and, in a
// routed lab, of the client subnet: the router .1, the client .2).
const (
	routerOffset = 1
	clientOffset = 2
	extraOffset  = 3   // hosts added with AddHost: .3–.10
	nodeOffset   = 10  // node K is nodeOffset+K
	vipOffset    = 100 // first VIP
	// MaxExtraHosts (8) is the number of hosts AddHost can add to a lab.
	MaxExtraHosts = nodeOffset + 1 - extraOffset
	// NumVIPs is the number of VIP addresses Lab.VIP hands out (.100–.199).
	NumVIPs = 100
	// MaxNodes (89) is the largest number of nodes a lab can hold: node
	// addresses must stay below the VIP range.
	MaxNodes = vipOffset - nodeOffset - 1
)

const (
	bridgeName = "br0"
	// clientBridge joins the router and the client of a routed lab.
	clientBridge = "br1"
	hostIf       = "eth0"
	// routerClientIf is the router's leg on the client bridge.
	routerClientIf = "eth1"
	// cleanupTimeout bounds each command run while tearing a lab down,
	// when the caller's context may already be gone.
	cleanupTimeout = 10 * time.Second
	// killWait is how long Close waits for a killed process to be reaped.
	killWait = 5 * time.Second
)

var (
	// labRange is the only address space a lab may use (RFC 2544).
	labRange = netip.MustParsePrefix("198.18.0.0/15")
	// DefaultSubnet is the lab subnet when Options.Subnet is not set.
	DefaultSubnet = netip.MustParsePrefix("198.18.0.0/24")
)

// ErrClosed is returned by operations on a lab that has been closed.
var ErrClosed = errors.New("lab: closed")

// Options configure New.
type Options struct {
	// Prefix starts the name of every namespace of the lab and must be
	// unique per run: New refuses a prefix that already has namespaces.
	// Letters, digits, '_' and '-', at most 32 characters. Default: "wk"
	// followed by 6 random hex digits.
	Prefix string
	// Nodes is the number of node namespaces to create (0 to MaxNodes).
	Nodes int
	// Subnet is the lab's IPv4 subnet. It must lie inside 198.18.0.0/15 and
	// hold at least 256 addresses (prefix length 15 to 24). Default:
	// DefaultSubnet.
	Subnet netip.Prefix
	// Routed puts the client on a subnet of its own behind a router, as
	// clients reach servers in a routed fabric: a host "<prefix>-rt" with
	// eth0 on the lab bridge (address .1 of Subnet) and eth1 on a second
	// bridge (.1 of ClientSubnet), forwarding between the two. The client
	// (.2 of ClientSubnet) and the nodes have their default route through
	// it, and VIPs come from VIPSubnet, which is on no link: traffic
	// reaches a VIP only through a route to it, such as one the router
	// learns over BGP. Subnet is then at most a /17, so that the three
	// blocks fit in 198.18.0.0/15.
	Routed bool
	// Logf, if set, receives progress messages (t.Logf fits).
	Logf func(format string, args ...any)
	// StaticNeighbors gives every node a permanent neighbour (ARP) entry
	// for every other node, as nodes on separate hosts would have them
	// in their own tables: all namespaces share the machine's neighbour
	// table, which overflows at 1024 dynamic entries, and N nodes need
	// N(N-1). Use it for labs of more than about 15 nodes (see
	// neighbors.go).
	StaticNeighbors bool

	// failStep, set by tests, makes New or AddNode fail at the named step.
	failStep string
}

// A Lab is a set of network namespaces joined by a bridge. Its methods are
// safe for concurrent use, except that AddNode and AddHost append to Nodes
// and Extras: do not call them while other goroutines read those.
type Lab struct {
	// Prefix starts every namespace name of the lab.
	Prefix string
	// Subnet is the lab's subnet (masked).
	Subnet netip.Prefix
	// Bridge is the namespace holding the bridge br0 and the bridge-side
	// veths. It has no address; use it to run bridge(8) or tcpdump on br0.
	Bridge *Host
	// Nodes are the node hosts; Nodes[K-1] is node K ("<prefix>-nK").
	Nodes []*Host
	// Client is the client host ("<prefix>-cl"), address .2 (of
	// ClientSubnet in a routed lab).
	Client *Host
	// Router is the router host ("<prefix>-rt") of a routed lab, nil
	// otherwise. Its Addr is its eth0 address, on the lab bridge;
	// RouterClientAddr is its address on the client bridge.
	Router *Host
	// ClientSubnet and VIPSubnet are the blocks of Subnet's size that
	// follow Subnet, in a routed lab (invalid otherwise): the client's
	// subnet, and the VIP addresses' (on no link).
	ClientSubnet, VIPSubnet netip.Prefix
	// Extras are the hosts added with AddHost, in order.
	Extras []*Host

	logf     func(format string, args ...any)
	failStep string
	static   bool // Options.StaticNeighbors

	topo sync.Mutex // serializes AddNode and Close

	mu         sync.Mutex
	closed     bool
	namespaces []string // created by this lab, in creation order
	procs      map[*Process]struct{}
	closers    map[int]func()
	nextCloser int

	cgroup labCgroup // CPU limits (cgroup.go)

	closeOnce sync.Once
	closeErr  error
}

// New builds a lab with opt.Nodes nodes and a client. On any error it
// removes whatever it had created.
func New(ctx context.Context, opt Options) (*Lab, error) {
	if err := checkPrivileges(); err != nil {
		return nil, err
	}
	subnet, err := checkSubnet(opt.Subnet)
	if err != nil {
		return nil, err
	}
	var clientNet, vipNet netip.Prefix
	if opt.Routed {
		if clientNet, vipNet, err = routedSubnets(subnet); err != nil {
			return nil, err
		}
	}
	prefix := opt.Prefix
	if prefix == "" {
		prefix = "wk" + randomHex(3)
	}
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if opt.Nodes < 0 || opt.Nodes > MaxNodes {
		return nil, fmt.Errorf("lab: %d nodes: want 0 to %d", opt.Nodes, MaxNodes)
	}
	existing, err := listNamespaces(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		return nil, fmt.Errorf("lab: namespaces with prefix %q already exist (%s); pick another prefix or remove them with Sweep", prefix, strings.Join(existing, ", "))
	}
	l := &Lab{
		Prefix:       prefix,
		Subnet:       subnet,
		ClientSubnet: clientNet,
		VIPSubnet:    vipNet,
		logf:         opt.Logf,
		failStep:     opt.failStep,
		static:       opt.StaticNeighbors,
		procs:        make(map[*Process]struct{}),
		closers:      make(map[int]func()),
	}
	if l.logf == nil {
		l.logf = func(string, ...any) {}
	}
	if err := l.build(ctx, opt.Nodes); err != nil {
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("lab: cleaning up after failed New: %w", cerr))
		}
		return nil, err
	}
	if l.Router != nil {
		l.logf("lab %s: bridge %s, %d nodes in %s, router %s, client %s in %s, VIPs in %s", prefix, l.Bridge.NS, len(l.Nodes), subnet, l.Router.NS, l.Client.Addr, clientNet, vipNet)
	} else {
		l.logf("lab %s: bridge %s, client %s, %d nodes in %s", prefix, l.Bridge.NS, l.Client.Addr, len(l.Nodes), subnet)
	}
	return l, nil
}

// routedSubnets returns the client and VIP subnets of a routed lab: the
// two blocks of subnet's size after it.
func routedSubnets(subnet netip.Prefix) (client, vips netip.Prefix, err error) {
	size := uint64(1) << (32 - subnet.Bits())
	start := addrValue(subnet.Addr())
	end := addrValue(labRange.Addr()) + 1<<(32-labRange.Bits())
	if start+3*size > end {
		return client, vips, fmt.Errorf("lab: routed: subnet %s leaves no room for the client and VIP subnets of its size in %s", subnet, labRange)
	}
	client = netip.PrefixFrom(valueAddr(start+size), subnet.Bits())
	vips = netip.PrefixFrom(valueAddr(start+2*size), subnet.Bits())
	return client, vips, nil
}

func addrValue(a netip.Addr) uint64 {
	b := a.As4()
	return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
}

func valueAddr(v uint64) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func checkSubnet(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return DefaultSubnet, nil
	}
	p = p.Masked()
	if !p.Addr().Is4() || p.Bits() < labRange.Bits() || !labRange.Contains(p.Addr()) {
		return netip.Prefix{}, fmt.Errorf("lab: subnet %s is outside %s", p, labRange)
	}
	if p.Bits() > 24 {
		return netip.Prefix{}, fmt.Errorf("lab: subnet %s is too small: want a prefix length of at most 24", p)
	}
	return p, nil
}

func checkPrefix(prefix string) error {
	if prefix == "" || len(prefix) > 32 {
		return fmt.Errorf("lab: prefix %q: want 1 to 32 characters", prefix)
	}
	for _, r := range prefix {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("lab: prefix %q: only letters, digits, '_' and '-' are allowed", prefix)
		}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// addrAt returns the subnet's address at offset off.
func (l *Lab) addrAt(off int) netip.Addr { return offsetAddr(l.Subnet, off) }

// offsetAddr returns the address at offset off in p.
func offsetAddr(p netip.Prefix, off int) netip.Addr {
	return valueAddr(addrValue(p.Addr()) + uint64(off))
}

// VIP returns the i-th virtual IP address of the lab, i from 0 to
// NumVIPs-1: subnet address .100+i (of VIPSubnet in a routed lab). It
// returns the zero Addr for any other i.
func (l *Lab) VIP(i int) netip.Addr {
	if i < 0 || i >= NumVIPs {
		return netip.Addr{}
	}
	if l.VIPSubnet.IsValid() {
		return offsetAddr(l.VIPSubnet, vipOffset+i)
	}
	return l.addrAt(vipOffset + i)
}

// ClientAddr returns the client's address for i = 0 and, in a routed lab,
// the addresses after it in the client subnet for i from 1 to 97, for a
// test that gives the client more source addresses (Host.AddAddr). It
// returns the zero Addr for any other i.
func (l *Lab) ClientAddr(i int) netip.Addr {
	switch {
	case i == 0 && !l.routed():
		return l.addrAt(clientOffset)
	case i < 0 || i >= vipOffset-clientOffset || !l.routed():
		return netip.Addr{}
	}
	return offsetAddr(l.ClientSubnet, clientOffset+i)
}

// RouterClientAddr is the router's address on the client bridge in a
// routed lab: the client's gateway (the zero Addr otherwise).
func (l *Lab) RouterClientAddr() netip.Addr {
	if !l.ClientSubnet.IsValid() {
		return netip.Addr{}
	}
	return offsetAddr(l.ClientSubnet, routerOffset)
}

// NodeAddr returns node k's address (k from 1 to MaxNodes), whether or not
// the node exists yet. It returns the zero Addr for any other k.
func (l *Lab) NodeAddr(k int) netip.Addr {
	if k < 1 || k > MaxNodes {
		return netip.Addr{}
	}
	return l.addrAt(nodeOffset + k)
}

func (l *Lab) build(ctx context.Context, nodes int) error {
	br := &Host{Name: "br", NS: l.Prefix + "-br", lab: l}
	if err := l.addNamespace(ctx, br.NS); err != nil {
		return err
	}
	l.Bridge = br
	if err := l.step("bridge"); err != nil {
		return err
	}
	// The bridge is a plain switch: no IPv6 link-local addresses on br0 or
	// its ports (the kernel may lack IPv6 altogether: then there is none).
	for _, key := range []string{"net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"} {
		if err := br.Sysctl(key, "1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	bridges := []string{bridgeName}
	if l.routed() {
		bridges = append(bridges, clientBridge)
	}
	if _, err := br.ip(ctx, "link", "set", "lo", "up"); err != nil {
		return err
	}
	for _, name := range bridges {
		for _, args := range [][]string{
			{"link", "add", name, "type", "bridge"},
			{"link", "set", name, "up"},
		} {
			if _, err := br.ip(ctx, args...); err != nil {
				return err
			}
		}
	}
	client := hostSpec{name: "cl", addr: l.addrAt(clientOffset)}
	if l.routed() {
		if err := l.addRouter(ctx); err != nil {
			return err
		}
		client = hostSpec{name: "cl", addr: l.ClientAddr(0), bridge: clientBridge, bits: l.ClientSubnet.Bits(), gateway: l.RouterClientAddr()}
	}
	cl, err := l.addHost(ctx, client)
	if err != nil {
		return err
	}
	l.Client = cl
	for k := 1; k <= nodes; k++ {
		h, err := l.addHost(ctx, l.nodeSpec(k))
		if err != nil {
			return err
		}
		l.Nodes = append(l.Nodes, h)
		if l.static {
			if err := l.staticNeighbors(h); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *Lab) routed() bool { return l.ClientSubnet.IsValid() }

// gateway is the default gateway of hosts on the lab bridge: the router
// in a routed lab, none otherwise.
func (l *Lab) gateway() netip.Addr {
	if l.routed() {
		return l.addrAt(routerOffset)
	}
	return netip.Addr{}
}

func (l *Lab) nodeSpec(k int) hostSpec {
	return hostSpec{name: "n" + strconv.Itoa(k), addr: l.NodeAddr(k), node: true, gateway: l.gateway()}
}

// addRouter adds the router of a routed lab: eth0 on the lab bridge,
// eth1 on the client bridge, forwarding between them.
func (l *Lab) addRouter(ctx context.Context) error {
	rt, err := l.addHost(ctx, hostSpec{name: "rt", addr: l.addrAt(routerOffset)})
	if err != nil {
		return err
	}
	l.Router = rt
	if err := l.addLeg(ctx, rt, routerClientIf, rt.peer+"1", clientBridge, netip.PrefixFrom(l.RouterClientAddr(), l.ClientSubnet.Bits()), nil); err != nil {
		return err
	}
	// Forwarding, and no reverse-path filter that could drop what comes
	// back from a node through a route just learnt (the namespace may
	// have inherited one from the machine's settings).
	for key, val := range map[string]string{
		"net.ipv4.ip_forward":                            "1",
		"net.ipv4.conf.all.rp_filter":                    "0",
		"net.ipv4.conf." + hostIf + ".rp_filter":         "0",
		"net.ipv4.conf." + routerClientIf + ".rp_filter": "0",
	} {
		if err := rt.Sysctl(key, val); err != nil {
			return err
		}
	}
	return l.step("router")
}

// step lets tests inject a failure at a named point of New or AddNode.
func (l *Lab) step(name string) error {
	if l.failStep != "" && l.failStep == name {
		return fmt.Errorf("lab: injected failure at %s", name)
	}
	return nil
}

// AddNode adds node N+1 to the bridge (a node joining later) and returns
// it; it is also appended to Nodes.
func (l *Lab) AddNode(ctx context.Context) (*Host, error) {
	l.topo.Lock()
	defer l.topo.Unlock()
	if l.isClosed() {
		return nil, ErrClosed
	}
	k := len(l.Nodes) + 1
	if k > MaxNodes {
		return nil, fmt.Errorf("lab: AddNode: the lab already has %d nodes, the maximum", MaxNodes)
	}
	spec := l.nodeSpec(k)
	h, err := l.addHost(ctx, spec)
	if err != nil {
		return nil, errors.Join(err, l.removeHost(spec.name))
	}
	l.Nodes = append(l.Nodes, h)
	if l.static {
		if err := l.staticNeighbors(h); err != nil {
			return h, err
		}
	}
	l.logf("lab %s: node %s joined at %s", l.Prefix, h.NS, h.Addr)
	return h, nil
}

// AddHost adds a host that is neither a node nor the client, such as a DNS
// server or a router stand-in, and returns it; it is also appended to
// Extras. The host gets eth0 on the bridge like the client (without the
// nodes' ARP settings), in namespace "<prefix>-<name>", at the next free
// address from .3 to .10. The name is 1 to 14 lowercase letters and digits
// starting with a letter; "br", "cl" and the node names "n1", "n2", … are
// reserved.
func (l *Lab) AddHost(ctx context.Context, name string) (*Host, error) {
	if err := checkHostName(name); err != nil {
		return nil, err
	}
	l.topo.Lock()
	defer l.topo.Unlock()
	if l.isClosed() {
		return nil, ErrClosed
	}
	for _, h := range l.Extras {
		if h.Name == name {
			return nil, fmt.Errorf("lab: AddHost: host %q already exists", name)
		}
	}
	if len(l.Extras) >= MaxExtraHosts {
		return nil, fmt.Errorf("lab: AddHost %s: the lab already has %d extra hosts, the maximum", name, MaxExtraHosts)
	}
	h, err := l.addHost(ctx, hostSpec{name: name, addr: l.addrAt(extraOffset + len(l.Extras)), gateway: l.gateway()})
	if err != nil {
		return nil, errors.Join(err, l.removeHost(name))
	}
	l.Extras = append(l.Extras, h)
	l.logf("lab %s: host %s added at %s", l.Prefix, h.NS, h.Addr)
	return h, nil
}

// checkHostName vets an AddHost name. The bridge-side veth is "v" + name,
// and interface names have at most 15 bytes.
func checkHostName(name string) error {
	if name == "" || len(name) > 14 {
		return fmt.Errorf("lab: AddHost: name %q: want 1 to 14 characters", name)
	}
	for i, r := range name {
		if !(r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return fmt.Errorf("lab: AddHost: name %q: want lowercase letters and digits, starting with a letter", name)
		}
	}
	if name == "br" || name == "cl" || name == "rt" {
		return fmt.Errorf("lab: AddHost: name %q is reserved", name)
	}
	if len(name) > 1 && name[0] == 'n' && strings.Trim(name[1:], "0123456789") == "" {
		return fmt.Errorf("lab: AddHost: name %q is reserved for nodes", name)
	}
	return nil
}

// hostSpec describes a host for addHost.
type hostSpec struct {
	name string
	addr netip.Addr
	// node gives eth0 the ARP settings recommended for web nodes with VIPs.
	node bool
	// bridge is where eth0 goes (default the lab bridge), bits the prefix
	// length of addr (default the lab subnet's).
	bridge string
	bits   int
	// gateway, if valid, is the host's default route.
	gateway netip.Addr
}

// addHost creates namespace <prefix>-name with eth0 (address addr) on a
// bridge.
func (l *Lab) addHost(ctx context.Context, spec hostSpec) (*Host, error) {
	if spec.bridge == "" {
		spec.bridge = bridgeName
	}
	if spec.bits == 0 {
		spec.bits = l.Subnet.Bits()
	}
	h := &Host{
		Name: spec.name,
		NS:   l.Prefix + "-" + spec.name,
		Addr: spec.addr,
		lab:  l,
		peer: "v" + spec.name,
	}
	if err := l.addNamespace(ctx, h.NS); err != nil {
		return nil, err
	}
	if _, err := h.ip(ctx, "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	var settings func() error
	if spec.node {
		// arp_ignore=1: answer ARP only for addresses on the asking
		// interface; arp_announce=2: use the best local source address in
		// ARP requests. The usual settings for hosts sharing VIPs.
		settings = func() error {
			for key, val := range map[string]string{
				"net.ipv4.conf." + hostIf + ".arp_ignore":   "1",
				"net.ipv4.conf." + hostIf + ".arp_announce": "2",
			} {
				if err := h.Sysctl(key, val); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if err := l.addLeg(ctx, h, hostIf, h.peer, spec.bridge, netip.PrefixFrom(spec.addr, spec.bits), settings); err != nil {
		return nil, err
	}
	if spec.gateway.IsValid() {
		if _, err := h.ip(ctx, "route", "add", "default", "via", spec.gateway.String(), "dev", hostIf); err != nil {
			return nil, err
		}
		h.gateway = spec.gateway
	}
	got, err := h.mac(ctx)
	if err != nil {
		return nil, err
	}
	h.MAC = got
	return h, nil
}

// addLeg gives h interface ifname with address p, the end of a veth pair
// whose other end, peer, is a port of bridge. settings, if set, runs
// before the interface has its address.
func (l *Lab) addLeg(ctx context.Context, h *Host, ifname, peer, bridge string, p netip.Prefix, settings func() error) error {
	// Created from inside the bridge namespace: the host end goes straight
	// into its namespace and nothing touches the root namespace.
	// The MAC spells the IPv4 address (02:00:c6:12:00:0b for
	// 198.18.0.11), which makes neighbour tables and captures readable.
	a := p.Addr().As4()
	mac := net.HardwareAddr{0x02, 0x00, a[0], a[1], a[2], a[3]}
	if _, err := l.Bridge.ip(ctx, "link", "add", peer, "type", "veth", "peer", "name", ifname, "address", mac.String(), "netns", h.NS); err != nil {
		return err
	}
	if err := l.step("veth " + h.Name); err != nil {
		return err
	}
	if _, err := l.Bridge.ip(ctx, "link", "set", peer, "master", bridge, "up"); err != nil {
		return err
	}
	if settings != nil {
		if err := settings(); err != nil {
			return err
		}
	}
	if _, err := h.ip(ctx, "addr", "add", p.String(), "dev", ifname); err != nil {
		return err
	}
	_, err := h.ip(ctx, "link", "set", ifname, "up")
	return err
}

func (l *Lab) addNamespace(ctx context.Context, ns string) error {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if _, err := ipCmd(ctx, "netns", "add", ns); err != nil {
		// Not recorded: if it failed because the name exists, it is not ours.
		return err
	}
	l.mu.Lock()
	l.namespaces = append(l.namespaces, ns)
	l.mu.Unlock()
	return nil
}

// removeNamespace kills what runs in ns and deletes it.
// removeHost undoes a host that addHost could not finish: its bridge-side
// veth, then its namespace. The veth goes first, explicitly: deleting a
// namespace destroys its veth pairs only later, in the kernel's cleanup
// work, and a host added again under the same name would find the old
// bridge port still there ("File exists").
func (l *Lab) removeHost(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var err error
	if _, derr := l.Bridge.ip(ctx, "link", "del", "v"+name); derr != nil && !strings.Contains(derr.Error(), "Cannot find device") {
		err = derr
	}
	return errors.Join(err, l.removeNamespace(l.Prefix+"-"+name))
}

func (l *Lab) removeNamespace(ns string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	killNamespacePids(ctx, ns)
	_, err := ipCmd(ctx, "netns", "del", ns)
	l.mu.Lock()
	if i := slices.Index(l.namespaces, ns); i >= 0 && err == nil {
		l.namespaces = slices.Delete(l.namespaces, i, i+1)
	}
	l.mu.Unlock()
	return err
}

func (l *Lab) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// track registers fn to run on Close, or returns ErrClosed.
func (l *Lab) track(fn func()) error {
	_, err := l.trackID(fn)
	return err
}

// trackID is track that also returns a function unregistering fn.
func (l *Lab) trackID(fn func()) (untrack func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	id := l.nextCloser
	l.nextCloser++
	l.closers[id] = fn
	return func() {
		l.mu.Lock()
		delete(l.closers, id)
		l.mu.Unlock()
	}, nil
}

// Close stops every prober, closes every listener, kills every process
// started in the lab (their whole process groups, then anything else still
// running in its namespaces) and deletes every namespace the lab created,
// which removes the veths and the bridge with them. It is idempotent and
// safe after a failed New; later calls return the first call's result.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.close() })
	return l.closeErr
}

func (l *Lab) close() error {
	l.topo.Lock()
	defer l.topo.Unlock()
	l.mu.Lock()
	l.closed = true
	closers := make([]func(), 0, len(l.closers))
	for _, fn := range l.closers {
		closers = append(closers, fn)
	}
	procs := make([]*Process, 0, len(l.procs))
	for p := range l.procs {
		procs = append(procs, p)
	}
	nss := slices.Clone(l.namespaces)
	l.mu.Unlock()

	for _, fn := range closers {
		fn()
	}
	var errs []error
	for _, p := range procs {
		p.Kill()
	}
	for _, p := range procs {
		if _, err := p.Wait(killWait); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ns := range slices.Backward(nss) {
		if err := l.removeNamespace(ns); err != nil {
			errs = append(errs, err)
		}
	}
	l.logf("lab %s: closed (%d namespaces, %d processes)", l.Prefix, len(nss), len(procs))
	return errors.Join(errs...)
}

// CloseOnSignal is for command-line programs: until stop is called, SIGINT
// or SIGTERM closes the lab and then exits the program with status 128+signal.
// Programs that handle signals themselves should call Close from their own
// handler instead.
func (l *Lab) CloseOnSignal() (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		defer signal.Stop(ch)
		select {
		case sig := <-ch:
			l.logf("lab %s: %v: cleaning up", l.Prefix, sig)
			if err := l.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "lab %s: cleanup: %v\n", l.Prefix, err)
			}
			code := 1
			if s, ok := sig.(syscall.Signal); ok {
				code = 128 + int(s)
			}
			os.Exit(code)
		case <-done:
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

// Dump describes the lab's state for a failing test's log: addresses,
// neighbour and routing tables of every host, the bridges' forwarding
// tables and the processes. Errors are written into the text.
func (l *Lab) Dump(ctx context.Context) string {
	var b strings.Builder
	l.topo.Lock() // Nodes grows under topo
	hosts := []*Host{}
	if l.Client != nil {
		hosts = append(hosts, l.Client)
	}
	if l.Router != nil {
		hosts = append(hosts, l.Router)
	}
	hosts = append(hosts, l.Nodes...)
	hosts = append(hosts, l.Extras...)
	br := l.Bridge
	l.topo.Unlock()
	l.mu.Lock()
	procs := make([]*Process, 0, len(l.procs))
	for p := range l.procs {
		procs = append(procs, p)
	}
	l.mu.Unlock()
	fmt.Fprintf(&b, "lab %s (%s)\n", l.Prefix, l.Subnet)
	for _, h := range hosts {
		fmt.Fprintf(&b, "== %s (%s, %s)\n", h.NS, h.Addr, h.MAC)
		for _, args := range [][]string{{"-br", "addr"}, {"neigh"}, {"route"}} {
			out, err := h.ip(ctx, args...)
			if err != nil {
				out = err.Error() + "\n"
			}
			b.WriteString(out)
		}
	}
	if br != nil {
		fmt.Fprintf(&b, "== %s\n", br.NS)
		out, err := br.ip(ctx, "-br", "link")
		if err != nil {
			out = err.Error() + "\n"
		}
		b.WriteString(out)
		bridges := []string{bridgeName}
		if l.routed() {
			bridges = append(bridges, clientBridge)
		}
		for _, name := range bridges {
			out, err = br.Run(ctx, "bridge", "fdb", "show", "br", name)
			if err != nil {
				out = err.Error() + "\n"
			}
			b.WriteString(out)
		}
	}
	slices.SortFunc(procs, func(a, c *Process) int { return a.Pid() - c.Pid() })
	for _, p := range procs {
		fmt.Fprintf(&b, "process %s\n", p)
	}
	return b.String()
}

// listNamespaces returns the network namespaces named prefix + "-" + anything.
func listNamespaces(ctx context.Context, prefix string) ([]string, error) {
	out, err := ipCmd(ctx, "netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], prefix+"-") {
			names = append(names, f[0])
		}
	}
	slices.Sort(names)
	return names, nil
}

// killNamespacePids SIGKILLs every process whose network namespace is ns;
// best effort.
func killNamespacePids(ctx context.Context, ns string) {
	out, err := ipCmd(ctx, "netns", "pids", ns)
	if err != nil {
		return
	}
	for f := range strings.FieldsSeq(out) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Sweep removes leftovers of labs whose prefix is exactly prefix: every
// namespace named prefix + "-" + anything, after killing the processes in
// it. "wk1" does not match "wk12-n1". It needs root and iproute2.
func Sweep(prefix string) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	if err := checkPrivileges(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	names, err := listNamespaces(ctx, prefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range names {
		killNamespacePids(ctx, ns)
		if _, err := ipCmd(ctx, "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
