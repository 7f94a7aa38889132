package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
	"github.com/wackamole/wackamole/pkg/internal/router"
)

// ExaBGPOptions configure NewExaBGPFleet.
type ExaBGPOptions struct {
	// Dir receives each node's files (maintenance switches; ExaBGP's
	// own configuration goes to a directory of its own, see package
	// router).
	Dir string
	// Nodes is the number of nodes (2 to 10, default 3); VIPs the number
	// of VIPs (default Nodes).
	Nodes, VIPs int
	// HoldTime is the BGP hold time on both sides (default 3 s, the
	// least BGP allows: ExaBGP has no BFD, the hold timer is what tells
	// the router that a node died).
	HoldTime time.Duration
	// Interval separates health checks (default 1 s).
	Interval time.Duration
	// Router is the fabric's routing daemon (default BIRD); its sessions
	// run without BFD.
	Router RouterKind
	// Prefix names the lab's namespaces (default: random).
	Prefix string
	// Logf receives progress messages.
	Logf func(format string, args ...any)
}

func (o ExaBGPOptions) withDefaults() ExaBGPOptions {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.VIPs == 0 {
		o.VIPs = o.Nodes
	}
	if o.HoldTime == 0 {
		o.HoldTime = 3 * time.Second
	}
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}

// Describe says how the nodes are set up, for reports.
func (o ExaBGPOptions) Describe() string {
	o = o.withDefaults()
	return fmt.Sprintf("ExaBGP's healthcheck on every node announces every VIP (anycast: ECMP at the router) while the node's web service answers (curl), checked every %v (rise 2, fall 2, withdraw-on-down, no-ack: with acknowledgements ExaBGP 4.2 never exits on SIGTERM); maintenance by its disable file; hold time %v, no BFD (ExaBGP has none)",
		o.Interval, o.HoldTime)
}

func (o ExaBGPOptions) fabric() FabricOptions {
	return FabricOptions{Router: o.Router, HoldTime: o.HoldTime}
}

// ExaBGPFleet is the classic anycast set-up that wackamole's bgp mode
// replaces, in a fabric: every node runs ExaBGP with its healthcheck,
// which announces every VIP (a host route, the address added to lo)
// while the node's web service answers (ServeName, asked on 127.0.0.1),
// and withdraws them while it does not or while the node's maintenance
// file exists. The router spreads flows over every node that announces a
// VIP (ECMP). There is no group: a node knows nothing of the others.
type ExaBGPFleet struct {
	Lab    *lab.Lab
	Router router.Router
	Nodes  []*ExaBGPNode
	// VIPs are the VIP addresses, from the lab's VIP subnet.
	VIPs []netip.Addr
	opt  ExaBGPOptions
}

// ExaBGPNode is one node of an ExaBGPFleet.
type ExaBGPNode struct {
	Name string
	Host *lab.Host
	// Dir holds the node's maintenance file.
	Dir string

	cable

	mu   sync.Mutex
	exa  *router.ExaBGP
	runs int
}

// Maintenance is the file whose existence puts node n in maintenance:
// its healthcheck withdraws every VIP and keeps the addresses.
func (n *ExaBGPNode) Maintenance() string { return filepath.Join(n.Dir, "maintenance") }

// ExaBGPCheckCommand is the healthcheck's command: an HTTP request to the
// node's web service on 127.0.0.1 with curl (Debian curl), as ExaBGP's
// documentation does it.
func ExaBGPCheckCommand(port int) string {
	return fmt.Sprintf("curl -fs -o /dev/null --max-time 1 http://127.0.0.1:%d/", port)
}

// NewExaBGPFleet builds the fabric, starts its router and every node's
// web service; StartAll (or Start) runs ExaBGP.
func NewExaBGPFleet(ctx context.Context, opt ExaBGPOptions) (*ExaBGPFleet, error) {
	if opt.Dir == "" {
		return nil, errors.New("cluster: ExaBGPOptions.Dir is required")
	}
	opt = opt.withDefaults()
	if opt.Nodes < 2 || opt.Nodes > 10 {
		return nil, fmt.Errorf("cluster: %d ExaBGP nodes: want 2 to 10", opt.Nodes)
	}
	if err := opt.fabric().validate(); err != nil {
		return nil, err
	}
	if opt.HoldTime < 3*time.Second || opt.HoldTime%time.Second != 0 {
		return nil, fmt.Errorf("cluster: ExaBGP hold time %v: want whole seconds, at least 3", opt.HoldTime)
	}
	l, err := lab.New(ctx, lab.Options{Prefix: opt.Prefix, Nodes: opt.Nodes, Logf: opt.Logf, Routed: true})
	if err != nil {
		return nil, err
	}
	f := &ExaBGPFleet{Lab: l, opt: opt}
	for i := 0; i < opt.VIPs; i++ {
		f.VIPs = append(f.VIPs, l.VIP(i))
	}
	fail := func(err error) (*ExaBGPFleet, error) {
		f.Close()
		return nil, err
	}
	if f.Router, err = startFabricRouter(ctx, l, opt.fabric()); err != nil {
		return fail(err)
	}
	for _, h := range l.Nodes {
		n := &ExaBGPNode{Name: h.Name, Host: h, Dir: filepath.Join(opt.Dir, "exabgp-"+h.Name)}
		if err := os.MkdirAll(n.Dir, 0o755); err != nil {
			return fail(fmt.Errorf("cluster: %w", err))
		}
		if err := ServeName(h, WebPort); err != nil {
			return fail(err)
		}
		f.Nodes = append(f.Nodes, n)
	}
	return f, nil
}

