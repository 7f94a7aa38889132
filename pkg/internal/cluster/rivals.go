package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// A RivalKind names a failover tool that benchmarks compare wackamole with.
type RivalKind string

// The rivals Rivals can run. Both are master/backup protocols, so sharing
// N VIPs over N nodes takes one instance per VIP with rotated preferences:
// node k is preferred for VIP k, node k+1 is next, and so on.
const (
	// Keepalived is keepalived's VRRP (Debian package keepalived): one
	// vrrp_instance per VIP in one keepalived process per node.
	Keepalived RivalKind = "keepalived"
	// Ucarp is ucarp's CARP (Debian package ucarp): one ucarp process per
	// VIP per node, with up/down scripts that add and remove the address.
	Ucarp RivalKind = "ucarp"
)

// Rival priorities. keepalived: the preferred node has priority 150, the
// others fall from 100 towards 1; ucarp: the preferred node has advskew 0,
// the others rise up to 100 (advskew/256 s is added to every interval, so
// the spread stays below half a second).
const (
	rivalTopPriority = 150
	rivalNextPrio    = 100
	rivalMaxSkew     = 100
	// firstVRID is the VRRP router id (and CARP vhid) of VIP 0.
	firstVRID = 51
)

// RivalOptions configure NewRivals.
type RivalOptions struct {
	// Kind is the tool to run.
	Kind RivalKind
	// Dir receives configurations, scripts, pid files and logs.
	Dir string
	// Nodes is the number of nodes and of VIPs (2 to 10; default 3).
	Nodes int
	// Advert is the advertisement interval. keepalived: advert_int, from
	// 10ms to 255s; whole seconds use VRRPv2 (keepalived's default), any
	// other value VRRPv3, whose interval is counted in centiseconds.
	// ucarp: advbase, whole seconds from 1s to 255s. Default 1s.
	Advert time.Duration
	// Prefix names the lab's namespaces (default: random).
	Prefix string
	// Logf receives progress messages.
	Logf func(format string, args ...any)
}

// Rivals is a lab with a rival failover tool on every node, configured the
// standard way to share one VIP per node (see KeepalivedConfig and
// UcarpArgs). VIP i is the lab's VIP i, preferred by node i+1.
type Rivals struct {
	Lab   *lab.Lab
	Kind  RivalKind
	Nodes []*RivalNode
	// VIPs are the VIP addresses, one per node.
	VIPs []netip.Addr
	opt  RivalOptions
	pass string // ucarp's shared password
}

// RivalNode is one node of a Rivals lab.
type RivalNode struct {
	Name string
	Host *lab.Host
	// Dir holds the node's configuration, scripts, pid files and logs.
	Dir string

	cable

	mu    sync.Mutex
	procs []*lab.Process
	runs  int
}

