package importer

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// keepalived's defaults (keepalived.conf(5)) where the output needs them.
const (
	kaDefaultPriority = 100
	kaDefaultInterval = time.Second // vrrp_script interval
	kaDefaultRise     = 1
	kaDefaultFall     = 1
)

// kaGARP are the gratuitous ARP settings, instance-level keyword first,
// then global_defs' (vrrp_ prefix).
var kaGARP = []string{"garp_master_delay", "garp_master_repeat", "garp_master_refresh",
	"garp_master_refresh_repeat", "garp_interval", "gna_interval", "garp_lower_prio_delay", "garp_lower_prio_repeat"}

// kaInstanceNotes explain instance keywords that have no equivalent.
var kaInstanceNotes = map[string]string{
	"state":                      "the initial state; wackamole's allocator decides who serves, and prefer whom it favours",
	"virtual_router_id":          "VRRP's router id; wackamole names VIPs instead",
	"advert_int":                 `VRRP's advertisement interval; wackamole's heartbeats (timing = "lan", the default) find a dead node within 1 s, "fast" within 0.15 s`,
	"authentication":             `VRRP authentication; wackamole's gossip is encrypted and authenticated with secret_key_file ("wackamole keygen")`,
	"preempt_delay":              "wackamole moves a VIP back to a preferred node as soon as that node is mature (mature)",
	"track_interface":            "wackamole tracks the interfaces its VIPs are on (a VIP interface that goes down makes the node unhealthy); other interfaces need a [[check]]",
	"notify_fault":               "no hook for a fault: on_release runs when an unhealthy node gives its VIPs up",
	"notify_stop":                "no hook for a stop: on_release runs for each VIP released while stopping",
	"notify":                     "keepalived's generic notify script takes TYPE NAME STATE PRIORITY; wackamole's hooks are called as PROGRAM EVENT VIP: set on_acquire and on_release",
	"smtp_alert":                 "wackamole sends no mail: watch the journal or the metrics",
	"use_vmac":                   "wackamole announces VIPs with the interface's own MAC address",
	"native_ipv6":                "wackamole announces IPv6 VIPs with unsolicited neighbour advertisements on its own",
	"dont_track_primary":         "wackamole tracks the interfaces its VIPs are on",
	"mcast_src_ip":               "wackamole gossips from bind; there is no multicast",
	"virtual_routes":             "wackamole adds addresses only; add routes with an on_acquire hook",
	"virtual_rules":              "wackamole adds addresses only; add rules with an on_acquire hook",
	"unicast_ttl":                "wackamole's gossip is plain unicast UDP and TCP",
	"garp_master_repeat":         "wackamole sends one ARP request and one reply per announcement (several at once would fall within the receivers' 1 s ARP lock time); arp.repeat spaces them by arp.interval",
	"garp_master_refresh_repeat": "wackamole sends one announcement per refresh",
	"garp_interval":              "wackamole spaces announcements by arp.interval",
	"gna_interval":               "wackamole spaces announcements by arp.interval",
	"garp_lower_prio_delay":      "wackamole announces on acquisition, membership change and refresh only",
	"garp_lower_prio_repeat":     "wackamole announces on acquisition, membership change and refresh only",
}

