package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// unixPathMax is the longest unix socket name: sun_path (108) less the NUL.
const unixPathMax = 107

// Validate checks a Config built in code (Parse already validates what it
// returns): the same rules as Parse, plus that SecretKey is a valid key
// unless Insecure and that VIPs are ordered by name. Defaults are not
// applied: a zero Timing or ARP.Repeat is a problem.
//
// Validate does not look at the hook and exec check programs on disk
// (Parse does).
//
// The errors have Key paths indexing the Config's slices, File set to
// c.Path, and Line only for VIPs and checks (VIP.Line, Check.Line).
func (c *Config) Validate() error {
	r := &reporter{file: c.Path, line: func(p path) int {
		if len(p) >= 2 && p[0] == "vip" {
			if i, ok := p[1].(int); ok && i >= 0 && i < len(c.VIPs) {
				return c.VIPs[i].Line
			}
		}
		if len(p) >= 2 && p[0] == "check" {
			if i, ok := p[1].(int); ok && i >= 0 && i < len(c.Checks) {
				return c.Checks[i].Line
			}
		}
		if len(p) >= 3 && p[0] == "bgp" && p[1] == "peer" {
			if i, ok := p[2].(int); ok && i >= 0 && i < len(c.BGP.Peers) {
				return c.BGP.Peers[i].Line
			}
		}
		return 0
	}}
	check(r, c)
	switch {
	case c.Insecure && len(c.SecretKey) > 0:
		r.add(path{"insecure"}, "a secret key is set too: remove one")
	case !c.Insecure && !validKeyLen(len(c.SecretKey)):
		r.add(path{"secret_key_file"}, fmt.Sprintf("the key is %d bytes, want 16, 24 or 32 (or set insecure)", len(c.SecretKey)))
	}
	for i := 1; i < len(c.VIPs); i++ {
		if c.VIPs[i-1].Name > c.VIPs[i].Name {
			r.add(path{"vip"}.index(i), fmt.Sprintf("VIPs must be ordered by name: %q comes after %q", c.VIPs[i].Name, c.VIPs[i-1].Name))
			break
		}
	}
	return r.err()
}

