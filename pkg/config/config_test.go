package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testKey is a valid 16-byte key, base64.
const testKey = "MDEyMzQ1Njc4OWFiY2RlZg=="

// testSources reads keys from a map (name -> content) and has the
// hostname "testhost".
func testSources(keys map[string]string) sources {
	return sources{
		readKey: func(name string) ([]byte, error) {
			k, ok := keys[name]
			if !ok {
				return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
			}
			return []byte(k), nil
		},
		hostname:   func() (string, error) { return "testhost", nil },
		executable: checkExecutable,
	}
}

// base is a valid configuration without VIPs; cases append to it.
const base = `node_name = "web1"
bind = "198.18.0.11:7946"
peers = ["198.18.0.11:7946", "198.18.0.12:7946", "198.18.0.13:7946"]
insecure = true
`

// vip1 is a valid VIP table.
const vip1 = `
[[vip]]
name = "www-1"
addresses = ["198.18.1.10/32"]
`

func TestParseValidFile(t *testing.T) {
	// Copy valid.toml next to a real key file, so that Load, the relative
	// key path and the key file checks are exercised for real.
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/valid.toml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "wackamole.toml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "gossip.key")
	if err := os.WriteFile(key, []byte(testKey+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}

	got, err := Load(file)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &Config{
		Path:          file,
		NodeName:      "web1",
		Bind:          "198.18.0.11:7946",
		Advertise:     "198.18.0.11:7946",
		Peers:         []string{"198.18.0.11:7946", "198.18.0.12:7946", "[2001:db8::13]:7947", "web4.example.net:7946"},
		SecretKeyFile: key,
		SecretKey:     []byte("0123456789abcdef"),
		Quorum:        3,
		Mature:        3 * time.Second,
		Interface:     "eth0",
		ControlSocket: "/run/wackamole/test.sock",
		ControlGroup:  "wackamole",
		MetricsListen: "127.0.0.1:9470",
		Timing:        TimingFast,
		DrainTimeout:  15 * time.Second,
		Mode:          ModeL2,
		Membership: Membership{
			HeartbeatInterval: 100 * time.Millisecond,
			FailureTimeout:    400 * time.Millisecond,
			RejoinInterval:    30 * time.Second,
			GossipInterval:    20 * time.Millisecond,
		},
		ARP: ARP{
			Repeat:   4,
			Interval: time.Second,
			Refresh:  0,
			Cache:    DefaultARPCache,
			Notify:   []netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("2001:db8::1")},
		},
		Balance:          Balance{MaxMoves: 0},
		Damping:          defaultDamping,
		RealtimePriority: DefaultRealtimePriority,
		VIPs: []VIP{
			{
				Name:      "www-1",
				Interface: "bond0",
				Addresses: []Address{
					{Interface: "bond0", Prefix: netip.MustParsePrefix("198.18.1.10/24")},
					{Interface: "eth1", Prefix: netip.MustParsePrefix("198.18.2.10/32")},
					{Interface: "bond0", Prefix: netip.MustParsePrefix("2001:db8:1::10/64")},
				},
				Line: 41,
			},
			{
				Name: "www-2",
				Addresses: []Address{
					{Interface: "eth0", Prefix: netip.MustParsePrefix("198.18.1.20/32")},
					{Interface: "eth1", Prefix: netip.MustParsePrefix("2001:db8:1::20/128")},
				},
				Prefer: []string{"web2", "web1"},
				Line:   36,
			},
		},
		Checks: []Check{
			{Name: "nginx", Kind: CheckHTTP, URL: "http://127.0.0.1/healthz", ExpectStatus: 204, Interval: 3 * time.Second, Timeout: 2 * time.Second, Rise: 1, Fall: 5, Line: 50},
			{Name: "exec-1", Kind: CheckExec, Command: []string{"/bin/true", "--quick"}, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 3, Line: 60},
			{Name: "tcp-2", Kind: CheckTCP, Address: "[::1]:80", Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 3, Line: 64},
		},
		Hooks: Hooks{OnAcquire: "/bin/true", OnRelease: "/bin/true", OnConflict: "/bin/false", Timeout: 5 * time.Second},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(valid.toml):\n got %+v\nwant %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate of a parsed config: %v", err)
	}
	if n := got.QuorumNeeded(); n != 3 {
		t.Errorf("QuorumNeeded = %d, want 3", n)
	}
}