// Keepalived imports keepalived.conf at path as this node's configuration.
// Each vrrp_instance (or vrrp_sync_group: its instances move together)
// becomes a [[vip]] with the instance's virtual_ipaddress (and
// virtual_ipaddress_excluded) addresses on their dev (or the instance's
// interface); unicast_src_ip and unicast_peer become bind and peers; each
// tracked vrrp_script an exec [[check]]; notify_master and notify_backup
// the on_acquire and on_release hooks; the garp_master settings [arp];
// router_id the node_name. Priorities become prefer lists when every
// node's file is given in opt.Others (see the package documentation).
func Keepalived(path string, opt Options) ([]byte, error) {
	stmts, err := parseKeepalivedFile(path)
	if err != nil {
		return nil, err
	}
	self := kaRead(path, stmts)
	var others []*kaConf
	for _, o := range opt.Others {
		st, err := parseKeepalivedFile(o.Path)
		if err != nil {
			return nil, err
		}
		oc := kaRead(o.Path, st)
		if o.Name != "" {
			oc.routerID = o.Name
		}
		others = append(others, oc)
	}
	d := &draft{file: path, title: []string{
		"wackamole.toml imported by \"wackamole import keepalived\" from " + path + ".",
		"Compare it with keepalived.conf(5) and wackamole.toml(5).",
	}}
	if len(others) > 0 {
		var names []string
		for _, o := range others {
			names = append(names, o.file)
		}
		d.title = append(d.title, "The other nodes' files, read for prefer and peers: "+strings.Join(names, ", ")+".")
	}
	if err := self.convert(d, opt, others); err != nil {
		return nil, err
	}
	return d.bytes(), nil
}

// kaConf is what the importer reads out of one keepalived.conf.
type kaConf struct {
	file        string
	routerID    string
	routerLine  *kaStmt
	globalGARP  map[string]*kaStmt
	global      []*kaStmt // other global_defs statements
	scripts     map[string]*kaStmt
	instances   []*kaStmt
	syncGroups  []*kaStmt
	unsupported []*kaStmt // other top-level statements
}

func kaRead(file string, stmts []*kaStmt) *kaConf {
	c := &kaConf{file: file, globalGARP: map[string]*kaStmt{}, scripts: map[string]*kaStmt{}}
	for _, s := range stmts {
		switch s.key() {
		case "global_defs":
			for _, g := range s.block {
				switch k := g.key(); {
				case k == "router_id":
					c.routerID, c.routerLine = g.arg(0), g
				case strings.HasPrefix(k, "vrrp_") && slices.Contains(kaGARP, strings.TrimPrefix(k, "vrrp_")):
					c.globalGARP[strings.TrimPrefix(k, "vrrp_")] = g
				default:
					c.global = append(c.global, g)
				}
			}
		case "vrrp_script":
			if s.hasBlock && s.arg(0) != "" {
				c.scripts[s.arg(0)] = s
			} else {
				c.unsupported = append(c.unsupported, s)
			}
		case "vrrp_instance":
			if s.hasBlock && s.arg(0) != "" {
				c.instances = append(c.instances, s)
			} else {
				c.unsupported = append(c.unsupported, s)
			}
		case "vrrp_sync_group":
			if s.hasBlock && s.arg(0) != "" {
				c.syncGroups = append(c.syncGroups, s)
			} else {
				c.unsupported = append(c.unsupported, s)
			}
		default:
			c.unsupported = append(c.unsupported, s)
		}
	}
	return c
}

// find returns the first statement of block with the keyword.
func find(block []*kaStmt, key string) *kaStmt {
	for _, s := range block {
		if s.key() == key {
			return s
		}
	}
	return nil
}

// priority is an instance's priority and whether it preempts.
func kaPriority(inst *kaStmt) (prio int, preempt bool, line *kaStmt) {
	prio, preempt = kaDefaultPriority, true
	if s := find(inst.block, "priority"); s != nil {
		if n, err := strconv.Atoi(s.arg(0)); err == nil {
			prio, line = n, s
		}
	}
	if find(inst.block, "nopreempt") != nil {
		preempt = false
	}
	return prio, preempt, line
}

// kaVIP is a VIP being built from one instance or sync group.
type kaVIP struct {
	name      string
	iface     string
	addresses []string
	from      []string
	instances []*kaStmt
}

