package importer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const wkDir = "testdata/wackamole"

func TestWackamoleOneNode(t *testing.T) {
	file := filepath.Join(wkDir, "web1.conf")
	out, err := Wackamole(file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := roundTrip(t, out)
	c := l.cfg
	if len(c.VIPs) != 3 {
		t.Fatalf("%d VIPs, want the 3 virtual interfaces", len(c.VIPs))
	}
	for i, name := range []string{"192.0.2.101", "192.0.2.102", "192.0.2.103"} {
		if got := addrs(l.vip(t, name)); !slices.Equal(got, []string{"eth0:" + name + "/32"}) {
			t.Errorf("VIP %d %s: addresses %v", i, name, got)
		}
		if p := l.vip(t, name).Prefer; len(p) != 0 {
			t.Errorf("VIP %s prefers %v from one node's file", name, p)
		}
	}
	if c.Mature != 5*time.Second || c.Balance.MaxMoves != 0 || c.ARP.Cache != 90*time.Second {
		t.Errorf("mature %v, max_moves %d, arp.cache %v: want 5s, all (0), 90s", c.Mature, c.Balance.MaxMoves, c.ARP.Cache)
	}
	if len(c.ARP.Notify) != 1 || c.ARP.Notify[0].String() != "192.0.2.1" {
		t.Errorf("arp.notify %v: want the /32 router only", c.ARP.Notify)
	}
	for _, n := range []struct {
		line int
		text string
	}{
		{0, "no peers"},
		{5, "Spread = 4803"},
		{6, "SpreadRetryInterval"},
		{7, "Group = wack1"},
		{8, "Control = /var/run/wack.it"},
		{14, "Balance Interval = 4s"},
		{19, "Prefer"},
		{22, "throttle 16"},
		{23, "a range of hosts"},
		{23, "ping"},
		{33, "RunDynamic /usr/local/lib/wack-hooks.so:flush_cache post up"},
	} {
		if !l.noted(file, n.line, n.text) {
			t.Errorf("no note for %s:%d %q in\n%s", file, n.line, n.text, l.text)
		}
	}
}

// A braced group is one VIP with several addresses; with every node's
// file (named) the Prefer lines become the same prefer lists on each.
func TestWackamoleGroupsAndPrefer(t *testing.T) {
	fw1, fw2 := filepath.Join(wkDir, "fw1.conf"), filepath.Join(wkDir, "fw2.conf")
	var prints []string
	for _, tt := range []struct {
		self, other, otherName, name string
	}{{fw1, fw2, "fw2", "fw1"}, {fw2, fw1, "fw1", "fw2"}} {
		out, err := Wackamole(tt.self, Options{NodeName: tt.name, Others: []Node{{Name: tt.otherName, Path: tt.other}}})
		if err != nil {
			t.Fatal(err)
		}
		l := roundTrip(t, out)
		if l.cfg.NodeName != tt.name {
			t.Errorf("node_name %q, want %q", l.cfg.NodeName, tt.name)
		}
		if got := addrs(l.vip(t, "192.0.2.2")); !slices.Equal(got, []string{"em0:192.0.2.2/32", "em1:198.51.100.2/32"}) {
			t.Errorf("the group's addresses %v", got)
		}
		if got := addrs(l.vip(t, "192.0.2.4")); !slices.Equal(got, []string{"eth0:192.0.2.4/32"}) {
			t.Errorf("an address without interface: %v, want the default eth0", got)
		}
		if p := l.vip(t, "192.0.2.2").Prefer; !slices.Equal(p, []string{"fw1"}) {
			t.Errorf("%s: 192.0.2.2 prefer %v, want fw1", tt.name, p)
		}
		if p := l.vip(t, "192.0.2.3").Prefer; !slices.Equal(p, []string{"fw2"}) {
			t.Errorf("%s: 192.0.2.3 prefer %v, want fw2", tt.name, p)
		}
		if l.cfg.Mature != 2*time.Minute || l.cfg.Balance.MaxMoves != 1 || l.cfg.ARP.Cache != 0 {
			t.Errorf("mature %v, max_moves %d, arp.cache %v: want 2m, 1, 0 (notify none)", l.cfg.Mature, l.cfg.Balance.MaxMoves, l.cfg.ARP.Cache)
		}
		if !l.noted(tt.self, 10, "1h read as 1h0m0s") || !l.noted(tt.self, 19, "network hint n24") {
			t.Errorf("notes missing:\n%s", l.text)
		}
		prints = append(prints, l.cfg.Fingerprint())
	}
	if prints[0] != prints[1] {
		t.Errorf("the two nodes' VIP configurations differ: %v", prints)
	}
	if _, err := Wackamole(fw1, Options{Others: []Node{{Path: fw2}}}); err == nil || !strings.Contains(err.Error(), "NAME=") {
		t.Errorf("an unnamed other node: %v, want a request for NAME=FILE", err)
	}
}

func TestWackamoleErrors(t *testing.T) {
	for _, tt := range []struct {
		name, text, want string
	}{
		{"unknown setting", "Mature = 5s\nFrobnicate = 1\n", `x.conf:2: "Frobnicate" is not a wackamole.conf setting`},
		{"no prefix length", "VirtualInterfaces {\n  eth0:192.0.2.1\n}\n", "x.conf:2: \"eth0:192.0.2.1\": want IF:A.B.C.D/LEN"},
		{"not IPv4", "VirtualInterfaces { eth0:2001:db8::1/64 }\n", "x.conf:1:"},
		{"unclosed", "VirtualInterfaces {\n eth0:192.0.2.1/32\n", "x.conf:2: the file ends where"},
		{"bad time", "Mature = 5\n", `x.conf:1: "5" is not a time`},
		{"bad balance", "Balance { AcquisitionsPerRound = many }\n", "x.conf:1: AcquisitionsPerRound = many"},
		{"bad event", "RunDynamic m:f on sideways\n", "x.conf:1: want on up"},
		{"no VIFs", "Mature = 5s\n", "no VirtualInterfaces"},
		{"unclosed quote", "Control = \"/var/run/x\n", "x.conf:1: a quoted string is not closed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "x.conf")
			if err := os.WriteFile(f, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := Wackamole(f, Options{})
			if err == nil || !strings.Contains(err.Error(), strings.Replace(tt.want, "x.conf", f, 1)) {
				t.Errorf("error %v, want %q (output %q)", err, tt.want, out)
			}
		})
	}
}

// Duplicate addresses are skipped with a note; a Prefer without a prefix
// length (which the original looked up as a host name) is read as a /32.
func TestWackamoleOddities(t *testing.T) {
	f := filepath.Join(t.TempDir(), "x.conf")
	text := "prefer 192.0.2.11\nvips {\n eth0:192.0.2.11/24\n eth0:192.0.2.11/24\n}\nARP-CACHE = 30S\nnotify arp-cache\n"
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Wackamole(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := roundTrip(t, out)
	if len(l.cfg.VIPs) != 1 || !l.noted(f, 4, "listed again (first at line 3)") || !l.noted(f, 1, "read as 192.0.2.11/32") {
		t.Errorf("duplicates and bare Prefer:\n%s", l.text)
	}
	if l.cfg.ARP.Cache != 30*time.Second {
		t.Errorf("arp.cache %v: want 30s (keywords and units in any case)", l.cfg.ARP.Cache)
	}
}

func FuzzWackamole(f *testing.F) {
	for _, name := range []string{"web1.conf", "fw1.conf"} {
		data, err := os.ReadFile(filepath.Join(wkDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.conf")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		Wackamole(path, Options{}) // must not panic
	})
}