func TestDefaults(t *testing.T) {
	doc := "insecure = true\n" + vip1
	got, err := parse("min.toml", []byte(doc), testSources(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path:             "min.toml",
		NodeName:         "testhost",
		Bind:             DefaultBind,
		Insecure:         true,
		Mature:           5 * time.Second,
		Interface:        "eth0",
		ControlSocket:    "/run/wackamole/wackamole.sock",
		Timing:           TimingLAN,
		DrainTimeout:     10 * time.Second,
		Mode:             ModeL2,
		ARP:              ARP{Repeat: 3, Interval: 1100 * time.Millisecond, Refresh: 60 * time.Second, Cache: 10 * time.Second},
		Balance:          Balance{MaxMoves: 1},
		Damping:          defaultDamping,
		RealtimePriority: DefaultRealtimePriority,
		Hooks:            Hooks{Timeout: 10 * time.Second},
		VIPs: []VIP{{
			Name:      "www-1",
			Addresses: []Address{{Interface: "eth0", Prefix: netip.MustParsePrefix("198.18.1.10/32")}},
			Line:      3,
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if n := got.QuorumNeeded(); n != 1 {
		t.Errorf("QuorumNeeded without peers = %d, want 1", n)
	}
}

func TestParseNormalises(t *testing.T) {
	tests := []struct {
		name, doc  string
		bind, adv  string
		peers      []string
		maxMoves   int
		secretFile string
	}{
		{
			name: "bind port default, advertise from bind",
			doc:  `bind = "198.18.0.11"`,
			bind: "198.18.0.11:7946", adv: "198.18.0.11:7946",
		},
		{
			name: "unspecified bind leaves advertise to the daemon",
			doc:  `bind = "[::]:8000"`,
			bind: "[::]:8000", adv: "",
		},
		{
			name: "advertise port defaults to the bind port",
			doc:  "bind = \"0.0.0.0:8000\"\nadvertise = \"198.18.0.11\"",
			bind: "0.0.0.0:8000", adv: "198.18.0.11:8000",
		},
		{
			name:  "peers: default port, canonical IPv6",
			doc:   `peers = ["198.18.0.12", "[2001:DB8:0::1]", "[2001:db8::2]:9", "node-3.example"]`,
			bind:  DefaultBind,
			peers: []string{"198.18.0.12:7946", "[2001:db8::1]:7946", "[2001:db8::2]:9", "node-3.example:7946"},
		},
		{
			name: "max_moves integer",
			doc:  "[balance]\nmax_moves = 3",
			bind: DefaultBind, maxMoves: 3,
		},
		{
			name: "max_moves 0 is all",
			doc:  "[balance]\nmax_moves = 0",
			bind: DefaultBind, maxMoves: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "insecure = true\n" + tt.doc + "\n" + vip1
			c, err := parse("t.toml", []byte(doc), testSources(nil))
			if err != nil {
				t.Fatal(err)
			}
			if c.Bind != tt.bind || c.Advertise != tt.adv {
				t.Errorf("bind, advertise = %q, %q, want %q, %q", c.Bind, c.Advertise, tt.bind, tt.adv)
			}
			if !reflect.DeepEqual(c.Peers, tt.peers) {
				t.Errorf("peers = %q, want %q", c.Peers, tt.peers)
			}
			if strings.Contains(tt.doc, "max_moves") && c.Balance.MaxMoves != tt.maxMoves {
				t.Errorf("max_moves = %d, want %d", c.Balance.MaxMoves, tt.maxMoves)
			}
		})
	}
}

func TestSecretKeyFileResolution(t *testing.T) {
	tests := []struct {
		file, key, want string
	}{
		{"/etc/wackamole/wackamole.toml", "gossip.key", "/etc/wackamole/gossip.key"},
		{"/etc/wackamole/wackamole.toml", "/srv/k", "/srv/k"},
		{"conf/w.toml", "../k", "k"},
		{"", "k", "k"},
	}
	for _, tt := range tests {
		doc := fmt.Sprintf("secret_key_file = %q\n%s", tt.key, vip1)
		c, err := parse(tt.file, []byte(doc), testSources(map[string]string{tt.want: testKey}))
		if err != nil {
			t.Errorf("file %q, key %q: %v", tt.file, tt.key, err)
			continue
		}
		if c.SecretKeyFile != tt.want || string(c.SecretKey) != "0123456789abcdef" {
			t.Errorf("file %q, key %q: SecretKeyFile = %q, key %q; want %q", tt.file, tt.key, c.SecretKeyFile, c.SecretKey, tt.want)
		}
	}
}

// errCase is a configuration with exactly one problem.
type errCase struct {
	name string
	doc  string
	keys map[string]string // key files
	line int
	key  string
	msg  string // substring of the message
}

var errCases = []errCase{
	// TOML syntax.
	{name: "syntax missing value", doc: base + "quorum =\n" + vip1, line: 5, key: "quorum", msg: "expected value"},
	{name: "syntax duplicate key", doc: base + "quorum = 1\nquorum = 2\n" + vip1, line: 6, key: "quorum", msg: "already been defined"},
	{name: "syntax duplicate table", doc: base + "[arp]\n[arp]\n" + vip1, line: 6, msg: "already been defined"},

	// Unknown keys, in every table.
	{name: "unknown key typo", doc: base + "quorom = 2\n" + vip1, line: 5, key: "quorom", msg: `unknown key (did you mean "quorum"?)`},
	{name: "unknown key", doc: base + "colour = 2\n" + vip1, line: 5, key: "colour", msg: "unknown key"},
	{name: "unknown key case", doc: base + "Quorum = 2\n" + vip1, line: 5, key: "Quorum", msg: `did you mean "quorum"?`},
	{name: "unknown membership key", doc: base + "[membership]\nheartbeat = \"1s\"\n" + vip1, line: 6, key: "membership.heartbeat", msg: "unknown key"},
	{name: "unknown arp key", doc: base + "[arp]\nrepat = 2\n" + vip1, line: 6, key: "arp.repat", msg: `did you mean "repeat"?`},
	{name: "unknown balance key", doc: base + "[balance]\ninterval = \"4s\"\n" + vip1, line: 6, key: "balance.interval", msg: "unknown key"},
	{name: "unknown vip key", doc: base + vip1 + "adresses = []\n", line: 9, key: "vip[0].adresses", msg: `did you mean "addresses"?`},
	{name: "unknown dotted key", doc: base + "arp.repeats = 2\n" + vip1, line: 5, key: "arp.repeats", msg: `did you mean "repeat"?`},

	// Wrong types.
	{name: "type quorum", doc: base + "quorum = \"2\"\n" + vip1, line: 5, key: "quorum", msg: `want an integer, got string "2"`},
	{name: "type quorum float", doc: base + "quorum = 2.5\n" + vip1, line: 5, key: "quorum", msg: "want an integer, got float 2.5"},
	{name: "type insecure", doc: "insecure = \"yes\"\n" + vip1, line: 1, key: "insecure", msg: "want true or false"},
	{name: "type peers", doc: "peers = \"198.18.0.11\"\ninsecure = true\n" + vip1, line: 1, key: "peers", msg: "want an array of strings"},
	{name: "type peers element", doc: "peers = [\n  \"198.18.0.11\",\n  7946,\n]\ninsecure = true\n" + vip1, line: 3, key: "peers[1]", msg: "want a string, got integer 7946"},
	{name: "type duration", doc: base + "mature = 5\n" + vip1, line: 5, key: "mature", msg: `want a duration string such as "5s"`},
	{name: "type table", doc: base + "arp = 3\n" + vip1, line: 5, key: "arp", msg: "want a table, got integer 3"},
	{name: "type vip not array", doc: base + "[vip]\nname = \"a\"\n", line: 5, key: "vip", msg: "want an array of tables ([[vip]])"},
	{name: "type vip element", doc: base + "vip = [1]\n", line: 5, key: "vip[0]", msg: "want a table"},
	{name: "type vip name", doc: base + "[[vip]]\nname = 1\naddresses = [\"198.18.1.10/32\"]\n", line: 6, key: "vip[0].name", msg: "want a string"},
	{name: "type notify", doc: base + "[arp]\nnotify = \"198.18.0.1\"\n" + vip1, line: 6, key: "arp.notify", msg: "want an array of strings"},
	{name: "type date", doc: base + "mature = 1979-05-27\n" + vip1, line: 5, key: "mature", msg: "got a date/time"},
	{name: "integer out of range", doc: base + "quorum = 9999999999\n" + vip1, line: 5, key: "quorum", msg: "out of range"},

	// VIP names.
	{name: "duplicate VIP name", doc: base + vip1 + "\n[[vip]]\nname = \"www-1\"\naddresses = [\"198.18.1.11/32\"]\n", line: 11, key: "vip[1].name", msg: `duplicate VIP name "www-1" (first used by vip[0].name at line 7)`},
	{name: "missing VIP name", doc: base + "[[vip]]\naddresses = [\"198.18.1.10/32\"]\n", line: 5, key: "vip[0].name", msg: "missing"},
	{name: "bad VIP name", doc: base + "[[vip]]\nname = \"www 1\"\naddresses = [\"198.18.1.10/32\"]\n", line: 6, key: "vip[0].name", msg: "use only letters"},

	// Duplicate addresses.
	{name: "address in two VIPs", doc: base + vip1 + "\n[[vip]]\nname = \"www-2\"\naddresses = [\"198.18.1.10/32\"]\n", line: 12, key: "vip[1].addresses[0]", msg: "address 198.18.1.10 is already used by vip[0].addresses[0] at line 8"},
	{name: "address twice in a VIP", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\n  \"198.18.1.10/32\",\n  \"eth1:198.18.1.10/24\",\n]\n", line: 9, key: "vip[0].addresses[1]", msg: "already used by vip[0].addresses[0] at line 8"},
	{name: "IPv6 address twice", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"2001:db8::10/128\", \"eth1:2001:db8:0::10/64\"]\n", line: 7, key: "vip[0].addresses[1]", msg: "already used"},

	// Bad prefixes.
	{name: "bad prefix", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"198.18.0.300/32\"]\n", line: 7, key: "vip[0].addresses[0]", msg: `"198.18.0.300/32" is not a valid prefix`},
	{name: "bad prefix length", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"198.18.0.10/33\"]\n", line: 7, key: "vip[0].addresses[0]", msg: "not a valid prefix"},
	{name: "no prefix length", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"198.18.0.10\"]\n", line: 7, key: "vip[0].addresses[0]", msg: `has no prefix length: write "198.18.0.10/32"`},
	{name: "no prefix length IPv6", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"eth1:2001:db8::10\"]\n", line: 7, key: "vip[0].addresses[0]", msg: `write "eth1:2001:db8::10/128"`},
	{name: "network address", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"198.18.1.0/24\"]\n", line: 7, key: "vip[0].addresses[0]", msg: "network address"},
	{name: "broadcast address", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"198.18.1.255/24\"]\n", line: 7, key: "vip[0].addresses[0]", msg: "broadcast address"},
	{name: "multicast", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"ff02::1/128\"]\n", line: 7, key: "vip[0].addresses[0]", msg: "multicast"},
	{name: "loopback", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"127.0.0.2/32\"]\n", line: 7, key: "vip[0].addresses[0]", msg: "loopback"},
	{name: "IPv4-mapped", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"::ffff:198.18.1.10/128\"]\n", line: 7, key: "vip[0].addresses[0]", msg: `write "198.18.1.10/32"`},
	{name: "default route", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"198.18.1.10/0\"]\n", line: 7, key: "vip[0].addresses[0]", msg: "prefix length this short"},
	{name: "empty address", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"\"]\n", line: 7, key: "vip[0].addresses[0]", msg: "empty address"},

	// Interfaces.
	{name: "interface too long", doc: base + "interface = \"abcdefghijklmnop\"\n" + vip1, line: 5, key: "interface", msg: "too long (16 bytes, at most 15)"},
	{name: "interface slash", doc: base + "interface = \"eth/0\"\n" + vip1, line: 5, key: "interface", msg: `contains '/'`},
	{name: "interface dot", doc: base + "interface = \".\"\n" + vip1, line: 5, key: "interface", msg: "not allowed"},
	{name: "interface dotdot", doc: base + "interface = \"..\"\n" + vip1, line: 5, key: "interface", msg: "not allowed"},
	{name: "interface empty", doc: base + "interface = \"\"\n" + vip1, line: 5, key: "interface", msg: "empty"},
	{name: "interface space", doc: base + "interface = \"eth 0\"\n" + vip1, line: 5, key: "interface", msg: "whitespace"},
	{name: "vip interface", doc: base + vip1 + "interface = \"a b\"\n", line: 9, key: "vip[0].interface", msg: "whitespace"},
	{name: "address interface too long", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"abcdefghijklmnop:198.18.1.10/32\"]\n", line: 7, key: "vip[0].addresses[0]", msg: `interface name "abcdefghijklmnop" is too long`},
	{name: "address interface space", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"eth 1:198.18.1.10/32\"]\n", line: 7, key: "vip[0].addresses[0]", msg: "whitespace"},
	{name: "address interface bad prefix", doc: base + "[[vip]]\nname = \"a\"\naddresses = [\"eth1:198.18.1.300/32\"]\n", line: 7, key: "vip[0].addresses[0]", msg: `"eth1:198.18.1.300/32" is not a valid prefix`},

	// Quorum.
	{name: "quorum above peers", doc: base + "quorum = 4\n" + vip1, line: 5, key: "quorum", msg: "4 is more than the 3 configured peers"},
	{name: "quorum negative", doc: base + "quorum = -1\n" + vip1, line: 5, key: "quorum", msg: "negative"},
	{name: "quorum without peers", doc: "insecure = true\nquorum = 2\n" + vip1, line: 2, key: "quorum", msg: "more than the 0 configured peers"},

	// Durations.
	{name: "duration no unit", doc: base + "mature = \"5\"\n" + vip1, line: 5, key: "mature", msg: `"5" is not a duration`},
	{name: "duration negative", doc: base + "mature = \"-1s\"\n" + vip1, line: 5, key: "mature", msg: "-1s is negative"},
	{name: "drain_timeout negative", doc: base + "drain_timeout = \"-5s\"\n" + vip1, line: 5, key: "drain_timeout", msg: "negative"},
	{name: "membership duration", doc: base + "[membership]\nfailure_timeout = \"soon\"\n" + vip1, line: 6, key: "membership.failure_timeout", msg: "not a duration"},
	{name: "membership negative", doc: base + "[membership]\ngossip_interval = \"-20ms\"\n" + vip1, line: 6, key: "membership.gossip_interval", msg: "negative"},
	{name: "failure not above heartbeat", doc: base + "[membership]\nheartbeat_interval = \"1s\"\nfailure_timeout = \"1s\"\n" + vip1, line: 7, key: "membership.failure_timeout", msg: "not longer than heartbeat_interval"},
	{name: "arp interval negative", doc: base + "[arp]\ninterval = \"-1ms\"\n" + vip1, line: 6, key: "arp.interval", msg: "negative"},
	{name: "arp refresh bad", doc: base + "[arp]\nrefresh = \"1 m\"\n" + vip1, line: 6, key: "arp.refresh", msg: "not a duration"},

	// Timing.
	{name: "timing", doc: base + "timing = \"slow\"\n" + vip1, line: 5, key: "timing", msg: `"slow" is not a timing profile`},
	{name: "timing case", doc: base + "timing = \"LAN\"\n" + vip1, line: 5, key: "timing", msg: "not a timing profile"},

	// Keys.
	{name: "missing key file", doc: "node_name = \"a\"\n" + vip1, line: 0, key: "secret_key_file", msg: "missing: set secret_key_file"},
	{name: "missing key file insecure false", doc: "insecure = false\n" + vip1, line: 0, key: "secret_key_file", msg: "missing"},
	{name: "empty key file name", doc: "secret_key_file = \"\"\n" + vip1, line: 1, key: "secret_key_file", msg: "empty"},
	{name: "key file unreadable", doc: "secret_key_file = \"/nonexistent/k\"\n" + vip1, line: 1, key: "secret_key_file", msg: "open /nonexistent/k: file does not exist"},
	{name: "key not base64", doc: "secret_key_file = \"/k\"\n" + vip1, keys: map[string]string{"/k": "not*base64"}, line: 1, key: "secret_key_file", msg: "not valid base64"},
	{name: "key wrong length", doc: "secret_key_file = \"/k\"\n" + vip1, keys: map[string]string{"/k": "MDEyMzQ1Njc4OQ=="}, line: 1, key: "secret_key_file", msg: "decodes to 10 bytes, want 16, 24 or 32"},
	{name: "key empty", doc: "secret_key_file = \"/k\"\n" + vip1, keys: map[string]string{"/k": "\n"}, line: 1, key: "secret_key_file", msg: "key file is empty"},
	{name: "key file and insecure", doc: "secret_key_file = \"/k\"\ninsecure = true\n" + vip1, line: 2, key: "insecure", msg: "secret_key_file is set too"},

	// VIP list.
	{name: "no VIPs", doc: base, line: 0, key: "vip", msg: "no VIPs"},
	{name: "empty VIP array", doc: base + "vip = []\n", line: 5, key: "vip", msg: "no VIPs"},
	{name: "VIP without addresses", doc: base + "[[vip]]\nname = \"a\"\n", line: 5, key: "vip[0].addresses", msg: "no addresses"},
	{name: "VIP with empty addresses", doc: base + "[[vip]]\nname = \"a\"\naddresses = []\n", line: 7, key: "vip[0].addresses", msg: "no addresses"},
	{name: "inline VIP table", doc: base + "vip = [\n  {name = \"a\", addresses = [\"198.18.1.10/32\"]},\n  {name = \"b\", addresses = [\"198.18.1.300/32\"]},\n]\n", line: 7, key: "vip[1].addresses[0]", msg: "not a valid prefix"},

	// ARP.
	{name: "arp repeat 0", doc: base + "[arp]\nrepeat = 0\n" + vip1, line: 6, key: "arp.repeat", msg: "at least one"},
	{name: "arp notify bad", doc: base + "[arp]\nnotify = [\"198.18.0.1\", \"router\"]\n" + vip1, line: 6, key: "arp.notify[1]", msg: `"router" is not an IP address`},
	{name: "arp notify twice", doc: base + "[arp]\nnotify = [\"198.18.0.1\", \"198.18.0.1\"]\n" + vip1, line: 6, key: "arp.notify[1]", msg: "listed twice"},
	{name: "arp notify multicast", doc: base + "[arp]\nnotify = [\"224.0.0.1\"]\n" + vip1, line: 6, key: "arp.notify[0]", msg: "not a unicast address"},

	// Balance.
	{name: "max_moves negative", doc: base + "[balance]\nmax_moves = -1\n" + vip1, line: 6, key: "balance.max_moves", msg: "negative"},
	{name: "max_moves word", doc: base + "[balance]\nmax_moves = \"none\"\n" + vip1, line: 6, key: "balance.max_moves", msg: `want an integer or "all"`},

	// Host:port.
	{name: "bind port range", doc: "bind = \"198.18.0.11:99999\"\ninsecure = true\n" + vip1, line: 1, key: "bind", msg: "out of range"},
	{name: "bind port zero", doc: "bind = \"198.18.0.11:0\"\ninsecure = true\n" + vip1, line: 1, key: "bind", msg: "out of range"},
	{name: "bind port text", doc: "bind = \"198.18.0.11:gossip\"\ninsecure = true\n" + vip1, line: 1, key: "bind", msg: "not a number"},
	{name: "bind host name", doc: "bind = \"web1:7946\"\ninsecure = true\n" + vip1, line: 1, key: "bind", msg: "must be an IP address"},
	{name: "bind no host", doc: "bind = \":7946\"\ninsecure = true\n" + vip1, line: 1, key: "bind", msg: `write "0.0.0.0:7946"`},
	{name: "bind IPv6 no brackets", doc: "bind = \"2001:db8::1\"\ninsecure = true\n" + vip1, line: 1, key: "bind", msg: `need brackets: write "[2001:db8::1]:7946"`},
	{name: "bind is a VIP", doc: "bind = \"198.18.1.10:7946\"\ninsecure = true\n" + vip1, line: 1, key: "bind", msg: `address of VIP "www-1"`},
	{name: "advertise unspecified", doc: "advertise = \"0.0.0.0:7946\"\ninsecure = true\n" + vip1, line: 1, key: "advertise", msg: "unspecified"},
	{name: "advertise is a VIP", doc: "advertise = \"198.18.1.10\"\ninsecure = true\n" + vip1, line: 1, key: "advertise", msg: "address of VIP"},
	{name: "peer bad IPv4", doc: "peers = [\"198.18.0.300\"]\ninsecure = true\n" + vip1, line: 1, key: "peers[0]", msg: "not a valid IP address"},
	{name: "peer bad name", doc: "peers = [\"web_1!:7946\"]\ninsecure = true\n" + vip1, line: 1, key: "peers[0]", msg: "not an IP address or host name"},
	{name: "peer IPv6 with port no brackets", doc: "peers = [\"2001:db8::1:7946\"]\ninsecure = true\n" + vip1, line: 1, key: "peers[0]", msg: "need brackets"},
	{name: "peer twice", doc: "peers = [\"198.18.0.11\", \"198.18.0.11:7946\"]\ninsecure = true\n" + vip1, line: 1, key: "peers[1]", msg: "listed twice (also peers[0])"},
	{name: "peer is a VIP", doc: "peers = [\"198.18.1.10\"]\ninsecure = true\n" + vip1, line: 1, key: "peers[0]", msg: "address of VIP"},
	{name: "metrics_listen no port", doc: base + "metrics_listen = \"localhost\"\n" + vip1, line: 5, key: "metrics_listen", msg: "has no port"},
	{name: "metrics_listen bad host", doc: base + "metrics_listen = \"local host:9100\"\n" + vip1, line: 5, key: "metrics_listen", msg: "not an IP address or host name"},

	// Other strings.
	{name: "node_name space", doc: "node_name = \"web 1\"\ninsecure = true\n" + vip1, line: 1, key: "node_name", msg: "whitespace"},
	{name: "node_name empty", doc: "node_name = \"\"\ninsecure = true\n" + vip1, line: 1, key: "node_name", msg: "empty"},
	{name: "control_socket too long", doc: base + "control_socket = \"/" + strings.Repeat("s", 107) + "\"\n" + vip1, line: 5, key: "control_socket", msg: "too long for a unix socket"},
	{name: "control_group", doc: base + "control_group = \"a:b\"\n" + vip1, line: 5, key: "control_group", msg: "not a group name"},
	{name: "prefer twice", doc: base + vip1 + "prefer = [\"web1\", \"web1\"]\n", line: 9, key: "vip[0].prefer[1]", msg: "listed twice"},
	{name: "prefer bad name", doc: base + vip1 + "prefer = [\"web 1\"]\n", line: 9, key: "vip[0].prefer[0]", msg: "whitespace"},

	// Positions in awkward places.
	{name: "line after multi-line string", doc: "node_name = \"\"\"\nweb1\"\"\"\ncontrol_group = '''\n'''\ninsecure = true\ntiming = \"x\"\n" + vip1, line: 6, key: "timing", msg: "not a timing profile"},
	{name: "quoted key", doc: base + "\"quorum\" = -2\n" + vip1, line: 5, key: "quorum", msg: "negative"},
	{name: "inline table", doc: base + "arp = { repeat = 0 }\n" + vip1, line: 5, key: "arp.repeat", msg: "at least one"},
	{name: "sub-table of vip", doc: base + vip1 + "[vip.extra]\n", line: 9, key: "vip[0].extra", msg: "unknown key"},
}

func TestErrors(t *testing.T) {
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			const file = "/etc/wackamole.toml"
			c, err := parse(file, []byte(tt.doc), testSources(tt.keys))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Errorf("config returned with an error")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v (%T) is not Errors", err, err)
			}
			if len(errs) != 1 {
				t.Errorf("got %d errors, want 1:\n%v", len(errs), err)
			}
			e := errs[0]
			if e.File != file || e.Line != tt.line || e.Key != tt.key || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got  %s\nwant %s:%d: %s: ...%s...", e, file, tt.line, tt.key, tt.msg)
			}
			prefix := fmt.Sprintf("%s:%d: ", file, tt.line)
			if tt.line == 0 {
				prefix = file + ": "
			}
			if tt.key != "" {
				prefix += tt.key + ": "
			}
			if !strings.HasPrefix(e.Error(), prefix) {
				t.Errorf("message %q does not start with %q", e.Error(), prefix)
			}
		})
	}
}

