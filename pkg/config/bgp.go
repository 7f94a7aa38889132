package config

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"
	"unicode"
)

// Modes (Config.Mode): how clients find a VIP's holder.
const (
	// ModeL2 is the default: VIP addresses go on the LAN interface and are
	// announced with gratuitous ARP and unsolicited neighbour
	// advertisements. Nodes and clients' gateways share one L2 segment.
	ModeL2 = "l2"
	// ModeBGP puts VIP addresses on a loopback or dummy interface
	// (BGP.Interface) and announces each as a host route to routers over
	// BGP; no ARP is sent or listened to.
	ModeBGP = "bgp"
)

// Announce policies (BGP.Announce).
const (
	// AnnounceOwner announces each VIP from its owner, as the allocator
	// decides, and from its planned successor as a standby path (a longer
	// AS path) that routers use only when the owner's path is gone.
	AnnounceOwner = "owner"
	// AnnounceAll announces every VIP from every eligible, healthy node;
	// routers spread flows over them by ECMP.
	AnnounceAll = "all"
)

// Defaults of [bgp] and [[bgp.peer]] keys absent from the file, and the
// limits their values must keep to. They are the embedded speaker's
// (pkg/bgp), which cannot be imported here without pulling GoBGP into
// everything that reads a configuration.
const (
	// DefaultBGPInterface is where VIP addresses go in bgp mode.
	DefaultBGPInterface = "lo"
	// DefaultBGPAnnounce is the default announce policy.
	DefaultBGPAnnounce = AnnounceOwner
	// DefaultHoldTime is the BGP hold time offered; the keepalive
	// interval is a third of it.
	DefaultHoldTime = 9 * time.Second
	// MinHoldTime and MaxHoldTime bound hold_time (RFC 4271, section 4.2;
	// 0, which RFC 4271 also allows, the speaker cannot offer).
	MinHoldTime = 3 * time.Second
	MaxHoldTime = 65535 * time.Second
	// DefaultBFDInterval is BFD's desired minimum transmit and required
	// minimum receive interval (RFC 5880).
	DefaultBFDInterval = 100 * time.Millisecond
	// MinBFDInterval and MaxBFDInterval bound bfd_interval.
	MinBFDInterval = 10 * time.Millisecond
	MaxBFDInterval = 60 * time.Second
	// DefaultBFDMultiplier is BFD's detection multiplier: a peer is down
	// after this many intervals without a packet.
	DefaultBFDMultiplier = 3
	// MaxBFDMultiplier is the largest value of BFD's one-byte Detect Mult.
	MaxBFDMultiplier = 255
	// MaxPasswordLen is the longest TCP MD5 password (Linux's
	// TCP_MD5SIG_MAXKEYLEN; RFC 2385).
	MaxPasswordLen = 80
)

// BGP configures the embedded BGP speaker of bgp mode, the [bgp] table.
// It is node-local, except Announce, which is part of Fingerprint: nodes
// peer with different routers, often from ASes of their own, but must
// agree on who announces a VIP.
type BGP struct {
	// ASN is this node's AS number, 1 to 4294967294 except the reserved
	// 23456 (AS_TRANS, RFC 6793) and 65535 (RFC 7300). Required.
	ASN uint32
	// RouterID is the BGP identifier, an IPv4 address other than 0.0.0.0.
	// Default: the IPv4 address of advertise (or bind); required when
	// that is not one.
	RouterID netip.Addr
	// Announce is AnnounceOwner (default) or AnnounceAll.
	Announce string
	// Interface is where the VIP addresses are added (and the default of
	// VIPs' interfaces): a loopback or dummy interface. Default "lo".
	Interface string
	// Peers are the routers to announce to, each address once; at least
	// one. The [[bgp.peer]] tables.
	Peers []BGPPeer
}

// BGPPeer is one router the speaker announces to, a [[bgp.peer]] table:
// external BGP, single hop.
type BGPPeer struct {
	// Address is the router's IP address. Required.
	Address netip.Addr
	// ASN is the router's AS number, not this node's own. Required.
	ASN uint32
	// HoldTime is the BGP hold time offered, whole seconds from 3s to
	// 65535s; keepalives go every third of it. Default 9s.
	HoldTime time.Duration
	// BFD runs BFD (RFC 5880, 5881) on the session, so that the router
	// notices a dead node in BFDInterval*BFDMultiplier instead of the hold
	// time. The router must run BFD for this node too. Default false.
	BFD bool
	// BFDInterval is BFD's transmit and receive interval, 10ms to 60s.
	// Default 100ms.
	BFDInterval time.Duration
	// BFDMultiplier is BFD's detection multiplier, 1 to 255. Default 3.
	BFDMultiplier int
	// PasswordFile, when set, holds the session's TCP MD5 password (RFC
	// 2385). Parse resolves a relative name against the directory of the
	// configuration file and requires a regular file that other users
	// cannot access, as for secret_key_file.
	PasswordFile string
	// Password is PasswordFile's content without the trailing newline: 1
	// to 80 bytes, no control characters.
	Password string
	// Line is where the peer's table starts in the file (for messages).
	Line int
}

