package bgp

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	routerAddr = netip.MustParseAddr("198.18.0.3")
	nodeAddr   = netip.MustParseAddr("198.18.0.11")
)

func validConfig() Config {
	return Config{
		ASN:        65101,
		RouterID:   nodeAddr,
		ListenPort: -1,
		Peers:      []Peer{{Address: routerAddr, ASN: 65000}},
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"defaults spelled out", func(c *Config) {
			c.Peers[0] = Peer{Address: routerAddr, ASN: 65000, HoldTime: 9 * time.Second, BFD: true, BFDInterval: 100 * time.Millisecond, BFDMultiplier: 3, Password: "x"}
		}, ""},
		{"IPv6 peer", func(c *Config) { c.Peers[0].Address = netip.MustParseAddr("2001:2::3") }, ""},
		{"link-local peer with zone", func(c *Config) { c.Peers[0].Address = netip.MustParseAddr("fe80::1%eth0") }, ""},
		{"4-octet ASNs", func(c *Config) { c.ASN, c.Peers[0].ASN = 4200000001, 4200000000 }, ""},
		{"ASN 0", func(c *Config) { c.ASN = 0 }, "ASN 0 is reserved"},
		{"AS_TRANS", func(c *Config) { c.ASN = 23456 }, "ASN 23456 is reserved"},
		{"ASN 65535", func(c *Config) { c.ASN = 65535 }, "ASN 65535 is reserved"},
		{"peer ASN 4294967295", func(c *Config) { c.Peers[0].ASN = 1<<32 - 1 }, "ASN 4294967295 is reserved"},
		{"no router ID", func(c *Config) { c.RouterID = netip.Addr{} }, "router ID"},
		{"IPv6 router ID", func(c *Config) { c.RouterID = netip.MustParseAddr("2001:2::11") }, "want an IPv4 address"},
		{"router ID 0.0.0.0", func(c *Config) { c.RouterID = netip.IPv4Unspecified() }, "other than 0.0.0.0"},
		{"listen port -2", func(c *Config) { c.ListenPort = -2 }, "listen port -2"},
		{"listen port 65536", func(c *Config) { c.ListenPort = 65536 }, "listen port 65536"},
		{"no peers", func(c *Config) { c.Peers = nil }, "no peers"},
		{"peer without address", func(c *Config) { c.Peers[0].Address = netip.Addr{} }, "unicast IPv4 or IPv6"},
		{"multicast peer", func(c *Config) { c.Peers[0].Address = netip.MustParseAddr("224.0.0.5") }, "unicast IPv4 or IPv6"},
		{"mapped peer", func(c *Config) { c.Peers[0].Address = netip.MustParseAddr("::ffff:198.18.0.3") }, "unicast IPv4 or IPv6"},
		{"zone on a global address", func(c *Config) { c.Peers[0].Address = netip.MustParseAddr("2001:2::3%eth0") }, "zone"},
		{"duplicate peer", func(c *Config) { c.Peers = append(c.Peers, c.Peers[0]) }, "peer 2 (198.18.0.3): the same address as peer 1"},
		{"internal peer", func(c *Config) { c.Peers[0].ASN = c.ASN }, "only external BGP"},
		{"peer ASN 0", func(c *Config) { c.Peers[0].ASN = 0 }, "ASN 0 is reserved"},
		{"hold time 2s", func(c *Config) { c.Peers[0].HoldTime = 2 * time.Second }, "hold time 2s"},
		{"hold time 1.5s", func(c *Config) { c.Peers[0].HoldTime = 3500 * time.Millisecond }, "whole seconds"},
		{"hold time too long", func(c *Config) { c.Peers[0].HoldTime = 65536 * time.Second }, "hold time"},
		{"negative hold time", func(c *Config) { c.Peers[0].HoldTime = -time.Second }, "hold time"},
		{"BFD interval 5ms", func(c *Config) { c.Peers[0].BFDInterval = 5 * time.Millisecond }, "BFD interval 5ms"},
		{"BFD interval 2m", func(c *Config) { c.Peers[0].BFDInterval = 2 * time.Minute }, "BFD interval 2m0s"},
		{"BFD interval in ns", func(c *Config) { c.Peers[0].BFDInterval = 100*time.Millisecond + 1 }, "whole microseconds"},
		{"BFD multiplier 256", func(c *Config) { c.Peers[0].BFDMultiplier = 256 }, "BFD multiplier 256"},
		{"BFD multiplier -1", func(c *Config) { c.Peers[0].BFDMultiplier = -1 }, "BFD multiplier -1"},
		{"long password", func(c *Config) { c.Peers[0].Password = strings.Repeat("x", 81) }, "at most 80"},
		{"NUL in password", func(c *Config) { c.Peers[0].Password = "a\x00b" }, "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.Peers = append([]Peer(nil), c.Peers...)
			tt.change(&c)
			err := c.validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("validate: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("validate: no error, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("validate: %v, want %q", err, tt.want)
			}
		})
	}
}

