package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

func TestParseSoak(t *testing.T) {
	opt, err := parseSoak(nil)
	if err != nil {
		t.Fatal(err)
	}
	if opt.minutes != 30 || opt.seedSet || opt.seed < 0 || opt.topology != cluster.TopologyFive || opt.timing != "lan" || opt.quiet != 5*time.Second || opt.tolerance != 200*time.Millisecond {
		t.Errorf("defaults: %+v", opt)
	}
	opt, err = parseSoak([]string{"-minutes", "0.5", "-seed", "0", "-topology", "tiebreaker", "-dir", "/tmp/x", "-timing", "fast", "-quiet", "7s", "-tolerance", "300ms", "-max-overlap", "1s", "-prefix", "wkq", "-v"})
	if err != nil {
		t.Fatal(err)
	}
	want := soakOptions{minutes: 0.5, seed: 0, seedSet: true, topology: cluster.TopologyTieBreaker, dir: "/tmp/x", timing: "fast", quiet: 7 * time.Second, tolerance: 300 * time.Millisecond, overlap: time.Second, prefix: "wkq", verbose: true}
	if opt != want {
		t.Errorf("got %+v, want %+v", opt, want)
	}
	for _, args := range [][]string{
		{"-minutes", "0"},
		{"-minutes", "-3"},
		{"-minutes", "NaN"},
		{"-seed", "x"},
		{"-timing", "wan"},
		{"-topology", "three"},
		{"-topology", ""},
		{"-quiet", "0s"},
		{"-tolerance", "-1s"},
		{"-max-overlap", "-1s"},
		{"now"},
		{"-bogus"},
	} {
		if _, err := parseSoak(args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestSoakUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"soak", "-minutes", "0"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), "-minutes 0") || stdout.Len() > 0 {
		t.Errorf("stdout %q, stderr %q", &stdout, &stderr)
	}
	stdout.Reset()
	if code := run([]string{"help", "soak"}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "minority-acquired") || !strings.Contains(stdout.String(), "-topology T") || !strings.Contains(stdout.String(), "witness-held") {
		t.Errorf("help soak: exit %d\n%s", code, &stdout)
	}
}