// The keys of [bgp] and [[bgp.peer]].
var (
	bgpKeys     = []string{"asn", "router_id", "announce", "interface", "peer"}
	bgpPeerKeys = []string{"address", "asn", "hold_time", "bfd", "bfd_interval", "bfd_multiplier", "password_file"}
)

// bgp decodes mode and the [bgp] table. In bgp mode it applies the
// defaults and makes BGP.Interface the default interface of the VIPs
// (Config.Interface), so it runs before the VIPs are decoded.
func (d *decoder) bgp(c *Config, t map[string]any) {
	mp := path{"mode"}
	d.strInto(t, nil, "mode", &c.Mode)
	m, p, hasTable := d.table(t, nil, "bgp", bgpKeys)
	if c.Mode != ModeBGP {
		if hasTable && c.Mode == ModeL2 && !d.r.isBad(mp) {
			d.r.add(p, `set, but mode is "l2": set mode = "bgp" to use it, or remove it`)
		}
		return
	}
	c.BGP = BGP{Announce: DefaultBGPAnnounce, Interface: DefaultBGPInterface}
	if _, ok := t["interface"]; ok {
		d.r.add(path{"interface"}, `not used in bgp mode: VIP addresses go to [bgp] interface (default "lo"), never to the LAN interface`)
	}
	if !hasTable {
		if !d.r.isBad(p) {
			d.r.add(p, `missing: bgp mode needs a [bgp] table with asn and at least one [[bgp.peer]]`)
		}
		return
	}
	if _, ok := m["asn"]; !ok {
		d.r.add(p.key("asn"), "missing: set this node's AS number")
	}
	d.asn(m, p, "asn", &c.BGP.ASN)
	if s, ok := d.str(m, p, "router_id"); ok {
		a, err := netip.ParseAddr(s)
		if err != nil {
			d.r.add(p.key("router_id"), fmt.Sprintf("%q is not an IPv4 address", s))
		} else {
			c.BGP.RouterID = a
		}
	}
	d.strInto(m, p, "announce", &c.BGP.Announce)
	d.strInto(m, p, "interface", &c.BGP.Interface)
	c.Interface = c.BGP.Interface
	c.BGP.Peers = d.bgpPeers(m, p)
}

// bgpPeers decodes the [[bgp.peer]] tables.
func (d *decoder) bgpPeers(t map[string]any, bp path) []BGPPeer {
	p := bp.key("peer")
	var elems []any
	switch v := t["peer"].(type) {
	case nil:
		return nil
	case []map[string]any:
		for _, m := range v {
			elems = append(elems, m)
		}
	case []any:
		elems = v
	default:
		d.r.add(p, "want an array of tables ([[bgp.peer]]), got "+describe(v))
		return nil
	}
	peers := make([]BGPPeer, 0, len(elems))
	for i, el := range elems {
		pp := p.index(i)
		peer := BGPPeer{
			HoldTime:      DefaultHoldTime,
			BFDInterval:   DefaultBFDInterval,
			BFDMultiplier: DefaultBFDMultiplier,
			Line:          d.r.line(pp),
		}
		m, ok := el.(map[string]any)
		if !ok {
			d.r.add(pp, "want a table, got "+describe(el))
			peers = append(peers, peer)
			continue
		}
		d.unknown(m, pp, bgpPeerKeys)
		for _, k := range []string{"address", "asn"} {
			if _, ok := m[k]; !ok {
				d.r.add(pp.key(k), fmt.Sprintf("missing: every peer needs its %s", map[string]string{"address": "address", "asn": "AS number"}[k]))
			}
		}
		if s, ok := d.str(m, pp, "address"); ok {
			a, err := netip.ParseAddr(s)
			if err != nil {
				d.r.add(pp.key("address"), fmt.Sprintf("%q is not an IP address", s))
			} else {
				peer.Address = a
			}
		}
		d.asn(m, pp, "asn", &peer.ASN)
		d.duration(m, pp, "hold_time", &peer.HoldTime)
		d.boolean(m, pp, "bfd", &peer.BFD)
		d.duration(m, pp, "bfd_interval", &peer.BFDInterval)
		d.integer(m, pp, "bfd_multiplier", &peer.BFDMultiplier)
		if !peer.BFD && !d.r.isBad(pp.key("bfd")) {
			for _, k := range []string{"bfd_interval", "bfd_multiplier"} {
				if _, ok := m[k]; ok && !d.r.isBad(pp.key(k)) {
					d.r.add(pp.key(k), "has no effect without bfd = true")
				}
			}
		}
		d.strInto(m, pp, "password_file", &peer.PasswordFile)
		if _, ok := m["password_file"]; ok && peer.PasswordFile == "" && !d.r.isBad(pp.key("password_file")) {
			d.r.add(pp.key("password_file"), "empty: name a file holding the TCP MD5 password, or remove the key")
		}
		peers = append(peers, peer)
	}
	return peers
}

