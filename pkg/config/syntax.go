package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ifNameMax is the longest Linux interface name: IFNAMSIZ (16) less the
// terminating NUL.
const ifNameMax = 15

// checkIfName applies the kernel's rules for interface names
// (dev_valid_name) and also refuses control characters and brackets.
func checkIfName(name string) error {
	switch {
	case name == "":
		return errors.New("interface name is empty")
	case len(name) > ifNameMax:
		return fmt.Errorf("interface name %q is too long (%d bytes, at most %d)", name, len(name), ifNameMax)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is not allowed", name)
	}
	for _, r := range name {
		switch {
		case r == '/' || r == ':' || r == '[' || r == ']':
			// The kernel refuses '/' and ':'; brackets it allows, but
			// the address syntax uses them.
			return fmt.Errorf("interface name %q contains %q", name, r)
		case unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError:
			return fmt.Errorf("interface name %q contains whitespace or a control character", name)
		}
	}
	return nil
}

// parseAddress parses a VIP address as written in the file: "PREFIX" or
// "IFNAME:PREFIX" (see Address). The interface is "" when not written.
//
// The whole text is tried as a prefix first. It cannot be the other way
// round: one IPv6 group ("2001") is a valid interface name and the rest of
// a compressed address ("db8::10/128") is a valid prefix, so nearly every
// IPv6 prefix would also read as IFNAME:PREFIX. The price is paid only by
// interfaces named with 1 to 4 hex digits ("cafe"), which need brackets:
// "cafe:[2001:db8::10]/128".
func parseAddress(s string) (ifname string, prefix netip.Prefix, err error) {
	if s == "" {
		return "", netip.Prefix{}, errors.New("empty address: write e.g. \"198.18.0.10/32\"")
	}
	if p, err := parsePrefix(s); err == nil {
		return "", p, nil
	}
	var rest string
	if i := strings.IndexByte(s, ':'); i > 0 {
		ifname, rest = s[:i], s[i+1:]
	}
	var ifErr error
	if ifname != "" {
		if ifErr = checkIfName(ifname); ifErr == nil {
			if p, err := parsePrefix(rest); err == nil {
				return ifname, p, nil
			}
		}
	}

	// Neither reading works: say why, for the reading the text most
	// probably meant.
	if strings.Contains(s, "%") {
		return "", netip.Prefix{}, fmt.Errorf("%q is not a valid prefix: zones are not allowed", s)
	}
	if strings.HasPrefix(s, "[") && !strings.Contains(s, "]") {
		return "", netip.Prefix{}, fmt.Errorf("%q is not a valid prefix: missing ']'", s)
	}
	if strings.Contains(s, "/") {
		// Not a missing prefix length.
	} else if a, err := parseAddr(s); err == nil {
		return "", netip.Prefix{}, fmt.Errorf("%q has no prefix length: write \"%s/%d\"", s, s, a.BitLen())
	}
	if ifname != "" {
		if a, err := parseAddr(rest); err == nil && !strings.Contains(rest, "/") {
			if ifErr != nil {
				return "", netip.Prefix{}, fmt.Errorf("%q: %w", s, ifErr)
			}
			return "", netip.Prefix{}, fmt.Errorf("%q has no prefix length: write \"%s/%d\"", s, s, a.BitLen())
		}
		if _, err := parsePrefix(rest); err == nil && ifErr != nil {
			return "", netip.Prefix{}, fmt.Errorf("%q: %w", s, ifErr)
		}
	}
	return "", netip.Prefix{}, fmt.Errorf("%q is not a valid prefix", s)
}

// parsePrefix parses "ADDR/BITS", where an IPv6 ADDR may be bracketed.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || !strings.HasPrefix(s[end+1:], "/") {
			return netip.Prefix{}, errors.New("bad brackets")
		}
		if a, err := netip.ParseAddr(s[1:end]); err != nil || !a.Is6() {
			return netip.Prefix{}, errors.New("brackets need an IPv6 address")
		}
		s = s[1:end] + s[end+1:]
	}
	return netip.ParsePrefix(s)
}

// parseAddr parses an address, an IPv6 one maybe bracketed (used to spot a
// missing prefix length).
func parseAddr(s string) (netip.Addr, error) {
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		a, err := netip.ParseAddr(s[1 : len(s)-1])
		if err == nil && !a.Is6() {
			return netip.Addr{}, errors.New("brackets need an IPv6 address")
		}
		return a, err
	}
	return netip.ParseAddr(s)
}

