// Package router runs real routing daemons inside lab namespaces for tests
// and benchmarks: BIRD 2 (Debian bird2), FRR (Debian frr: zebra, bgpd and
// bfdd) and ExaBGP (Debian exabgp, with its healthcheck).
//
// Each daemon gets a configuration generated from a Go struct, a directory
// of its own under the system's temporary directory holding that
// configuration, its control sockets, pid files and logs, and runs in the
// namespace of a lab host, started through the lab (so a crashed test
// binary takes it along). Nothing is read from or written to /etc/bird,
// /etc/frr, /run/bird or /run/frr. Start returns once the daemon answers on
// its control socket; Sessions and Routes read its BGP sessions and the
// kernel routing table of its namespace; Close kills it and removes every
// file it made, and is safe to call from t.Cleanup after a failure.
//
// The daemons are the router side of the BGP tests: eBGP to every node,
// optionally BFD, TCP MD5 passwords and ECMP into the kernel table (BIRD's
// "merge paths", FRR's "maximum-paths" with "bgp bestpath as-path
// multipath-relax"). ExaBGP is the node side of the comparison benchmark:
// the classic anycast set-up where its healthcheck announces a VIP while a
// command succeeds.
package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// A Neighbor is a BGP peer of a router.
type Neighbor struct {
	// Address is the neighbour's address. Either Address or Range is set.
	Address netip.Addr
	// Range accepts a session from any address in it (BIRD's "neighbor
	// range", FRR's "bgp listen range"): one router configuration for a
	// rack of nodes. Such a router never connects, it only listens.
	Range netip.Prefix
	// ASN is the neighbour's AS number; 0 with Range means any external
	// AS (FRR only: BIRD needs the AS of a range).
	ASN uint32
	// Password is the TCP MD5 password (RFC 2385), if any.
	Password string
	// BFD runs BFD on the session, with Interval (default 100 ms) as the
	// minimum transmit and receive interval and Multiplier (default 3).
	BFD        bool
	Interval   time.Duration
	Multiplier int
	// HoldTime is the hold time offered (default 9 s; keepalive a third).
	HoldTime time.Duration
	// Export lists prefixes the router announces to this neighbour (it
	// originates them, as blackhole routes). Default: none.
	Export []netip.Prefix
}

func (n Neighbor) interval() time.Duration {
	if n.Interval == 0 {
		return 100 * time.Millisecond
	}
	return n.Interval
}

func (n Neighbor) multiplier() int {
	if n.Multiplier == 0 {
		return 3
	}
	return n.Multiplier
}

func (n Neighbor) holdTime() int {
	if n.HoldTime == 0 {
		return 9
	}
	return int(n.HoldTime / time.Second)
}

// Config is a router's configuration.
type Config struct {
	// ASN is the router's AS number.
	ASN uint32
	// Address is the router's own address on the lab bridge (the host's
	// Addr): its router ID and the source of its sessions.
	Address netip.Addr
	// Neighbors are the router's BGP peers.
	Neighbors []Neighbor
	// ECMP installs every equal path of a prefix into the kernel as one
	// multipath route, instead of the best one only.
	ECMP bool
	// Debug makes the daemon log its BGP and BFD events in detail.
	Debug bool
	// Raw, if set, is the router's whole configuration, as an operator
	// would write it (BIRD's bird.conf; FRR's frr.conf, which vtysh loads
	// into the running daemons), and the fields above are ignored: for
	// testing example configurations.
	Raw string
}

func (c *Config) validate() error {
	if c.Raw != "" {
		return nil
	}
	if c.ASN == 0 {
		return errors.New("router: no ASN")
	}
	if !c.Address.Is4() {
		return fmt.Errorf("router: address %v: want the host's IPv4 address", c.Address)
	}
	for i, n := range c.Neighbors {
		if n.Address.IsValid() == n.Range.IsValid() {
			return fmt.Errorf("router: neighbor %d: set either Address or Range", i+1)
		}
		if n.HoldTime != 0 && (n.HoldTime < 3*time.Second || n.HoldTime%time.Second != 0) {
			return fmt.Errorf("router: neighbor %d: hold time %v: want whole seconds, at least 3", i+1, n.HoldTime)
		}
		if strings.ContainsAny(n.Password, "\"\\\n") {
			return fmt.Errorf("router: neighbor %d: the password may not contain quotes, backslashes or newlines", i+1)
		}
	}
	return nil
}

// A Session is a router's view of one BGP session.
type Session struct {
	// Neighbor is the peer's address.
	Neighbor netip.Addr
	// State is the BGP state as the daemon names it ("Established",
	// "Active", "Connect", …).
	State string
	// Established reports whether State is Established.
	Established bool
	// BFD is the BFD session's state in lower case ("up", "down", "init",
	// "admindown"), or "" without BFD.
	BFD string
	// Info is the daemon's note on the session, such as its last error.
	Info string
}

// A Route is one route of a kernel routing table.
type Route struct {
	Prefix netip.Prefix
	// NextHops are the gateways, in ascending order: one for an ordinary
	// route, several for an ECMP route.
	NextHops []netip.Addr
	// Protocol is the kernel's protocol of the route ("bird", "bgp", …).
	Protocol string
}

// A Router is a routing daemon running in a lab namespace.
type Router interface {
	// Sessions returns the BGP sessions, ordered by neighbour address.
	Sessions(ctx context.Context) ([]Session, error)
	// Routes returns the kernel routes of the router's namespace.
	Routes(ctx context.Context) ([]Route, error)
	// Log returns the end of the daemon's log, for a failing test.
	Log() string
	// Close stops the daemon and removes its files.
	Close() error
}