// asn decodes an AS number: an integer from 0 to 2^32-1 (check refuses
// the reserved ones).
func (d *decoder) asn(t map[string]any, p path, key string, dst *uint32) {
	v, ok := t[key]
	if !ok {
		return
	}
	n, ok := v.(int64)
	switch {
	case !ok:
		d.r.add(p.key(key), "want an integer AS number, got "+describe(v))
	case n < 1 || n > 1<<32-1:
		d.r.add(p.key(key), fmt.Sprintf("%d is not an AS number (1 to 4294967294)", n))
	default:
		*dst = uint32(n)
	}
}

// bgpPasswords reads the peers' password files. Like secretKey it runs
// after decoding and only for files whose key has no problem yet.
func (d *decoder) bgpPasswords(c *Config, file string, read func(string) ([]byte, error)) {
	for i := range c.BGP.Peers {
		peer := &c.BGP.Peers[i]
		p := path{"bgp", "peer"}.index(i).key("password_file")
		if peer.PasswordFile == "" || d.r.isBad(p) {
			continue
		}
		if err := checkPathName(peer.PasswordFile); err != nil {
			d.r.add(p, err.Error())
			continue
		}
		if !filepath.IsAbs(peer.PasswordFile) && file != "" {
			peer.PasswordFile = filepath.Join(filepath.Dir(file), peer.PasswordFile)
		}
		data, err := read(peer.PasswordFile)
		if err != nil {
			d.r.add(p, err.Error())
			continue
		}
		pw, err := decodePassword(data)
		if err != nil {
			d.r.add(p, fmt.Sprintf("%s: %v", peer.PasswordFile, err))
			continue
		}
		peer.Password = pw
	}
}

// decodePassword takes a password file's content: one line, the newline
// optional. Messages never include the content.
func decodePassword(data []byte) (string, error) {
	s := strings.TrimRight(string(data), "\r\n")
	switch {
	case s == "":
		return "", errors.New("the password file is empty")
	case len(s) > MaxPasswordLen:
		return "", fmt.Errorf("the password is %d bytes; TCP MD5 passwords have at most %d", len(s), MaxPasswordLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", errors.New("the password contains a control character or a second line (routers take it as a one-line string)")
		}
	}
	if strings.TrimSpace(s) != s {
		return "", errors.New("the password starts or ends with a space (routers' configurations would drop it)")
	}
	return s, nil
}

