package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in     string
		ifname string
		prefix string
		err    string // substring; "" for success
	}{
		// Plain prefixes.
		{in: "198.18.0.10/32", prefix: "198.18.0.10/32"},
		{in: "198.18.0.10/24", prefix: "198.18.0.10/24"}, // host bits kept
		{in: "2001:db8::10/128", prefix: "2001:db8::10/128"},
		{in: "2001:db8::10/64", prefix: "2001:db8::10/64"},
		{in: "::ffff:0:10/128", prefix: "::ffff:0:10/128"},
		{in: "fe80::10/64", prefix: "fe80::10/64"},
		{in: "[2001:db8::10]/128", prefix: "2001:db8::10/128"},
		// One IPv6 group is also a valid interface name: the plain
		// reading wins.
		{in: "cafe:2001:db8::10/128", prefix: "cafe:2001:db8::10/128"},
		{in: "2001:db8:0:0:0:0:0:10/128", prefix: "2001:db8::10/128"},

		// Interface and prefix.
		{in: "eth1:198.18.0.10/32", ifname: "eth1", prefix: "198.18.0.10/32"},
		{in: "eth1:2001:db8::10/128", ifname: "eth1", prefix: "2001:db8::10/128"},
		{in: "eth1:::10/128", ifname: "eth1", prefix: "::10/128"},
		{in: "eth1:[2001:db8::10]/128", ifname: "eth1", prefix: "2001:db8::10/128"},
		{in: "cafe:[2001:db8::10]/128", ifname: "cafe", prefix: "2001:db8::10/128"},
		{in: "cafe:198.18.0.10/32", ifname: "cafe", prefix: "198.18.0.10/32"},
		{in: "bond0.100:198.18.0.10/32", ifname: "bond0.100", prefix: "198.18.0.10/32"},
		{in: "abcdefghijklmno:198.18.0.10/32", ifname: "abcdefghijklmno", prefix: "198.18.0.10/32"},
		{in: "enp0s31f6:2001:db8::10/128", ifname: "enp0s31f6", prefix: "2001:db8::10/128"},

		// Errors.
		{in: "", err: "empty address"},
		{in: "198.18.0.300/32", err: `"198.18.0.300/32" is not a valid prefix`},
		{in: "198.18.0.10/33", err: "not a valid prefix"},
		{in: "198.18.0.10", err: `no prefix length: write "198.18.0.10/32"`},
		{in: "2001:db8::10", err: `no prefix length: write "2001:db8::10/128"`},
		{in: "eth1:198.18.0.10", err: `write "eth1:198.18.0.10/32"`},
		{in: "eth1:2001:db8::10", err: `write "eth1:2001:db8::10/128"`},
		{in: "[2001:db8::10]", err: `write "[2001:db8::10]/128"`},
		{in: "abcdefghijklmnop:198.18.0.10/32", err: "too long"},
		{in: "eth 1:198.18.0.10/32", err: "whitespace"},
		{in: "eth1:eth2:198.18.0.10/32", err: "not a valid prefix"},
		{in: ":198.18.0.10/32", err: "not a valid prefix"},
		{in: "eth1:", err: "not a valid prefix"},
		{in: "[198.18.0.10]/32", err: "not a valid prefix"},
		{in: "fe80::1%eth0/64", err: "zones are not allowed"},
		{in: "eth1:fe80::1%eth0/64", err: "zones are not allowed"},
		{in: " 198.18.0.10/32", err: "not a valid prefix"},
		{in: "[2001:db8::10/128", err: "not a valid prefix"},
	}
	for _, tt := range tests {
		ifname, prefix, err := parseAddress(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseAddress(%q) = %q, %v, %v; want error with %q", tt.in, ifname, prefix, err, tt.err)
			}
			continue
		}
		if err != nil || ifname != tt.ifname || prefix != netip.MustParsePrefix(tt.prefix) {
			t.Errorf("parseAddress(%q) = %q, %v, %v; want %q, %s", tt.in, ifname, prefix, err, tt.ifname, tt.prefix)
		}
	}
}

