package cluster

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var threeVIPs = []netip.Addr{
	netip.MustParseAddr("198.18.0.100"),
	netip.MustParseAddr("198.18.0.101"),
	netip.MustParseAddr("198.18.0.102"),
}

// Node k is preferred for VIP k; its successor gets 100, the next 50 (and
// likewise advskew 0, 50, 100 for ucarp).
func TestRivalRotation(t *testing.T) {
	wantPrio := [3][3]int{ // [node-1][vip]
		{150, 50, 100},
		{100, 150, 50},
		{50, 100, 150},
	}
	wantSkew := [3][3]int{
		{0, 100, 50},
		{50, 0, 100},
		{100, 50, 0},
	}
	for k := 1; k <= 3; k++ {
		for i := 0; i < 3; i++ {
			if got := KeepalivedPriority(k, 3, i); got != wantPrio[k-1][i] {
				t.Errorf("KeepalivedPriority(node %d, VIP %d) = %d, want %d", k, i, got, wantPrio[k-1][i])
			}
			if got := UcarpSkew(k, 3, i); got != wantSkew[k-1][i] {
				t.Errorf("UcarpSkew(node %d, VIP %d) = %d, want %d", k, i, got, wantSkew[k-1][i])
			}
		}
		if got := PreferredNode(k-1, 3); got != k {
			t.Errorf("PreferredNode(%d, 3) = %d, want %d", k-1, got, k)
		}
	}
	// More nodes: priorities stay in 1..254 and strictly fall along the
	// rotation, so that the successor is always well defined.
	for n := 2; n <= 10; n++ {
		for i := 0; i < n; i++ {
			var prios, skews []int
			for d := 0; d < n; d++ {
				k := (i+d)%n + 1
				prios = append(prios, KeepalivedPriority(k, n, i))
				skews = append(skews, UcarpSkew(k, n, i))
			}
			for d := 1; d < n; d++ {
				if prios[d] >= prios[d-1] || prios[d] < 1 || skews[d] <= skews[d-1] || skews[d] > 255 {
					t.Fatalf("%d nodes, VIP %d: priorities %v, skews %v", n, i, prios, skews)
				}
			}
		}
	}
}

const wantKeepalivedN2 = `# keepalived.conf of n2 (node 2 of 3), written by wackalab.
# One VRRP instance per VIP; node K is preferred for VIP K.
global_defs {
	router_id n2
}

vrrp_instance VIP_1 {
	state BACKUP
	interface eth0
	virtual_router_id 51
	priority 100
	advert_int 1
	garp_master_delay 0
	garp_master_refresh 10
	virtual_ipaddress {
		198.18.0.100/32 dev eth0
	}
}

vrrp_instance VIP_2 {
	state MASTER
	interface eth0
	virtual_router_id 52
	priority 150
	advert_int 1
	garp_master_delay 0
	garp_master_refresh 10
	virtual_ipaddress {
		198.18.0.101/32 dev eth0
	}
}

vrrp_instance VIP_3 {
	state BACKUP
	interface eth0
	virtual_router_id 53
	priority 50
	advert_int 1
	garp_master_delay 0
	garp_master_refresh 10
	virtual_ipaddress {
		198.18.0.102/32 dev eth0
	}
}
`