func (c *kaConf) convert(d *draft, opt Options, others []*kaConf) error {
	// Groups first: their instances become one VIP.
	grouped := map[string]*kaStmt{} // instance name -> its sync group
	for _, g := range c.syncGroups {
		if gs := find(g.block, "group"); gs != nil {
			for _, m := range gs.block {
				for _, w := range m.words {
					grouped[w] = g
				}
			}
			for _, m := range gs.words[1:] {
				grouped[m] = g
			}
		}
	}
	byName := map[string]*kaStmt{}
	for _, inst := range c.instances {
		byName[inst.arg(0)] = inst
	}

	nodeName := opt.NodeName
	switch {
	case nodeName != "":
		d.top.set("node_name", tomlString(nodeName), "given on the command line")
	case c.routerID != "":
		nodeName = c.routerID
		d.top.set("node_name", tomlString(nodeName), "from "+c.routerLine.where()+": "+c.routerLine.text())
	}

	// bind and peers: this node's unicast_src_ip, everyone's peers.
	var bind, bindFrom string
	peers := map[netip.Addr]bool{}
	addPeer := func(s *kaStmt, text string) {
		a, err := netip.ParseAddr(text)
		if err != nil {
			d.note(s.file, s.line, "%s: %q is not an IP address: not a peer", s.key(), text)
			return
		}
		peers[a.Unmap()] = true
	}
	for _, conf := range append([]*kaConf{c}, others...) {
		for _, inst := range conf.instances {
			if s := find(inst.block, "unicast_src_ip"); s != nil {
				addPeer(s, s.arg(0))
				if conf == c {
					switch {
					case bind == "":
						bind, bindFrom = s.arg(0), "from "+s.where()+": "+s.text()
					case bind != s.arg(0):
						d.note(s.file, s.line, "%s: another source address than %s; wackamole gossips from one (bind)", s.text(), bind)
					}
				}
			}
			if s := find(inst.block, "unicast_peer"); s != nil {
				for _, p := range s.block {
					addPeer(p, p.key())
				}
			}
		}
	}
	if a, err := netip.ParseAddr(bind); err == nil {
		d.top.set("bind", tomlString(netip.AddrPortFrom(a.Unmap(), 7946).String()), bindFrom, "the gossip port: TCP and UDP 7946 between the nodes")
	}
	if len(peers) > 0 {
		var list []string
		for _, a := range slices.SortedFunc(func(yield func(netip.Addr) bool) {
			for a := range peers {
				if !yield(a) {
					return
				}
			}
		}, netip.Addr.Compare) {
			list = append(list, netip.AddrPortFrom(a, 7946).String())
		}
		d.top.set("peers", tomlStrings(list), "unicast_src_ip and unicast_peer: every node, this one included")
	} else {
		d.note(c.file, 0, "no unicast_peer: keepalived found its peers by multicast; list every node's address in peers (wackamole gossips by unicast)")
	}
	d.top.set("secret_key_file", tomlString(keyFile(opt)), "replaces VRRP authentication: the same key on every node")
	d.advice = keyAdvice(keyFile(opt))

	// The VIPs.
	used := map[string]bool{}
	var vips []*kaVIP
	groupVIP := map[*kaStmt]*kaVIP{}
	var defaultIface string
	for _, inst := range c.instances {
		iface := ""
		if s := find(inst.block, "interface"); s != nil {
			iface = s.arg(0)
		}
		if defaultIface == "" {
			defaultIface = iface
		}
		var v *kaVIP
		if g := grouped[inst.arg(0)]; g != nil {
			if v = groupVIP[g]; v == nil {
				v = &kaVIP{name: vipName(g.arg(0), used), iface: iface,
					from: []string{"from " + g.where() + ": vrrp_sync_group " + g.arg(0) + ": its instances move together"}}
				groupVIP[g] = v
				vips = append(vips, v)
			}
		} else {
			v = &kaVIP{name: vipName(inst.arg(0), used), iface: iface, from: []string{"from " + inst.where() + ": vrrp_instance " + inst.arg(0)}}
			vips = append(vips, v)
		}
		v.instances = append(v.instances, inst)
		c.instanceAddresses(d, inst, iface, v)
		c.instanceNotes(d, inst)
	}
	for _, name := range slices.Sorted(maps.Keys(grouped)) {
		if g := grouped[name]; byName[name] == nil {
			d.note(g.file, g.line, "vrrp_sync_group %s names the instance %s, which this file does not define", g.arg(0), name)
		}
	}
	for _, g := range c.syncGroups {
		for _, s := range g.block {
			switch s.key() {
			case "group", "notify_master", "notify_backup", "track_script":
			default:
				why, ok := kaInstanceNotes[s.key()]
				if !ok {
					why = "not carried over"
				}
				d.note(s.file, s.line, "%s (vrrp_sync_group %s): %s", s.text(), g.arg(0), why)
			}
		}
	}
	if defaultIface != "" {
		d.top.set("interface", tomlString(defaultIface), "the first vrrp_instance's interface: where addresses without dev go")
	}

	c.globalNotes(d)
	c.arp(d)
	c.checks(d)
	c.hooks(d)

	found := 0
	for _, v := range vips {
		if len(v.addresses) == 0 {
			d.note(c.file, v.instances[0].line, "vrrp_instance %s has no virtual_ipaddress: no VIP", v.instances[0].arg(0))
			continue
		}
		found++
		t := d.table("[[vip]]")
		t.set("name", tomlString(v.name), v.from...)
		if v.iface != "" && v.iface != defaultIface {
			t.set("interface", tomlString(v.iface))
		}
		t.set("addresses", tomlStrings(v.addresses))
		c.prefer(d, t, v, nodeName, others)
	}
	if found == 0 {
		return fmt.Errorf("%s: no vrrp_instance with a virtual_ipaddress: nothing to import", c.file)
	}
	for _, s := range c.unsupported {
		d.note(s.file, s.line, "%s: %s", s.text(), kaTopNote(s.key()))
	}
	return nil
}

