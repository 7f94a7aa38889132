package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// profileShares are parts of the daemons' CPU time, from their merged
// profiles: each part is the time of the samples with a matching frame on
// the stack (pprof's cumulative time).
type profileShares struct {
	// Profiles is the number of profiles merged; Total their CPU time.
	Profiles int
	Total    time.Duration
	// Parts by name, in the order of profileParts.
	Parts map[string]time.Duration
}

// profileParts are the parts of a daemon's work that the bench reports,
// as pprof -focus expressions.
var profileParts = []struct{ name, focus string }{
	{"reconcile rounds", `pkg/agent\.\(\*Agent\)\.reconcile$`},
	{"vip.Allocate", `wackamole/vip\.Allocate$`},
	{"vip.Successors", `wackamole/vip\.Successors$`},
	{"heartbeats", `membership/heartbeat\.|membership\.\(\*Group\)\.(heartbeatLoop|polledLoop)$|membership\.\(\*beats\)\.`},
	{"memberlist", `hashicorp/memberlist\.`},
}

// readProfiles merges the CPU profiles of binary and measures each part;
// the whole top list goes to topFile.
func readProfiles(ctx context.Context, binary string, files []string, topFile string) (profileShares, error) {
	s := profileShares{Profiles: len(files), Parts: map[string]time.Duration{}}
	if len(files) == 0 {
		return s, errors.New("no daemon wrote a CPU profile")
	}
	goBin, err := goTool()
	if err != nil {
		return s, err
	}
	pprof := func(extra ...string) (string, error) {
		args := append([]string{"tool", "pprof", "-top", "-cum", "-unit=ms"}, extra...)
		args = append(args, binary)
		args = append(args, files...)
		out, err := exec.CommandContext(ctx, goBin, args...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go tool pprof: %w: %s", err, firstLines(string(out), 5))
		}
		return string(out), nil
	}
	top, err := pprof("-nodecount=60")
	if err != nil {
		return s, err
	}
	if err := os.WriteFile(topFile, []byte(top), 0o644); err != nil {
		return s, err
	}
	if s.Total, err = pprofTotal(top); err != nil {
		return s, err
	}
	for _, p := range profileParts {
		out, err := pprof("-nodecount=1000000", "-focus="+p.focus)
		if err != nil {
			return s, err
		}
		d, err := pprofShown(out)
		if err != nil {
			return s, fmt.Errorf("%s: %w", p.name, err)
		}
		s.Parts[p.name] = d
	}
	return s, nil
}

var (
	// "Duration: 62.71s, Total samples = 1234ms ( 1.97%)"
	pprofTotalRE = regexp.MustCompile(`Total samples = ([0-9.]+)ms`)
	// "Showing nodes accounting for 120ms, 9.72% of 1234ms total"
	pprofShownRE = regexp.MustCompile(`Showing nodes accounting for (0|[0-9.]+ms), [0-9.]+% of [0-9.]+ms total`)
)

func pprofTotal(out string) (time.Duration, error) {
	m := pprofTotalRE.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no total in pprof's output: %s", firstLines(out, 5))
	}
	return msDuration(m[1])
}

// pprofShown reads what a focused listing of every node accounts for:
// the flat times of all the nodes add up to the focused samples' total.
func pprofShown(out string) (time.Duration, error) {
	m := pprofShownRE.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no total in pprof's output: %s", firstLines(out, 8))
	}
	if m[1] == "0" {
		return 0, nil
	}
	return msDuration(strings.TrimSuffix(m[1], "ms"))
}

func msDuration(s string) (time.Duration, error) {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("pprof: %q: %w", s, err)
	}
	return time.Duration(x * float64(time.Millisecond)), nil
}

func firstLines(s string, n int) string {
	ls := strings.SplitN(s, "\n", n+1)
	return strings.Join(ls[:min(n, len(ls))], " | ")
}