func TestKeepalivedConfig(t *testing.T) {
	got, err := KeepalivedConfig("n2", 2, 3, threeVIPs, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got != wantKeepalivedN2 {
		t.Errorf("KeepalivedConfig(n2, 1s) =\n%s\nwant\n%s", got, wantKeepalivedN2)
	}

	// Other intervals: VRRPv3, which counts in centiseconds; the
	// instances are otherwise the same.
	for _, tt := range []struct {
		advert time.Duration
		line   string
	}{
		{10 * time.Millisecond, "advert_int 0.01\n"},
		{100 * time.Millisecond, "advert_int 0.10\n"},
		{1500 * time.Millisecond, "advert_int 1.50\n"},
	} {
		got, err := KeepalivedConfig("n2", 2, 3, threeVIPs, tt.advert)
		if err != nil {
			t.Fatalf("%v: %v", tt.advert, err)
		}
		norm := strings.Replace(got, "\t# VRRPv3 counts advert_int in centiseconds (v2: whole seconds).\n\tvrrp_version 3\n", "", 1)
		norm = strings.ReplaceAll(norm, "\t"+tt.line, "\tadvert_int 1\n")
		if norm == got || norm != wantKeepalivedN2 {
			t.Errorf("%v: want the v2 configuration with vrrp_version 3 and %q:\n%s", tt.advert, tt.line, got)
		}
	}

	for _, tt := range []struct {
		name   string
		k, n   int
		vips   []netip.Addr
		advert time.Duration
	}{
		{"advert below 10ms", 1, 3, threeVIPs, 5 * time.Millisecond},
		{"advert not in centiseconds", 1, 3, threeVIPs, 15 * time.Millisecond},
		{"advert above 255s", 1, 3, threeVIPs, 256 * time.Second},
		{"node 0", 0, 3, threeVIPs, time.Second},
		{"node beyond nodes", 4, 3, threeVIPs, time.Second},
		{"one node", 1, 1, threeVIPs, time.Second},
		{"no VIPs", 1, 3, nil, time.Second},
		{"IPv6 VIP", 1, 3, []netip.Addr{netip.MustParseAddr("2001:2::100")}, time.Second},
	} {
		if _, err := KeepalivedConfig("n1", tt.k, tt.n, tt.vips, tt.advert); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// keepalived's own configuration test accepts what we write, without a
// word (it warns, for one, when VRRPv2 has to round an interval).
func TestKeepalivedAcceptsConfig(t *testing.T) {
	bin, err := exec.LookPath("keepalived")
	if err != nil {
		t.Skip("keepalived not installed")
	}
	dir := t.TempDir()
	for _, advert := range []time.Duration{time.Second, 10 * time.Millisecond, 250 * time.Millisecond} {
		for k := 1; k <= 3; k++ {
			conf, err := KeepalivedConfig("n1", k, 3, threeVIPs, advert)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "keepalived.conf")
			if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "--config-test", "--use-file="+path).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "" {
				t.Errorf("advert %v node %d: keepalived --config-test: %v\n%s\n%s", advert, k, err, out, conf)
			}
		}
	}
}

func TestKeepalivedArgs(t *testing.T) {
	args := KeepalivedArgs("/tmp/x")
	for _, want := range []string{"--vrrp", "--dont-fork", "--log-console", "--no-syslog", "--use-file=/tmp/x/keepalived.conf", "--pid=/tmp/x/keepalived.pid", "--vrrp_pid=/tmp/x/vrrp.pid"} {
		if !slices.Contains(args, want) {
			t.Errorf("KeepalivedArgs lacks %q: %q", want, args)
		}
	}
}

func TestUcarpArgs(t *testing.T) {
	u := UcarpInstance{
		Node: 3, Nodes: 3, Index: 1,
		VIP:    netip.MustParseAddr("198.18.0.101"),
		SrcIP:  netip.MustParseAddr("198.18.0.13"),
		Advert: time.Second,
		Dir:    "/tmp/u",
	}
	got, err := UcarpArgs(u)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--interface=eth0",
		"--srcip=198.18.0.13",
		"--vhid=52",
		"--passfile=/tmp/u/pass",
		"--addr=198.18.0.101",
		"--advbase=1",
		"--advskew=50",
		"--preempt",
		"--shutdown",
		"--upscript=/tmp/u/vip-up.sh",
		"--downscript=/tmp/u/vip-down.sh",
	}
	if !slices.Equal(got, want) {
		t.Errorf("UcarpArgs =\n%q\nwant\n%q", got, want)
	}

	bad := []func(*UcarpInstance){
		func(u *UcarpInstance) { u.Advert = 1500 * time.Millisecond },
		func(u *UcarpInstance) { u.Advert = 0 },
		func(u *UcarpInstance) { u.Advert = 256 * time.Second },
		func(u *UcarpInstance) { u.Node = 4 },
		func(u *UcarpInstance) { u.Nodes = 1; u.Node = 1 },
		func(u *UcarpInstance) { u.Index = -1 },
		func(u *UcarpInstance) { u.Index = 205 },
		func(u *UcarpInstance) { u.VIP = netip.MustParseAddr("2001:2::1") },
		func(u *UcarpInstance) { u.SrcIP = netip.Addr{} },
	}
	for i, mod := range bad {
		v := u
		mod(&v)
		if _, err := UcarpArgs(v); err == nil {
			t.Errorf("case %d: %+v: no error", i, v)
		}
	}
}

// The scripts are valid sh and add and remove the VIP as a /32 on the
// interface ucarp names; the down script tolerates an absent address.
func TestUcarpScripts(t *testing.T) {
	for name, tt := range map[string]struct{ script, want string }{
		"up":   {UcarpUpScript, `ip addr add "$2/32" dev "$1"`},
		"down": {UcarpDownScript, `ip addr del "$2/32" dev "$1" 2>/dev/null || true`},
	} {
		if !strings.HasPrefix(tt.script, "#!/bin/sh\n") || !strings.Contains(tt.script, tt.want) {
			t.Errorf("%s script lacks %q:\n%s", name, tt.want, tt.script)
		}
		if sh, err := exec.LookPath("sh"); err == nil {
			cmd := exec.Command(sh, "-n")
			cmd.Stdin = strings.NewReader(tt.script)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s script: sh -n: %v\n%s", name, err, out)
			}
		}
	}
}

func TestRivalsPreferred(t *testing.T) {
	r := &Rivals{Nodes: []*RivalNode{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}, VIPs: threeVIPs}
	a, b, c := threeVIPs[0], threeVIPs[1], threeVIPs[2]
	tests := []struct {
		name    string
		holders map[netip.Addr][]string
		ok      bool
		why     string
	}{
		{"each its own", map[netip.Addr][]string{a: {"n1"}, b: {"n2"}, c: {"n3"}}, true, ""},
		{"moved", map[netip.Addr][]string{a: {"n2"}, b: {"n2"}, c: {"n3"}}, false, "198.18.0.100 held by [n2], want n1"},
		{"twice", map[netip.Addr][]string{a: {"n1"}, b: {"n2"}, c: {"n1", "n3"}}, false, "198.18.0.102 held by [n1 n3]"},
		{"nobody", map[netip.Addr][]string{a: {"n1"}, b: nil, c: {"n3"}}, false, "198.18.0.101 held by []"},
	}
	for _, tt := range tests {
		ok, why := r.Preferred(tt.holders)
		if ok != tt.ok || !strings.Contains(why, tt.why) {
			t.Errorf("%s: Preferred = %v %q", tt.name, ok, why)
		}
	}
}

func TestNewRivalsRejectsOptions(t *testing.T) {
	for _, opt := range []RivalOptions{
		{Kind: Keepalived},                                              // no Dir
		{Kind: "heartbeat", Dir: t.TempDir()},                           // unknown tool
		{Kind: Ucarp, Dir: t.TempDir(), Advert: 500 * time.Millisecond}, // ucarp: whole seconds
		{Kind: Keepalived, Dir: t.TempDir(), Nodes: 11},
	} {
		if r, err := NewRivals(t.Context(), opt); err == nil {
			r.Close()
			t.Errorf("NewRivals(%+v): no error", opt)
		}
	}
}
