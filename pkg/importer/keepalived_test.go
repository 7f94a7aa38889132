package importer

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

const kaDir = "testdata/keepalived"

func TestKeepalivedOneNode(t *testing.T) {
	file := filepath.Join(kaDir, "web1.conf")
	out, err := Keepalived(file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := roundTrip(t, out)
	c := l.cfg
	if c.NodeName != "web1" || c.Bind != "192.0.2.11:7946" {
		t.Errorf("node_name %q bind %q: want router_id web1, unicast_src_ip 192.0.2.11", c.NodeName, c.Bind)
	}
	if want := []string{"192.0.2.11:7946", "192.0.2.12:7946", "192.0.2.13:7946"}; !slices.Equal(c.Peers, want) {
		t.Errorf("peers %v, want %v", c.Peers, want)
	}
	if got, want := addrs(l.vip(t, "WWW_1")), []string{"eth0:192.0.2.101/32", "eth0:2001:db8:0:1::101/128"}; !slices.Equal(got, want) {
		t.Errorf("WWW_1 addresses %v, want %v", got, want)
	}
	// No mask is keepalived's /32; virtual_ipaddress_excluded moves too,
	// on its dev.
	if got, want := addrs(l.vip(t, "WWW_2")), []string{"eth0:192.0.2.102/32", "eth1:198.51.100.102/32"}; !slices.Equal(got, want) {
		t.Errorf("WWW_2 addresses %v, want %v", got, want)
	}
	for _, v := range c.VIPs {
		if len(v.Prefer) != 0 {
			t.Errorf("VIP %s prefers %v from one node's file: every node's output would differ", v.Name, v.Prefer)
		}
	}
	if len(c.Checks) != 1 {
		t.Fatalf("checks %+v: want chk_haproxy only (chk_unused is tracked by nobody)", c.Checks)
	}
	ch := c.Checks[0]
	if ch.Name != "chk_haproxy" || ch.Kind != "exec" || ch.Interval != 2*time.Second || ch.Timeout != time.Second || ch.Rise != 2 || ch.Fall != 3 {
		t.Errorf("check %+v", ch)
	}
	if !strings.HasSuffix(ch.Command[0], "/etc/keepalived/scripts/check_haproxy") || !slices.Equal(ch.Command[1:], []string{"--quick"}) {
		t.Errorf("check command %q", ch.Command)
	}
	if !strings.Contains(l.text, `on_acquire = "/etc/keepalived/scripts/notify.sh"`) || !strings.Contains(l.text, `on_release = "/etc/keepalived/scripts/notify.sh"`) {
		t.Errorf("hooks not carried over:\n%s", l.text)
	}
	if c.ARP.Repeat != 2 || c.ARP.Interval != 2*time.Second || c.ARP.Refresh != 30*time.Second {
		t.Errorf("arp %+v: want repeat 2, interval 2s (garp_master_delay 2), refresh 30s (vrrp_garp_master_refresh)", c.ARP)
	}
	for _, n := range []struct {
		line int
		text string
	}{
		{7, "notification_email"},
		{13, "enable_script_security"},
		{27, "vrrp_script chk_unused is tracked by no instance"},
		{34, "virtual_router_id 51"},
		{36, "advert_int 1"},
		{42, "authentication"},
		{47, "label eth0:www1"},
		{54, `the arguments "master" are dropped`},
		{56, "smtp_alert"},
		{77, "weight -20"},
		{83, "virtual_server 192.0.2.101 80"},
		{35, "priority 150 (vrrp_instance WWW_1): a prefer list needs every node's priority"},
	} {
		if !l.noted(file, n.line, n.text) {
			t.Errorf("no note for %s:%d %q in\n%s", file, n.line, n.text, l.text)
		}
	}
}

// With every node's file the priorities become prefer lists, the same
// in every node's output.
func TestKeepalivedEveryNode(t *testing.T) {
	files := []string{"web1.conf", "web2.conf", "web3.conf"}
	var fingerprints []string
	for i, f := range files {
		var others []Node
		for j, o := range files {
			if j != i {
				others = append(others, Node{Path: filepath.Join(kaDir, o)})
			}
		}
		out, err := Keepalived(filepath.Join(kaDir, f), Options{Others: others})
		if err != nil {
			t.Fatal(err)
		}
		l := roundTrip(t, out)
		if want := fmt.Sprintf("web%d", i+1); l.cfg.NodeName != want {
			t.Errorf("%s: node_name %q", f, l.cfg.NodeName)
		}
		if p := l.vip(t, "WWW_1").Prefer; !slices.Equal(p, []string{"web1", "web2", "web3"}) {
			t.Errorf("%s: WWW_1 prefer %v, want by priority web1 (150), web2 (100), web3 (50)", f, p)
		}
		if p := l.vip(t, "WWW_2").Prefer; !slices.Equal(p, []string{"web2", "web1", "web3"}) {
			t.Errorf("%s: WWW_2 prefer %v, want web2 (150), web1 (100), web3 (50)", f, p)
		}
		fingerprints = append(fingerprints, l.cfg.Fingerprint())
	}
	if fingerprints[0] != fingerprints[1] || fingerprints[1] != fingerprints[2] {
		t.Errorf("the nodes' VIP configurations differ: fingerprints %v", fingerprints)
	}
}

// A sync group is one VIP; include, "{" on its own line, a line
// continuation, a one-line block and "!" comments are read as keepalived
// reads them; nopreempt means no prefer.
func TestKeepalivedSyncGroupAndIncludes(t *testing.T) {
	file := filepath.Join(kaDir, "router.conf")
	out, err := Keepalived(file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := roundTrip(t, out)
	if len(l.cfg.VIPs) != 1 {
		t.Fatalf("VIPs %+v: want the sync group GW only", l.cfg.VIPs)
	}
	want := []string{"eth0:192.0.2.1/24", "eth1:198.51.100.1/24", "eth1:2001:db8:0:2::1/64"}
	if got := addrs(l.vip(t, "GW")); !slices.Equal(got, want) {
		t.Errorf("GW addresses %v, want %v", got, want)
	}
	if len(l.cfg.Peers) != 0 || !l.noted(file, 0, "no unicast_peer") {
		t.Errorf("multicast keepalived: peers %v, want none and a note", l.cfg.Peers)
	}
	if l.cfg.ARP.Repeat != 1 {
		t.Errorf("arp.repeat %d: want 1 (vrrp_garp_master_delay 0: no second burst)", l.cfg.ARP.Repeat)
	}
	inside := filepath.Join(kaDir, "conf.d", "inside.conf")
	outside := filepath.Join(kaDir, "conf.d", "outside.conf")
	for _, n := range []struct {
		file string
		line int
		text string
	}{
		{file, 8, "vrrp_version 3"},
		{file, 10, "vrrp_garp_master_repeat 5"},
		{file, 20, "notify_fault"},
		{inside, 8, "advert_int 0.5"},
		{inside, 10, "label eth1:gw"},
		{inside, 14, "track_interface"},
		{outside, 8, "brd 192.0.2.255"},
		{outside, 9, "virtual_routes"},
	} {
		if !l.noted(n.file, n.line, n.text) {
			t.Errorf("no note for %s:%d %q in\n%s", n.file, n.line, n.text, l.text)
		}
	}
	if !strings.Contains(l.text, `on_acquire = "/usr/local/sbin/gw-up"`) || !strings.Contains(l.text, `on_release = "/usr/local/sbin/gw-down"`) {
		t.Errorf("the sync group's notify_master and notify_backup are not the hooks:\n%s", l.text)
	}
	if p := l.vip(t, "GW").Prefer; len(p) != 0 {
		t.Errorf("prefer %v despite nopreempt", p)
	}
}

// The configurations the e2e tests and bench-compare give keepalived
// (package cluster) import, alone and with every node's.
func TestKeepalivedHarnessConfigs(t *testing.T) {
	vips := []netip.Addr{netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101"), netip.MustParseAddr("198.18.0.102")}
	for _, advert := range []time.Duration{time.Second, 10 * time.Millisecond} {
		dir := t.TempDir()
		var files []string
		for k := 1; k <= 3; k++ {
			conf, err := cluster.KeepalivedConfig(fmt.Sprintf("n%d", k), k, 3, vips, advert)
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(dir, fmt.Sprintf("n%d.conf", k))
			if err := os.WriteFile(f, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		alone, err := Keepalived(files[0], Options{})
		if err != nil {
			t.Fatal(err)
		}
		l := roundTrip(t, alone)
		if len(l.cfg.VIPs) != 3 || l.cfg.NodeName != "n1" || l.cfg.ARP.Repeat != 1 || l.cfg.ARP.Refresh != 10*time.Second {
			t.Errorf("advert %v: %d VIPs, node %q, arp %+v: want 3, n1, repeat 1 (garp_master_delay 0), refresh 10s", advert, len(l.cfg.VIPs), l.cfg.NodeName, l.cfg.ARP)
		}
		for i, v := range vips {
			vp := l.vip(t, fmt.Sprintf("VIP_%d", i+1))
			if got := addrs(vp); !slices.Equal(got, []string{"eth0:" + v.String() + "/32"}) {
				t.Errorf("VIP_%d addresses %v", i+1, got)
			}
		}
		if !strings.Contains(l.text, "advert_int") || !strings.Contains(l.text, "virtual_router_id") {
			t.Errorf("advert_int and virtual_router_id are not listed:\n%s", alone)
		}
		all, err := Keepalived(files[0], Options{Others: []Node{{Path: files[1]}, {Path: files[2]}}})
		if err != nil {
			t.Fatal(err)
		}
		la := roundTrip(t, all)
		for i := range vips {
			p := la.vip(t, fmt.Sprintf("VIP_%d", i+1)).Prefer
			nodes := []int{1, 2, 3}
			slices.SortFunc(nodes, func(a, b int) int {
				return cluster.KeepalivedPriority(b, 3, i) - cluster.KeepalivedPriority(a, 3, i)
			})
			var want []string
			for _, k := range nodes {
				want = append(want, fmt.Sprintf("n%d", k))
			}
			if !slices.Equal(p, want) {
				t.Errorf("advert %v: VIP_%d prefer %v, want %v (by priority)", advert, i+1, p, want)
			}
		}
	}
}

func TestKeepalivedErrors(t *testing.T) {
	for _, tt := range []struct {
		name, text, want string
	}{
		{"unclosed block", "vrrp_instance A {\n  interface eth0\n", "x.conf:1: the block opened here is not closed"},
		{"stray brace", "global_defs {\n}\n}\n", `x.conf:3: "}" closes no block`},
		{"unclosed quote", "vrrp_script s {\n  script \"/bin/true\n}\n", "x.conf:2: a double-quoted string is not closed"},
		{"brace without keyword", "{\n}\n", `x.conf:1: "{" opens a block that belongs to no keyword`},
		{"no VIP", "vrrp_instance A {\n interface eth0\n}\n", "no vrrp_instance with a virtual_ipaddress"},
		{"include loop", "include x.conf\n", "include cycle"},
		{"deep", strings.Repeat("a {\n", 40) + strings.Repeat("}\n", 40), "nested more than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "x.conf")
			if err := os.WriteFile(f, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := Keepalived(f, Options{})
			if err == nil || !strings.Contains(err.Error(), strings.Replace(tt.want, "x.conf", f, 1)) {
				t.Errorf("error %v, want %q (output %q)", err, tt.want, out)
			}
			var se *SyntaxError
			if strings.Contains(tt.want, "x.conf:") && !errors.As(err, &se) {
				t.Errorf("%T is not a SyntaxError", err)
			}
		})
	}
	if _, err := Keepalived(filepath.Join(kaDir, "missing.conf"), Options{}); err == nil {
		t.Error("no error for a missing file")
	}
}

// Addresses that keepalived reads and wackamole would refuse are left out
// with a note, not passed on to fail the check.
func TestKeepalivedBadAddresses(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "ka.conf")
	text := "vrrp_instance A {\n interface eth0\n virtual_ipaddress {\n  300.1.1.1\n  192.0.2.10-12/32\n  192.0.2.20/40\n }\n unicast_peer {\n  peer.example\n }\n}\n"
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Keepalived(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := roundTrip(t, out)
	if got := addrs(l.vip(t, "A")); !slices.Equal(got, []string{"eth0:192.0.2.10/32", "eth0:192.0.2.11/32", "eth0:192.0.2.12/32"}) {
		t.Errorf("addresses %v: want the range only", got)
	}
	for _, n := range []struct {
		line int
		text string
	}{{4, "not an IP address"}, {6, "not a prefix length"}, {9, "not an IP address: not a peer"}} {
		if !l.noted(f, n.line, n.text) {
			t.Errorf("no note at line %d %q:\n%s", n.line, n.text, l.text)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"/bin/check a b", []string{"/bin/check", "a", "b"}},
		{`/bin/check "a b" 'c d'`, []string{"/bin/check", "a b", "c d"}},
		{"  spaced\tout  ", []string{"spaced", "out"}},
		{`x ""`, []string{"x", ""}},
	} {
		got, err := splitArgs(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := splitArgs(`a "b`); err == nil {
		t.Error("an unclosed quote is accepted")
	}
}

func FuzzKeepalived(f *testing.F) {
	for _, name := range []string{"web1.conf", "router.conf", "conf.d/inside.conf"} {
		data, err := os.ReadFile(filepath.Join(kaDir, name))
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
		Keepalived(path, Options{}) // must not panic nor hang
	})
}
