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

// Address plan, as offsets from the start of the lab subnet.
const (
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
	hostIf     = "eth0"
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
	// Logf, if set, receives progress messages (t.Logf fits).
	Logf func(format string, args ...any)

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
	// Client is the client host ("<prefix>-cl"), address .2.
	Client *Host
	// Extras are the hosts added with AddHost, in order.
	Extras []*Host

	logf     func(format string, args ...any)
	failStep string

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
		Prefix:   prefix,
		Subnet:   subnet,
		logf:     opt.Logf,
		failStep: opt.failStep,
		procs:    make(map[*Process]struct{}),
		closers:  make(map[int]func()),
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
	l.logf("lab %s: bridge %s, client %s, %d nodes in %s", prefix, l.Bridge.NS, l.Client.Addr, len(l.Nodes), subnet)
	return l, nil
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
func (l *Lab) addrAt(off int) netip.Addr {
	b := l.Subnet.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(off)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// VIP returns the i-th virtual IP address of the lab, i from 0 to
// NumVIPs-1: subnet address .100+i. It returns the zero Addr for any other i.
func (l *Lab) VIP(i int) netip.Addr {
	if i < 0 || i >= NumVIPs {
		return netip.Addr{}
	}
	return l.addrAt(vipOffset + i)
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
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", bridgeName, "type", "bridge"},
		{"link", "set", bridgeName, "up"},
	} {
		if _, err := br.ip(ctx, args...); err != nil {
			return err
		}
	}
	cl, err := l.addHost(ctx, "cl", l.addrAt(clientOffset), false)
	if err != nil {
		return err
	}
	l.Client = cl
	for k := 1; k <= nodes; k++ {
		h, err := l.addHost(ctx, "n"+strconv.Itoa(k), l.NodeAddr(k), true)
		if err != nil {
			return err
		}
		l.Nodes = append(l.Nodes, h)
	}
	return nil
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
	name := "n" + strconv.Itoa(k)
	h, err := l.addHost(ctx, name, l.NodeAddr(k), true)
	if err != nil {
		return nil, errors.Join(err, l.removeHost(name))
	}
	l.Nodes = append(l.Nodes, h)
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
	h, err := l.addHost(ctx, name, l.addrAt(extraOffset+len(l.Extras)), false)
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
	if name == "br" || name == "cl" {
		return fmt.Errorf("lab: AddHost: name %q is reserved", name)
	}
	if len(name) > 1 && name[0] == 'n' && strings.Trim(name[1:], "0123456789") == "" {
		return fmt.Errorf("lab: AddHost: name %q is reserved for nodes", name)
	}
	return nil
}

// addHost creates namespace <prefix>-name with eth0 (address addr) on the
// bridge. Nodes get the ARP settings recommended for web nodes with VIPs.
func (l *Lab) addHost(ctx context.Context, name string, addr netip.Addr, node bool) (*Host, error) {
	h := &Host{
		Name: name,
		NS:   l.Prefix + "-" + name,
		Addr: addr,
		lab:  l,
		peer: "v" + name,
	}
	if err := l.addNamespace(ctx, h.NS); err != nil {
		return nil, err
	}
	if _, err := h.ip(ctx, "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	// Created from inside the bridge namespace: the host end goes straight
	// into its namespace and nothing touches the root namespace.
	// eth0's MAC spells its IPv4 address (02:00:c6:12:00:0b for
	// 198.18.0.11), which makes neighbour tables and captures readable.
	a := addr.As4()
	mac := net.HardwareAddr{0x02, 0x00, a[0], a[1], a[2], a[3]}
	if _, err := l.Bridge.ip(ctx, "link", "add", h.peer, "type", "veth", "peer", "name", hostIf, "address", mac.String(), "netns", h.NS); err != nil {
		return nil, err
	}
	if err := l.step("veth " + name); err != nil {
		return nil, err
	}
	if _, err := l.Bridge.ip(ctx, "link", "set", h.peer, "master", bridgeName, "up"); err != nil {
		return nil, err
	}
	if node {
		// arp_ignore=1: answer ARP only for addresses on the asking
		// interface; arp_announce=2: use the best local source address in
		// ARP requests. The usual settings for hosts sharing VIPs.
		for key, val := range map[string]string{
			"net.ipv4.conf." + hostIf + ".arp_ignore":   "1",
			"net.ipv4.conf." + hostIf + ".arp_announce": "2",
		} {
			if err := h.Sysctl(key, val); err != nil {
				return nil, err
			}
		}
	}
	pfx := netip.PrefixFrom(addr, l.Subnet.Bits()).String()
	if _, err := h.ip(ctx, "addr", "add", pfx, "dev", hostIf); err != nil {
		return nil, err
	}
	if _, err := h.ip(ctx, "link", "set", hostIf, "up"); err != nil {
		return nil, err
	}
	got, err := h.mac(ctx)
	if err != nil {
		return nil, err
	}
	h.MAC = got
	return h, nil
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

// Dump describes the lab's state for a failing test's log: addresses and
// neighbour tables of every host, the bridge's forwarding table and the
// processes. Errors are written into the text.
func (l *Lab) Dump(ctx context.Context) string {
	var b strings.Builder
	l.topo.Lock() // Nodes grows under topo
	hosts := []*Host{}
	if l.Client != nil {
		hosts = append(hosts, l.Client)
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
		for _, args := range [][]string{{"-br", "addr"}, {"neigh"}} {
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
		out, err = br.Run(ctx, "bridge", "fdb", "show", "br", bridgeName)
		if err != nil {
			out = err.Error() + "\n"
		}
		b.WriteString(out)
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