// checkBGP applies the rules on mode and [bgp], and returns the peer
// addresses and router ID for the VIP-address check.
func checkBGP(r *reporter, c *Config) []hostRef {
	ok := func(p path) bool { return !r.isBad(p) }
	if mp := (path{"mode"}); ok(mp) {
		switch c.Mode {
		case ModeL2, ModeBGP, "": // "": a Config built in code, from before modes
		default:
			r.add(mp, fmt.Sprintf("%q is not a mode: want %q or %q", c.Mode, ModeL2, ModeBGP))
			return nil
		}
	}
	if c.Mode != ModeBGP || r.isBad(path{"bgp"}) {
		return nil
	}
	bp := path{"bgp"}
	b := c.BGP
	var hosts []hostRef
	if p := bp.key("asn"); ok(p) {
		if err := checkASN(b.ASN); err != nil {
			r.add(p, err.Error())
		}
	}
	if p := bp.key("router_id"); ok(p) {
		switch {
		case !b.RouterID.IsValid():
			r.add(p, `not set, and advertise (or bind) has no IPv4 address to take it from: set router_id = "A.B.C.D", usually the node's own IPv4 address`)
		case !b.RouterID.Is4():
			r.add(p, fmt.Sprintf("%s is not an IPv4 address (a BGP identifier is 4 bytes, RFC 6286)", b.RouterID))
		case b.RouterID.IsUnspecified():
			r.add(p, "0.0.0.0 is not a valid BGP identifier (RFC 6286)")
		default:
			hosts = append(hosts, hostRef{p, b.RouterID})
		}
	}
	if p := bp.key("announce"); ok(p) {
		switch b.Announce {
		case AnnounceOwner, AnnounceAll:
		default:
			r.add(p, fmt.Sprintf("%q is not an announce policy: want %q or %q", b.Announce, AnnounceOwner, AnnounceAll))
		}
	}
	if p := bp.key("interface"); ok(p) {
		if err := checkIfName(b.Interface); err != nil {
			r.add(p, err.Error())
		}
	}
	pp := bp.key("peer")
	if len(b.Peers) == 0 && ok(pp) {
		r.add(pp, "no peers: add a [[bgp.peer]] table with the address and asn of each router")
	}
	seen := make(map[netip.Addr]path)
	for i, peer := range b.Peers {
		p := pp.index(i)
		if !ok(p) {
			continue
		}
		if ap := p.key("address"); ok(ap) && peer.Address.IsValid() {
			a := peer.Address
			switch {
			case a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
				r.add(ap, fmt.Sprintf("%s is not a unicast address", a))
			case a.Is4In6():
				r.add(ap, fmt.Sprintf("%s is IPv4-mapped: write %s", a, a.Unmap()))
			case a.Zone() != "" && !a.IsLinkLocalUnicast():
				r.add(ap, fmt.Sprintf("%s: a zone is only meaningful on a link-local address", a))
			default:
				if first, dup := seen[a]; dup {
					where := first.String()
					if l := r.line(first); l > 0 {
						where += fmt.Sprintf(" at line %d", l)
					}
					r.add(ap, fmt.Sprintf("%s is already a peer (%s): each router once", a, where))
				} else {
					seen[a] = ap
					hosts = append(hosts, hostRef{ap, a})
				}
			}
		}
		if ap := p.key("asn"); ok(ap) && peer.ASN != 0 {
			if err := checkASN(peer.ASN); err != nil {
				r.add(ap, err.Error())
			} else if peer.ASN == b.ASN && ok(bp.key("asn")) {
				r.add(ap, fmt.Sprintf("%d is this node's own AS: only external BGP is supported (a standby path is a longer AS path of our own AS, which an internal peer drops as a loop)", peer.ASN))
			}
		}
		if hp := p.key("hold_time"); ok(hp) {
			h := peer.HoldTime
			switch {
			case h == 0:
				r.add(hp, fmt.Sprintf("0s (no keepalives) is not supported: the speaker (GoBGP v4.8.0) would offer 90s instead; want %v to %v", MinHoldTime, MaxHoldTime))
			case h < MinHoldTime || h > MaxHoldTime:
				r.add(hp, fmt.Sprintf("%v: want %v to %v (RFC 4271)", h, MinHoldTime, MaxHoldTime))
			case h%time.Second != 0:
				r.add(hp, fmt.Sprintf("%v: want whole seconds (BGP carries the hold time in seconds)", h))
			}
		}
		if ip := p.key("bfd_interval"); ok(ip) {
			switch i := peer.BFDInterval; {
			case i < MinBFDInterval || i > MaxBFDInterval:
				r.add(ip, fmt.Sprintf("%v: want %v to %v", i, MinBFDInterval, MaxBFDInterval))
			case i%time.Microsecond != 0:
				r.add(ip, fmt.Sprintf("%v: want whole microseconds (BFD carries microseconds)", i))
			}
		}
		if mp := p.key("bfd_multiplier"); ok(mp) && (peer.BFDMultiplier < 1 || peer.BFDMultiplier > MaxBFDMultiplier) {
			r.add(mp, fmt.Sprintf("%d: want 1 to %d", peer.BFDMultiplier, MaxBFDMultiplier))
		}
		// Parse has read the file; a Config built in code must carry a
		// password that Parse would have taken.
		if fp := p.key("password_file"); ok(fp) {
			switch {
			case peer.Password != "":
				if _, err := decodePassword([]byte(peer.Password)); err != nil {
					r.add(fp, err.Error())
				}
			case peer.PasswordFile != "":
				r.add(fp, "set, but the password is empty")
			}
		}
	}
	for i, v := range c.VIPs {
		for j, a := range v.Addresses {
			p := path{"vip"}.index(i).key("addresses").index(j)
			if ok(p) && a.Prefix.IsValid() && a.Prefix.Bits() != a.Prefix.Addr().BitLen() {
				r.add(p, fmt.Sprintf("%s: in bgp mode a VIP is a host route: write %s (a shorter prefix on %s would make the whole subnet local)",
					a.Prefix, netip.PrefixFrom(a.Prefix.Addr(), a.Prefix.Addr().BitLen()), a.Interface))
			}
		}
	}
	return hosts
}

// checkASN refuses the AS numbers no speaker may use as its own or its
// peer's.
func checkASN(n uint32) error {
	switch n {
	case 0:
		return errors.New("0 is reserved (RFC 7607)")
	case 23456:
		return errors.New("23456 is AS_TRANS, reserved (RFC 6793)")
	case 65535, 1<<32 - 1:
		return fmt.Errorf("%d is reserved (RFC 7300)", n)
	}
	return nil
}