// NewRivals builds the lab and writes every node's configuration; StartAll
// (or Start) runs the daemons.
func NewRivals(ctx context.Context, opt RivalOptions) (*Rivals, error) {
	if opt.Dir == "" {
		return nil, errors.New("cluster: RivalOptions.Dir is required")
	}
	if opt.Nodes == 0 {
		opt.Nodes = 3
	}
	if opt.Nodes < 2 || opt.Nodes > 10 {
		return nil, fmt.Errorf("cluster: %d rival nodes: want 2 to 10", opt.Nodes)
	}
	if opt.Advert == 0 {
		opt.Advert = time.Second
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	// Check the options before building anything (with placeholder
	// addresses: the lab's come later).
	vips := make([]netip.Addr, opt.Nodes)
	for i := range vips {
		vips[i] = netip.AddrFrom4([4]byte{198, 18, 0, byte(100 + i)})
	}
	switch opt.Kind {
	case Keepalived:
		if _, err := KeepalivedConfig("n1", 1, opt.Nodes, vips, opt.Advert); err != nil {
			return nil, err
		}
	case Ucarp:
		if _, err := UcarpArgs(UcarpInstance{Node: 1, Nodes: opt.Nodes, VIP: vips[0], SrcIP: vips[0], Advert: opt.Advert}); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("cluster: unknown rival %q (want %s or %s)", opt.Kind, Keepalived, Ucarp)
	}
	l, err := lab.New(ctx, lab.Options{Prefix: opt.Prefix, Nodes: opt.Nodes, Logf: opt.Logf})
	if err != nil {
		return nil, err
	}
	pass := make([]byte, 8)
	rand.Read(pass)
	r := &Rivals{Lab: l, Kind: opt.Kind, opt: opt, pass: hex.EncodeToString(pass)}
	for i := 0; i < opt.Nodes; i++ {
		r.VIPs = append(r.VIPs, l.VIP(i))
	}
	for _, h := range l.Nodes {
		n := &RivalNode{Name: h.Name, Host: h, Dir: filepath.Join(opt.Dir, string(opt.Kind)+"-"+h.Name)}
		r.Nodes = append(r.Nodes, n)
	}
	for _, n := range r.Nodes {
		if err := r.writeFiles(n); err != nil {
			l.Close()
			return nil, err
		}
	}
	return r, nil
}

// index returns node n's number k (1-based).
func (r *Rivals) index(n *RivalNode) int {
	for i, m := range r.Nodes {
		if m == n {
			return i + 1
		}
	}
	return 0
}

func (r *Rivals) writeFiles(n *RivalNode) error {
	if err := os.MkdirAll(n.Dir, 0o755); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	k := r.index(n)
	switch r.Kind {
	case Keepalived:
		conf, err := KeepalivedConfig(n.Name, k, len(r.Nodes), r.VIPs, r.opt.Advert)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(n.Dir, "keepalived.conf"), []byte(conf), 0o644); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	case Ucarp:
		files := map[string]string{
			"vip-up.sh":   UcarpUpScript,
			"vip-down.sh": UcarpDownScript,
		}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(n.Dir, name), []byte(text), 0o755); err != nil {
				return fmt.Errorf("cluster: %w", err)
			}
		}
		if err := os.WriteFile(filepath.Join(n.Dir, "pass"), []byte(r.pass+"\n"), 0o600); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	return nil
}

// rank is node k's place (1-based k, n nodes) in the preference order of
// VIP i: 0 for the preferred node i%n+1, 1 for the next one, and so on.
func rank(k, n, i int) int {
	return ((k-1-i)%n + n) % n
}

// PreferredNode returns the number (from 1) of the node preferred for VIP i
// of n nodes.
func PreferredNode(i, n int) int {
	if n < 1 || i < 0 {
		return 0
	}
	return i%n + 1
}

// KeepalivedPriority returns node k's VRRP priority for VIP i (n nodes):
// 150 for the preferred node, then 100 down to above 0 in equal steps (for
// three nodes: 150, 100, 50).
func KeepalivedPriority(k, n, i int) int {
	d := rank(k, n, i)
	if d == 0 {
		return rivalTopPriority
	}
	return rivalNextPrio - (d-1)*rivalNextPrio/(n-1)
}

// UcarpSkew returns node k's CARP advskew for VIP i (n nodes): 0 for the
// preferred node, then up to 100 in equal steps (for three nodes: 0, 50,
// 100). A lower skew advertises more often and wins.
func UcarpSkew(k, n, i int) int {
	return rank(k, n, i) * rivalMaxSkew / (n - 1)
}

// keepalivedAdvert returns advert_int as keepalived reads it and the VRRP
// version that interval needs.
func keepalivedAdvert(d time.Duration) (string, int, error) {
	if d < 10*time.Millisecond || d > 255*time.Second || d%(10*time.Millisecond) != 0 {
		return "", 0, fmt.Errorf("cluster: keepalived advert_int %v: want 10ms to 255s in steps of 10ms", d)
	}
	if d%time.Second == 0 {
		return strconv.Itoa(int(d / time.Second)), 2, nil
	}
	cs := int(d / (10 * time.Millisecond))
	return fmt.Sprintf("%d.%02d", cs/100, cs%100), 3, nil
}