// Every problem is reported at once.
func TestConfigValidateAll(t *testing.T) {
	c := Config{Peers: []Peer{{}, {Address: routerAddr, HoldTime: time.Second}}}
	err := c.validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"ASN 0", "router ID", "peer 1", "peer 2", "hold time 1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: missing %q", err, want)
		}
	}
}

func TestCheckHostRoute(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"198.18.0.100/32", true},
		{"2001:2::100/128", true},
		{"198.18.0.0/24", false},
		{"198.18.0.100/31", false},
		{"2001:2::/64", false},
		{"::ffff:198.18.0.100/128", false},
		{"0.0.0.0/32", false},
		{"255.255.255.255/32", false},
		{"224.0.0.1/32", false},
		{"127.0.0.1/32", false},
		{"::1/128", false},
		{"fe80::1/128", false},
		{"169.254.1.1/32", false},
	}
	for _, tt := range tests {
		err := checkHostRoute(netip.MustParsePrefix(tt.prefix))
		if (err == nil) != tt.ok {
			t.Errorf("checkHostRoute(%s) = %v, want ok %v", tt.prefix, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrNotHostRoute) {
			t.Errorf("checkHostRoute(%s) = %v, not ErrNotHostRoute", tt.prefix, err)
		}
	}
	if err := checkHostRoute(netip.Prefix{}); !errors.Is(err, ErrNotHostRoute) {
		t.Errorf("zero prefix: %v", err)
	}
}