// checkVIPPrefix refuses prefixes that cannot be a VIP.
func checkVIPPrefix(p netip.Prefix) error {
	a := p.Addr()
	switch {
	case !p.IsValid():
		return errors.New("invalid prefix")
	case a.Zone() != "":
		return fmt.Errorf("%s: zones are not allowed", p)
	case a.Is4In6():
		return fmt.Errorf("%s is an IPv4-mapped IPv6 address: write \"%s/%d\"", p, a.Unmap(), max(p.Bits()-96, 0))
	case a.IsUnspecified():
		return fmt.Errorf("%s is the unspecified address", p)
	case a.IsLoopback():
		return fmt.Errorf("%s is a loopback address", p)
	case a.IsMulticast():
		return fmt.Errorf("%s is a multicast address", p)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s is the broadcast address", p)
	}
	if a.Is4() && p.Bits() < 8 || a.Is6() && p.Bits() < 16 {
		return fmt.Errorf("%s: a prefix length this short would route most of the Internet to the interface", p)
	}
	if a.Is4() && p.Bits() <= 30 {
		host := a.As4()
		network := p.Masked().Addr().As4()
		bits := p.Bits()
		allOnes := true
		for i := range 4 {
			// mask of the host bits in byte i
			var m byte
			switch {
			case bits >= (i+1)*8:
				m = 0
			case bits <= i*8:
				m = 0xff
			default:
				m = 0xff >> (bits - i*8)
			}
			if host[i]&m != m {
				allOnes = false
			}
		}
		switch {
		case host == network:
			return fmt.Errorf("%s is the network address of its subnet; a VIP needs a host address", p)
		case allOnes:
			return fmt.Errorf("%s is the broadcast address of its subnet; a VIP needs a host address", p)
		}
	}
	return nil
}

// hostPort is a parsed host:port.
type hostPort struct {
	host string     // as written, without brackets
	addr netip.Addr // valid when host is an IP address
	port int        // 0 when omitted
}

// String returns the normalised form: canonical IP, port present.
func (hp hostPort) String() string {
	h := hp.host
	if hp.addr.IsValid() {
		h = hp.addr.String()
	}
	return net.JoinHostPort(h, strconv.Itoa(hp.port))
}

// splitHostPort parses "host", "host:port", "[v6]" or "[v6]:port". An IPv6
// address needs brackets, so that "2001:db8::1:7946" cannot silently mean
// a port. The port is 0 when omitted; an empty host is allowed (":9100").
func splitHostPort(s string) (hostPort, error) {
	var hp hostPort
	var portText string
	hasPort := false
	switch {
	case s == "":
		return hp, errors.New("empty: want host:port")
	case s[0] == '[':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return hp, fmt.Errorf("%q has no closing bracket", s)
		}
		hp.host = s[1:end]
		switch rest := s[end+1:]; {
		case rest == "":
		case rest[0] == ':':
			hasPort, portText = true, rest[1:]
		default:
			return hp, fmt.Errorf("%q: unexpected %q after the bracketed address", s, rest)
		}
		a, err := netip.ParseAddr(hp.host)
		if err != nil || !a.Is6() {
			return hp, fmt.Errorf("%q: brackets need an IPv6 address", s)
		}
		hp.addr = a
	default:
		switch strings.Count(s, ":") {
		case 0:
			hp.host = s
		case 1:
			i := strings.IndexByte(s, ':')
			hp.host, hasPort, portText = s[:i], true, s[i+1:]
		default:
			if a, err := netip.ParseAddr(s); err == nil {
				return hp, fmt.Errorf("%q: IPv6 addresses need brackets: write \"[%s]:%d\"", s, a, DefaultPort)
			}
			return hp, fmt.Errorf("%q is not host:port (IPv6 addresses need brackets: \"[2001:db8::1]:%d\")", s, DefaultPort)
		}
		if a, err := netip.ParseAddr(hp.host); err == nil {
			hp.addr = a
		}
	}
	if hasPort {
		p, err := parsePort(portText)
		if err != nil {
			return hp, fmt.Errorf("%q: %w", s, err)
		}
		hp.port = p
	}
	return hp, nil
}

func parsePort(s string) (int, error) {
	if s == "" {
		return 0, errors.New("empty port")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("port %q is not a number", s)
		}
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("port %s is out of range 1-65535", s)
	}
	return p, nil
}

