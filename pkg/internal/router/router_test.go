package router

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRoutes(t *testing.T) {
	out := `[{"dst":"198.18.0.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"198.18.0.3","flags":[]},
{"dst":"198.18.0.100","gateway":"198.18.0.11","dev":"eth0","protocol":"bird","metric":32,"flags":[]},
{"dst":"198.18.0.101","protocol":"bgp","metric":20,"flags":[],"nexthops":[{"gateway":"198.18.0.12","dev":"eth0","weight":1,"flags":[]},{"gateway":"198.18.0.11","dev":"eth0","weight":1,"flags":[]}]},
{"dst":"default","gateway":"198.18.0.1","dev":"eth0","flags":[]},
{"dst":"2001:2::100","gateway":"2001:2::11","dev":"eth0","protocol":"bird","flags":[]}]`
	got, err := parseRoutes(out)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	want := []Route{
		{Prefix: netip.MustParsePrefix("198.18.0.0/24"), Protocol: "kernel"},
		{Prefix: netip.MustParsePrefix("198.18.0.100/32"), NextHops: []netip.Addr{a("198.18.0.11")}, Protocol: "bird"},
		{Prefix: netip.MustParsePrefix("198.18.0.101/32"), NextHops: []netip.Addr{a("198.18.0.11"), a("198.18.0.12")}, Protocol: "bgp"},
		{Prefix: netip.MustParsePrefix("2001:2::100/128"), NextHops: []netip.Addr{a("2001:2::11")}, Protocol: "bird"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if rt, ok := Lookup(got, netip.MustParsePrefix("198.18.0.101/32")); !ok || len(rt.NextHops) != 2 {
		t.Errorf("Lookup = %+v, %v", rt, ok)
	}
	if _, ok := Lookup(got, netip.MustParsePrefix("198.18.0.102/32")); ok {
		t.Error("Lookup found a missing route")
	}
	if rs, err := parseRoutes("\n"); err != nil || rs != nil {
		t.Errorf("empty output: %v, %v", rs, err)
	}
	for _, bad := range []string{"[", `[{"dst":"nope"}]`, `[{"dst":"198.18.0.1","gateway":"x"}]`} {
		if _, err := parseRoutes(bad); err == nil {
			t.Errorf("parseRoutes(%q): no error", bad)
		}
	}
}

func TestParseBIRD(t *testing.T) {
	protocols := `BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     2026-12-01 10:00:00  
n1         BGP        ---        up     2026-12-01 10:00:01  Established   
  BGP state:          Established
    Neighbor address: 198.18.0.11
    Neighbor AS:      65101
n2         BGP        ---        start  2026-12-01 10:00:01  Active        Socket: Connection refused
  BGP state:          Active
    Neighbor address: 198.18.0.12
    Neighbor AS:      65102
    Last error:       Socket: Connection refused
servers    BGP        ---        start  2026-12-01 10:00:00  Passive
  BGP state:          Passive
    Neighbor range:   198.18.0.0/24
`
	got := parseBIRDProtocols(protocols)
	want := []Session{
		{Neighbor: netip.MustParseAddr("198.18.0.11"), State: "Established", Established: true},
		{Neighbor: netip.MustParseAddr("198.18.0.12"), State: "Active", Info: "Socket: Connection refused"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	bfd := parseBIRDBFD(`BIRD 2.0.12 ready.
bfd1:
IP address                Interface  State      Since         Interval  Timeout
198.18.0.11               eth0       Up         10:00:02.123    0.100    0.300
198.18.0.12               eth0       Down       10:00:01.000    1.000    0.000
`)
	if bfd[netip.MustParseAddr("198.18.0.11")] != "up" || bfd[netip.MustParseAddr("198.18.0.12")] != "down" || len(bfd) != 2 {
		t.Errorf("BFD: %v", bfd)
	}
}

func TestParseFRR(t *testing.T) {
	neighbors := `{"198.18.0.12":{"remoteAs":65102,"bgpState":"Active","lastResetDueTo":"BFD down received","lastNotificationReason":"Cease/BFD Down"},
"198.18.0.11":{"remoteAs":65101,"bgpState":"Established","peerBfdInfo":{"status":"Up"}},
"range1":{"peerGroupMembers":{}}}`
	got, err := parseFRRNeighbors(neighbors)
	if err != nil {
		t.Fatal(err)
	}
	want := []Session{
		{Neighbor: netip.MustParseAddr("198.18.0.11"), State: "Established", Established: true},
		{Neighbor: netip.MustParseAddr("198.18.0.12"), State: "Active", Info: "BFD down received: Cease/BFD Down"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	bfd, err := parseFRRBFD(`[{"multihop":false,"peer":"198.18.0.11","local":"198.18.0.3","status":"up"},{"peer":"198.18.0.12","status":"down"}]`)
	if err != nil || bfd[netip.MustParseAddr("198.18.0.11")] != "up" || bfd[netip.MustParseAddr("198.18.0.12")] != "down" {
		t.Errorf("BFD: %v, %v", bfd, err)
	}
	if _, err := parseFRRNeighbors("not json"); err == nil {
		t.Error("no error for bad JSON")
	}
}

var (
	routerAddr = netip.MustParseAddr("198.18.0.3")
	rack       = netip.MustParsePrefix("198.18.0.0/24")
)

func TestConfigValidate(t *testing.T) {
	good := Neighbor{Address: netip.MustParseAddr("198.18.0.11"), ASN: 65101}
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"valid", Config{ASN: 65000, Address: routerAddr, Neighbors: []Neighbor{good}}, ""},
		{"raw", Config{Raw: "router id 1.2.3.4;"}, ""},
		{"no ASN", Config{Address: routerAddr}, "no ASN"},
		{"IPv6 address", Config{ASN: 65000, Address: netip.MustParseAddr("2001:2::3")}, "IPv4"},
		{"neither address nor range", Config{ASN: 65000, Address: routerAddr, Neighbors: []Neighbor{{ASN: 1}}}, "either Address or Range"},
		{"both address and range", Config{ASN: 65000, Address: routerAddr, Neighbors: []Neighbor{{Address: good.Address, Range: rack}}}, "either Address or Range"},
		{"hold time", Config{ASN: 65000, Address: routerAddr, Neighbors: []Neighbor{{Address: good.Address, HoldTime: 1500 * time.Millisecond}}}, "hold time"},
		{"password quote", Config{ASN: 65000, Address: routerAddr, Neighbors: []Neighbor{{Address: good.Address, Password: `a"b`}}}, "quotes"},
	} {
		err := tt.cfg.validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestBIRDConfig(t *testing.T) {
	cfg := Config{ASN: 65000, Address: routerAddr, ECMP: true, Neighbors: []Neighbor{
		{Address: netip.MustParseAddr("198.18.0.11"), ASN: 65101, BFD: true, Password: "pw", Export: []netip.Prefix{netip.MustParsePrefix("198.19.0.0/24")}},
		{Range: rack, ASN: 65102, HoldTime: 3 * time.Second},
		{Address: netip.MustParseAddr("2001:2::11"), ASN: 65103},
	}}
	conf := birdConfig(cfg, "/tmp/x/bird.log")
	for _, want := range []string{
		"router id 198.18.0.3;", `log "/tmp/x/bird.log" all;`, "merge paths on;",
		"min rx interval 100 ms; min tx interval 100 ms; multiplier 3;",
		"route 198.19.0.0/24 blackhole;",
		"protocol bgp n1 {\n\tlocal 198.18.0.3 as 65000;\n\tneighbor 198.18.0.11 as 65101;",
		"\tbfd on;\n\tpassword \"pw\";", "export where net ~ [ 198.19.0.0/24 ];",
		"neighbor range 198.18.0.0/24 as 65102;", "hold time 3;\n\tkeepalive time 1;",
		"protocol bgp n3 {\n\tlocal as 65000;\n\tneighbor 2001:2::11 as 65103;", "ipv6 { import all; export none; };",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("BIRD configuration lacks %q:\n%s", want, conf)
		}
	}
}

func TestFRRConfig(t *testing.T) {
	cfg := Config{ASN: 65000, Address: routerAddr, ECMP: true, Neighbors: []Neighbor{
		{Range: rack, BFD: true, Interval: 300 * time.Millisecond, Multiplier: 5, Password: "pw"},
		{Address: netip.MustParseAddr("198.18.0.20"), ASN: 65101, Export: []netip.Prefix{netip.MustParsePrefix("198.19.0.0/24")}},
	}}
	bgpd := frrBGPConfig(cfg)
	for _, want := range []string{
		"router bgp 65000\n bgp router-id 198.18.0.3\n", "no bgp ebgp-requires-policy", "bgp bestpath as-path multipath-relax",
		" neighbor range1 peer-group\n neighbor range1 remote-as external\n bgp listen range 198.18.0.0/24 peer-group range1\n",
		" neighbor range1 password pw\n", " neighbor range1 bfd\n neighbor range1 bfd profile n1\n",
		" neighbor 198.18.0.20 remote-as 65101\n", "  maximum-paths 16\n",
		"  neighbor range1 route-map none-out out\n", "  neighbor 198.18.0.20 prefix-list n2-out out\n", "  network 198.19.0.0/24\n",
		"ip prefix-list n2-out permit 198.19.0.0/24\n",
	} {
		if !strings.Contains(bgpd, want) {
			t.Errorf("bgpd configuration lacks %q:\n%s", want, bgpd)
		}
	}
	bfdd := frrBFDConfig(cfg)
	if !strings.Contains(bfdd, " profile n1\n  receive-interval 300\n  transmit-interval 300\n  detect-multiplier 5\n") || strings.Contains(bfdd, "profile n2") {
		t.Errorf("bfdd configuration:\n%s", bfdd)
	}
}

func TestExaBGPConfig(t *testing.T) {
	cfg := ExaBGPConfig{ASN: 65101, Address: netip.MustParseAddr("198.18.0.11"),
		Peers:  []ExaBGPPeer{{Address: routerAddr, ASN: 65000, Password: "pw"}},
		Checks: []Healthcheck{{Name: "www", Command: "curl -sf http://127.0.0.1/", VIPs: []netip.Prefix{netip.MustParsePrefix("198.18.0.100/32")}, Interval: 500 * time.Millisecond, Disable: "/tmp/e/maintenance"}},
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	e := &ExaBGP{cfg: cfg, dir: "/tmp/e"}
	conf := e.config()
	for _, want := range []string{
		"process hc-www {\n\trun /usr/bin/python3 -m exabgp healthcheck --config /tmp/e/check-www.conf;",
		"neighbor 198.18.0.3 {", "local-as 65101;", "peer-as 65000;", "hold-time 9;", `md5-password "pw";`, "processes [ hc-www ];",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("ExaBGP configuration lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(healthcheckConfig(cfg.Checks[0], false), "no-ack") || !strings.Contains(healthcheckConfig(cfg.Checks[0], true), "\nno-ack\n") {
		t.Errorf("no-ack not as asked:\n%s", healthcheckConfig(cfg.Checks[0], true))
	}
	hc := healthcheckConfig(cfg.Checks[0], false)
	for _, want := range []string{"withdraw-on-down", "interval = 0.5\n", "fast-interval = 0.5\n", "rise = 1\n", "command = curl -sf http://127.0.0.1/\n", "ip = 198.18.0.100/32\n", "disable = /tmp/e/maintenance\n"} {
		if !strings.Contains(hc, want) {
			t.Errorf("healthcheck configuration lacks %q:\n%s", want, hc)
		}
	}
	for _, bad := range []ExaBGPConfig{
		{},
		{ASN: 1, Address: routerAddr, Peers: []ExaBGPPeer{{Password: `x"`}}},
		{ASN: 1, Address: routerAddr, Peers: cfg.Peers, Checks: []Healthcheck{{Name: "Bad Name", Command: "true"}}},
		{ASN: 1, Address: routerAddr, Peers: cfg.Peers, Checks: []Healthcheck{{Name: "x", Command: "a\nb"}}},
		{ASN: 1, Address: routerAddr, Peers: cfg.Peers, Checks: []Healthcheck{{Name: "x", Command: "true", Disable: "relative/file"}}},
	} {
		if err := bad.validate(); err == nil {
			t.Errorf("validate(%+v): no error", bad)
		}
	}
}