// KeepalivedConfig returns keepalived.conf for node k (1-based, named
// name) of n nodes sharing vips. It is the standard load-sharing setup:
// one vrrp_instance per VIP (virtual_router_id 51, 52, ...), state MASTER
// and priority 150 on the VIP's preferred node, BACKUP and lower priorities
// elsewhere (see KeepalivedPriority), preemption on (keepalived's default),
// multicast advertisements without authentication (VRRPv3 has none; v2's
// PASS type protects nothing), the VIP as a /32 on eth0, and gratuitous
// ARPs in one burst on becoming master (garp_master_delay 0: no second
// burst 5 s later) repeated every 10 s while master (garp_master_refresh),
// so that a client whose ARP entry went astray comes back.
func KeepalivedConfig(name string, k, n int, vips []netip.Addr, advert time.Duration) (string, error) {
	if n < 2 || k < 1 || k > n {
		return "", fmt.Errorf("cluster: keepalived: node %d of %d: want 1 <= node <= nodes, nodes >= 2", k, n)
	}
	if len(vips) == 0 || len(vips) > 255-firstVRID {
		return "", fmt.Errorf("cluster: keepalived: %d VIPs: want 1 to %d", len(vips), 255-firstVRID)
	}
	adv, version, err := keepalivedAdvert(advert)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# keepalived.conf of %s (node %d of %d), written by wackalab.\n", name, k, n)
	b.WriteString("# One VRRP instance per VIP; node K is preferred for VIP K.\n")
	b.WriteString("global_defs {\n")
	fmt.Fprintf(&b, "\trouter_id %s\n", name)
	if version == 3 {
		b.WriteString("\t# VRRPv3 counts advert_int in centiseconds (v2: whole seconds).\n")
		b.WriteString("\tvrrp_version 3\n")
	}
	b.WriteString("}\n")
	for i, v := range vips {
		if !v.Is4() {
			return "", fmt.Errorf("cluster: keepalived: VIP %s is not IPv4", v)
		}
		state := "BACKUP"
		if rank(k, n, i) == 0 {
			state = "MASTER"
		}
		fmt.Fprintf(&b, "\nvrrp_instance VIP_%d {\n", i+1)
		fmt.Fprintf(&b, "\tstate %s\n", state)
		fmt.Fprintf(&b, "\tinterface %s\n", lab.IfName)
		fmt.Fprintf(&b, "\tvirtual_router_id %d\n", firstVRID+i)
		fmt.Fprintf(&b, "\tpriority %d\n", KeepalivedPriority(k, n, i))
		fmt.Fprintf(&b, "\tadvert_int %s\n", adv)
		b.WriteString("\tgarp_master_delay 0\n")
		b.WriteString("\tgarp_master_refresh 10\n")
		b.WriteString("\tvirtual_ipaddress {\n")
		fmt.Fprintf(&b, "\t\t%s dev %s\n", netip.PrefixFrom(v, 32), lab.IfName)
		b.WriteString("\t}\n}\n")
	}
	return b.String(), nil
}

// UcarpUpScript is the script ucarp runs on becoming master of a VIP:
// ucarp passes the interface and the address.
const UcarpUpScript = `#!/bin/sh
# ucarp up script (written by wackalab): $1 interface, $2 virtual address.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
exec ip addr add "$2/32" dev "$1"
`

// UcarpDownScript is the script ucarp runs when it leaves the master state
// (and at start as a backup, and, with --shutdown, at exit as master). The
// address may be absent (at start): that is not an error.
const UcarpDownScript = `#!/bin/sh
# ucarp down script (written by wackalab): $1 interface, $2 virtual address.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
ip addr del "$2/32" dev "$1" 2>/dev/null || true
`

// UcarpInstance describes one ucarp process: node Node (1-based) of Nodes
// serving VIP number Index with address VIP.
type UcarpInstance struct {
	Node, Nodes, Index int
	// VIP is the virtual address, SrcIP the node's own address.
	VIP, SrcIP netip.Addr
	// Advert is the advertisement base interval (whole seconds).
	Advert time.Duration
	// Dir holds the scripts vip-up.sh and vip-down.sh and the password
	// file pass.
	Dir string
}