// hostKind says what a host:port may contain.
type hostKind int

const (
	hostBind      hostKind = iota // IP, may be unspecified; port defaults to DefaultPort
	hostAdvertise                 // specific IP; port defaults to the bind port
	hostPeer                      // specific IP or DNS name; port defaults to DefaultPort
	hostListen                    // empty, IP or DNS name; port required
)

// parseHostPort parses and checks s for kind. defPort replaces an omitted
// port; 0 means the port is required.
func parseHostPort(s string, kind hostKind, defPort int) (hostPort, error) {
	hp, err := splitHostPort(s)
	if err != nil {
		return hp, err
	}
	if hp.port == 0 {
		if defPort == 0 {
			return hp, fmt.Errorf("%q has no port: want host:port", s)
		}
		hp.port = defPort
	}
	a := hp.addr
	if a.IsValid() && a.Zone() != "" && kind != hostListen {
		return hp, fmt.Errorf("%q: zones are not supported here", s)
	}
	switch kind {
	case hostBind, hostAdvertise:
		if !a.IsValid() {
			if hp.host == "" {
				return hp, fmt.Errorf("%q has no host: write \"0.0.0.0:%d\" or \"[::]:%d\"", s, hp.port, hp.port)
			}
			return hp, fmt.Errorf("%q: the host must be an IP address", s)
		}
	case hostPeer:
		if !a.IsValid() {
			if err := checkDNSName(hp.host); err != nil {
				return hp, fmt.Errorf("%q: %w", s, err)
			}
		}
	case hostListen:
		if !a.IsValid() && hp.host != "" {
			if err := checkDNSName(hp.host); err != nil {
				return hp, fmt.Errorf("%q: %w", s, err)
			}
		}
	}
	if a.IsValid() {
		switch {
		case a.IsMulticast():
			return hp, fmt.Errorf("%q: %s is a multicast address", s, a)
		case a.IsUnspecified() && (kind == hostAdvertise || kind == hostPeer):
			return hp, fmt.Errorf("%q: %s is the unspecified address; other nodes cannot reach it", s, a)
		}
	}
	return hp, nil
}

// checkDNSName accepts host names: dot-separated labels of letters,
// digits, '-' and '_' (1 to 63 bytes, at most 253 in all, a trailing dot
// allowed), the last label not all digits (that would be a mistyped IPv4
// address).
func checkDNSName(name string) error {
	n := strings.TrimSuffix(name, ".")
	if n == "" || len(n) > 253 {
		return fmt.Errorf("%q is not an IP address or host name", name)
	}
	labels := strings.Split(n, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("%q is not an IP address or host name", name)
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !isBareKeyByte(c) {
				return fmt.Errorf("%q is not an IP address or host name", name)
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" {
		return fmt.Errorf("%q is not a valid IP address", name)
	}
	return nil
}

// checkNodeName applies to node_name and prefer: 1 to 253 bytes of UTF-8
// without whitespace or control characters.
func checkNodeName(name string) error {
	switch {
	case name == "":
		return errors.New("empty node name")
	case len(name) > 253:
		return fmt.Errorf("node name is too long (%d bytes, at most 253)", len(name))
	case !utf8.ValidString(name):
		return fmt.Errorf("node name %q is not valid UTF-8", name)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("node name %q contains whitespace or a control character", name)
		}
	}
	return nil
}

// vipNameMax is the longest VIP name.
const vipNameMax = 63

// checkVIPName: names show up in logs, metrics labels and wackatrl
// tables, so they are plain.
func checkVIPName(name string) error {
	if name == "" {
		return errors.New("empty VIP name")
	}
	if len(name) > vipNameMax {
		return fmt.Errorf("VIP name is too long (%d bytes, at most %d)", len(name), vipNameMax)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isBareKeyByte(c) && c != '.' {
			return fmt.Errorf("VIP name %q: use only letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}

// checkPathName checks a file name from the configuration.
func checkPathName(name string) error {
	if name == "" {
		return errors.New("empty file name")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return errors.New("file name contains a NUL byte")
	}
	return nil
}

// checkGroupName checks control_group: a group name or number as
// /etc/group would hold it.
func checkGroupName(name string) error {
	if name == "" || len(name) > 32 {
		return fmt.Errorf("%q is not a group name", name)
	}
	for _, r := range name {
		if r == ':' || r == '/' || r == ',' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%q is not a group name", name)
		}
	}
	return nil
}
