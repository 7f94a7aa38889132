package main

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// samplesAt builds samples from (ms after t0, holders of each VIP).
func samplesAt(t0 time.Time, steps ...any) []holderSample {
	var out []holderSample
	for i := 0; i+1 < len(steps); i += 2 {
		out = append(out, holderSample{At: t0.Add(time.Duration(steps[i].(int)) * time.Millisecond), Holders: steps[i+1].([]holderSet)})
	}
	return out
}

func TestAnalyzeRun(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	const n1, n2, n3 holderSet = 1, 2, 4
	steady := []holderSet{n1, n2, n3}
	tests := []struct {
		name    string
		samples []holderSample
		end     int // ms
		fault   compareFault
		want    runAnalysis
		splits  int
	}{
		{
			// The killed owner keeps the address on its dead interface:
			// that is no overlap.
			name:    "crash",
			samples: samplesAt(t0, -200, steady, 930, []holderSet{n1 | n2, n2, n3}),
			end:     4000,
			fault:   compareFault{Scenario: compareCrash, VIP: 0, Owner: 0, At: t0},
			want:    runAnalysis{TookOver: true, Takeover: 930 * time.Millisecond, To: "n2"},
		},
		{
			name:    "crash, nobody takes over",
			samples: samplesAt(t0, -200, steady),
			end:     4000,
			fault:   compareFault{Scenario: compareCrash, VIP: 0, Owner: 0, At: t0},
			want:    runAnalysis{},
		},
		{
			// Make-before-break: the new owner adds, the old one removes.
			name:    "graceful hand-over",
			samples: samplesAt(t0, -200, steady, 10, []holderSet{n1, n2 | n3, n3}, 30, []holderSet{n1, n3, n3}),
			end:     4000,
			fault:   compareFault{Scenario: compareGraceful, VIP: 1, Owner: 1, At: t0},
			want:    runAnalysis{TookOver: true, Takeover: 10 * time.Millisecond, To: "n3", HandOver: 20 * time.Millisecond},
		},
		{
			// Two owners for longer than a hand-over may take, although
			// the nodes hear each other: a split brain.
			name:    "graceful, long overlap",
			samples: samplesAt(t0, -200, steady, 10, []holderSet{n1, n2 | n3, n3}, 1500, []holderSet{n1, n3, n3}),
			end:     4000,
			fault:   compareFault{Scenario: compareGraceful, VIP: 1, Owner: 1, At: t0},
			want:    runAnalysis{TookOver: true, Takeover: 10 * time.Millisecond, To: "n3", Split: 1490 * time.Millisecond, SplitVIPs: 1},
			splits:  1,
		},
		{
			// keepalived: the cut-off owner takes every VIP and keeps its
			// own; the others take its VIP; all of it ends after healing.
			name: "partition, split brain until healed",
			samples: samplesAt(t0, -200, steady,
				3400, []holderSet{n1 | n2, n2 | n1, n3 | n1},
				8000+300, []holderSet{n1, n2, n3}),
			end:    11000,
			fault:  compareFault{Scenario: comparePartition, VIP: 0, Owner: 0, At: t0, Healed: at(8000)},
			want:   runAnalysis{TookOver: true, Takeover: 3400 * time.Millisecond, To: "n2", Split: 4900 * time.Millisecond, SplitVIPs: 3, UntilHeal: true, AfterHeal: 300 * time.Millisecond},
			splits: 3,
		},
		{
			// wackamole: the cut-off owner gives up when it sees the new
			// owner's announcement; after healing a rebalance hands a VIP
			// over make-before-break.
			name: "partition, resolved at once",
			samples: samplesAt(t0, -200, steady,
				150, []holderSet{n1 | n3, n2, n3},
				161, []holderSet{n3, n2, n3},
				8500, []holderSet{n3 | n1, n2, n3},
				8520, []holderSet{n1, n2, n3}),
			end:    11000,
			fault:  compareFault{Scenario: comparePartition, VIP: 0, Owner: 0, At: t0, Healed: at(8000)},
			want:   runAnalysis{TookOver: true, Takeover: 150 * time.Millisecond, To: "n3", Split: 11 * time.Millisecond, SplitVIPs: 1, HandOver: 20 * time.Millisecond},
			splits: 1,
		},
		{
			name:    "partition never healed, overlap open at the end",
			samples: samplesAt(t0, -200, steady, 3000, []holderSet{n1 | n2, n2, n3}),
			end:     5000,
			fault:   compareFault{Scenario: comparePartition, VIP: 0, Owner: 0, At: t0},
			want:    runAnalysis{TookOver: true, Takeover: 3000 * time.Millisecond, To: "n2", Split: 2000 * time.Millisecond, SplitVIPs: 1, UntilHeal: true},
			splits:  1,
		},
		{
			name:  "no samples",
			end:   1000,
			fault: compareFault{Scenario: compareCrash, At: t0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := analyzeRun(tt.samples, at(tt.end), tt.fault)
			splits := 0
			for _, o := range got.Overlaps {
				if o.Split {
					splits++
				}
				if o.End.Before(o.Start) || o.Nodes.count() < 2 {
					t.Errorf("bad overlap %+v", o)
				}
			}
			if splits != tt.splits {
				t.Errorf("%d split overlaps, want %d: %+v", splits, tt.splits, got.Overlaps)
			}
			got.Overlaps = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("analyzeRun =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestWithBoundary(t *testing.T) {
	t0 := time.Unix(100, 0)
	s := samplesAt(t0, 0, []holderSet{1}, 20, []holderSet{2})
	got := withBoundary(s, t0.Add(10*time.Millisecond))
	if len(got) != 3 || got[1].Holders[0] != 1 || !got[1].At.Equal(t0.Add(10*time.Millisecond)) {
		t.Errorf("withBoundary = %+v", got)
	}
	if len(s) != 2 {
		t.Errorf("withBoundary changed its input: %+v", s)
	}
	for _, at := range []time.Time{t0, t0.Add(-time.Second)} { // on a sample, before all
		if got := withBoundary(s, at); len(got) != 2 {
			t.Errorf("withBoundary at %v = %+v", at.Sub(t0), got)
		}
	}
}

func TestHolderSet(t *testing.T) {
	if s := holderSet(0b101); s.count() != 2 || !slices.Equal(s.names(), []string{"n1", "n3"}) {
		t.Errorf("holderSet(0b101) = %d %v", s.count(), s.names())
	}
	if s := holderSet(0); s.count() != 0 || s.names() != nil {
		t.Errorf("holderSet(0) = %d %v", s.count(), s.names())
	}
}

func TestSummarizeDurations(t *testing.T) {
	d := func(ms ...int) []time.Duration {
		var out []time.Duration
		for _, m := range ms {
			out = append(out, time.Duration(m)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		in   []time.Duration
		want string
	}{
		{nil, "-"},
		{d(42), "42"},
		{d(30, 10, 20), "20 (10-30)"},
		{d(40, 10, 20, 30), "25 (10-40)"},
		{d(7, 7), "7"},
	}
	for _, tt := range tests {
		if got := summarizeDurations(tt.in).String(); got != tt.want {
			t.Errorf("summarizeDurations(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReportFormat(t *testing.T) {
	tools, err := parseCompareTools("wackamole-fast,keepalived-1,ucarp-1", 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	mk := func(tool string, s compareScenario, n int, outage, takeover time.Duration) compareRun {
		return compareRun{Tool: tool, Scenario: s, Run: n, Outage: outage, Lost: int(outage / ms(10)), runAnalysis: runAnalysis{TookOver: true, Takeover: takeover}}
	}
	split := mk("keepalived-1", comparePartition, 1, ms(17), ms(3570))
	split.PollGap = ms(23)
	split.Split, split.SplitVIPs, split.UntilHeal, split.AfterHeal = ms(4010), 3, true, ms(545)
	hand := mk("wackamole-fast", compareGraceful, 1, ms(22), ms(11))
	hand.HandOver = ms(10)
	brief := mk("wackamole-fast", comparePartition, 1, ms(19), ms(150))
	brief.Split, brief.SplitVIPs = ms(11), 1
	failed := compareRun{Tool: "ucarp-1", Scenario: compareCrash, Run: 2, Err: errors.New("198.18.0.101 not reachable again")}
	rep := compareReport{
		Date:      time.Date(2026, 11, 25, 23, 35, 0, 0, time.UTC),
		Runs:      2,
		Hold:      8 * time.Second,
		Tools:     tools,
		Scenarios: []compareScenario{compareCrash, compareGraceful, comparePartition},
		Results: []compareRun{
			mk("wackamole-fast", compareCrash, 1, ms(121), ms(154)),
			mk("wackamole-fast", compareCrash, 2, ms(141), ms(160)),
			hand, brief,
			mk("keepalived-1", compareCrash, 1, ms(3371), ms(3369)),
			split,
			mk("ucarp-1", compareCrash, 1, ms(3751), ms(3771)),
			failed,
		},
		Versions: []string{"keepalived: Keepalived v2.2.7 (01/16,2022)"},
		Machine:  "2 CPUs, load average 1.29 1.18 1.22 before, 2.29 1.49 1.33 after",
		Aborted:  []string{"ucarp-1: not back in the initial state"},
	}
	out := rep.format()
	lines := strings.Split(out, "\n")
	row := func(tool string, s compareScenario) []string {
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) > 2 && f[0] == tool && f[1] == string(s) {
				return f
			}
		}
		t.Fatalf("no row for %s %s in\n%s", tool, s, out)
		return nil
	}
	for _, tt := range []struct {
		tool string
		s    compareScenario
		want string
	}{
		{"wackamole-fast", compareCrash, "wackamole-fast crash 2 131 (121-141) 157 (154-160) 12 14 - no"},
		{"wackamole-fast", compareGraceful, "wackamole-fast graceful 1 22 11 2 10 no"},
		{"wackamole-fast", comparePartition, "wackamole-fast partition 1 19 150 1 - 1/1 runs, 1 VIP(s), up to 11 ms, ended before healing"},
		{"keepalived-1", comparePartition, "keepalived-1 partition 1 17 3570 1 - 1/1 runs, 3 VIP(s), up to 4010 ms, until healed (+545 ms)"},
		{"ucarp-1", compareCrash, "ucarp-1 crash 1/2 3751 3771 375 - no"},
	} {
		if got := strings.Join(row(tt.tool, tt.s), " "); got != tt.want {
			t.Errorf("row %s %s:\n got %q\nwant %q", tt.tool, tt.s, got, tt.want)
		}
	}
	// Rows without results are left out.
	for _, l := range lines {
		if strings.HasPrefix(l, "keepalived-1  graceful") || strings.HasPrefix(l, "ucarp-1  partition") {
			t.Errorf("row without runs: %q", l)
		}
	}
	for _, want := range []string{
		"Failover comparison, 3 nodes sharing 3 VIPs, client ping every 2 ms, 2 run(s) per row (2026-11-25 23:35 UTC)",
		"tool            scenario   runs  outage ms",
		"for 8s (no IP",
		"  keepalived-1    VRRPv2, advert_int 1, one vrrp_instance per VIP",
		"  ucarp-1         advbase 1, advskew 0/50/100 rotated, --preempt --shutdown",
		"Versions:\n  keepalived: Keepalived v2.2.7 (01/16,2022)\n",
		"Machine: 2 CPUs, load average 1.29",
		"Holder polls: every 10 ms, at worst 23 ms apart",
		"Failures:\n  ucarp-1 crash run 2: 198.18.0.101 not reachable again\n  ucarp-1: not back in the initial state\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestRunLineAndTimeline(t *testing.T) {
	t0 := time.Unix(1000, 0)
	vips := []netip.Addr{netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101")}
	r := compareRun{
		Tool: "keepalived-1", Scenario: comparePartition, Run: 2, VIP: vips[0], From: "n1",
		Outage: 17 * time.Millisecond, Lost: 0, Sent: 922,
		runAnalysis: runAnalysis{TookOver: true, Takeover: 3570 * time.Millisecond, To: "n2", Split: 4010 * time.Millisecond, SplitVIPs: 2, UntilHeal: true, AfterHeal: 545 * time.Millisecond},
		fault:       compareFault{At: t0, Healed: t0.Add(8 * time.Second)},
		samples:     samplesAt(t0, -190, []holderSet{1, 2}, 3570, []holderSet{3, 3}, 8545, []holderSet{1, 2}),
		vips:        vips,
	}
	want := "keepalived-1   partition run 2/3: 198.18.0.100 n1 -> n2 after 3570 ms: outage 17 ms, 0 of 922 probes lost, split brain on 2 VIP(s) up to 4010 ms (until healed, +545 ms)"
	if got := r.line(3); got != want {
		t.Errorf("line =\n%q\nwant\n%q", got, want)
	}
	wantTL := "       -190 ms  198.18.0.100 on n1, 198.18.0.101 on n2\n" +
		"         +0 ms  partition of n1\n" +
		"      +3570 ms  198.18.0.100 on n1,n2, 198.18.0.101 on n1,n2\n" +
		"      +8000 ms  healed\n" +
		"      +8545 ms  198.18.0.100 on n1, 198.18.0.101 on n2\n"
	if got := r.timeline(); got != wantTL {
		t.Errorf("timeline =\n%s\nwant\n%s", got, wantTL)
	}
	r.Err = errors.New("boom")
	if got := r.line(3); !strings.HasSuffix(got, ": FAILED: boom") {
		t.Errorf("failed line = %q", got)
	}
}

func TestParseCompareArgs(t *testing.T) {
	cfg, err := parseCompareArgs(nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range cfg.Tools {
		names = append(names, tl.Name)
	}
	if cfg.Runs != 3 || strings.Join(names, ",") != defaultCompareTools || len(cfg.Scenarios) != 3 || cfg.Hold != 8*time.Second || !strings.HasPrefix(cfg.Prefix, "wk") || cfg.Out != "" {
		t.Errorf("defaults: %+v", cfg)
	}
	if cfg.Tools[3].Advert != 10*time.Millisecond || cfg.Tools[2].Advert != time.Second || cfg.Tools[0].Timing != "lan" {
		t.Errorf("tool settings: %+v", cfg.Tools)
	}
	cfg, err = parseCompareArgs([]string{"-runs", "1", "-tools", "keepalived-min, ucarp-1", "-scenarios", "partition", "-keepalived-min", "100ms", "-partition", "5s", "-prefix", "wkt1", "-out", "x.txt", "-v"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Runs != 1 || len(cfg.Tools) != 2 || cfg.Tools[0].Advert != 100*time.Millisecond || !slices.Equal(cfg.Scenarios, []compareScenario{comparePartition}) || cfg.Hold != 5*time.Second || cfg.Prefix != "wkt1" || cfg.Out != "x.txt" || !cfg.Verbose {
		t.Errorf("parsed: %+v", cfg)
	}
	for _, args := range [][]string{
		{"-runs", "0"},
		{"-tools", "heartbeat"},
		{"-tools", "ucarp-1,ucarp-1"},
		{"-scenarios", "crash,meteor"},
		{"-scenarios", ""},
		{"-keepalived-min", "5ms"},
		{"-keepalived-min", "15ms"},
		{"-partition", "100ms"},
		{"-prefix", "wk/x"},
		{"-bogus"},
		{"extra"},
	} {
		if _, err := parseCompareArgs(args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestBenchCompareUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench-compare", "-runs", "0"}, &stdout, &stderr); code != exitUsage || stdout.Len() > 0 || !strings.Contains(stderr.String(), "-runs 0") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, &stdout, &stderr)
	}
	stdout.Reset()
	if code := run([]string{"bench-compare", "--help"}, &stdout, &stderr); code != exitOK {
		t.Errorf("--help: exit %d", code)
	}
	for _, want := range []string{"WACKALAB-BENCH-COMPARE(8)", "keepalived-min", "ucarp-1", "partition", "OPTIONS", "-keepalived-min D", "EXIT STATUS"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("manual lacks %q", want)
		}
	}
}

func TestPartitionScript(t *testing.T) {
	got := partitionScript("vn1", netip.MustParseAddr("198.18.0.2"))
	for _, want := range []string{
		"table bridge wkcompare\ndelete table bridge wkcompare\n",
		"type filter hook forward priority -10; policy accept;",
		"iifname \"vn1\" ether type arp accept",
		"iifname \"vn1\" ip daddr 198.18.0.2 accept",
		"oifname \"vn1\" ip saddr 198.18.0.2 accept",
		"iifname \"vn1\" counter drop",
		"oifname \"vn1\" counter drop",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("partition script lacks %q:\n%s", want, got)
		}
	}
	// Accepts come before the drops of the same direction.
	if strings.Index(got, "oifname \"vn1\" ip saddr") > strings.Index(got, "oifname \"vn1\" counter drop") {
		t.Errorf("drop before accept:\n%s", got)
	}
	if h := healScript(); h != "table bridge wkcompare\ndelete table bridge wkcompare\n" {
		t.Errorf("heal script %q", h)
	}
}

func TestAnalyzeFault(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	const n1, n2, n3 holderSet = 1, 2, 4
	// A stall of n1 from 0 to 3000: n2 takes VIP 0 at 1000, n1 wins it
	// back at 3100 (n2 lets go at 3120); the watch ends at 8000. The
	// client had no reply from 3050 to 3400 and from 900 to 1000.
	samples := samplesAt(t0,
		-500, []holderSet{n1, n2, n3},
		1000, []holderSet{n1 | n2, n2, n3},
		3120, []holderSet{n1, n2, n3},
		5000, []holderSet{n2, n2, n3}, // a move after the fault, n1 gone
		6000, []holderSet{n1, n2, n3}, // and back
	)
	gaps := []lab.Gap{{Start: at(900), End: at(1000)}, {Start: at(3050), End: at(3400)}}
	got := analyzeFault(samples, gaps, at(0), at(3000), at(8000))
	want := faultFigures{Moves: 3, TwoHolders: 2120 * time.Millisecond, DarkAfter: 350 * time.Millisecond}
	if got != want {
		t.Errorf("analyzeFault = %+v, want %+v", got, want)
	}
	// Every VIP counts (a cut path moves another node's VIP), and nothing
	// before the fault.
	samples = samplesAt(t0,
		-500, []holderSet{n1, n2 | n3, n3}, // before the fault: not counted
		0, []holderSet{n1, n2, n3},
		1000, []holderSet{n1 | n3, n2, n3 | n1},
		2000, []holderSet{n1, n2, n3},
	)
	got = analyzeFault(samples, nil, at(0), at(3000), at(8000))
	if want := (faultFigures{Moves: 2, TwoHolders: 2 * time.Second}); got != want {
		t.Errorf("every VIP: %+v, want %+v", got, want)
	}
}

func TestParseCompareFaultArgs(t *testing.T) {
	cfg, err := parseCompareArgs([]string{"-scenarios", "stall,flap,starve,cut,loss", "-tools", "wackamole-fast-rt,keepalived-1", "-loss", "30s", "-stall", "2s"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Scenarios, compareFaultScenarios) {
		t.Errorf("scenarios %v", cfg.Scenarios)
	}
	if cfg.Faults.Loss != 30*time.Second || cfg.Faults.Stall != 2*time.Second || cfg.Faults.Flap != 20*time.Second {
		t.Errorf("lengths %+v", cfg.Faults)
	}
	if tl := cfg.Tools[0]; tl.Timing != "fast" || !tl.Realtime || !strings.Contains(tl.settings(), "realtime = true") {
		t.Errorf("tool %+v: %s", tl, tl.settings())
	}
	for _, bad := range [][]string{{"-stall", "100ms"}, {"-flap", "1s"}, {"-scenarios", "stall,wobble"}} {
		if _, err := parseCompareArgs(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestFaultTable(t *testing.T) {
	rep := compareReport{Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Runs: 1, Faults: defaultFaultLengths(),
		Tools:     []compareTool{{Name: "wackamole-lan", Kind: "wackamole", Timing: "lan"}},
		Scenarios: []compareScenario{compareCrash, compareStall},
		Results: []compareRun{
			{Tool: "wackamole-lan", Scenario: compareCrash, Run: 1, Outage: 900 * time.Millisecond},
			{Tool: "wackamole-lan", Scenario: compareStall, Run: 1, Outage: 20 * time.Millisecond, Faulted: faultFigures{Moves: 2, TwoHolders: 15 * time.Millisecond}},
		}}
	s := rep.format()
	for _, want := range []string{"Faults (on the owner", "ownership changes", "wackamole-lan  stall     1     2", "stall   its daemons stopped (SIGSTOP) for 3s"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	if strings.Count(s, "wackamole-lan  crash") != 1 || strings.Contains(s, "wackamole-lan  stall     1     20") {
		t.Errorf("rows in the wrong table:\n%s", s)
	}
}