// UcarpArgs returns the ucarp command-line arguments of one instance. The
// choices: vhid 51+Index; advbase Advert; advskew rotated (UcarpSkew), so
// that the preferred node advertises most often; --preempt, without which
// a node that comes back never takes its VIP back and the initial spread
// is lost after the first failover; --shutdown, without which a stopped
// ucarp leaves the address on the interface; multicast advertisements
// (the default) with the password read from a file.
func UcarpArgs(u UcarpInstance) ([]string, error) {
	if u.Nodes < 2 || u.Node < 1 || u.Node > u.Nodes {
		return nil, fmt.Errorf("cluster: ucarp: node %d of %d: want 1 <= node <= nodes, nodes >= 2", u.Node, u.Nodes)
	}
	if u.Index < 0 || firstVRID+u.Index > 255 {
		return nil, fmt.Errorf("cluster: ucarp: VIP index %d out of range", u.Index)
	}
	if u.Advert < time.Second || u.Advert > 255*time.Second || u.Advert%time.Second != 0 {
		return nil, fmt.Errorf("cluster: ucarp advbase %v: want whole seconds from 1s to 255s", u.Advert)
	}
	if !u.VIP.Is4() || !u.SrcIP.Is4() {
		return nil, fmt.Errorf("cluster: ucarp: VIP %s and source %s must be IPv4", u.VIP, u.SrcIP)
	}
	return []string{
		"--interface=" + lab.IfName,
		"--srcip=" + u.SrcIP.String(),
		"--vhid=" + strconv.Itoa(firstVRID+u.Index),
		"--passfile=" + filepath.Join(u.Dir, "pass"),
		"--addr=" + u.VIP.String(),
		"--advbase=" + strconv.Itoa(int(u.Advert/time.Second)),
		"--advskew=" + strconv.Itoa(UcarpSkew(u.Node, u.Nodes, u.Index)),
		"--preempt",
		"--shutdown",
		"--upscript=" + filepath.Join(u.Dir, "vip-up.sh"),
		"--downscript=" + filepath.Join(u.Dir, "vip-down.sh"),
	}, nil
}

// KeepalivedArgs returns keepalived's command line for a node whose files
// are in dir: the VRRP subsystem only, in the foreground, logging in detail
// to the console and not to syslog, with pid files of its own (several
// keepalived processes share this machine's /run).
func KeepalivedArgs(dir string) []string {
	return []string{
		"--vrrp", "--dont-fork", "--log-console", "--log-detail", "--no-syslog",
		"--use-file=" + filepath.Join(dir, "keepalived.conf"),
		"--pid=" + filepath.Join(dir, "keepalived.pid"),
		"--vrrp_pid=" + filepath.Join(dir, "vrrp.pid"),
	}
}

// Start runs node n's daemons: one keepalived, or one ucarp per VIP.
func (r *Rivals) Start(n *RivalNode) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.procs {
		if !p.Exited() {
			return fmt.Errorf("cluster: %s %s is already running", r.Kind, n.Name)
		}
	}
	n.procs = nil
	n.runs++
	k := r.index(n)
	logPath := func(what string) string {
		return filepath.Join(n.Dir, fmt.Sprintf("%s.%d.log", what, n.runs))
	}
	switch r.Kind {
	case Keepalived:
		// Stale pid files of a killed run would make keepalived refuse
		// to start if their pids were reused.
		for _, f := range []string{"keepalived.pid", "vrrp.pid"} {
			os.Remove(filepath.Join(n.Dir, f))
		}
		p, err := n.Host.Start("keepalived", KeepalivedArgs(n.Dir), logPath("keepalived"))
		if err != nil {
			return err
		}
		n.procs = append(n.procs, p)
	case Ucarp:
		for i, v := range r.VIPs {
			args, err := UcarpArgs(UcarpInstance{Node: k, Nodes: len(r.Nodes), Index: i, VIP: v, SrcIP: n.Host.Addr, Advert: r.opt.Advert, Dir: n.Dir})
			if err != nil {
				return err
			}
			p, err := n.Host.Start("ucarp", args, logPath(fmt.Sprintf("ucarp-vip%d", i+1)))
			if err != nil {
				return err
			}
			n.procs = append(n.procs, p)
		}
	}
	r.opt.Logf("started %s on %s (run %d)", r.Kind, n.Name, n.runs)
	return nil
}

// StartAll runs every node's daemons.
func (r *Rivals) StartAll() error {
	for _, n := range r.Nodes {
		if err := r.Start(n); err != nil {
			return err
		}
	}
	return nil
}