// check applies the rules between and on decoded values, skipping the
// values that already have a problem.
func check(r *reporter, c *Config) {
	var root path
	ok := func(p path) bool { return !r.isBad(p) }
	checkErr := func(p path, err error) {
		if err != nil && ok(p) {
			r.add(p, err.Error())
		}
	}

	checkErr(root.key("node_name"), checkNodeName(c.NodeName))

	// Host addresses of the node and its peers: none may be a VIP.
	var hosts []hostRef
	if p := root.key("bind"); ok(p) {
		hp, err := parseHostPort(c.Bind, hostBind, 0)
		checkErr(p, err)
		hosts = append(hosts, hostRef{p, hp.addr})
	}
	// An advertise derived from bind has bind's problems.
	if p := root.key("advertise"); ok(p) && c.Advertise != "" && c.Advertise != c.Bind {
		hp, err := parseHostPort(c.Advertise, hostAdvertise, 0)
		checkErr(p, err)
		hosts = append(hosts, hostRef{p, hp.addr})
	}
	peers := make(map[string]int)
	for i, s := range c.Peers {
		p := root.key("peers").index(i)
		if !ok(p) {
			continue
		}
		hp, err := parseHostPort(s, hostPeer, 0)
		if err != nil {
			checkErr(p, err)
			continue
		}
		hosts = append(hosts, hostRef{p, hp.addr})
		norm := strings.ToLower(hp.String())
		if j, dup := peers[norm]; dup {
			r.add(p, fmt.Sprintf("%q is listed twice (also peers[%d]); each peer counts towards quorum once", s, j))
			continue
		}
		peers[norm] = i
	}

	if c.Insecure && c.SecretKeyFile != "" && ok(root.key("insecure")) {
		r.add(root.key("insecure"), "secret_key_file is set too: remove one (a key, unless the group really gossips in clear text)")
	}

	group := max(len(c.Peers), 1)
	if p := root.key("quorum"); ok(p) {
		switch {
		case c.Quorum < 0:
			r.add(p, fmt.Sprintf("%d is negative (0 means a majority of the peers)", c.Quorum))
		case c.Quorum > group:
			r.add(p, fmt.Sprintf("%d is more than the %d configured peers: the group could never reach it", c.Quorum, len(c.Peers)))
		}
	}

	nonNegative := func(p path, d time.Duration) {
		if d < 0 && ok(p) {
			r.add(p, fmt.Sprintf("%v is negative", d))
		}
	}
	nonNegative(root.key("mature"), c.Mature)
	nonNegative(root.key("drain_timeout"), c.DrainTimeout)
	mp := root.key("membership")
	m := c.Membership
	nonNegative(mp.key("heartbeat_interval"), m.HeartbeatInterval)
	nonNegative(mp.key("failure_timeout"), m.FailureTimeout)
	nonNegative(mp.key("rejoin_interval"), m.RejoinInterval)
	nonNegative(mp.key("gossip_interval"), m.GossipInterval)
	if m.HeartbeatInterval > 0 && m.FailureTimeout > 0 && m.FailureTimeout <= m.HeartbeatInterval &&
		ok(mp.key("failure_timeout")) && ok(mp.key("heartbeat_interval")) {
		r.add(mp.key("failure_timeout"), fmt.Sprintf("%v is not longer than heartbeat_interval (%v): every peer would look failed", m.FailureTimeout, m.HeartbeatInterval))
	}

	if c.Mode != ModeBGP { // in bgp mode it is [bgp] interface, checked there
		checkErr(root.key("interface"), checkIfName(c.Interface))
	}
	if p := root.key("control_socket"); ok(p) {
		if err := checkPathName(c.ControlSocket); err != nil {
			r.add(p, err.Error())
		} else if len(c.ControlSocket) > unixPathMax {
			r.add(p, fmt.Sprintf("too long for a unix socket (%d bytes, at most %d)", len(c.ControlSocket), unixPathMax))
		}
	}
	if c.ControlGroup != "" {
		checkErr(root.key("control_group"), checkGroupName(c.ControlGroup))
	}
	if c.MetricsListen != "" {
		_, err := parseHostPort(c.MetricsListen, hostListen, 0)
		checkErr(root.key("metrics_listen"), err)
	}
	if p := root.key("timing"); ok(p) {
		switch c.Timing {
		case TimingLAN, TimingFast, TimingWAN:
		default:
			r.add(p, fmt.Sprintf("%q is not a timing profile: want %q, %q or %q", c.Timing, TimingLAN, TimingFast, TimingWAN))
		}
	}

	ap := root.key("arp")
	if p := ap.key("repeat"); c.ARP.Repeat < 1 && ok(p) {
		r.add(p, fmt.Sprintf("%d: at least one announcement is needed", c.ARP.Repeat))
	}
	nonNegative(ap.key("interval"), c.ARP.Interval)
	nonNegative(ap.key("refresh"), c.ARP.Refresh)
	nonNegative(ap.key("cache"), c.ARP.Cache)
	notified := make(map[netip.Addr]int)
	for i, a := range c.ARP.Notify {
		p := ap.key("notify").index(i)
		if !ok(p) {
			continue
		}
		switch {
		case !a.IsValid():
			r.add(p, "invalid address")
		case a.Zone() != "":
			r.add(p, fmt.Sprintf("%s: zones are not allowed; announcements leave through the VIP's interface", a))
		case a.IsUnspecified(), a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			r.add(p, fmt.Sprintf("%s is not a unicast address", a))
		default:
			if j, dup := notified[a]; dup {
				r.add(p, fmt.Sprintf("%s is listed twice (also notify[%d])", a, j))
			} else {
				notified[a] = i
			}
		}
	}

	if p := root.key("balance").key("max_moves"); c.Balance.MaxMoves < 0 && ok(p) {
		r.add(p, fmt.Sprintf(`%d is negative: want a number of moves, or "all"`, c.Balance.MaxMoves))
	}

	checkDamping(r, c)
	checkTieBreaker(r, c)
	if p := root.key("membership").key("heartbeat_port"); ok(p) && (c.Membership.HeartbeatPort < 0 || c.Membership.HeartbeatPort > 65535) {
		r.add(p, fmt.Sprintf("%d is not a port (1-65535, or 0 for the gossip port plus one)", c.Membership.HeartbeatPort))
	} else if _, port, err := net.SplitHostPort(c.Bind); ok(p) && err == nil && port == strconv.Itoa(c.Membership.HeartbeatPort) {
		r.add(p, fmt.Sprintf("%d is the gossip port (bind): heartbeats need a port of their own", c.Membership.HeartbeatPort))
	}
	if p := root.key("realtime_priority"); ok(p) && c.RealtimePriority != 0 && (c.RealtimePriority < 1 || c.RealtimePriority > 99) {
		r.add(p, fmt.Sprintf("%d: SCHED_FIFO priorities are 1 to 99", c.RealtimePriority))
	}

	hosts = append(hosts, checkBGP(r, c)...)
	checkVIPs(r, c, hosts)
	checkChecks(r, c)
	checkHooks(r, c)
}

// hostRef is a host address from bind, advertise or peers.
type hostRef struct {
	p    path
	addr netip.Addr // invalid for host names
}