func TestTooManyVIPs(t *testing.T) {
	var b strings.Builder
	b.WriteString(base)
	for i := range MaxVIPs + 1 {
		fmt.Fprintf(&b, "[[vip]]\nname = \"v%d\"\naddresses = [\"2001:db8::%x/128\"]\n", i, i+1)
	}
	_, err := parse("t.toml", []byte(b.String()), testSources(nil))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("got %v, want one error", err)
	}
	if e := errs[0]; e.Key != "vip" || e.Line != 5 || !strings.Contains(e.Msg, "1901 VIPs, at most 1900") {
		t.Errorf("got %v", e)
	}

	// MaxVIPs itself is fine.
	b.Reset()
	b.WriteString(base)
	for i := range MaxVIPs {
		fmt.Fprintf(&b, "[[vip]]\nname = \"v%d\"\naddresses = [\"2001:db8::%x/128\"]\n", i, i+1)
	}
	if _, err := parse("t.toml", []byte(b.String()), testSources(nil)); err != nil {
		t.Errorf("%d VIPs: %v", MaxVIPs, err)
	}
}

// TestInvalidFile checks that every problem of a file is reported at once,
// in line order.
func TestInvalidFile(t *testing.T) {
	_, err := Load("testdata/invalid.toml")
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load: %v, want Errors", err)
	}
	want := []string{
		`testdata/invalid.toml:6: quorom: unknown key (did you mean "quorum"?)`,
		`testdata/invalid.toml:7: quorum: 5 is more than the 3 configured peers: the group could never reach it`,
		`testdata/invalid.toml:8: mature: "5" is not a duration (write e.g. "5s", "1100ms" or "1m30s")`,
		`testdata/invalid.toml:9: timing: "slow" is not a timing profile: want "lan", "fast" or "wan"`,
		`testdata/invalid.toml:12: arp.repeat: 0: at least one announcement is needed`,
		`testdata/invalid.toml:16: vip[0].addresses[1]: "198.18.0.300/32" is not a valid prefix`,
		`testdata/invalid.toml:19: vip[1].name: duplicate VIP name "www-1" (first used by vip[0].name at line 15)`,
		`testdata/invalid.toml:20: vip[1].addresses[0]: address 198.18.1.10 is already used by vip[0].addresses[0] at line 16`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	// errors.As reaches a single *Error too.
	var e *Error
	if !errors.As(err, &e) || e.Line != 6 {
		t.Errorf("errors.As(*Error) = %v", e)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
	var errs Errors
	if errors.As(err, &errs) {
		t.Errorf("an I/O error came as Errors")
	}
}

func TestReadKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // despite the umask
			t.Fatal(err)
		}
		return p
	}
	ok600 := write("ok600", testKey, 0o600)
	ok640 := write("ok640", testKey+"\n", 0o640)
	world := write("world", testKey, 0o644)
	big := write("big", strings.Repeat("A", keyFileMax+1), 0o600)
	fifo := filepath.Join(dir, "fifo")
	if err := mkfifo(fifo); err != nil {
		t.Logf("no FIFO test: %v", err)
		fifo = ""
	}

	tests := []struct {
		name, file, err string
	}{
		{"0600", ok600, ""},
		{"0640", ok640, ""},
		{"world readable", world, "accessible by other users (mode 0644)"},
		{"too large", big, "too large"},
		{"directory", dir, "not a regular file"},
		{"device", "/dev/zero", "not a regular file"},
		{"missing", filepath.Join(dir, "missing"), "no such file"},
		{"fifo", fifo, "not a regular file"},
	}
	for _, tt := range tests {
		if tt.file == "" {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			doc := fmt.Sprintf("secret_key_file = %q\n%s", tt.file, vip1)
			c, err := parse("t.toml", []byte(doc), sources{readKey: readKeyFile, hostname: os.Hostname})
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if string(c.SecretKey) != "0123456789abcdef" {
					t.Errorf("key %q", c.SecretKey)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "t.toml:1: secret_key_file: ") {
				t.Errorf("got %v, want t.toml:1: secret_key_file: ...%s...", err, tt.err)
			}
		})
	}
}

