package main

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/control"
	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

func TestParseScaleArgs(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		err   string // substring; "" for success
		cases string // the groups, "N/timing" joined by spaces
	}{
		{name: "defaults", cases: "3/lan 3/fast 10/lan 10/fast 25/lan 50/lan"},
		{name: "lan only", args: []string{"-timings", "lan"}, cases: "3/lan 10/lan 25/lan 50/lan"},
		{name: "fast everywhere", args: []string{"-fast-max", "0", "-nodes", "3,50"}, cases: "3/lan 3/fast 50/lan 50/fast"},
		{name: "fast up to 25", args: []string{"-fast-max", "25", "-nodes", "10,25,50", "-timings", "fast"}, cases: "10/fast 25/fast"},
		{name: "duplicates", args: []string{"-nodes", "3,3", "-timings", "lan,lan"}, cases: "3/lan"},
		{name: "no failovers", args: []string{"-runs", "0", "-nodes", "5"}, cases: "5/lan 5/fast"},
		{name: "too many nodes", args: []string{"-nodes", "65"}, err: "not a group size"},
		{name: "zero nodes", args: []string{"-nodes", "0"}, err: "not a group size"},
		{name: "not a number", args: []string{"-nodes", "3,x"}, err: `"x"`},
		{name: "empty list", args: []string{"-nodes", ""}, err: "not a group size"},
		{name: "unknown timing", args: []string{"-timings", "lan,slow"}, err: `"slow"`},
		{name: "negative runs", args: []string{"-runs", "-1"}, err: "-runs"},
		{name: "negative fast-max", args: []string{"-fast-max", "-1"}, err: "-fast-max"},
		{name: "zero idle", args: []string{"-idle", "0s"}, err: "-idle"},
		{name: "zero converge", args: []string{"-converge", "0s"}, err: "-converge"},
		{name: "negative settle", args: []string{"-settle", "-1s"}, err: "-settle"},
		{name: "extra argument", args: []string{"now"}, err: "unexpected argument"},
		{name: "unknown flag", args: []string{"-bogus"}, err: "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseScaleArgs(tt.args, io.Discard)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range o.cases() {
				got = append(got, fmt.Sprintf("%d/%s", c.nodes, c.timing))
			}
			if strings.Join(got, " ") != tt.cases {
				t.Errorf("cases %q, want %q", strings.Join(got, " "), tt.cases)
			}
		})
	}
}

func TestBenchScaleUsage(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run([]string{"bench-scale", "-nodes", "100"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), "usage: wackalab bench-scale") || !strings.Contains(stderr.String(), "-nodes") {
		t.Errorf("stderr: %s", stderr.String())
	}
	if stdout.Len() > 0 {
		t.Errorf("stdout: %s", stdout.String())
	}
}

func TestSpreadOf(t *testing.T) {
	tests := []struct {
		in       []float64
		med, max float64
	}{
		{nil, 0, 0},
		{[]float64{3}, 3, 3},
		{[]float64{5, 1, 3}, 3, 5},
		{[]float64{4, 1, 3, 2}, 2.5, 4},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		if s := spreadOf(tt.in); s.Median != tt.med || s.Max != tt.max {
			t.Errorf("spreadOf(%v) = %+v, want median %v max %v", tt.in, s, tt.med, tt.max)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("spreadOf changed its input: %v", tt.in)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a parenthesis: fields are counted
	// from the last ')'. utime 250, stime 50 ticks: 3 s.
	stat := "1234 (wacka (mole) x) S 1 1234 1234 0 -1 4194560 1200 0 0 0 250 50 0 0 20 0 9 0 100 2000000 3000 18446744073709551615"
	d, err := parseStatCPU(stat)
	if err != nil || d != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 3s", d, err)
	}
	for _, bad := range []string{"", "1234 (x) S 1 2", "1234 (x) S 1 1 1 0 -1 0 0 0 0 0 x 5 0"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q): no error", bad)
		}
	}
}

func TestParseSchedstat(t *testing.T) {
	if d, err := parseSchedstat("229543114 237793459 633\n"); err != nil || d != 229543114*time.Nanosecond {
		t.Errorf("parseSchedstat = %v, %v; want 229.543114ms", d, err)
	}
	for _, bad := range []string{"", "1 2", "x 2 3", "-1 2 3", "1 2 3 4"} {
		if _, err := parseSchedstat(bad); err == nil {
			t.Errorf("parseSchedstat(%q): no error", bad)
		}
	}
}