func kaTopNote(key string) string {
	switch key {
	case "virtual_server", "virtual_server_group", "real_server":
		return "IPVS load balancing is not wackamole's job (keep it in ipvsadm or keepalived's checker)"
	case "static_ipaddress", "static_routes", "static_rules":
		return "static addresses and routes belong in the system's network configuration"
	case "vrrp_track_process", "vrrp_track_file", "track_file", "track_process", "bfd_instance":
		return `no equivalent: write a [[check]] (kind = "exec") that tests the same`
	case "vrrp_script", "vrrp_instance", "vrrp_sync_group":
		return "has no name or no block: skipped"
	}
	return "not carried over"
}

// instanceAddresses adds an instance's virtual_ipaddress and
// virtual_ipaddress_excluded entries to v.
func (c *kaConf) instanceAddresses(d *draft, inst *kaStmt, iface string, v *kaVIP) {
	for _, key := range []string{"virtual_ipaddress", "virtual_ipaddress_excluded"} {
		s := find(inst.block, key)
		if s == nil {
			continue
		}
		for _, e := range s.block {
			prefixes, dev, err := kaAddress(e)
			var part *partial
			switch {
			case errors.As(err, &part):
				d.note(e.file, e.line, "%s: %v", e.text(), part.error)
			case err != nil:
				d.note(e.file, e.line, "%s: %v: skipped", e.text(), err)
				continue
			}
			where := iface
			if dev != "" {
				where = dev
			}
			for _, p := range prefixes {
				a := p.String()
				if where != "" && where != v.iface {
					a = where + ":" + a
				}
				if slices.Contains(v.addresses, a) {
					continue
				}
				v.addresses = append(v.addresses, a)
			}
			if len(v.from) < 8 {
				v.from = append(v.from, fmt.Sprintf("  %s: %s", e.where(), e.text()))
			}
		}
	}
}