// Processes returns node n's current daemon processes.
func (n *RivalNode) Processes() []*lab.Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*lab.Process(nil), n.procs...)
}

// Running reports whether all of node n's daemons run.
func (n *RivalNode) Running() bool {
	ps := n.Processes()
	for _, p := range ps {
		if p.Exited() {
			return false
		}
	}
	return len(ps) > 0
}

// Kill sends SIGKILL to node n's daemons and their process groups: they die
// without a word, as in a power failure.
func (r *Rivals) Kill(n *RivalNode) error {
	var errs []error
	for _, p := range n.Processes() {
		if err := p.Kill(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range n.Processes() {
		if _, err := p.Wait(5 * time.Second); errors.Is(err, lab.ErrRunning) {
			errs = append(errs, fmt.Errorf("cluster: %s %s survived SIGKILL", r.Kind, n.Name))
		}
	}
	return errors.Join(errs...)
}

// Stop sends SIGTERM to node n's daemons and waits up to timeout for all
// of them to exit. Exit statuses are not checked: ucarp, for one, exits
// with whatever its signal handler returns.
func (r *Rivals) Stop(n *RivalNode, timeout time.Duration) error {
	ps := n.Processes()
	for _, p := range ps {
		if err := p.Signal(syscall.SIGTERM); err != nil && !p.Exited() {
			return fmt.Errorf("cluster: stop %s %s: %w", r.Kind, n.Name, err)
		}
	}
	deadline := time.Now().Add(timeout)
	for _, p := range ps {
		if _, err := p.Wait(max(time.Until(deadline), time.Millisecond)); err != nil {
			return fmt.Errorf("cluster: %s %s did not stop within %v: %w", r.Kind, n.Name, timeout, err)
		}
	}
	return nil
}

// LinkDown takes node n's link down (both ends of its cable). While it is
// down, Holders ignores the node.
func (r *Rivals) LinkDown(ctx context.Context, n *RivalNode) error { return n.pull(ctx, n.Host) }

// LinkUp brings node n's link back.
func (r *Rivals) LinkUp(ctx context.Context, n *RivalNode) error { return n.plug(ctx, n.Host) }

// Holders maps each VIP to the nodes that have it on their interface right
// now (read with ip addr). Nodes whose link is down are left out.
func (r *Rivals) Holders(ctx context.Context) (map[netip.Addr][]string, error) {
	return holders(ctx, r.VIPs, r.Nodes)
}

// Preferred reports whether every VIP is held by its preferred node and by
// no other, the state a rival lab starts from and returns to; otherwise it
// describes what is off.
func (r *Rivals) Preferred(holders map[netip.Addr][]string) (bool, string) {
	var problems []string
	for i, v := range r.VIPs {
		want := r.Nodes[PreferredNode(i, len(r.Nodes))-1].Name
		if hs := holders[v]; len(hs) != 1 || hs[0] != want {
			problems = append(problems, fmt.Sprintf("%s held by %v, want %s", v, hs, want))
		}
	}
	return len(problems) == 0, strings.Join(problems, "; ")
}

// WaitPreferred polls until Preferred holds and every daemon runs, or ctx
// ends.
func (r *Rivals) WaitPreferred(ctx context.Context) (map[netip.Addr][]string, error) {
	var last string
	for {
		h, err := r.Holders(ctx)
		if err == nil {
			ok, why := r.Preferred(h)
			for _, n := range r.Nodes {
				if !n.Running() {
					ok, why = false, fmt.Sprintf("%s %s is not running; %s", r.Kind, n.Name, why)
				}
			}
			if ok {
				return h, nil
			}
			last = why
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return h, fmt.Errorf("cluster: %s not in its initial state: %s", r.Kind, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Logs returns the tail of every node's daemon logs, for failure reports.
func (r *Rivals) Logs(lines int) string {
	var files []string
	for _, n := range r.Nodes {
		fs, _ := filepath.Glob(filepath.Join(n.Dir, "*.log"))
		files = append(files, fs...)
	}
	return tails(files, lines)
}

// Close kills every daemon and removes the lab.
func (r *Rivals) Close() error {
	return r.Lab.Close()
}