func TestPathValidate(t *testing.T) {
	v4 := netip.MustParsePrefix("198.18.0.100/32")
	v6 := netip.MustParsePrefix("2001:2::100/128")
	tests := []struct {
		name   string
		prefix netip.Prefix
		path   Path
		want   string
	}{
		{"empty", v4, Path{}, ""},
		{"standby with communities", v4, Path{Standby: true, Communities: []Community{NoExport, NewCommunity(65000, 1)}}, ""},
		{"next hop", v4, Path{NextHop: nodeAddr}, ""},
		{"IPv6 next hop", v6, Path{NextHop: netip.MustParseAddr("2001:2::11")}, ""},
		{"next hop of the other family", v4, Path{NextHop: netip.MustParseAddr("2001:2::11")}, "address family"},
		{"mapped next hop", v6, Path{NextHop: netip.MustParseAddr("::ffff:198.18.0.11")}, "address family"},
		{"unspecified next hop", v4, Path{NextHop: netip.IPv4Unspecified()}, "unicast"},
		{"next hop with zone", v6, Path{NextHop: netip.MustParseAddr("fe80::1%eth0")}, "zone"},
		{"duplicate community", v4, Path{Communities: []Community{NoExport, NoExport}}, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.path.validate(tt.prefix)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("validate = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCommunity(t *testing.T) {
	for _, s := range []string{"0:0", "65000:100", "65535:65535", "65535:65281"} {
		c, err := ParseCommunity(s)
		if err != nil {
			t.Errorf("ParseCommunity(%q): %v", s, err)
			continue
		}
		if c.String() != s {
			t.Errorf("ParseCommunity(%q).String() = %q", s, c)
		}
	}
	if c, _ := ParseCommunity("65535:65281"); c != NoExport {
		t.Errorf("65535:65281 = %#x, want NO_EXPORT", uint32(c))
	}
	for _, s := range []string{"", "65000", "65536:1", "1:65536", "-1:1", "a:b", "1:2:3", " 1:2"} {
		if _, err := ParseCommunity(s); err == nil {
			t.Errorf("ParseCommunity(%q): no error", s)
		}
	}
}

func TestPathEqual(t *testing.T) {
	a := Path{Standby: true, Communities: []Community{1, 2}}
	if !a.Equal(a.clone()) {
		t.Error("a path differs from its clone")
	}
	for _, b := range []Path{{Communities: []Community{1, 2}}, {Standby: true, Communities: []Community{2, 1}}, {Standby: true}, {Standby: true, Communities: []Community{1, 2}, NextHop: nodeAddr}} {
		if a.Equal(b) {
			t.Errorf("%+v equals %+v", a, b)
		}
	}
}

func TestStateStrings(t *testing.T) {
	if Established.String() != "established" || SessionState(99).String() != "unknown" || SessionState(-1).String() != "unknown" {
		t.Error("SessionState.String")
	}
	if BFDUp.String() != "up" || BFDOff.String() != "off" || BFDState(9).String() != "unknown" {
		t.Error("BFDState.String")
	}
}

func TestStartRefusesBadConfig(t *testing.T) {
	c := validConfig()
	c.ASN = 0
	if s, err := Start(context.Background(), c); err == nil {
		s.Close()
		t.Fatal("Start accepted ASN 0")
	}
}

// The speaker's own bookkeeping, without a session: its peer is not
// reachable from the test's namespace.
func TestSpeakerRoutes(t *testing.T) {
	s, err := Start(context.Background(), validConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := netip.MustParsePrefix("198.18.0.101/32")
	b := netip.MustParsePrefix("198.18.0.100/32")
	for _, bad := range []struct {
		prefix netip.Prefix
		path   Path
		want   string
	}{
		{netip.MustParsePrefix("198.18.0.0/24"), Path{}, "not a host route"},
		{netip.MustParsePrefix("2001:2::100/128"), Path{}, "no peer is of its address family"},
		{a, Path{NextHop: netip.MustParseAddr("2001:2::1")}, "address family"},
	} {
		if err := s.Announce(bad.prefix, bad.path); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Announce(%v, %+v) = %v, want %q", bad.prefix, bad.path, err, bad.want)
		}
	}
	if len(s.Announced()) != 0 {
		t.Fatalf("bad announcements changed the routes: %+v", s.Announced())
	}
	if err := s.Announce(a, Path{Standby: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Announce(b, Path{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Announce(a, Path{}); err != nil { // replaces
		t.Fatal(err)
	}
	got := s.Announced()
	if len(got) != 2 || got[0].Prefix != b || got[1].Prefix != a || got[1].Path.Standby {
		t.Fatalf("Announced() = %+v, want %v then %v, both ordinary", got, b, a)
	}
	got[0].Path.Communities = append(got[0].Path.Communities, NoExport)
	if s.Announced()[0].Path.Communities != nil {
		t.Error("Announced shares memory with the speaker")
	}
	if err := s.Withdraw(a); err != nil {
		t.Fatal(err)
	}
	if err := s.Withdraw(a); err != nil {
		t.Fatalf("withdrawing twice: %v", err)
	}
	if err := s.Withdraw(netip.MustParsePrefix("198.18.0.0/24")); err == nil {
		t.Error("Withdraw accepted a /24")
	}
	if got := s.Announced(); len(got) != 1 || got[0].Prefix != b {
		t.Fatalf("Announced() after withdraw = %+v", got)
	}
	ps := s.Peers()
	if len(ps) != 1 || ps[0].Address != routerAddr || ps[0].ASN != 65000 || ps[0].State == Established || ps[0].BFD != BFDOff {
		t.Fatalf("Peers() = %+v", ps)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	if err := s.Announce(a, Path{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Announce after Close = %v, want ErrClosed", err)
	}
	if err := s.Withdraw(b); !errors.Is(err, ErrClosed) {
		t.Errorf("Withdraw after Close = %v, want ErrClosed", err)
	}
	if len(s.Announced()) != 0 {
		t.Errorf("Announced after Close = %+v", s.Announced())
	}
	if ps := s.Peers(); len(ps) != 1 || ps[0].State != Idle {
		t.Errorf("Peers after Close = %+v", ps)
	}
}

// A speaker whose listening port is taken fails to start and leaves
// nothing running.
func TestStartListenError(t *testing.T) {
	c := validConfig()
	c.ListenPort = 1790
	s1, err := Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	if s2, err := Start(context.Background(), c); err == nil {
		s2.Close()
		t.Fatal("two speakers listen on one port")
	}
}