// kaAddress reads one virtual_ipaddress entry:
// ADDR[/LEN] [dev IF] [label L] [brd A] [scope S] ... where ADDR may be
// a range of the last IPv4 byte, 192.0.2.10-12.
func kaAddress(e *kaStmt) ([]netip.Prefix, string, error) {
	if len(e.words) == 0 {
		return nil, "", errors.New("empty")
	}
	text := e.words[0]
	bits := -1
	if a, l, ok := strings.Cut(text, "/"); ok {
		n, err := strconv.Atoi(l)
		if err != nil {
			return nil, "", fmt.Errorf("%q is not a prefix length", l)
		}
		text, bits = a, n
	}
	var addrs []netip.Addr
	if first, last, isRange := strings.Cut(text, "-"); isRange {
		a, err := netip.ParseAddr(first)
		end, err2 := strconv.Atoi(last)
		if err != nil || err2 != nil || !a.Is4() || end < int(a.As4()[3]) || end > 255 {
			return nil, "", fmt.Errorf("%q is not an address range (A.B.C.D-E)", e.words[0])
		}
		for x := a; ; x = x.Next() {
			addrs = append(addrs, x)
			if int(x.As4()[3]) == end {
				break
			}
		}
	} else {
		a, err := netip.ParseAddr(text)
		if err != nil {
			return nil, "", fmt.Errorf("%q is not an IP address", text)
		}
		addrs = append(addrs, a.Unmap())
	}
	var prefixes []netip.Prefix
	for _, a := range addrs {
		b := bits
		if b < 0 {
			b = a.BitLen() // keepalived's default: a host address
		}
		p, err := a.Prefix(b)
		if err != nil || b > a.BitLen() {
			return nil, "", fmt.Errorf("/%d is not a prefix length for %s", b, a)
		}
		prefixes = append(prefixes, netip.PrefixFrom(a, p.Bits()))
	}
	dev := ""
	var ignored []string
	for i := 1; i < len(e.words); i++ {
		switch w := e.words[i]; w {
		case "dev":
			if i+1 < len(e.words) {
				dev = e.words[i+1]
				i++
			}
		case "label", "brd", "broadcast", "scope", "peer", "track_group":
			if i+1 < len(e.words) {
				ignored = append(ignored, w+" "+e.words[i+1])
				i++
			}
		default:
			ignored = append(ignored, w)
		}
	}
	if len(ignored) > 0 {
		err := fmt.Errorf("%s not carried over: wackamole labels its addresses IFNAME:wk, with the kernel's default broadcast and scope", strings.Join(ignored, ", "))
		return prefixes, dev, &partial{err}
	}
	return prefixes, dev, nil
}

// partial is an error that still leaves a usable result.
type partial struct{ error }

func (c *kaConf) instanceNotes(d *draft, inst *kaStmt) {
	for _, s := range inst.block {
		switch k := s.key(); k {
		case "interface", "priority", "nopreempt", "preempt", "unicast_src_ip", "unicast_peer",
			"virtual_ipaddress", "virtual_ipaddress_excluded", "track_script", "notify_master", "notify_backup",
			"garp_master_delay", "garp_master_refresh":
			// carried over (or used for prefer)
		default:
			why, ok := kaInstanceNotes[k]
			if !ok {
				why = "not carried over"
			}
			d.note(s.file, s.line, "%s (vrrp_instance %s): %s", s.text(), inst.arg(0), why)
		}
	}
}

func (c *kaConf) globalNotes(d *draft) {
	for _, s := range c.global {
		why := "not carried over"
		switch s.key() {
		case "notification_email", "notification_email_from", "smtp_server", "smtp_connect_timeout", "smtp_alert":
			why = "wackamole sends no mail: watch the journal or the metrics"
		case "enable_script_security", "script_user":
			why = "wackamole runs checks and hooks as its own user, without a shell"
		case "vrrp_version", "vrrp_strict", "vrrp_skip_check_adv_addr", "vrrp_mcast_group4", "vrrp_mcast_group6":
			why = "VRRP protocol settings: wackamole speaks no VRRP"
		}
		d.note(s.file, s.line, "%s (global_defs): %s", s.text(), why)
	}
}