func TestKeyNotInMessages(t *testing.T) {
	// A key of the wrong length must not show up in the error.
	const secret = "c2VjcmV0c2VjcmV0"
	doc := "secret_key_file = \"/k\"\n" + vip1
	_, err := parse("t.toml", []byte(doc), testSources(map[string]string{"/k": secret}))
	if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "secretsecret") {
		t.Errorf("error %v", err)
	}
}

func TestGenerateKey(t *testing.T) {
	k1, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := GenerateKey()
	if k1 == k2 {
		t.Error("two keys are equal")
	}
	key, err := decodeKey([]byte(k1 + "\n"))
	if err != nil || len(key) != 32 {
		t.Errorf("decodeKey(GenerateKey()) = %d bytes, %v", len(key), err)
	}
}

func TestQuorumNeeded(t *testing.T) {
	tests := []struct {
		peers, quorum, want int
	}{
		{0, 0, 1}, {1, 0, 1}, {2, 0, 2}, {3, 0, 2}, {4, 0, 3}, {5, 0, 3},
		{2, 1, 1}, {5, 5, 5},
	}
	for _, tt := range tests {
		c := &Config{Peers: make([]string, tt.peers), Quorum: tt.quorum}
		if got := c.QuorumNeeded(); got != tt.want {
			t.Errorf("%d peers, quorum %d: QuorumNeeded = %d, want %d", tt.peers, tt.quorum, got, tt.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	const doc = `insecure = true
[balance]
max_moves = 2
[[vip]]
name = "a"
addresses = ["198.18.1.10/32", "eth1:2001:db8::10/128"]
prefer = ["web1", "web2"]
[[vip]]
name = "b"
addresses = ["198.18.1.11/32"]
`
	fp := func(t *testing.T, doc string) string {
		t.Helper()
		c, err := parse("t.toml", []byte(doc), testSources(nil))
		if err != nil {
			t.Fatal(err)
		}
		return c.Fingerprint()
	}
	ref := fp(t, doc)
	if len(ref) != 16 || strings.Trim(ref, "0123456789abcdef") != "" {
		t.Fatalf("Fingerprint = %q, want 16 hex digits", ref)
	}

	same := map[string]string{
		"VIPs reordered": `insecure = true
[balance]
max_moves = 2
[[vip]]
name = "b"
addresses = ["198.18.1.11/32"]
[[vip]]
name = "a"
addresses = ["198.18.1.10/32", "eth1:2001:db8::10/128"]
prefer = ["web1", "web2"]
`,
		"addresses reordered":  strings.Replace(doc, `["198.18.1.10/32", "eth1:2001:db8::10/128"]`, `["eth1:2001:db8::10/128", "198.18.1.10/32"]`, 1),
		"interface changed":    strings.Replace(doc, "eth1:", "eth7:", 1),
		"default interface":    strings.Replace(doc, "insecure = true", "insecure = true\ninterface = \"bond0\"", 1),
		"VIP interface":        strings.Replace(doc, `name = "b"`, "name = \"b\"\ninterface = \"br0\"", 1),
		"address spelled long": strings.Replace(doc, "2001:db8::10", "2001:0db8:0:0::0010", 1),
		"node settings":        strings.Replace(doc, "insecure = true", "insecure = true\nnode_name = \"x\"\nquorum = 1\npeers = [\"198.18.0.1\"]\ntiming = \"wan\"", 1),
	}
	for name, d := range same {
		if got := fp(t, d); got != ref {
			t.Errorf("%s: fingerprint changed: %s, want %s", name, got, ref)
		}
	}

	different := map[string]string{
		"address changed":      strings.Replace(doc, "198.18.1.11/32", "198.18.1.12/32", 1),
		"prefix length":        strings.Replace(doc, "198.18.1.11/32", "198.18.1.11/24", 1),
		"address added":        strings.Replace(doc, `["198.18.1.11/32"]`, `["198.18.1.11/32", "198.18.1.12/32"]`, 1),
		"address moved to VIP": strings.Replace(strings.Replace(doc, `"198.18.1.10/32", `, "", 1), `["198.18.1.11/32"]`, `["198.18.1.11/32", "198.18.1.10/32"]`, 1),
		"prefer changed":       strings.Replace(doc, `"web2"`, `"web3"`, 1),
		"prefer reordered":     strings.Replace(doc, `["web1", "web2"]`, `["web2", "web1"]`, 1),
		"prefer removed":       strings.Replace(doc, `prefer = ["web1", "web2"]`, "", 1),
		"max_moves":            strings.Replace(doc, "max_moves = 2", "max_moves = 3", 1),
		"max_moves all":        strings.Replace(doc, "max_moves = 2", `max_moves = "all"`, 1),
		"VIP renamed":          strings.Replace(doc, `name = "b"`, `name = "c"`, 1),
	}
	for name, d := range different {
		if got := fp(t, d); got == ref {
			t.Errorf("%s: fingerprint unchanged", name)
		}
	}
}

func TestValidate(t *testing.T) {
	good := func() *Config {
		return &Config{
			NodeName:      "web1",
			Bind:          "198.18.0.11:7946",
			Peers:         []string{"198.18.0.11:7946", "198.18.0.12:7946"},
			SecretKey:     []byte("0123456789abcdef"),
			Interface:     "eth0",
			ControlSocket: DefaultControlSocket,
			Timing:        TimingLAN,
			ARP:           ARP{Repeat: 1},
			VIPs: []VIP{
				{Name: "a", Addresses: []Address{{Interface: "eth0", Prefix: netip.MustParsePrefix("198.18.1.10/32")}}},
				{Name: "b", Addresses: []Address{{Interface: "eth0", Prefix: netip.MustParsePrefix("198.18.1.11/32")}}, Line: 9},
			},
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
		{"unordered", func(c *Config) { c.VIPs[0].Name = "c" }, `line 9: vip[1]: VIPs must be ordered by name: "b" comes after "c"`},
		{"no key", func(c *Config) { c.SecretKey = nil }, "secret_key_file: the key is 0 bytes"},
		{"key and insecure", func(c *Config) { c.Insecure = true }, "insecure: a secret key is set too"},
		{"zero timing", func(c *Config) { c.Timing = "" }, `timing: "" is not a timing profile`},
		{"zero repeat", func(c *Config) { c.ARP.Repeat = 0 }, "arp.repeat: 0: at least one"},
		{"no interface", func(c *Config) { c.VIPs[1].Addresses[0].Interface = "" }, "line 9: vip[1].addresses[0]: interface name is empty"},
		{"damping reuse above suppress", func(c *Config) {
			c.Damping = Damping{Penalty: 1000, Suppress: 1000, Reuse: 1000, Max: 4000, HalfLife: time.Second}
		}, "damping.reuse: 1000 is not below suppress (1000)"},
		{"damping without half-life", func(c *Config) { c.Damping = Damping{Penalty: 1000, Suppress: 1000, Reuse: 500, Max: 4000} }, "damping.half_life: must be positive"},
		{"damping suppress above max", func(c *Config) {
			c.Damping = Damping{Penalty: 1000, Suppress: 5000, Reuse: 500, Max: 4000, HalfLife: time.Second}
		}, "damping.suppress: 5000 is above max_penalty (4000)"},
		{"negative penalty", func(c *Config) { c.Damping.Penalty = -1 }, "damping.penalty: -1 is negative"},
		{"realtime priority", func(c *Config) { c.RealtimePriority = 100 }, "realtime_priority: 100: SCHED_FIFO priorities are 1 to 99"},
		{"invalid prefix", func(c *Config) { c.VIPs[1].Addresses[0].Prefix = netip.Prefix{} }, "vip[1].addresses[0]: invalid prefix"},
		{"peer without port", func(c *Config) { c.Peers[1] = "198.18.0.12" }, `peers[1]: "198.18.0.12" has no port`},
		{"bad bind", func(c *Config) { c.Bind = "" }, "bind: empty"},
		{"negative max_moves", func(c *Config) { c.Balance.MaxMoves = -1 }, "balance.max_moves: -1 is negative"},
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

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{"f.toml", 12, "vip[1].addresses[0]", "bad"}, "f.toml:12: vip[1].addresses[0]: bad"},
		{Error{"f.toml", 0, "secret_key_file", "missing"}, "f.toml: secret_key_file: missing"},
		{Error{"f.toml", 3, "", "syntax"}, "f.toml:3: syntax"},
		{Error{"", 3, "k", "m"}, "line 3: k: m"},
		{Error{"", 0, "k", "m"}, "k: m"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	errs := Errors{&tests[0].e, &tests[1].e}
	if got, want := errs.Error(), "f.toml:12: vip[1].addresses[0]: bad\nf.toml: secret_key_file: missing"; got != want {
		t.Errorf("Errors: got %q, want %q", got, want)
	}
}

func TestParseDeterministic(t *testing.T) {
	data, err := os.ReadFile("testdata/invalid.toml")
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := parse("f", data, testSources(nil))
	for range 20 {
		if _, err2 := parse("f", data, testSources(nil)); err2.Error() != err1.Error() {
			t.Fatalf("errors differ between runs:\n%v\n---\n%v", err1, err2)
		}
	}
}

func mkfifo(name string) error { return syscall.Mkfifo(name, 0o600) }

func TestKeyFileWithSeveralKeys(t *testing.T) {
	k1, _ := GenerateKey()
	k2, _ := GenerateKey()
	keys, err := decodeKeys([]byte("# rotation, step 2\n" + k2 + "\n\n" + k1 + "\n"))
	if err != nil || len(keys) != 2 {
		t.Fatalf("decodeKeys: %d keys, %v", len(keys), err)
	}
	for _, bad := range []string{"", "# only a comment\n", k1 + "\n" + k1, k1 + "\nnot base64!", strings.Repeat(k1+"\n", 1) + strings.Repeat("x", 3)} {
		if _, err := decodeKeys([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	var many []string
	for i := 0; i < maxKeys+1; i++ {
		k, _ := GenerateKey()
		many = append(many, k)
	}
	if _, err := decodeKeys([]byte(strings.Join(many, "\n"))); err == nil {
		t.Error("accepted more than maxKeys keys")
	}
}

var defaultDamping = Damping{Penalty: DefaultDampingPenalty, Suppress: DefaultDampingSuppress, Reuse: DefaultDampingReuse, Max: DefaultDampingMax, HalfLife: DefaultDampingHalfLife}
