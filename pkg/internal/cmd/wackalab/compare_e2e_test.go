package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
	"github.com/wackamole/wackamole/pkg/internal/cluster"
	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// compareE2E runs compare with cfg (root, real daemons) and checks that
// every lab is gone afterwards.
func compareE2E(t *testing.T, cfg compareConfig) compareReport {
	t.Helper()
	if testing.Short() {
		t.Skip("runs real daemons for a minute: not with -short")
	}
	testenv.RequireNetns(t, "keepalived", "ucarp", "nft")
	b := make([]byte, 3)
	rand.Read(b)
	cfg.Prefix = "wkt" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		// Whatever happened, nothing of ours may be left.
		for i := range cfg.Tools {
			if err := lab.Sweep(cfg.Prefix + strconv.Itoa(i+1)); err != nil {
				t.Errorf("sweep: %v", err)
			}
		}
	})
	var progress bytes.Buffer
	rep, err := compare(ctx, cfg, &progress)
	t.Logf("progress:\n%s", &progress)
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, cfg.Prefix) {
			t.Errorf("namespace left behind: %s", line)
		}
	}
	t.Logf("report:\n%s", rep.format())
	return rep
}

// One crash per tool: every outage is measured, every takeover seen, and
// the labs are gone afterwards.
func TestBenchCompareCrashEveryTool(t *testing.T) {
	tools, err := parseCompareTools(defaultCompareTools, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	rep := compareE2E(t, compareConfig{Runs: 1, Tools: tools, Scenarios: []compareScenario{compareCrash}, Hold: 5 * time.Second, Settle: time.Second})
	if len(rep.Results) != len(tools) {
		t.Fatalf("%d results for %d tools", len(rep.Results), len(tools))
	}
	for i, r := range rep.Results {
		switch {
		case r.Tool != tools[i].Name:
			t.Errorf("result %d is of %s, want %s", i, r.Tool, tools[i].Name)
		case r.Err != nil:
			t.Errorf("%s: %v", r.Tool, r.Err)
		case r.Outage <= 0 || r.Outage > 30*time.Second || r.Lost == 0:
			t.Errorf("%s: outage %v (%d of %d probes lost): not measured", r.Tool, r.Outage, r.Lost, r.Sent)
		case !r.TookOver || r.To == r.From:
			t.Errorf("%s: no takeover from %s seen", r.Tool, r.From)
		}
	}
}

// A short partition with keepalived's fastest setting: the cut at the
// switch really separates the nodes (the cut-off owner keeps its VIP while
// another takes it: keepalived's split brain), and healing ends it.
func TestBenchComparePartition(t *testing.T) {
	tools, err := parseCompareTools("keepalived-min", 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	rep := compareE2E(t, compareConfig{Runs: 1, Tools: tools, Scenarios: []compareScenario{comparePartition}, Hold: 2 * time.Second, Settle: time.Second})
	if len(rep.Results) != 1 {
		t.Fatalf("%d results, want 1", len(rep.Results))
	}
	r := rep.Results[0]
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if !r.TookOver || r.SplitVIPs == 0 || !r.UntilHeal || r.Split < time.Second {
		t.Errorf("no split brain through the partition: %+v", r.runAnalysis)
	}
}

// One crash per tool of the BGP section: every run measured, the router
// rerouted, wackamole's BFD faster than ExaBGP's hold timer, and the labs
// gone afterwards.
func TestBenchCompareBGPCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real daemons and routers for a minute: not with -short")
	}
	testenv.RequireNetns(t, "bird", "birdc", "exabgp", "curl", "nft")
	tools, err := parseBGPTools(defaultBGPTools)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	cfg := compareConfig{BGP: true, Router: cluster.BIRD, Runs: 1, Tools: tools, Scenarios: []compareScenario{compareCrash}, Hold: 5 * time.Second, Settle: time.Second, Prefix: "wkt" + hex.EncodeToString(b)}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		for i := range cfg.Tools {
			if err := lab.Sweep(cfg.Prefix + strconv.Itoa(i+1)); err != nil {
				t.Errorf("sweep: %v", err)
			}
		}
	})
	var progress bytes.Buffer
	rep, err := compareBGP(ctx, cfg, &progress)
	t.Logf("progress:\n%s", &progress)
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	t.Logf("report:\n%s", rep.format())
	if len(rep.Results) != len(tools) {
		t.Fatalf("%d results for %d tools", len(rep.Results), len(tools))
	}
	outage := map[string]time.Duration{}
	for i, r := range rep.Results {
		switch {
		case r.Tool != tools[i].Name:
			t.Errorf("result %d is of %s, want %s", i, r.Tool, tools[i].Name)
		case r.Err != nil:
			t.Errorf("%s: %v", r.Tool, r.Err)
		case r.Outage <= 0 || r.Lost == 0 || !r.Rerouted || strings.Contains(r.To, r.From):
			t.Errorf("%s: outage %v, %d lost, rerouted %v from %s to %s: not measured", r.Tool, r.Outage, r.Lost, r.Rerouted, r.From, r.To)
		}
		outage[r.Tool] = r.Outage
	}
	// BFD (300 ms) against a 3 s hold timer: generous margins.
	if o := outage["wackamole-bgp-owner"]; o > 2*time.Second {
		t.Errorf("wackamole-bgp-owner crash outage %v: BFD did not act", o)
	}
	if o := outage["exabgp"]; o < time.Second {
		t.Errorf("exabgp crash outage %v: shorter than its hold timer allows", o)
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, cfg.Prefix) {
			t.Errorf("namespace left behind: %s", line)
		}
	}
}