// garpSetting returns an instance's garp setting, or global_defs', and
// which statement set it.
func (c *kaConf) garpSetting(inst *kaStmt, key string) *kaStmt {
	if s := find(inst.block, key); s != nil {
		return s
	}
	return c.globalGARP[key]
}

// arp maps garp_master_delay and garp_master_refresh: keepalived sends a
// burst on becoming master and, garp_master_delay later, a second one
// (0: none); and again every garp_master_refresh while master.
func (c *kaConf) arp(d *draft) {
	t := d.table("[arp]", "Gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6).")
	var delay, refresh *kaStmt
	for _, inst := range c.instances {
		for _, k := range []struct {
			key string
			dst **kaStmt
		}{{"garp_master_delay", &delay}, {"garp_master_refresh", &refresh}} {
			s, dst := c.garpSetting(inst, k.key), k.dst
			switch {
			case s == nil:
			case *dst == nil:
				*dst = s
			case s.arg(0) != (*dst).arg(0):
				d.note(s.file, s.line, "%s differs from %s: [arp] is one for all VIPs, the first one was taken", s.text(), (*dst).where())
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(c.globalGARP)) {
		if s := c.globalGARP[key]; key != "garp_master_delay" && key != "garp_master_refresh" {
			d.note(s.file, s.line, "%s (global_defs): %s", s.text(), kaInstanceNotes[key])
		}
	}
	if delay != nil {
		if secs, err := kaSeconds(delay.arg(0)); err != nil {
			d.note(delay.file, delay.line, "%s: %v", delay.text(), err)
		} else if secs == 0 {
			t.set("repeat", tomlInt(1), "from "+delay.where()+": "+delay.text()+": one burst, no second one")
		} else {
			t.set("repeat", tomlInt(2), "from "+delay.where()+": "+delay.text()+": a second announcement that long after the first")
			t.set("interval", tomlDuration(secs))
		}
	}
	if refresh != nil {
		if secs, err := kaSeconds(refresh.arg(0)); err != nil {
			d.note(refresh.file, refresh.line, "%s: %v", refresh.text(), err)
		} else {
			t.set("refresh", tomlDuration(secs), "from "+refresh.where()+": "+refresh.text()+`: re-announce held VIPs ("0s": never)`)
		}
	}
}

// kaSeconds reads a keepalived time in seconds (decimals allowed).
func kaSeconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || f > 1e6 {
		return 0, fmt.Errorf("%q is not a number of seconds", s)
	}
	return time.Duration(f * float64(time.Second)).Round(time.Millisecond), nil
}

// checks turns every tracked vrrp_script into an exec [[check]].
func (c *kaConf) checks(d *draft) {
	trackers := map[string][]string{} // script -> instances tracking it
	var order []string
	tracked := func(owner string, block []*kaStmt) {
		s := find(block, "track_script")
		if s == nil {
			return
		}
		for _, e := range s.block {
			name := e.key()
			if c.scripts[name] == nil {
				d.note(e.file, e.line, "track_script %s: no vrrp_script of that name", name)
				continue
			}
			if _, seen := trackers[name]; !seen {
				order = append(order, name)
			}
			trackers[name] = append(trackers[name], owner)
			if w := e.arg(1); e.arg(0) == "weight" && w != "0" {
				d.note(e.file, e.line, "track_script %s weight %s (%s): in wackamole a failing check makes the node ineligible for every VIP instead of changing a priority", name, w, owner)
			}
		}
	}
	for _, inst := range c.instances {
		tracked("vrrp_instance "+inst.arg(0), inst.block)
	}
	for _, g := range c.syncGroups {
		tracked("vrrp_sync_group "+g.arg(0), g.block)
	}
	for _, name := range slices.Sorted(maps.Keys(c.scripts)) {
		if _, ok := trackers[name]; !ok {
			s := c.scripts[name]
			d.note(s.file, s.line, "vrrp_script %s is tracked by no instance: no check", name)
		}
	}
	used := map[string]bool{}
	for _, name := range order {
		s := c.scripts[name]
		if len(trackers[name]) < len(c.instances)+len(c.syncGroups) {
			d.note(s.file, s.line, "vrrp_script %s is tracked by %s only: a failing wackamole check makes the node ineligible for every VIP", name, strings.Join(trackers[name], ", "))
		}
		c.check(d, s, vipName(name, used))
	}
}

func (c *kaConf) check(d *draft, s *kaStmt, name string) {
	script := find(s.block, "script")
	if script == nil || len(script.words) < 2 {
		d.note(s.file, s.line, "vrrp_script %s has no script: no check", s.arg(0))
		return
	}
	argv, err := splitArgs(strings.Join(script.words[1:], " "))
	if len(script.words) == 2 {
		argv, err = splitArgs(script.words[1])
	}
	if err != nil || len(argv) == 0 {
		d.note(script.file, script.line, "%s: %v: no check", script.text(), err)
		return
	}
	from := []string{"from " + s.where() + ": vrrp_script " + s.arg(0), "  " + script.where() + ": " + script.text()}
	if !filepath.IsAbs(argv[0]) {
		// keepalived searches PATH; wackamole runs a path, so env does.
		argv = append([]string{"/usr/bin/env"}, argv...)
		from = append(from, "  keepalived searched PATH for "+argv[1]+"; /usr/bin/env does the same")
	}
	interval := kaDefaultInterval
	timeout := time.Duration(0)
	rise, fall := kaDefaultRise, kaDefaultFall
	for _, e := range s.block {
		switch e.key() {
		case "script":
		case "interval", "timeout":
			secs, err := kaSeconds(e.arg(0))
			if err != nil || secs <= 0 {
				d.note(e.file, e.line, "%s: not a positive number of seconds: keepalived's default kept", e.text())
				continue
			}
			if e.key() == "interval" {
				interval = secs
			} else {
				timeout = secs
			}
		case "rise", "fall":
			n, err := strconv.Atoi(e.arg(0))
			if err != nil || n < 1 {
				d.note(e.file, e.line, "%s: not a positive count: keepalived's default kept", e.text())
				continue
			}
			if e.key() == "rise" {
				rise = n
			} else {
				fall = n
			}
		case "weight":
			if e.arg(0) != "0" {
				d.note(e.file, e.line, "%s (vrrp_script %s): in wackamole a failing check makes the node ineligible for every VIP instead of changing a priority", e.text(), s.arg(0))
			}
		case "init_fail":
			// wackamole's checks start failing anyway.
		case "user":
			d.note(e.file, e.line, "%s (vrrp_script %s): checks run as the daemon's user (wackamole)", e.text(), s.arg(0))
		default:
			d.note(e.file, e.line, "%s (vrrp_script %s): not carried over", e.text(), s.arg(0))
		}
	}
	// wackamole's timeout must be shorter than the interval; keepalived's
	// default timeout is the interval itself.
	if timeout == 0 || timeout >= interval {
		if timeout >= interval {
			d.note(s.file, s.line, "vrrp_script %s: timeout %v is not shorter than the interval %v: wackamole needs it shorter (runs must not overlap)", s.arg(0), timeout, interval)
		}
		timeout = (interval * 9 / 10).Round(time.Millisecond)
	}
	t := d.table("[[check]]")
	t.set("name", tomlString(name), from...)
	t.set("kind", tomlString("exec"))
	t.set("command", tomlStrings(argv))
	t.set("interval", tomlDuration(interval))
	t.set("timeout", tomlDuration(timeout))
	t.set("rise", tomlInt(rise))
	t.set("fall", tomlInt(fall))
}

// hooks maps notify_master and notify_backup (of instances and sync
// groups) to on_acquire and on_release.
func (c *kaConf) hooks(d *draft) {
	t := d.table("[hooks]", `Hooks run as "PROGRAM EVENT VIP" with WACKAMOLE_EVENT, WACKAMOLE_VIP,`,
		"WACKAMOLE_ADDRESSES, WACKAMOLE_INTERFACES, WACKAMOLE_REASON and WACKAMOLE_NODE set,",
		"not with keepalived's arguments: check that the scripts do not rely on them.")
	for _, m := range []struct{ ka, wk string }{{"notify_master", "on_acquire"}, {"notify_backup", "on_release"}} {
		var chosen *kaStmt
		var blocks [][]*kaStmt
		for _, g := range c.syncGroups {
			blocks = append(blocks, g.block)
		}
		for _, inst := range c.instances {
			blocks = append(blocks, inst.block)
		}
		for _, b := range blocks {
			s := find(b, m.ka)
			if s == nil {
				continue
			}
			if chosen == nil {
				chosen = s
				continue
			}
			if strings.Join(s.words, " ") != strings.Join(chosen.words, " ") {
				d.note(s.file, s.line, "%s: wackamole has one %s hook for all VIPs; %s was taken", s.text(), m.wk, chosen.where())
			}
		}
		if chosen == nil {
			continue
		}
		argv, err := splitArgs(strings.Join(chosen.words[1:], " "))
		if len(chosen.words) == 2 {
			argv, err = splitArgs(chosen.words[1])
		}
		switch {
		case err != nil || len(argv) == 0:
			d.note(chosen.file, chosen.line, "%s: %v: no hook", chosen.text(), err)
			continue
		case !filepath.IsAbs(argv[0]):
			d.note(chosen.file, chosen.line, "%s: hooks need an absolute path (no PATH search): no %s hook", chosen.text(), m.wk)
			continue
		}
		from := "from " + chosen.where() + ": " + chosen.text()
		if len(argv) > 1 {
			d.note(chosen.file, chosen.line, "%s: the arguments %q are dropped: a hook is run as PROGRAM EVENT VIP", chosen.text(), strings.Join(argv[1:], " "))
		}
		t.set(m.wk, tomlString(argv[0]), from)
	}
}

// prefer writes a VIP's prefer list from the priorities of every node's
// same-named instance, when every node's file was given.
func (c *kaConf) prefer(d *draft, t *table, v *kaVIP, nodeName string, others []*kaConf) {
	inst := v.instances[0] // a sync group's instances share their fate
	prio, preempt, line := kaPriority(inst)
	if !preempt {
		return // the VIP stays where it is: wackamole's way without prefer
	}
	if len(others) == 0 {
		if line != nil {
			d.note(line.file, line.line, "%s (vrrp_instance %s): a prefer list needs every node's priority: import with every node's keepalived.conf (see wackamole(8), import)", line.text(), inst.arg(0))
		}
		return
	}
	if nodeName == "" {
		d.note(inst.file, inst.line, "vrrp_instance %s: this node has no name (router_id, or --node): no prefer list", inst.arg(0))
		return
	}
	cs := []candidate{{nodeName, prio}}
	from := fmt.Sprintf("by keepalived's priorities, highest first (%s %d", nodeName, prio)
	for _, o := range others {
		var oi *kaStmt
		for _, x := range o.instances {
			if x.arg(0) == inst.arg(0) {
				oi = x
			}
		}
		if oi == nil {
			d.note(o.file, 0, "no vrrp_instance %s: that node is left out of the VIP's prefer list", inst.arg(0))
			continue
		}
		if o.routerID == "" {
			d.note(o.file, 0, "no router_id (and no NAME= given): that node is left out of the prefer lists")
			continue
		}
		op, _, _ := kaPriority(oi)
		cs = append(cs, candidate{o.routerID, op})
		from += fmt.Sprintf(", %s %d", o.routerID, op)
	}
	from += ")"
	names := preferOrder(cs)
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			d.note(inst.file, inst.line, "two nodes are named %s: no prefer list for %s", names[i], v.name)
			return
		}
	}
	t.set("prefer", tomlStrings(names), from)
}