func TestCheckIfName(t *testing.T) {
	for _, name := range []string{"eth0", "a", "abcdefghijklmno", "bond0.100", "veth-x_1", "2001", "ünï"} {
		if err := checkIfName(name); err != nil {
			t.Errorf("checkIfName(%q) = %v", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", "abcdefghijklmnop", "a/b", "a:b", "a b", "a\tb", "a\nb", "a\x00b", "\xff", "[2001"} {
		if err := checkIfName(name); err == nil {
			t.Errorf("checkIfName(%q) accepted", name)
		}
	}
}

func TestCheckVIPPrefix(t *testing.T) {
	for _, s := range []string{"198.18.0.10/32", "198.18.0.0/31", "198.18.0.1/31", "198.18.0.1/24", "10.0.0.1/8", "2001:db8::/64", "2001:db8::10/16"} {
		if err := checkVIPPrefix(netip.MustParsePrefix(s)); err != nil {
			t.Errorf("checkVIPPrefix(%s) = %v", s, err)
		}
	}
	for _, s := range []string{"0.0.0.0/32", "::/128", "127.0.0.1/32", "::1/128", "224.0.0.1/32", "ff02::1/128",
		"255.255.255.255/32", "198.18.0.0/24", "198.18.0.255/24", "198.18.3.255/22", "198.18.0.3/30", "::ffff:198.18.0.1/128",
		"10.0.0.1/7", "2001:db8::10/15"} {
		if err := checkVIPPrefix(netip.MustParsePrefix(s)); err == nil {
			t.Errorf("checkVIPPrefix(%s) accepted", s)
		}
	}
}

func TestParseHostPort(t *testing.T) {
	tests := []struct {
		in      string
		kind    hostKind
		defPort int
		want    string
		err     string
	}{
		{in: "198.18.0.1:7946", kind: hostBind, want: "198.18.0.1:7946"},
		{in: "198.18.0.1", kind: hostBind, defPort: 7946, want: "198.18.0.1:7946"},
		{in: "0.0.0.0:1", kind: hostBind, want: "0.0.0.0:1"},
		{in: "[::]:7946", kind: hostBind, want: "[::]:7946"},
		{in: "[2001:DB8::1]", kind: hostPeer, defPort: 7946, want: "[2001:db8::1]:7946"},
		{in: "[2001:db8::1]:65535", kind: hostPeer, want: "[2001:db8::1]:65535"},
		{in: "web1", kind: hostPeer, defPort: 7946, want: "web1:7946"},
		{in: "web1.example.net.:7", kind: hostPeer, want: "web1.example.net.:7"},
		{in: ":9100", kind: hostListen, want: ":9100"},
		{in: "localhost:9100", kind: hostListen, want: "localhost:9100"},
		{in: "[fe80::1%eth0]:9100", kind: hostListen, want: "[fe80::1%eth0]:9100"},

		{in: "", kind: hostPeer, err: "empty"},
		{in: "198.18.0.1", kind: hostListen, err: "no port"},
		{in: "198.18.0.1:", kind: hostPeer, err: "empty port"},
		{in: "198.18.0.1:+1", kind: hostPeer, err: "not a number"},
		{in: "198.18.0.1:65536", kind: hostPeer, err: "out of range"},
		{in: "198.18.0.1:0", kind: hostBind, err: "out of range"},
		{in: "2001:db8::1", kind: hostPeer, defPort: 7946, err: `write "[2001:db8::1]:7946"`},
		{in: "a:b:c", kind: hostPeer, err: "not host:port"},
		{in: "[198.18.0.1]:7946", kind: hostPeer, err: "brackets need an IPv6 address"},
		{in: "[2001:db8::1", kind: hostPeer, err: "no closing bracket"},
		{in: "[2001:db8::1]x", kind: hostPeer, err: "unexpected"},
		{in: "web1:7946", kind: hostBind, err: "must be an IP address"},
		{in: "web1:7946", kind: hostAdvertise, err: "must be an IP address"},
		{in: "[::]:7946", kind: hostAdvertise, err: "unspecified"},
		{in: "0.0.0.0:7946", kind: hostPeer, err: "unspecified"},
		{in: "224.0.0.1:7946", kind: hostPeer, err: "multicast"},
		{in: "[fe80::1%eth0]:7946", kind: hostBind, err: "zones"},
		{in: "1.2.3.999:7946", kind: hostPeer, err: "not a valid IP address"},
		{in: "-web:7946", kind: hostPeer, err: "not an IP address or host name"},
		{in: "we b:7946", kind: hostPeer, err: "not an IP address or host name"},
		{in: "a..b:7946", kind: hostPeer, err: "not an IP address or host name"},
	}
	for _, tt := range tests {
		hp, err := parseHostPort(tt.in, tt.kind, tt.defPort)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseHostPort(%q, %d) = %v, %v; want error with %q", tt.in, tt.kind, hp, err, tt.err)
			}
			continue
		}
		if err != nil || hp.String() != tt.want {
			t.Errorf("parseHostPort(%q, %d) = %v, %v; want %s", tt.in, tt.kind, hp, err, tt.want)
		}
	}
}

func TestNames(t *testing.T) {
	for _, n := range []string{"www-1", "a", "www.example_1", strings.Repeat("a", 63)} {
		if err := checkVIPName(n); err != nil {
			t.Errorf("checkVIPName(%q) = %v", n, err)
		}
	}
	for _, n := range []string{"", "www 1", "www/1", "ü", strings.Repeat("a", 64)} {
		if checkVIPName(n) == nil {
			t.Errorf("checkVIPName(%q) accepted", n)
		}
	}
	for _, n := range []string{"web1", "web1.example.net", "ünï", "a:b"} {
		if err := checkNodeName(n); err != nil {
			t.Errorf("checkNodeName(%q) = %v", n, err)
		}
	}
	for _, n := range []string{"", "a b", "a\x00", "\xff", strings.Repeat("a", 254)} {
		if checkNodeName(n) == nil {
			t.Errorf("checkNodeName(%q) accepted", n)
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct{ in, want string }{
		{"quorom", "quorum"},
		{"qourum", "quorum"},
		{"Quorum", "quorum"},
		{"node-name", "node_name"},
		{"peer", "peers"},
		{"colour", ""},
		{"x", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, topKeys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
