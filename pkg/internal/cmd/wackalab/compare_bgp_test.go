package main

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

func TestParseCompareArgsBGP(t *testing.T) {
	cfg, err := parseCompareArgs([]string{"-bgp"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range cfg.Tools {
		names = append(names, tl.Name)
	}
	if !cfg.BGP || cfg.Router != cluster.BIRD || strings.Join(names, ",") != defaultBGPTools || !slices.Equal(cfg.Scenarios, bgpScenarios) || cfg.Runs != 3 {
		t.Errorf("defaults: %+v", cfg)
	}
	if cfg.Tools[0].Announce != "owner" || cfg.Tools[1].Announce != "all" || cfg.Tools[2].Kind != kindExaBGP || cfg.Tools[0].Kind != kindWackamoleBGP {
		t.Errorf("tools: %+v", cfg.Tools)
	}
	cfg, err = parseCompareArgs([]string{"-bgp", "-router", "frr", "-tools", "exabgp", "-scenarios", "drain,crash", "-runs", "1"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Router != cluster.FRR || len(cfg.Tools) != 1 || !slices.Equal(cfg.Scenarios, []compareScenario{compareDrain, compareCrash}) {
		t.Errorf("parsed: %+v", cfg)
	}
	// Without -bgp, nothing changes: drain is not an L2 scenario.
	cfg, err = parseCompareArgs(nil)
	if err != nil || cfg.BGP || len(cfg.Scenarios) != 3 || cfg.Tools[0].Name != "wackamole-lan" {
		t.Errorf("L2 defaults: %+v, %v", cfg, err)
	}
	for _, args := range [][]string{
		{"-scenarios", "drain"},
		{"-tools", "exabgp"},
		{"-router", "frr"},
		{"-bgp", "-tools", "keepalived-1"},
		{"-bgp", "-tools", "exabgp,exabgp"},
		{"-bgp", "-scenarios", "meteor"},
		{"-bgp", "-scenarios", ""},
		{"-bgp", "-router", "cisco"},
	} {
		if _, err := parseCompareArgs(args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestAnalyzeBGPRun(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const n1, n2, n3 holderSet = 1, 2, 4
	owner := []holderSet{n1, n2, n3}
	all := []holderSet{n1 | n2 | n3, n1 | n2 | n3}
	tests := []struct {
		name    string
		samples []holderSample
		fault   compareFault
		want    bgpAnalysis
	}{
		{
			name:    "owner crash: BFD moves the route to the standby",
			samples: samplesAt(t0, -200, owner, 290, []holderSet{n2, n2, n3}),
			fault:   compareFault{Scenario: compareCrash, VIP: 0, Owner: 0, At: t0},
			want:    bgpAnalysis{Rerouted: true, Reroute: 290 * time.Millisecond, To: "n2"},
		},
		{
			// Make-before-break: ECMP over the old and the new owner is
			// not yet a reroute; the old owner's withdrawal is.
			name:    "drain, make-before-break",
			samples: samplesAt(t0, -200, owner, 10, []holderSet{n1 | n3, n2, n3}, 230, []holderSet{n3, n2, n3}),
			fault:   compareFault{Scenario: compareDrain, VIP: 0, Owner: 0, At: t0},
			want:    bgpAnalysis{Rerouted: true, Reroute: 230 * time.Millisecond, To: "n3"},
		},
		{
			name:    "ECMP: the crashed node leaves the multipath route",
			samples: samplesAt(t0, -200, all, 2400, []holderSet{n2 | n3, n2 | n3}),
			fault:   compareFault{Scenario: compareCrash, VIP: 1, Owner: 0, At: t0},
			want:    bgpAnalysis{Rerouted: true, Reroute: 2400 * time.Millisecond, To: "n2,n3"},
		},
		{
			name:    "no route at all is no reroute",
			samples: samplesAt(t0, -200, owner, 100, []holderSet{0, n2, n3}, 500, []holderSet{n2, n2, n3}),
			fault:   compareFault{Scenario: compareCrash, VIP: 0, Owner: 0, At: t0},
			want:    bgpAnalysis{Rerouted: true, Reroute: 500 * time.Millisecond, To: "n2"},
		},
		{
			name:    "partition of an ExaBGP node: nothing moves",
			samples: samplesAt(t0, -200, all),
			fault:   compareFault{Scenario: comparePartition, VIP: 0, Owner: 0, At: t0, Healed: t0.Add(8 * time.Second)},
			want:    bgpAnalysis{},
		},
		{
			name:    "a change before the fault does not count",
			samples: samplesAt(t0, -500, []holderSet{n2, n2, n3}, -200, owner),
			fault:   compareFault{Scenario: compareGraceful, VIP: 0, Owner: 0, At: t0},
			want:    bgpAnalysis{},
		},
	}
	for _, tt := range tests {
		if got := analyzeBGPRun(tt.samples, tt.fault); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestRouteHolderSets(t *testing.T) {
	vips := []netip.Addr{netip.MustParseAddr("198.18.2.100"), netip.MustParseAddr("198.18.2.101"), netip.MustParseAddr("198.18.2.102")}
	nodes := []netip.Addr{netip.MustParseAddr("198.18.0.11"), netip.MustParseAddr("198.18.0.12"), netip.MustParseAddr("198.18.0.13")}
	host := func(a string) *net.IPNet { return &net.IPNet{IP: net.ParseIP(a).To4(), Mask: net.CIDRMask(32, 32)} }
	routes := []netlink.Route{
		{Dst: &net.IPNet{IP: net.ParseIP("198.18.0.0").To4(), Mask: net.CIDRMask(24, 32)}}, // connected
		{Dst: host("198.18.2.100"), Gw: net.ParseIP("198.18.0.12")},
		{Dst: host("198.18.2.101"), MultiPath: []*netlink.NexthopInfo{{Gw: net.ParseIP("198.18.0.11")}, {Gw: net.ParseIP("198.18.0.13")}}},
		{Dst: host("198.18.2.102"), Gw: net.ParseIP("198.18.0.99")}, // not a node
		{Dst: host("198.18.2.200"), Gw: net.ParseIP("198.18.0.11")}, // not a VIP
		{}, // default route
	}
	got := routeHolderSets(routes, vips, nodes)
	if want := []holderSet{2, 5, 0}; !slices.Equal(got, want) {
		t.Errorf("holder sets %v, want %v", got, want)
	}
}

func TestEveryNode(t *testing.T) {
	a, b := netip.MustParseAddr("198.18.2.100"), netip.MustParseAddr("198.18.2.101")
	names := []string{"n1", "n2", "n3"}
	if ok, why := everyNode(map[netip.Addr][]string{a: names, b: names}, names); !ok {
		t.Errorf("every node: %s", why)
	}
	if ok, why := everyNode(map[netip.Addr][]string{a: names, b: {"n1", "n3"}}, names); ok || !strings.Contains(why, "198.18.2.101 via [n1 n3]") {
		t.Errorf("a node missing: %v %q", ok, why)
	}
}

func TestBGPReportFormat(t *testing.T) {
	tools, err := parseBGPTools(defaultBGPTools)
	if err != nil {
		t.Fatal(err)
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	mk := func(tool string, s compareScenario, n int, outage, reroute time.Duration, lost int) bgpRun {
		r := bgpRun{Tool: tool, Scenario: s, Run: n, Outage: outage, Lost: lost, PollGap: ms(14)}
		if reroute > 0 {
			r.bgpAnalysis = bgpAnalysis{Rerouted: true, Reroute: reroute, To: "n2"}
		}
		return r
	}
	killed := mk("exabgp", compareGraceful, 1, ms(12), ms(10000), 0)
	killed.Note = "did not exit within 10s of SIGTERM: killed"
	rep := bgpReport{
		Date: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), Runs: 2, Hold: 8 * time.Second,
		Router: "bird, eBGP", Tools: tools, Scenarios: bgpScenarios,
		Results: []bgpRun{
			mk("wackamole-bgp-owner", compareCrash, 1, ms(290), ms(290), 28),
			mk("wackamole-bgp-owner", compareCrash, 2, ms(310), ms(300), 30),
			mk("wackamole-bgp-owner", compareGraceful, 1, ms(11), ms(9), 0),
			mk("wackamole-bgp-owner", compareDrain, 1, ms(11), ms(230), 1),
			mk("wackamole-bgp-all", compareCrash, 1, ms(240), ms(240), 23),
			mk("exabgp", compareCrash, 1, ms(2400), ms(2400), 240),
			killed,
			mk("exabgp", compareDrain, 1, ms(12), ms(150), 0),
			mk("exabgp", comparePartition, 1, ms(12), 0, 0),
			mk("wackamole-bgp-all", comparePartition, 1, ms(57), ms(470), 0),
			{Tool: "exabgp", Scenario: comparePartition, Run: 2, Err: errors.New("boom")},
		},
		Versions: []string{"router: BIRD version 2.0.12"},
	}
	out := rep.format()
	for _, want := range []string{
		"BGP failover comparison, 3 nodes announcing 3 VIPs to one router, client behind the router pinging every 10 ms, 2 run(s) per row (2026-12-01 12:00 UTC)",
		"tool                 scenario   runs  outage ms      reroute ms     lost probes",
		"wackamole-bgp-owner  crash      2     300 (290-310)  295 (290-300)  28 30",
		"wackamole-bgp-owner  drain      1     11             230            1",
		"exabgp               partition  1/2   12             none           0",
		"met: owner crash, median outage 300 ms <= 350 ms",
		"met: wackamole-bgp-owner graceful, no lost probe (lost: 0)",
		"MISSED: wackamole-bgp-owner drain, no lost probe (lost: 1)",
		"met: wackamole-bgp-owner crash no worse than exabgp (median outage 300 vs 2400 ms, most lost 30 vs 240)",
		"MISSED: wackamole-bgp-owner drain no worse than exabgp (median outage 11 vs 12 ms, most lost 1 vs 0)",
		"met: wackamole-bgp-all crash no worse than exabgp",
		"met: wackamole-bgp-all partition no worse than exabgp (median outage 57 vs 12 ms, most lost 0 vs 0, no probe lost by either)",
		"  exabgp               ExaBGP's healthcheck on every node",
		"  router               bird, eBGP",
		"Versions:\n  router: BIRD version 2.0.12\n",
		"Route polls: every 10 ms, at worst 14 ms apart",
		"Notes:\n  exabgp graceful run 1: did not exit within 10s of SIGTERM: killed\n",
		"Failures:\n  exabgp partition run 2: boom\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// Rows without results are left out.
	if strings.Contains(out, "wackamole-bgp-all    graceful") {
		t.Errorf("row without runs:\n%s", out)
	}
}

func TestBGPRunLine(t *testing.T) {
	r := bgpRun{Tool: "exabgp", Scenario: comparePartition, Run: 1, VIP: netip.MustParseAddr("198.18.2.100"), From: "n1", Outage: 12 * time.Millisecond, Sent: 1100}
	want := "exabgp              partition run 1/3: 198.18.2.100 n1 -> not rerouted: outage 12 ms, 0 of 1100 probes lost"
	if got := r.line(3); got != want {
		t.Errorf("line =\n%q\nwant\n%q", got, want)
	}
	r.bgpAnalysis = bgpAnalysis{Rerouted: true, Reroute: 290 * time.Millisecond, To: "n2,n3"}
	r.Note = "killed"
	if got := r.line(3); !strings.Contains(got, "n1 -> n2,n3 after 290 ms") || !strings.HasSuffix(got, "(killed)") {
		t.Errorf("line = %q", got)
	}
}

func TestPartitionScriptKeepsTheRouter(t *testing.T) {
	got := partitionScript("vn1", netip.MustParseAddr("198.18.1.2"), netip.MustParseAddr("198.18.0.1"))
	for _, want := range []string{
		"iifname \"vn1\" ip daddr 198.18.1.2 accept",
		"iifname \"vn1\" ip daddr 198.18.0.1 accept",
		"oifname \"vn1\" ip saddr 198.18.0.1 accept",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("partition script lacks %q:\n%s", want, got)
		}
	}
}
