package importer

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The old wackamole.conf (wackamole.conf(5) of wackamole 2.x) is a list
// of settings, keywords in any case, newlines being blanks like any
// other:
//
//	Spread = 4803                   Group = wack1
//	SpreadRetryInterval = 5s        Control = /var/run/wack.it
//	Mature = 5s                     Arp-Cache = 90s
//	Balance { AcquisitionsPerRound = all  Interval = 4s }
//	Prefer None | Prefer IF:A.B.C.D/LEN | Prefer { A.B.C.D/LEN ... }
//	Notify { IF:A.B.C.D/LEN [throttle N] [ping]  arp-cache }  | Notify none
//	VirtualInterfaces { IF:A.B.C.D/LEN[nNET]  { IF:A.B.C.D/LEN IF:... } }
//	RunDynamic MODULE:FUNC on up | on down | post up | post down
//	ModuleDir = DIR   PerlUseLib DIR   PerlUse MODULE   LogFacility = F
//
// "#" starts a comment; times are a number with s, m or h.

// The old wackamole's defaults (wackamole.conf(5)).
const (
	oldDefaultArpCache = 60 * time.Second
)

type wkToken struct {
	text string
	line int
	kind int // kaWord, kaOpen, kaClose or wkEquals
}

const wkEquals = 100

func wkLex(file, text string) ([]wkToken, error) {
	var toks []wkToken
	line := 1
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == '{':
			toks = append(toks, wkToken{"{", line, kaOpen})
			i++
		case c == '}':
			toks = append(toks, wkToken{"}", line, kaClose})
			i++
		case c == '=':
			toks = append(toks, wkToken{"=", line, wkEquals})
			i++
		case c == '"' || c == '\'':
			end := strings.IndexByte(text[i+1:], c)
			if end < 0 || strings.Contains(text[i+1:i+1+end], "\n") {
				return nil, &SyntaxError{File: file, Line: line, Msg: "a quoted string is not closed on its line"}
			}
			toks = append(toks, wkToken{text[i+1 : i+1+end], line, kaWord})
			i += end + 2
		default:
			j := i
			for j < len(text) && !strings.ContainsRune(" \t\r\n\f\v#{}=", rune(text[j])) {
				j++
			}
			toks = append(toks, wkToken{text[i:j], line, kaWord})
			i = j
		}
	}
	return toks, nil
}

// wkAddr is one IF:A.B.C.D/LEN[nNET] of the old format.
type wkAddr struct {
	iface  string
	prefix netip.Prefix
	net    int // the nNET hint, -1 when absent
	text   string
	line   int
}