// KernelRoutes reads the IPv4 and IPv6 main routing tables of host's
// namespace.
func KernelRoutes(ctx context.Context, host *lab.Host) ([]Route, error) {
	var routes []Route
	for _, family := range []string{"-4", "-6"} {
		out, err := host.Run(ctx, "ip", "-j", family, "route", "show", "table", "main")
		if err != nil {
			return nil, err
		}
		rs, err := parseRoutes(out)
		if err != nil {
			return nil, fmt.Errorf("router: %s: %w", host, err)
		}
		routes = append(routes, rs...)
	}
	return routes, nil
}

// parseRoutes parses "ip -j route" output.
func parseRoutes(out string) ([]Route, error) {
	var raw []struct {
		Dst      string `json:"dst"`
		Gateway  string `json:"gateway"`
		Protocol string `json:"protocol"`
		Nexthops []struct {
			Gateway string `json:"gateway"`
		} `json:"nexthops"`
	}
	if strings.TrimSpace(out) == "" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		return nil, fmt.Errorf("parsing ip -j route: %w", err)
	}
	var routes []Route
	for _, r := range raw {
		var p netip.Prefix
		var err error
		switch {
		case r.Dst == "default":
			continue
		case strings.Contains(r.Dst, "/"):
			p, err = netip.ParsePrefix(r.Dst)
		default:
			var a netip.Addr
			a, err = netip.ParseAddr(r.Dst)
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if err != nil {
			return nil, fmt.Errorf("route destination %q: %w", r.Dst, err)
		}
		rt := Route{Prefix: p, Protocol: r.Protocol}
		gws := []string{r.Gateway}
		for _, nh := range r.Nexthops {
			gws = append(gws, nh.Gateway)
		}
		for _, g := range gws {
			if g == "" {
				continue
			}
			a, err := netip.ParseAddr(g)
			if err != nil {
				return nil, fmt.Errorf("route %s: gateway %q: %w", p, g, err)
			}
			rt.NextHops = append(rt.NextHops, a)
		}
		slices.SortFunc(rt.NextHops, netip.Addr.Compare)
		routes = append(routes, rt)
	}
	return routes, nil
}

// Lookup returns the route for exactly prefix, if any.
func Lookup(routes []Route, prefix netip.Prefix) (Route, bool) {
	for _, r := range routes {
		if r.Prefix == prefix {
			return r, true
		}
	}
	return Route{}, false
}

// WaitRoute polls r's kernel table until the route for prefix has exactly
// the next hops want (none: no route at all), and returns how long that
// took.
func WaitRoute(ctx context.Context, r Router, prefix netip.Prefix, want ...netip.Addr) (time.Duration, error) {
	start := time.Now()
	slices.SortFunc(want, netip.Addr.Compare)
	var last []netip.Addr
	for {
		routes, err := r.Routes(ctx)
		if err == nil {
			rt, _ := Lookup(routes, prefix)
			if slices.Equal(rt.NextHops, want) {
				return time.Since(start), nil
			}
			last = rt.NextHops
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("router: route %s: want next hops %v, have %v: %w", prefix, want, last, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// WaitEstablished polls until r has an established session with each of
// the neighbours (and, with bfd, an up BFD session with each).
func WaitEstablished(ctx context.Context, r Router, bfd bool, neighbors ...netip.Addr) error {
	var last []Session
	for {
		ss, err := r.Sessions(ctx)
		if err == nil {
			last = ss
			if allUp(ss, bfd, neighbors) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("router: sessions with %v not established (bfd %v); have %+v: %w", neighbors, bfd, last, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func allUp(ss []Session, bfd bool, neighbors []netip.Addr) bool {
	for _, n := range neighbors {
		i := slices.IndexFunc(ss, func(s Session) bool { return s.Neighbor == n })
		if i < 0 || !ss[i].Established || bfd && ss[i].BFD != "up" {
			return false
		}
	}
	return true
}

// SessionWith returns the session with neighbor, if the router has one.
func SessionWith(ss []Session, neighbor netip.Addr) (Session, bool) {
	i := slices.IndexFunc(ss, func(s Session) bool { return s.Neighbor == neighbor })
	if i < 0 {
		return Session{}, false
	}
	return ss[i], true
}

// maxSocketPath is the longest unix socket path (sun_path minus the NUL).
const maxSocketPath = 107

// newDir makes the daemon's directory. Unix socket paths are short, so it
// goes under the system's temporary directory rather than a test's.
func newDir(kind string) (string, error) {
	dir, err := os.MkdirTemp("", "wkr-"+kind+"-")
	if err != nil {
		return "", fmt.Errorf("router: %w", err)
	}
	if len(filepath.Join(dir, "bgpd.vty")) > maxSocketPath {
		os.RemoveAll(dir)
		return "", fmt.Errorf("router: %s is too long a directory for unix sockets", dir)
	}
	return dir, nil
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// poll calls f every interval until it returns nil or ctx ends, and
// returns f's last error then.
func poll(ctx context.Context, interval time.Duration, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}

// stop kills the processes and waits for them.
func stop(procs ...*lab.Process) error {
	var errs []error
	for _, p := range procs {
		if p == nil {
			continue
		}
		if err := p.Kill(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range procs {
		if p == nil {
			continue
		}
		if _, err := p.Wait(5 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Dir returns the directory holding a daemon's configuration, sockets and
// logs (removed by Close), for a test that wants to read a whole log.
func (b *BIRD) Dir() string { return b.dir }

// Dir returns the directory holding the daemons' configurations, sockets
// and logs (removed by Close).
func (f *FRR) Dir() string { return f.dir }

// Dir returns the directory holding ExaBGP's configuration and log
// (removed by Close).
func (e *ExaBGP) Dir() string { return e.dir }
