package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseValidBGPFile(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/valid-bgp.toml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "wackamole.toml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "leaf1.password")
	if err := os.WriteFile(pw, []byte("right horse\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := BGP{
		ASN:       4200000011,
		RouterID:  netip.MustParseAddr("198.18.0.11"),
		Announce:  AnnounceAll,
		Interface: "vip0",
		Peers: []BGPPeer{
			{Address: netip.MustParseAddr("198.18.0.1"), ASN: 65000, HoldTime: 6 * time.Second, BFD: true, BFDInterval: 50 * time.Millisecond, BFDMultiplier: 4, PasswordFile: pw, Password: "right horse", Line: 14},
			{Address: netip.MustParseAddr("2001:db8::1"), ASN: 65001, HoldTime: DefaultHoldTime, BFDInterval: DefaultBFDInterval, BFDMultiplier: DefaultBFDMultiplier, Line: 23},
		},
	}
	if c.Mode != ModeBGP || !reflect.DeepEqual(c.BGP, want) {
		t.Errorf("mode %q, bgp:\n got %+v\nwant %+v", c.Mode, c.BGP, want)
	}
	// VIP addresses go to the bgp interface unless they name another.
	wantVIPs := []VIP{
		{Name: "www-1", Line: 27, Addresses: []Address{
			{Interface: "vip0", Prefix: netip.MustParsePrefix("198.18.1.10/32")},
			{Interface: "vip0", Prefix: netip.MustParsePrefix("2001:db8:1::10/128")},
		}},
		{Name: "www-2", Line: 31, Addresses: []Address{{Interface: "lo", Prefix: netip.MustParsePrefix("198.18.1.20/32")}}},
	}
	if c.Interface != "vip0" || !reflect.DeepEqual(c.VIPs, wantVIPs) {
		t.Errorf("interface %q, VIPs:\n got %+v\nwant %+v", c.Interface, c.VIPs, wantVIPs)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate of a parsed config: %v", err)
	}
}

func TestBGPDefaults(t *testing.T) {
	const doc = base + `mode = "bgp"
[bgp]
asn = 65101
[[bgp.peer]]
address = "198.18.0.1"
asn = 65000
[[vip]]
name = "www-1"
addresses = ["198.18.1.10/32"]
`
	c, err := parse("t.toml", []byte(doc), testSources(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := BGP{
		ASN:       65101,
		RouterID:  netip.MustParseAddr("198.18.0.11"), // bind's address
		Announce:  AnnounceOwner,
		Interface: "lo",
		Peers: []BGPPeer{{
			Address: netip.MustParseAddr("198.18.0.1"), ASN: 65000,
			HoldTime: 9 * time.Second, BFDInterval: 100 * time.Millisecond, BFDMultiplier: 3, Line: 8,
		}},
	}
	if !reflect.DeepEqual(c.BGP, want) {
		t.Errorf("bgp:\n got %+v\nwant %+v", c.BGP, want)
	}
	if c.Interface != "lo" || c.VIPs[0].Addresses[0].Interface != "lo" {
		t.Errorf("VIPs do not default to lo: interface %q, %+v", c.Interface, c.VIPs[0].Addresses)
	}

	// The router ID comes from advertise when bind has no address.
	doc2 := strings.Replace(doc, `bind = "198.18.0.11:7946"`, "bind = \"0.0.0.0:7946\"\nadvertise = \"198.18.0.21\"", 1)
	c, err = parse("t.toml", []byte(doc2), testSources(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.BGP.RouterID != netip.MustParseAddr("198.18.0.21") {
		t.Errorf("router ID %v, want advertise's 198.18.0.21", c.BGP.RouterID)
	}
}

// bgpBase is a valid bgp-mode configuration without VIPs.
const bgpBase = base + `mode = "bgp"
[bgp]
asn = 65101
[[bgp.peer]]
address = "198.18.0.1"
asn = 65000
`

// bgpVIP is a VIP table for bgp mode (host routes), appended after the
// peer tables, starting at line 11 of bgpBase+bgpVIP.
const bgpVIP = `[[vip]]
name = "www-1"
addresses = ["198.18.1.10/32"]
`

func init() {
	errCases = append(errCases, []errCase{
		// mode
		{name: "mode unknown", doc: base + "mode = \"l3\"\n" + vip1, line: 5, key: "mode", msg: `"l3" is not a mode: want "l2" or "bgp"`},
		{name: "mode type", doc: base + "mode = 1\n" + vip1, line: 5, key: "mode", msg: "want a string"},
		{name: "bgp table in l2 mode", doc: base + "[bgp]\nasn = 65101\n" + vip1, line: 5, key: "bgp", msg: `mode is "l2"`},
		{name: "bgp mode without table", doc: base + "mode = \"bgp\"\n" + vip1, line: 0, key: "bgp", msg: "bgp mode needs a [bgp] table"},
		{name: "interface in bgp mode", doc: base + "interface = \"eth0\"\n" + bgpBase[len(base):] + bgpVIP, line: 5, key: "interface", msg: "not used in bgp mode"},
		{name: "VIP not a host route", doc: bgpBase + "[[vip]]\nname = \"a\"\naddresses = [\"198.18.1.10/24\"]\n", line: 13, key: "vip[0].addresses[0]", msg: "write 198.18.1.10/32"},
		{name: "IPv6 VIP not a host route", doc: bgpBase + "[[vip]]\nname = \"a\"\naddresses = [\"eth9:2001:db8::10/64\"]\n", line: 13, key: "vip[0].addresses[0]", msg: "write 2001:db8::10/128"},

		// [bgp]
		{name: "bgp unknown key", doc: bgpBase + "[bgp.extra]\n" + bgpVIP, line: 11, key: "bgp.extra", msg: "unknown key"},
		{name: "bgp key typo", doc: strings.Replace(bgpBase, "asn = 65101", "asn = 65101\nanounce = \"all\"", 1) + bgpVIP, line: 8, key: "bgp.anounce", msg: `did you mean "announce"?`},
		{name: "bgp not a table", doc: base + "mode = \"bgp\"\nbgp = 1\n" + vip1, line: 6, key: "bgp", msg: "want a table"},
		{name: "asn missing", doc: strings.Replace(bgpBase, "asn = 65101\n", "", 1) + bgpVIP, line: 6, key: "bgp.asn", msg: "missing"},
		{name: "asn 0", doc: strings.Replace(bgpBase, "asn = 65101", "asn = 0", 1) + bgpVIP, line: 7, key: "bgp.asn", msg: "is not an AS number"},
		{name: "asn too large", doc: strings.Replace(bgpBase, "asn = 65101", "asn = 4294967296", 1) + bgpVIP, line: 7, key: "bgp.asn", msg: "is not an AS number"},
		{name: "asn AS_TRANS", doc: strings.Replace(bgpBase, "asn = 65101", "asn = 23456", 1) + bgpVIP, line: 7, key: "bgp.asn", msg: "AS_TRANS"},
		{name: "asn 65535", doc: strings.Replace(bgpBase, "asn = 65101", "asn = 65535", 1) + bgpVIP, line: 7, key: "bgp.asn", msg: "reserved (RFC 7300)"},
		{name: "asn 4294967295", doc: strings.Replace(bgpBase, "asn = 65101", "asn = 4294967295", 1) + bgpVIP, line: 7, key: "bgp.asn", msg: "reserved (RFC 7300)"},
		{name: "asn string", doc: strings.Replace(bgpBase, "asn = 65101", "asn = \"65101\"", 1) + bgpVIP, line: 7, key: "bgp.asn", msg: "want an integer AS number"},
		{name: "router_id not an address", doc: strings.Replace(bgpBase, "asn = 65101", "asn = 65101\nrouter_id = \"web1\"", 1) + bgpVIP, line: 8, key: "bgp.router_id", msg: `"web1" is not an IPv4 address`},
		{name: "router_id IPv6", doc: strings.Replace(bgpBase, "asn = 65101", "asn = 65101\nrouter_id = \"2001:db8::11\"", 1) + bgpVIP, line: 8, key: "bgp.router_id", msg: "not an IPv4 address"},
		{name: "router_id zero", doc: strings.Replace(bgpBase, "asn = 65101", "asn = 65101\nrouter_id = \"0.0.0.0\"", 1) + bgpVIP, line: 8, key: "bgp.router_id", msg: "0.0.0.0 is not a valid BGP identifier"},
		{name: "router_id is a VIP", doc: strings.Replace(bgpBase, "asn = 65101", "asn = 65101\nrouter_id = \"198.18.1.10\"", 1) + bgpVIP, line: 8, key: "bgp.router_id", msg: `address of VIP "www-1"`},
		{name: "router_id no default", doc: strings.Replace(bgpBase, `bind = "198.18.0.11:7946"`, `bind = "[2001:db8::11]:7946"`, 1) + bgpVIP, line: 6, key: "bgp.router_id", msg: "set router_id"},
		{name: "announce", doc: strings.Replace(bgpBase, "asn = 65101", "asn = 65101\nannounce = \"some\"", 1) + bgpVIP, line: 8, key: "bgp.announce", msg: `"some" is not an announce policy: want "owner" or "all"`},
		{name: "bgp interface", doc: strings.Replace(bgpBase, "asn = 65101", "asn = 65101\ninterface = \"lo 0\"", 1) + bgpVIP, line: 8, key: "bgp.interface", msg: "whitespace"},
		{name: "no peers", doc: strings.Replace(bgpBase, "[[bgp.peer]]\naddress = \"198.18.0.1\"\nasn = 65000\n", "", 1) + bgpVIP, line: 6, key: "bgp.peer", msg: "no peers"},
		{name: "peer not a table array", doc: strings.Replace(bgpBase, "[[bgp.peer]]\naddress = \"198.18.0.1\"\nasn = 65000\n", "peer = 1\n", 1) + bgpVIP, line: 8, key: "bgp.peer", msg: "want an array of tables ([[bgp.peer]])"},

		// [[bgp.peer]]
		{name: "peer unknown key", doc: bgpBase + "hold = \"3s\"\n" + bgpVIP, line: 11, key: "bgp.peer[0].hold", msg: "unknown key"},
		{name: "peer address missing", doc: strings.Replace(bgpBase, "address = \"198.18.0.1\"\n", "", 1) + bgpVIP, line: 8, key: "bgp.peer[0].address", msg: "missing"},
		{name: "peer address bad", doc: strings.Replace(bgpBase, `"198.18.0.1"`, `"leaf1"`, 1) + bgpVIP, line: 9, key: "bgp.peer[0].address", msg: `"leaf1" is not an IP address`},
		{name: "peer address multicast", doc: strings.Replace(bgpBase, `"198.18.0.1"`, `"224.0.0.5"`, 1) + bgpVIP, line: 9, key: "bgp.peer[0].address", msg: "not a unicast address"},
		{name: "peer address mapped", doc: strings.Replace(bgpBase, `"198.18.0.1"`, `"::ffff:198.18.0.1"`, 1) + bgpVIP, line: 9, key: "bgp.peer[0].address", msg: "write 198.18.0.1"},
		{name: "peer address zone", doc: strings.Replace(bgpBase, `"198.18.0.1"`, `"2001:db8::1%eth0"`, 1) + bgpVIP, line: 9, key: "bgp.peer[0].address", msg: "zone"},
		{name: "peer address is a VIP", doc: strings.Replace(bgpBase, `"198.18.0.1"`, `"198.18.1.10"`, 1) + bgpVIP, line: 9, key: "bgp.peer[0].address", msg: "address of VIP"},
		{name: "bgp peer twice", doc: bgpBase + "[[bgp.peer]]\naddress = \"198.18.0.1\"\nasn = 65001\n" + bgpVIP, line: 12, key: "bgp.peer[1].address", msg: "already a peer (bgp.peer[0].address at line 9)"},
		{name: "peer asn missing", doc: strings.Replace(bgpBase, "asn = 65000\n", "", 1) + bgpVIP, line: 8, key: "bgp.peer[0].asn", msg: "missing"},
		{name: "peer asn own", doc: strings.Replace(bgpBase, "asn = 65000", "asn = 65101", 1) + bgpVIP, line: 10, key: "bgp.peer[0].asn", msg: "only external BGP"},
		{name: "peer asn reserved", doc: strings.Replace(bgpBase, "asn = 65000", "asn = 23456", 1) + bgpVIP, line: 10, key: "bgp.peer[0].asn", msg: "AS_TRANS"},
		{name: "hold_time 0", doc: bgpBase + "hold_time = \"0s\"\n" + bgpVIP, line: 11, key: "bgp.peer[0].hold_time", msg: "0s (no keepalives) is not supported"},
		{name: "hold_time 2s", doc: bgpBase + "hold_time = \"2s\"\n" + bgpVIP, line: 11, key: "bgp.peer[0].hold_time", msg: "2s: want 3s to 18h12m15s"},
		{name: "hold_time fractional", doc: bgpBase + "hold_time = \"4500ms\"\n" + bgpVIP, line: 11, key: "bgp.peer[0].hold_time", msg: "whole seconds"},
		{name: "hold_time too long", doc: bgpBase + "hold_time = \"24h\"\n" + bgpVIP, line: 11, key: "bgp.peer[0].hold_time", msg: "want 3s to"},
		{name: "hold_time not a duration", doc: bgpBase + "hold_time = 9\n" + bgpVIP, line: 11, key: "bgp.peer[0].hold_time", msg: "want a duration string"},
		{name: "bfd type", doc: bgpBase + "bfd = \"yes\"\n" + bgpVIP, line: 11, key: "bgp.peer[0].bfd", msg: "want true or false"},
		{name: "bfd_interval short", doc: bgpBase + "bfd = true\nbfd_interval = \"5ms\"\n" + bgpVIP, line: 12, key: "bgp.peer[0].bfd_interval", msg: "5ms: want 10ms to 1m0s"},
		{name: "bfd_interval long", doc: bgpBase + "bfd = true\nbfd_interval = \"2m\"\n" + bgpVIP, line: 12, key: "bgp.peer[0].bfd_interval", msg: "want 10ms to 1m0s"},
		{name: "bfd_interval nanoseconds", doc: bgpBase + "bfd = true\nbfd_interval = \"100000001ns\"\n" + bgpVIP, line: 12, key: "bgp.peer[0].bfd_interval", msg: "whole microseconds"},
		{name: "bfd_interval without bfd", doc: bgpBase + "bfd_interval = \"300ms\"\n" + bgpVIP, line: 11, key: "bgp.peer[0].bfd_interval", msg: "has no effect without bfd = true"},
		{name: "bfd_multiplier 0", doc: bgpBase + "bfd = true\nbfd_multiplier = 0\n" + bgpVIP, line: 12, key: "bgp.peer[0].bfd_multiplier", msg: "0: want 1 to 255"},
		{name: "bfd_multiplier 256", doc: bgpBase + "bfd = true\nbfd_multiplier = 256\n" + bgpVIP, line: 12, key: "bgp.peer[0].bfd_multiplier", msg: "256: want 1 to 255"},
		{name: "bfd_multiplier without bfd", doc: bgpBase + "bfd = false\nbfd_multiplier = 5\n" + bgpVIP, line: 12, key: "bgp.peer[0].bfd_multiplier", msg: "has no effect"},
		{name: "password_file empty", doc: bgpBase + "password_file = \"\"\n" + bgpVIP, line: 11, key: "bgp.peer[0].password_file", msg: "empty"},
		{name: "password_file unreadable", doc: bgpBase + "password_file = \"/nonexistent/pw\"\n" + bgpVIP, line: 11, key: "bgp.peer[0].password_file", msg: "open /nonexistent/pw: file does not exist"},
		{name: "password empty", doc: bgpBase + "password_file = \"/pw\"\n" + bgpVIP, keys: map[string]string{"/pw": "\n"}, line: 11, key: "bgp.peer[0].password_file", msg: "/pw: the password file is empty"},
		{name: "password too long", doc: bgpBase + "password_file = \"/pw\"\n" + bgpVIP, keys: map[string]string{"/pw": strings.Repeat("p", 81)}, line: 11, key: "bgp.peer[0].password_file", msg: "81 bytes; TCP MD5 passwords have at most 80"},
		{name: "password two lines", doc: bgpBase + "password_file = \"/pw\"\n" + bgpVIP, keys: map[string]string{"/pw": "one\ntwo\n"}, line: 11, key: "bgp.peer[0].password_file", msg: "second line"},
		{name: "password spaces", doc: bgpBase + "password_file = \"/pw\"\n" + bgpVIP, keys: map[string]string{"/pw": " pw \n"}, line: 11, key: "bgp.peer[0].password_file", msg: "starts or ends with a space"},
		{name: "inline peer", doc: strings.Replace(bgpBase, "[[bgp.peer]]\naddress = \"198.18.0.1\"\nasn = 65000\n", "peer = [{address = \"198.18.0.1\", asn = 65000, hold_time = \"1s\"}]\n", 1) + bgpVIP, line: 8, key: "bgp.peer[0].hold_time", msg: "want 3s"},
	}...)
}

// A password file is read like the gossip key: a regular file that other
// users cannot access, and its content is never in a message.
func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	secret := "s3cr3t-with-a-very-unusual-word"
	for _, tt := range []struct {
		name string
		mode os.FileMode
		want string
	}{
		{"private", 0o600, ""},
		{"group", 0o640, ""},
		{"world readable", 0o644, "accessible by other users (mode 0644)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pw := filepath.Join(dir, tt.name)
			if err := os.WriteFile(pw, []byte(secret+"\n"), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(pw, tt.mode); err != nil { // past the umask
				t.Fatal(err)
			}
			doc := bgpBase + "password_file = \"" + pw + "\"\n" + bgpVIP
			c, err := parse(filepath.Join(dir, "w.toml"), []byte(doc), sources{readKey: readKeyFile, hostname: os.Hostname})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.BGP.Peers[0].Password != secret {
					t.Errorf("password %q", c.BGP.Peers[0].Password)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	// Not even a bad password appears in a message.
	doc := bgpBase + "password_file = \"/pw\"\n" + bgpVIP
	_, err := parse("w.toml", []byte(doc), testSources(map[string]string{"/pw": secret + "\n" + secret}))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("got %v", err)
	}
	// A relative name is resolved against the configuration's directory.
	doc = bgpBase + "password_file = \"pw\"\n" + bgpVIP
	c, err := parse("/etc/wackamole/w.toml", []byte(doc), testSources(map[string]string{"/etc/wackamole/pw": "x"}))
	if err != nil || c.BGP.Peers[0].PasswordFile != "/etc/wackamole/pw" {
		t.Errorf("relative password file: %v, %+v", err, c)
	}
}

// Several problems in [bgp] are all reported, in line order.
func TestBGPErrorsTogether(t *testing.T) {
	doc := base + `mode = "bgp"
[bgp]
asn = 0
announce = "any"
[[bgp.peer]]
address = "198.18.0.1"
asn = 65000
hold_time = "1s"
[[bgp.peer]]
address = "198.18.0.1"
asn = 65000
` + bgpVIP
	_, err := parse("t.toml", []byte(doc), testSources(nil))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v", err)
	}
	want := []string{
		"t.toml:7: bgp.asn: 0 is not an AS number (1 to 4294967294)",
		`t.toml:8: bgp.announce: "any" is not an announce policy: want "owner" or "all"`,
		"t.toml:12: bgp.peer[0].hold_time: 1s: want 3s to 18h12m15s (RFC 4271)",
		"t.toml:14: bgp.peer[1].address: 198.18.0.1 is already a peer (bgp.peer[0].address at line 10): each router once",
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestBGPFingerprint(t *testing.T) {
	doc := bgpBase + bgpVIP
	fp := func(t *testing.T, doc string) string {
		t.Helper()
		c, err := parse("t.toml", []byte(doc), testSources(map[string]string{"/pw": "x"}))
		if err != nil {
			t.Fatal(err)
		}
		return c.Fingerprint()
	}
	ref := fp(t, doc)
	l2 := fp(t, base+vip1)
	if ref == l2 {
		t.Error("bgp mode has the l2 fingerprint")
	}
	// Node-local: every node peers with its own routers, from its own AS.
	for name, d := range map[string]string{
		"asn":                        strings.Replace(doc, "asn = 65101", "asn = 65102", 1),
		"router_id":                  strings.Replace(doc, "asn = 65101", "asn = 65101\nrouter_id = \"198.18.0.99\"", 1),
		"interface":                  strings.Replace(doc, "asn = 65101", "asn = 65101\ninterface = \"dummy0\"", 1),
		"peer":                       strings.Replace(doc, "198.18.0.1", "198.18.0.2", 1),
		"peer asn":                   strings.Replace(doc, "asn = 65000", "asn = 65009", 1),
		"timers":                     strings.Replace(doc, "asn = 65000", "asn = 65000\nhold_time = \"3s\"\nbfd = true\nbfd_interval = \"300ms\"", 1),
		"password":                   strings.Replace(doc, "asn = 65000", "asn = 65000\npassword_file = \"/pw\"", 1),
		"more peers":                 strings.Replace(doc, "[[vip]]", "[[bgp.peer]]\naddress = \"198.18.0.2\"\nasn = 65002\n[[vip]]", 1),
		"announce owner spelled out": strings.Replace(doc, "asn = 65101", "asn = 65101\nannounce = \"owner\"", 1),
	} {
		if got := fp(t, d); got != ref {
			t.Errorf("%s changed the fingerprint", name)
		}
	}
	// Group-wide: how VIPs reach the network.
	if fp(t, strings.Replace(doc, "asn = 65101", "asn = 65101\nannounce = \"all\"", 1)) == ref {
		t.Error("announce = all did not change the fingerprint")
	}
}

// The l2 fingerprint is what it was before bgp mode existed, so that a
// group can be upgraded node by node.
func TestL2FingerprintUnchanged(t *testing.T) {
	c, err := parse("t.toml", []byte(base+vip1), testSources(nil))
	if err != nil {
		t.Fatal(err)
	}
	const before = "1e9722f5108219c9" // computed by the code of commit 6964af2
	if got := c.Fingerprint(); got != before {
		t.Errorf("l2 fingerprint %s, want %s", got, before)
	}
	c2, err := parse("t.toml", []byte(base+"mode = \"l2\"\n"+vip1), testSources(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c2.Fingerprint() != c.Fingerprint() {
		t.Error(`mode = "l2" changed the fingerprint`)
	}
}

func TestValidateBGP(t *testing.T) {
	good := func() *Config {
		return &Config{
			NodeName:      "web1",
			Bind:          "198.18.0.11:7946",
			Insecure:      true,
			Interface:     "lo",
			ControlSocket: DefaultControlSocket,
			Timing:        TimingLAN,
			ARP:           ARP{Repeat: 1},
			Mode:          ModeBGP,
			BGP: BGP{
				ASN: 65101, RouterID: netip.MustParseAddr("198.18.0.11"), Announce: AnnounceOwner, Interface: "lo",
				Peers: []BGPPeer{{Address: netip.MustParseAddr("198.18.0.1"), ASN: 65000, HoldTime: 9 * time.Second, BFDInterval: 100 * time.Millisecond, BFDMultiplier: 3, Line: 7}},
			},
			VIPs: []VIP{{Name: "a", Addresses: []Address{{Interface: "lo", Prefix: netip.MustParsePrefix("198.18.1.10/32")}}}},
		}
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"zero announce", func(c *Config) { c.BGP.Announce = "" }, `bgp.announce: "" is not an announce policy`},
		{"zero hold time", func(c *Config) { c.BGP.Peers[0].HoldTime = 0 }, "line 7: bgp.peer[0].hold_time: 0s (no keepalives) is not supported"},
		{"zero BFD multiplier", func(c *Config) { c.BGP.Peers[0].BFDMultiplier = 0 }, "bgp.peer[0].bfd_multiplier: 0: want 1 to 255"},
		{"no router ID", func(c *Config) { c.BGP.RouterID = netip.Addr{} }, "bgp.router_id: not set"},
		{"password file without password", func(c *Config) { c.BGP.Peers[0].PasswordFile = "/pw" }, "bgp.peer[0].password_file: set, but the password is empty"},
		{"bad password", func(c *Config) { c.BGP.Peers[0].Password = "a\nb" }, "second line"},
		{"no peers", func(c *Config) { c.BGP.Peers = nil }, "bgp.peer: no peers"},
		{"subnet VIP", func(c *Config) { c.VIPs[0].Addresses[0].Prefix = netip.MustParsePrefix("198.18.1.10/24") }, "vip[0].addresses[0]: 198.18.1.10/24: in bgp mode a VIP is a host route"},
		{"bad mode", func(c *Config) { c.Mode = "l3" }, `mode: "l3" is not a mode`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.change(c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// examples/bgp/wackamole.toml is valid as shipped.
func TestExampleBGPConfig(t *testing.T) {
	data, err := os.ReadFile("../../examples/bgp/wackamole.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := parse("/etc/wackamole/wackamole.toml", data, testSources(map[string]string{
		"/etc/wackamole/gossip.key":     testKey,
		"/etc/wackamole/leaf2.password": "change-me\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != ModeBGP || c.BGP.Announce != AnnounceOwner || len(c.BGP.Peers) != 2 || len(c.VIPs) != 3 || c.BGP.Peers[1].Password != "change-me" {
		t.Errorf("unexpected example config: %+v", c.BGP)
	}
}