func parseWkAddr(t wkToken) (wkAddr, error) {
	a := wkAddr{text: t.text, line: t.line, net: -1}
	s := t.text
	if i := strings.IndexByte(s, ':'); i >= 0 {
		a.iface, s = s[:i], s[i+1:]
		if a.iface == "" {
			return a, fmt.Errorf("%q: empty interface name before ':'", t.text)
		}
	}
	if i := strings.IndexByte(s, 'n'); i >= 0 {
		n, err := strconv.Atoi(s[i+1:])
		if err != nil || n < 0 || n > 32 {
			return a, fmt.Errorf("%q: the network hint after 'n' must be 0 to 32", t.text)
		}
		a.net, s = n, s[:i]
	}
	ip, bits, ok := strings.Cut(s, "/")
	if !ok {
		return a, fmt.Errorf("%q: want IF:A.B.C.D/LEN (the prefix length is required)", t.text)
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is4() {
		return a, fmt.Errorf("%q: %q is not an IPv4 address", t.text, ip)
	}
	n, err := strconv.Atoi(bits)
	if err != nil || n < 0 || n > 32 {
		return a, fmt.Errorf("%q: the prefix length must be 0 to 32", t.text)
	}
	a.prefix = netip.PrefixFrom(addr, n)
	return a, nil
}

func (a wkAddr) String() string {
	if a.iface == "" {
		return a.prefix.String()
	}
	return a.iface + ":" + a.prefix.String()
}

// wkConf is what the importer reads out of one old wackamole.conf.
type wkConf struct {
	file string
	vifs [][]wkAddr // each a group of addresses that move together
	// prefer are the Prefer prefixes; preferNone is "Prefer None".
	prefer     []wkAddr
	preferNone bool
	preferLine int
	mature     *wkToken
	matureVal  time.Duration
	arpCache   *wkToken
	arpVal     time.Duration
	notify     []wkAddr
	notifyMeta []Note // throttle, ping
	notifyARP  bool   // "arp-cache" among the notifications
	notifyNone bool
	notifyLine int
	maxMoves   *wkToken // AcquisitionsPerRound value
	notes      []Note
}

type wkParser struct {
	file string
	toks []wkToken
	pos  int
	c    *wkConf
}

func (p *wkParser) peek() (wkToken, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return wkToken{}, false
}

func (p *wkParser) next(what string) (wkToken, error) {
	t, ok := p.peek()
	if !ok {
		line := 1
		if n := len(p.toks); n > 0 {
			line = p.toks[n-1].line
		}
		return t, &SyntaxError{File: p.file, Line: line, Msg: "the file ends where " + what + " is expected"}
	}
	p.pos++
	return t, nil
}

func (p *wkParser) errAt(t wkToken, format string, args ...any) error {
	return &SyntaxError{File: p.file, Line: t.line, Msg: fmt.Sprintf(format, args...)}
}

func (p *wkParser) expect(kind int, what string) (wkToken, error) {
	t, err := p.next(what)
	if err != nil {
		return t, err
	}
	if t.kind != kind {
		return t, p.errAt(t, "want %s, found %q", what, t.text)
	}
	return t, nil
}

// value reads "= VALUE" of a keyword.
func (p *wkParser) value(key wkToken) (wkToken, error) {
	if _, err := p.expect(wkEquals, `"=" after `+key.text); err != nil {
		return wkToken{}, err
	}
	return p.expect(kaWord, "a value for "+key.text)
}

// duration reads the old format's time: a number and s, m or h.
func (p *wkParser) duration(t wkToken) (time.Duration, error) {
	s := strings.ToLower(t.text)
	if len(s) < 2 {
		return 0, p.errAt(t, "%q is not a time (want e.g. 5s or 2m)", t.text)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n < 0 || n > 1e6 {
		return 0, p.errAt(t, "%q is not a time (want e.g. 5s or 2m)", t.text)
	}
	switch s[len(s)-1] {
	case 's':
		return time.Duration(n) * time.Second, nil
	case 'm':
		return time.Duration(n) * time.Minute, nil
	case 'h':
		p.c.notes = append(p.c.notes, Note{p.file, t.line, fmt.Sprintf("%s read as %v (wackamole 2.x counted an h suffix as seconds)", t.text, time.Duration(n)*time.Hour)})
		return time.Duration(n) * time.Hour, nil
	}
	return 0, p.errAt(t, "%q is not a time (want e.g. 5s or 2m)", t.text)
}

func parseWackamoleFile(path string) (*wkConf, error) {
	data, err := readBounded(path, kaMaxFileSize)
	if err != nil {
		return nil, err
	}
	toks, err := wkLex(path, string(data))
	if err != nil {
		return nil, err
	}
	p := &wkParser{file: path, toks: toks, c: &wkConf{file: path}}
	for {
		t, ok := p.peek()
		if !ok {
			return p.c, nil
		}
		p.pos++
		if t.kind != kaWord {
			return nil, p.errAt(t, "want a setting, found %q", t.text)
		}
		if err := p.setting(t); err != nil {
			return nil, err
		}
	}
}

func (p *wkParser) note(t wkToken, format string, args ...any) {
	p.c.notes = append(p.c.notes, Note{File: p.file, Line: t.line, Text: fmt.Sprintf(format, args...)})
}

func (p *wkParser) setting(key wkToken) error {
	switch strings.ToLower(key.text) {
	case "spread":
		v, err := p.value(key)
		if err != nil {
			return err
		}
		p.note(key, "Spread = %s: wackamole needs no Spread daemon; its nodes gossip with each other directly (list them in peers)", v.text)
	case "spreadretryinterval":
		v, err := p.value(key)
		if err != nil {
			return err
		}
		if _, err := p.duration(v); err != nil {
			return err
		}
		p.note(key, "SpreadRetryInterval = %s: no Spread; missing peers are joined again every membership.rejoin_interval", v.text)
	case "group":
		v, err := p.value(key)
		if err != nil {
			return err
		}
		p.note(key, "Group = %s: the group is every node that lists the same peers and holds the same secret_key_file", v.text)
	case "control":
		v, err := p.value(key)
		if err != nil {
			return err
		}
		p.note(key, "Control = %s: wackatrl talks to control_socket (default /run/wackamole/wackamole.sock, which the systemd unit provides)", v.text)
	case "logfacility":
		v, err := p.value(key)
		if err != nil {
			return err
		}
		p.note(key, "LogFacility = %s: wackamole logs to standard error (the journal under systemd)", v.text)
	case "mature":
		v, err := p.value(key)
		if err != nil {
			return err
		}
		d, err := p.duration(v)
		if err != nil {
			return err
		}
		p.c.mature, p.c.matureVal = &key, d
	case "arp-cache":
		v, err := p.value(key)
		if err != nil {
			return err
		}
		d, err := p.duration(v)
		if err != nil {
			return err
		}
		p.c.arpCache, p.c.arpVal = &key, d
	case "balance":
		return p.balance(key)
	case "notify":
		return p.notify(key)
	case "prefer":
		return p.preferList(key)
	case "virtualinterfaces", "vifs", "vips":
		return p.vifs(key)
	case "moduledir":
		v, err := p.value(key)
		if err != nil {
			return err
		}
		p.note(key, "ModuleDir = %s: wackamole loads no modules; hooks are programs", v.text)
	case "perluse", "perluselib":
		v, err := p.expect(kaWord, "a value for "+key.text)
		if err != nil {
			return err
		}
		p.note(key, "%s %s: no embedded Perl; a hook can be a Perl script", key.text, v.text)
	case "rundynamic":
		fn, err := p.expect(kaWord, "MODULE:FUNC after RunDynamic")
		if err != nil {
			return err
		}
		when, err := p.expect(kaWord, "on or post after "+fn.text)
		if err != nil {
			return err
		}
		ev, err := p.expect(kaWord, "up or down after "+when.text)
		if err != nil {
			return err
		}
		w, e := strings.ToLower(when.text), strings.ToLower(ev.text)
		if (w != "on" && w != "post") || (e != "up" && e != "down") {
			return p.errAt(when, "want on up, on down, post up or post down, found %s %s", when.text, ev.text)
		}
		hook := map[string]string{"up": "on_acquire", "down": "on_release"}[e]
		p.note(key, "RunDynamic %s %s %s: wackamole loads no shared objects or Perl; run a program as the %s hook instead", fn.text, when.text, ev.text, hook)
	default:
		return p.errAt(key, "%q is not a wackamole.conf setting", key.text)
	}
	return nil
}

func (p *wkParser) balance(key wkToken) error {
	if _, err := p.expect(kaOpen, `"{" after Balance`); err != nil {
		return err
	}
	for {
		t, err := p.next(`"}" closing Balance`)
		if err != nil {
			return err
		}
		if t.kind == kaClose {
			return nil
		}
		switch strings.ToLower(t.text) {
		case "acquisitionsperround":
			v, err := p.value(t)
			if err != nil {
				return err
			}
			if !strings.EqualFold(v.text, "all") {
				if n, err := strconv.Atoi(v.text); err != nil || n < 0 {
					return p.errAt(v, "AcquisitionsPerRound = %s: want a non-negative number or all", v.text)
				}
			}
			p.c.maxMoves = &v
		case "interval":
			v, err := p.value(t)
			if err != nil {
				return err
			}
			if _, err := p.duration(v); err != nil {
				return err
			}
			p.note(t, "Balance Interval = %s: wackamole rebalances at once, paced by balance.max_moves hand-overs at a time (each make-before-break)", v.text)
		default:
			return p.errAt(t, "%q is not a Balance setting (AcquisitionsPerRound, Interval)", t.text)
		}
	}
}

func (p *wkParser) notify(key wkToken) error {
	p.c.notifyLine = key.line
	t, err := p.next("none, arp-cache or { ... } after Notify")
	if err != nil {
		return err
	}
	switch {
	case t.kind == kaWord && strings.EqualFold(t.text, "none"):
		p.c.notifyNone = true
		return nil
	case t.kind == kaWord && strings.EqualFold(t.text, "arp-cache"):
		p.c.notifyARP = true
		return nil
	case t.kind != kaOpen:
		return p.errAt(t, "want none, arp-cache or { after Notify, found %q", t.text)
	}
	for {
		t, err := p.next(`"}" closing Notify`)
		if err != nil {
			return err
		}
		if t.kind == kaClose {
			return nil
		}
		if t.kind != kaWord {
			return p.errAt(t, "want an address or arp-cache in Notify, found %q", t.text)
		}
		if strings.EqualFold(t.text, "arp-cache") {
			p.c.notifyARP = true
		} else {
			a, err := parseWkAddr(t)
			if err != nil {
				return p.errAt(t, "%v", err)
			}
			p.c.notify = append(p.c.notify, a)
		}
		// Options of the entry.
		for {
			o, ok := p.peek()
			if !ok || o.kind != kaWord {
				break
			}
			switch strings.ToLower(o.text) {
			case "throttle":
				p.pos++
				n, err := p.expect(kaWord, "a number after throttle")
				if err != nil {
					return err
				}
				if _, err := strconv.Atoi(n.text); err != nil {
					return p.errAt(n, "throttle %s: want a number", n.text)
				}
				p.note(o, "%s throttle %s: wackamole does not rate-limit its unicast announcements (arp.repeat per host and VIP move)", t.text, n.text)
				continue
			case "ping":
				p.pos++
				p.note(o, "%s ping: wackamole sends ARP, not ICMP, to the hosts it notifies", t.text)
				continue
			}
			break
		}
	}
}

func (p *wkParser) preferList(key wkToken) error {
	p.c.preferLine = key.line
	t, err := p.next("none, an address or { ... } after Prefer")
	if err != nil {
		return err
	}
	add := func(t wkToken) error {
		a, err := parseWkAddr(t)
		if err != nil {
			if addr, perr := netip.ParseAddr(t.text); perr == nil && addr.Is4() {
				p.note(t, "Prefer %s has no prefix length: the original looked it up as a host name (and could not); read as %s/32", t.text, t.text)
				a = wkAddr{prefix: netip.PrefixFrom(addr, 32), text: t.text, line: t.line, net: -1}
			} else {
				return p.errAt(t, "%v", err)
			}
		}
		p.c.prefer = append(p.c.prefer, a)
		return nil
	}
	switch {
	case t.kind == kaWord && strings.EqualFold(t.text, "none"):
		p.c.preferNone = true
		return nil
	case t.kind == kaWord:
		return add(t)
	case t.kind != kaOpen:
		return p.errAt(t, "want none, an address or { after Prefer, found %q", t.text)
	}
	for {
		t, err := p.next(`"}" closing Prefer`)
		if err != nil {
			return err
		}
		if t.kind == kaClose {
			return nil
		}
		if err := add(t); err != nil {
			return err
		}
	}
}

func (p *wkParser) vifs(key wkToken) error {
	if _, err := p.expect(kaOpen, `"{" after `+key.text); err != nil {
		return err
	}
	for {
		t, err := p.next(`"}" closing ` + key.text)
		if err != nil {
			return err
		}
		switch t.kind {
		case kaClose:
			return nil
		case kaWord:
			a, err := parseWkAddr(t)
			if err != nil {
				return p.errAt(t, "%v", err)
			}
			p.c.vifs = append(p.c.vifs, []wkAddr{a})
		case kaOpen:
			var group []wkAddr
			for {
				g, err := p.next(`"}" closing the group opened at line ` + strconv.Itoa(t.line))
				if err != nil {
					return err
				}
				if g.kind == kaClose {
					break
				}
				if g.kind != kaWord {
					return p.errAt(g, "want an address in the group, found %q", g.text)
				}
				a, err := parseWkAddr(g)
				if err != nil {
					return p.errAt(g, "%v", err)
				}
				group = append(group, a)
			}
			if len(group) == 0 {
				return p.errAt(t, "an empty group of addresses")
			}
			p.c.vifs = append(p.c.vifs, group)
		default:
			return p.errAt(t, "want an address or a { group } in %s, found %q", key.text, t.text)
		}
	}
}

// prefers reports whether the node of this file prefers a VIF headed by
// head.
func (c *wkConf) prefers(head netip.Addr) bool {
	for _, p := range c.prefer {
		if p.prefix.Masked().Contains(head) {
			return true
		}
	}
	return false
}

// Wackamole imports the original wackamole's wackamole.conf at path as
// this node's configuration. Each VirtualInterfaces entry becomes a
// [[vip]] (a braced group one VIP with several addresses), named after
// its first address; Mature becomes mature, Balance's
// AcquisitionsPerRound balance.max_moves, Arp-Cache and Notify's
// arp-cache arp.cache, Notify's hosts arp.notify. Prefer becomes prefer
// lists when every node's file is given, each with its node's name, in
// opt.Others (the old format names no node).
func Wackamole(path string, opt Options) ([]byte, error) {
	c, err := parseWackamoleFile(path)
	if err != nil {
		return nil, err
	}
	var others []*wkConf
	for _, o := range opt.Others {
		oc, err := parseWackamoleFile(o.Path)
		if err != nil {
			return nil, err
		}
		if o.Name == "" {
			return nil, fmt.Errorf("%s: the old wackamole.conf names no node: give it as NAME=%s", o.Path, o.Path)
		}
		others = append(others, oc)
	}
	if len(c.vifs) == 0 {
		return nil, fmt.Errorf("%s: no VirtualInterfaces: nothing to import", path)
	}
	d := &draft{file: path, title: []string{
		"wackamole.toml imported by \"wackamole import wackamole\" from " + path + ",",
		"a configuration of the original wackamole (2.x, over Spread).",
		"Compare it with wackamole.toml(5).",
	}}
	d.notes = append(d.notes, c.notes...)

	if opt.NodeName != "" {
		d.top.set("node_name", tomlString(opt.NodeName), "given on the command line")
	}
	d.note(path, 0, "no peers: the original found its peers through Spread (see spread.conf); list every node's address in peers")
	d.top.set("peers", "[]", "every node's address (IP:7946), this one included, as in spread.conf")
	d.top.set("secret_key_file", tomlString(keyFile(opt)), "the gossip key: the same on every node")
	d.advice = keyAdvice(keyFile(opt))
	if c.mature != nil {
		d.top.set("mature", tomlDuration(c.matureVal), fmt.Sprintf("from %s:%d: Mature", path, c.mature.line))
	}

	c.arp(d)
	if c.maxMoves != nil {
		t := d.table("[balance]")
		v := c.maxMoves.text
		value := v
		if strings.EqualFold(v, "all") {
			value = tomlString("all")
		}
		t.set("max_moves", value, fmt.Sprintf("from %s:%d: Balance AcquisitionsPerRound = %s", path, c.maxMoves.line, v))
	}

	used := map[string]bool{}
	seen := map[netip.Addr]wkAddr{}
	var defaultIface bool
	for _, group := range c.vifs {
		var addrs []string
		var from []string
		for _, a := range group {
			if first, dup := seen[a.prefix.Addr()]; dup {
				d.note(path, a.line, "%s is listed again (first at line %d): skipped", a.text, first.line)
				continue
			}
			seen[a.prefix.Addr()] = a
			addrs = append(addrs, a.String())
			from = append(from, fmt.Sprintf("  %s:%d: %s", path, a.line, a.text))
			if a.iface == "" {
				defaultIface = true
			}
			if a.net >= 0 {
				d.note(path, a.line, "%s: the network hint n%d is not needed: wackamole announces to arp.notify hosts and the hosts in the group's shared ARP caches", a.text, a.net)
			}
		}
		if len(addrs) == 0 {
			continue
		}
		head := group[0]
		t := d.table("[[vip]]")
		t.set("name", tomlString(vipName(head.prefix.Addr().String(), used)), append([]string{fmt.Sprintf("from %s:%d: VirtualInterfaces", path, head.line)}, from...)...)
		t.set("addresses", tomlStrings(addrs))
		c.preferFor(d, t, head, opt.NodeName, opt.Others, others)
	}
	if defaultIface {
		d.note(path, 0, "addresses without an interface go on interface (default eth0)")
	}
	for i, o := range others {
		if len(o.vifs) != len(c.vifs) {
			d.note(o.file, 0, "%d virtual interfaces, %d here: every node must list the same (node %s)", len(o.vifs), len(c.vifs), opt.Others[i].Name)
		}
	}
	if len(others) == 0 && len(c.prefer) > 0 {
		d.note(path, c.preferLine, "Prefer (this node's preference): a prefer list must be the same on every node; import with every node's file (NAME=FILE) and --node to get them")
	}
	return d.bytes(), nil
}

// arp maps Arp-Cache and Notify.
func (c *wkConf) arp(d *draft) {
	t := d.table("[arp]", "Gratuitous ARP and the hosts told about a VIP move by unicast.")
	var notify []string
	for _, a := range c.notify {
		if a.prefix.Bits() != 32 {
			d.note(c.file, a.line, "Notify %s: a range of hosts; arp.notify takes single hosts (the routers), and the shared ARP caches reach the hosts that talk to the VIPs", a.text)
			continue
		}
		if a.iface != "" {
			d.note(c.file, a.line, "Notify %s: the interface is not needed: a host is notified from the VIP's interface when it is on that link", a.text)
		}
		notify = append(notify, a.prefix.Addr().String())
	}
	slices.Sort(notify)
	notify = slices.Compact(notify)
	if len(notify) > 0 {
		t.set("notify", tomlStrings(notify), fmt.Sprintf("from %s:%d: Notify", c.file, c.notifyLine))
	}
	switch {
	case c.notifyARP:
		v := oldDefaultArpCache
		from := fmt.Sprintf("from %s:%d: Notify arp-cache, at the original's default Arp-Cache interval (60s)", c.file, c.notifyLine)
		if c.arpCache != nil {
			v = c.arpVal
			from = fmt.Sprintf("from %s:%d: Arp-Cache, with Notify arp-cache (line %d)", c.file, c.arpCache.line, c.notifyLine)
		}
		t.set("cache", tomlDuration(v), from)
	default:
		why := "no Notify arp-cache"
		if c.notifyNone {
			why = "Notify none"
		}
		t.set("cache", tomlDuration(0), fmt.Sprintf("%s: the original told no ARP-cache hosts of a move; remove this line for wackamole's default (10s)", why))
		if c.arpCache != nil {
			d.note(c.file, c.arpCache.line, "Arp-Cache without Notify arp-cache: the cache was collected but never used; arp.cache is off")
		}
	}
}

// preferFor writes the prefer list of the VIP headed by head: the nodes
// whose file prefers it, by name.
func (c *wkConf) preferFor(d *draft, t *table, head wkAddr, self string, nodes []Node, others []*wkConf) {
	if len(others) == 0 {
		return
	}
	var cs []candidate
	if c.prefers(head.prefix.Addr()) {
		if self == "" {
			d.note(c.file, c.preferLine, "this node prefers %s but has no name: give --node", head.prefix.Addr())
		} else {
			cs = append(cs, candidate{name: self})
		}
	}
	for i, o := range others {
		if o.prefers(head.prefix.Addr()) {
			cs = append(cs, candidate{name: nodes[i].Name})
		}
	}
	if len(cs) == 0 {
		return
	}
	names := preferOrder(cs)
	t.set("prefer", tomlStrings(slices.Compact(names)), "the nodes whose Prefer names this VIP's first address")
}