// Config returns node n's ExaBGP configuration: one peer, the router,
// and one healthcheck announcing every VIP.
func (f *ExaBGPFleet) Config(n *ExaBGPNode) router.ExaBGPConfig {
	k := 0
	for i, m := range f.Nodes {
		if m == n {
			k = i + 1
		}
	}
	var vips []netip.Prefix
	for _, v := range f.VIPs {
		vips = append(vips, netip.PrefixFrom(v, 32))
	}
	return router.ExaBGPConfig{
		ASN: NodeASN(k), Address: n.Host.Addr,
		Peers: []router.ExaBGPPeer{{Address: f.Lab.Router.Addr, ASN: RouterASN, HoldTime: f.opt.HoldTime}},
		Checks: []router.Healthcheck{{
			Name: "web", Command: ExaBGPCheckCommand(WebPort), VIPs: vips,
			Interval: f.opt.Interval, Rise: 2, Fall: 2, Disable: n.Maintenance(),
		}},
		// With acknowledgements, ExaBGP never exits on SIGTERM with a
		// healthcheck of several VIPs (see router.ExaBGPConfig.NoAck).
		NoAck: true,
	}
}

// Start runs ExaBGP on node n.
func (f *ExaBGPFleet) Start(ctx context.Context, n *ExaBGPNode) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.exa != nil {
		return fmt.Errorf("cluster: ExaBGP on %s is already running", n.Name)
	}
	n.runs++
	e, err := router.StartExaBGP(ctx, n.Host, f.Config(n))
	if err != nil {
		return err
	}
	n.exa = e
	f.opt.Logf("started ExaBGP on %s (run %d, %s)", n.Name, n.runs, e.Dir())
	return nil
}

// StartAll runs ExaBGP on every node.
func (f *ExaBGPFleet) StartAll(ctx context.Context) error {
	for _, n := range f.Nodes {
		if err := f.Start(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// Running reports whether ExaBGP runs on node n.
func (n *ExaBGPNode) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.exa != nil
}

// take returns node n's ExaBGP and forgets it: it is stopped next.
func (n *ExaBGPNode) take() *router.ExaBGP {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.exa
	n.exa = nil
	return e
}

// Kill kills ExaBGP and its healthcheck on node n (SIGKILL): it dies
// without a word, as in a power failure.
func (f *ExaBGPFleet) Kill(n *ExaBGPNode) error {
	e := n.take()
	if e == nil {
		return nil
	}
	err := e.Kill()
	return errors.Join(err, e.Close())
}

// ErrStopKilled is returned by ExaBGPFleet.Stop when ExaBGP did not
// exit in time after SIGTERM and was killed, as systemd kills a service
// that outlives its TimeoutStopSec.
var ErrStopKilled = errors.New("cluster: ExaBGP did not exit in time after SIGTERM: killed")

// Stop stops ExaBGP on node n with SIGTERM (its healthcheck withdraws
// the VIPs, ExaBGP closes its session) and waits up to timeout; then it
// kills it and returns ErrStopKilled.
func (f *ExaBGPFleet) Stop(n *ExaBGPNode, timeout time.Duration) error {
	e := n.take()
	if e == nil {
		return nil
	}
	err := e.Stop(timeout)
	if errors.Is(err, lab.ErrRunning) {
		err = fmt.Errorf("%w (after %v)\n%s", ErrStopKilled, timeout, e.Log())
	}
	return errors.Join(err, e.Close())
}

// SetMaintenance creates (on) or removes (off) node n's maintenance file.
func (f *ExaBGPFleet) SetMaintenance(n *ExaBGPNode, on bool) error {
	if on {
		return os.WriteFile(n.Maintenance(), nil, 0o644)
	}
	if err := os.Remove(n.Maintenance()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// LinkDown takes node n's link down (both ends of its cable).
func (f *ExaBGPFleet) LinkDown(ctx context.Context, n *ExaBGPNode) error { return n.pull(ctx, n.Host) }

// LinkUp brings node n's link back.
func (f *ExaBGPFleet) LinkUp(ctx context.Context, n *ExaBGPNode) error { return n.plug(ctx, n.Host) }

// Holders maps each VIP to the nodes the router forwards it to.
func (f *ExaBGPFleet) Holders(ctx context.Context) (map[netip.Addr][]string, error) {
	routes, err := f.Router.Routes(ctx)
	if err != nil {
		return nil, err
	}
	return RouteHolders(routes, f.VIPs, f.Lab.Nodes), nil
}

// Logs returns the end of every running ExaBGP's log and the router's.
func (f *ExaBGPFleet) Logs(lines int) string {
	var out string
	for _, n := range f.Nodes {
		n.mu.Lock()
		if n.exa != nil {
			out += "==== exabgp on " + n.Name + " (run " + strconv.Itoa(n.runs) + ")\n" + n.exa.Log() + "\n"
		}
		n.mu.Unlock()
	}
	if f.Router != nil {
		out += fmt.Sprintf("==== router (%T)\n%s\n", f.Router, f.Router.Log())
	}
	return out
}

// Close stops every ExaBGP and the router, and removes the lab.
func (f *ExaBGPFleet) Close() error {
	var errs []error
	for _, n := range f.Nodes {
		if e := n.take(); e != nil {
			errs = append(errs, e.Close())
		}
	}
	if f.Router != nil {
		errs = append(errs, f.Router.Close())
	}
	errs = append(errs, f.Lab.Close())
	return errors.Join(errs...)
}