func checkVIPs(r *reporter, c *Config, hosts []hostRef) {
	vp := path{"vip"}
	switch {
	case r.isBad(vp):
		return
	case len(c.VIPs) == 0:
		r.add(vp, "no VIPs: add at least one [[vip]] table with a name and addresses")
		return
	case len(c.VIPs) > MaxVIPs:
		r.add(vp, fmt.Sprintf("%d VIPs, at most %d fit in the membership metadata", len(c.VIPs), MaxVIPs))
	}
	ok := func(p path) bool { return !r.isBad(p) }
	// where names a VIP or address by key and line for messages about
	// duplicates.
	where := func(p path) string {
		if l := r.line(p); l > 0 {
			return fmt.Sprintf("%s at line %d", p, l)
		}
		return p.String()
	}
	names := make(map[string]path)
	addrs := make(map[netip.Addr]path)
	owner := make(map[netip.Addr]string) // address -> VIP name, for hosts
	for i, v := range c.VIPs {
		p := vp.index(i)
		if !ok(p) {
			continue
		}
		if np := p.key("name"); ok(np) {
			if v.Name == "" {
				r.add(np, "missing: every VIP needs a name")
			} else if err := checkVIPName(v.Name); err != nil {
				r.add(np, err.Error())
			} else if first, dup := names[v.Name]; dup {
				r.add(np, fmt.Sprintf("duplicate VIP name %q (first used by %s)", v.Name, where(first)))
			} else {
				names[v.Name] = np
			}
		}
		if v.Interface != "" {
			if ip := p.key("interface"); ok(ip) {
				if err := checkIfName(v.Interface); err != nil {
					r.add(ip, err.Error())
				}
			}
		}
		adp := p.key("addresses")
		if len(v.Addresses) == 0 && ok(adp) {
			r.add(adp, "no addresses: a VIP needs at least one, e.g. \"198.18.0.10/32\"")
		}
		// The interface an address inherits is checked where it is set.
		inherited := c.Interface
		if v.Interface != "" {
			inherited = v.Interface
		}
		for j, a := range v.Addresses {
			ap := adp.index(j)
			if !ok(ap) {
				continue
			}
			if a.Interface != inherited {
				if err := checkIfName(a.Interface); err != nil {
					r.add(ap, err.Error())
					continue
				}
			}
			if err := checkVIPPrefix(a.Prefix); err != nil {
				r.add(ap, err.Error())
				continue
			}
			addr := a.Prefix.Addr()
			if first, dup := addrs[addr]; dup {
				r.add(ap, fmt.Sprintf("address %s is already used by %s", addr, where(first)))
				continue
			}
			addrs[addr] = ap
			owner[addr] = v.Name
		}
		seen := make(map[string]int)
		for j, n := range v.Prefer {
			pp := p.key("prefer").index(j)
			if !ok(pp) {
				continue
			}
			if err := checkNodeName(n); err != nil {
				r.add(pp, err.Error())
			} else if k, dup := seen[n]; dup {
				r.add(pp, fmt.Sprintf("%q is listed twice (also prefer[%d])", n, k))
			} else {
				seen[n] = j
			}
		}
	}
	for _, h := range hosts {
		if !h.addr.IsValid() {
			continue
		}
		if ap, isVIP := addrs[h.addr.Unmap()]; isVIP {
			r.add(h.p, fmt.Sprintf("%s is an address of VIP %q (%s): use the node's own address", h.addr, owner[h.addr.Unmap()], ap))
		}
	}
}

func checkDamping(r *reporter, c *Config) {
	dp := path{"damping"}
	if r.isBad(dp) {
		return
	}
	d := c.Damping
	bad := func(key, msg string) {
		if p := dp.key(key); !r.isBad(p) {
			r.add(p, msg)
		}
	}
	switch {
	case d.Penalty < 0:
		bad("penalty", fmt.Sprintf("%d is negative (0 disables damping)", d.Penalty))
	case d.Penalty == 0:
		return
	case d.HalfLife <= 0:
		bad("half_life", "must be positive")
	case d.Reuse <= 0:
		bad("reuse", fmt.Sprintf("%d: must be positive", d.Reuse))
	case d.Reuse >= d.Suppress:
		bad("reuse", fmt.Sprintf("%d is not below suppress (%d): a damped node would never be eligible again", d.Reuse, d.Suppress))
	case d.Suppress > d.Max:
		bad("suppress", fmt.Sprintf("%d is above max_penalty (%d): no node would ever be damped", d.Suppress, d.Max))
	case d.Max > 100000:
		bad("max_penalty", fmt.Sprintf("%d: at most 100000", d.Max))
	}
}

func checkTieBreaker(r *reporter, c *Config) {
	tp := path{"tie_breaker"}
	seen := map[netip.Addr]int{}
	for i, a := range c.TieBreaker {
		p := tp.index(i)
		if r.isBad(p) {
			continue
		}
		switch {
		case !a.IsValid():
			r.add(p, "invalid address")
		case a.Zone() != "":
			r.add(p, fmt.Sprintf("%s: zones are not allowed", a))
		case a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			r.add(p, fmt.Sprintf("%s is not a unicast address of another host", a))
		default:
			if j, dup := seen[a]; dup {
				r.add(p, fmt.Sprintf("%s is listed twice (also tie_breaker[%d])", a, j))
			}
			seen[a] = i
		}
	}
	if len(c.TieBreaker) > 0 && c.Witness && !r.isBad(tp) {
		r.add(tp, "a witness holds no VIP: a tie-breaker means nothing to it")
	}
}