// The precise reading is used unless a thread's exit took time out of it.
func TestCPUReadingSince(t *testing.T) {
	ms := time.Millisecond
	r0 := cpuReading{coarse: 100 * ms, precise: 104 * ms}
	for _, c := range []struct {
		r    cpuReading
		want time.Duration
	}{
		{cpuReading{coarse: 190 * ms, precise: 197 * ms}, 93 * ms},
		{cpuReading{coarse: 200 * ms, precise: 150 * ms}, 100 * ms}, // a thread exited
	} {
		if got := c.r.since(r0); got != c.want {
			t.Errorf("%+v since %+v = %v, want %v", c.r, r0, got, c.want)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	m, err := parseProcStat("cpu  100 5 40 9000 20 3 7 11 0 0\ncpu0 50 2 20 4500 10 1 3 5 0 0\n")
	if err != nil {
		t.Fatal(err)
	}
	// busy = user + nice + system + irq + softirq = 155 ticks.
	if m.busy != 1550*time.Millisecond || m.softirq != 70*time.Millisecond {
		t.Errorf("parseProcStat = %+v", m)
	}
	for _, bad := range []string{"", "intr 5 6 7", "cpu 1 2 3"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("parseProcStat(%q): no error", bad)
		}
	}
}

func TestParseKB(t *testing.T) {
	kb := parseKB("VmRSS:\t   35000 kB\nThreads: 9\nPss:  9216 kB\nPrivate_Clean: 1024 kB\nPrivate_Dirty:  7168 kB\nbogus: x kB\n")
	want := map[string]float64{"VmRSS": 35000, "Pss": 9216, "Private_Clean": 1024, "Private_Dirty": 7168}
	if len(kb) != len(want) {
		t.Errorf("parseKB = %v", kb)
	}
	for k, v := range want {
		if kb[k] != v {
			t.Errorf("%s = %v, want %v", k, kb[k], v)
		}
	}
}

func TestParsePortCounters(t *testing.T) {
	js := `[{"ifname":"lo","stats64":{"rx":{"bytes":0,"packets":0},"tx":{"bytes":0,"packets":0}}},
{"ifname":"br0","stats64":{"rx":{"bytes":9,"packets":1},"tx":{"bytes":9,"packets":1}}},
{"ifname":"vn1","stats64":{"rx":{"bytes":3000,"packets":10},"tx":{"bytes":5000,"packets":20}}},
{"ifname":"vcl","stats64":{"rx":{"bytes":1,"packets":1},"tx":{"bytes":2,"packets":2}}}]`
	got, err := parsePortCounters(js)
	if err != nil {
		t.Fatal(err)
	}
	// The bridge port received what the node sent.
	if got["n1"] != (portCount{txBytes: 3000, txPackets: 10, rxPackets: 20}) {
		t.Errorf("n1: %+v", got["n1"])
	}
	if _, ok := got["r0"]; ok {
		t.Errorf("br0 taken for a port: %v", got)
	}
	if _, err := parsePortCounters("not json"); err == nil {
		t.Error("no error for bad JSON")
	}
}

func TestParseTableFulls(t *testing.T) {
	s := "entries  allocs   destroys hash_grows lookups  hits     res_failed rcv_probes_mcast rcv_probes_ucast periodic_gc_runs forced_gc_runs unresolved_discards table_fulls\n" +
		"0000001a 00001b1c 00001eaa 00000006   00101d9f 00014e65 00000050   00000000         00000000         00000000         001904b2       00000000            0000000a\n" +
		"0000001a 00001e2d 00001a85 00000002   0010032e 00015dd5 00000068   00000000         00000000         0000026d         0018a31b       00000001            00000010\n"
	n, err := parseTableFulls(s)
	if err != nil || n != 26 {
		t.Errorf("parseTableFulls = %d, %v; want 26", n, err)
	}
	for _, bad := range []string{"", "entries allocs\n1 2\n", "table_fulls\nzz\n"} {
		if _, err := parseTableFulls(bad); err == nil {
			t.Errorf("parseTableFulls(%q): no error", bad)
		}
	}
}

func TestViewFull(t *testing.T) {
	members := func(alive ...bool) []control.Member {
		var ms []control.Member
		for _, a := range alive {
			ms = append(ms, control.Member{Alive: a})
		}
		return ms
	}
	tests := []struct {
		name string
		m    control.Members
		ok   bool
		why  string
	}{
		{"full", control.Members{Quorum: control.Quorum{Have: 3, Need: 2, OK: true}, Members: members(true, true, true)}, true, ""},
		{"one dead", control.Members{Quorum: control.Quorum{Have: 2, Need: 2, OK: true}, Members: members(true, false, true)}, false, "2 of 3 alive"},
		{"one missing", control.Members{Quorum: control.Quorum{Have: 2, Need: 2, OK: true}, Members: members(true, true)}, false, "2 of 3 alive"},
		{"no quorum", control.Members{Quorum: control.Quorum{Have: 1, Need: 2}, Members: members(true, true, true)}, false, "no quorum"},
	}
	for _, tt := range tests {
		ok, why := viewFull(tt.m, 3)
		if ok != tt.ok || !strings.Contains(why, tt.why) {
			t.Errorf("%s: viewFull = %v %q", tt.name, ok, why)
		}
	}
}

func TestHeldOnce(t *testing.T) {
	if ok, why := heldOnce([]holderSet{1, 2, 4}); !ok || why != "" {
		t.Errorf("one each: %v %q", ok, why)
	}
	if ok, why := heldOnce([]holderSet{0, 3, 4, 0}); ok || why != "2 VIPs unheld, 1 held more than once" {
		t.Errorf("unheld and doubled: %v %q", ok, why)
	}
}

func TestPprofParsing(t *testing.T) {
	top := "File: wackamole\nType: cpu\nDuration: 62.71s, Total samples = 1234ms ( 1.97%)\nShowing nodes accounting for 120ms, 9.72% of 1234ms total\n      flat  flat%   sum%        cum   cum%\n"
	if d, err := pprofTotal(top); err != nil || d != 1234*time.Millisecond {
		t.Errorf("pprofTotal = %v, %v", d, err)
	}
	if d, err := pprofShown(top); err != nil || d != 120*time.Millisecond {
		t.Errorf("pprofShown = %v, %v", d, err)
	}
	zero := "Active filters:\n   focus=x\nShowing nodes accounting for 0, 0% of 1234ms total\n"
	if d, err := pprofShown(zero); err != nil || d != 0 {
		t.Errorf("pprofShown(nothing focused) = %v, %v", d, err)
	}
	if _, err := pprofTotal("garbage"); err == nil {
		t.Error("pprofTotal: no error for garbage")
	}
	if _, err := pprofShown("garbage"); err == nil {
		t.Error("pprofShown: no error for garbage")
	}
}

func TestAllocatorInput(t *testing.T) {
	in := settled(scaleInput(4, 6))
	held := 0
	for _, m := range in.Members {
		if len(m.Holds) < 1 || len(m.Holds) > 2 {
			t.Errorf("%s holds %v: want 1 or 2 of 6 VIPs over 4 nodes", m.Name, m.Holds)
		}
		held += len(m.Holds)
	}
	if held != 6 {
		t.Errorf("%d VIPs held, want 6", held)
	}
	if in.Members[0].Name != "n1" || in.VIPs[5].Name != "vip-06" {
		t.Errorf("names: %s, %s", in.Members[0].Name, in.VIPs[5].Name)
	}
}

func TestFormatScale(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	v := netip.MustParseAddr("198.18.0.100")
	rep := scaleReport{
		Date: t0, Machine: "2 CPUs (Linux 6.18), load average 1.00 1.00 1.00", MachineAfter: "2.00 1.50 1.20", Runs: 2, Idle: 30 * time.Second,
		Alloc: []allocCost{{Nodes: 50, VIPs: 50, Steady: 21 * time.Microsecond, Cold: 25 * time.Microsecond, Successors: 1700 * time.Microsecond}},
		Results: []scaleResult{
			{
				Nodes: 50, Timing: "lan", Overflows: 0,
				Converge:  convergence{Took: 4800 * time.Millisecond, VIPsHeld: 3600 * time.Millisecond, ViewsFull: 4800 * time.Millisecond, Load: "1.2-9.8"},
				Crash:     []cluster.Outage{{VIP: v, Gap: 1100 * time.Millisecond, Lost: 100}, {VIP: v, Gap: 1300 * time.Millisecond, Lost: 120}},
				CrashLoad: "9.8-20.1",
				Graceful:  []cluster.Outage{{VIP: v, Gap: 20 * time.Millisecond}, {VIP: v, Gap: 30 * time.Millisecond}},
				Idle: &idleUsage{CPU: spread{1.3, 1.4}, RSS: spread{34.8, 36}, PSS: spread{9.2, 10.6}, Private: spread{8.7, 10.1},
					TxBytes: spread{73000, 74000}, TxPackets: spread{247, 248}, RxPackets: spread{247, 250}, GroupPackets: 12350,
					Machine: 105, Daemons: 98, SoftIRQ: 7, Load: "20-17"},
				Profile: &profileShares{Profiles: 50, Total: 10 * time.Second, Parts: map[string]time.Duration{"heartbeats": 5 * time.Second}},
			},
			{Nodes: 3, Timing: "fast", Err: "not converged 1m0s after the start: 1 VIPs unheld", Overflows: 12},
		},
	}
	out := formatScale(rep)
	for _, want := range []string{
		"wackamole bench-scale, 2026-12-01 12:00 UTC",
		"50     lan     4800 (3600/4800)",
		"1200 (1100-1300)", "100 120",
		"25 (20-30)",
		"1.30/1.40", "12350",
		"245", // (N-1)/interval at 200 ms
		"12250",
		"21.0", "1700.0",
		"50.00", // heartbeats' share
		"3      fast    not converged",
		"neighbour table", "3 nodes fast: 12",
		"Not measured to the end:", "1 VIPs unheld",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
