package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/control"
	"github.com/wackamole/wackamole/pkg/internal/cluster/checker"
	"github.com/wackamole/wackamole/pkg/internal/cluster/schedule"
)

func TestFormatStatus(t *testing.T) {
	st := control.Status{Node: "n3", State: "mature", Healthy: true, Quorum: control.Quorum{Have: 4, Need: 3, OK: true},
		Members: []control.Member{{Name: "n2", Alive: true, State: "draining", Why: "draining", Held: []string{"vip-05"}, Leaving: []string{"vip-05"}}},
		VIPs:    []control.VIP{{Name: "vip-05", Owner: "n2", Holders: []string{"n2"}, Planned: "n3", Reason: "vacated", Waiting: "x"}},
		Notes:   []string{"a note"}}
	got := formatStatus(st)
	if tie := (control.Status{Node: "n2", Quorum: control.Quorum{Have: 1, Need: 2, OK: true, TieBreaker: true}}); !strings.Contains(formatStatus(tie), "quorum 1/2 (by the tie-breaker)") {
		t.Errorf("formatStatus without the tie-breaker:\n%s", formatStatus(tie))
	}
	for _, want := range []string{"== n3: state mature, healthy true, quorum 4/3\n", "note: a note", "not eligible (draining) held=[vip-05] leaving=[vip-05]", `vip vip-05 owner="n2" holders=[n2] planned="n3" reason=vacated waiting="x"`} {
		if !strings.Contains(got, want) {
			t.Errorf("formatStatus lacks %q:\n%s", want, got)
		}
	}
}

func TestScanLog(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "n1.log")
	var b strings.Builder
	b.WriteString("time=… level=INFO msg=\"agent started\"\n")
	b.WriteString("panic: runtime error: index out of range\n")
	for range 5 {
		b.WriteString("WARNING: DATA RACE\n")
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	hits := scanLog(file, 3)
	if len(hits) != 4 || !strings.HasSuffix(hits[0], "n1.log:2: panic: runtime error: index out of range") || !strings.Contains(hits[3], "3 more") {
		t.Errorf("hits %q", hits)
	}
	if hits := scanLog(filepath.Join(dir, "none.log"), 3); len(hits) != 1 {
		t.Errorf("missing file: %q", hits)
	}
}

func TestReportSummary(t *testing.T) {
	r := &SoakReport{Seed: 99, Injected: map[schedule.FaultKind]int{schedule.FaultKill: 2, schedule.FaultSplit: 1}, Elapsed: 90 * time.Second,
		Violations: []checker.Violation{{Kind: checker.ViolationDuplicate}, {Kind: checker.ViolationDuplicate}, {Kind: checker.ViolationLog}}}
	s := r.Summary()
	for _, want := range []string{"faults injected: 3 (kill 2, term 0,", "split 1", "violations: 3 (duplicate 2,", "log 1", "seed 99", "1m30s"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	for _, k := range checker.ViolationKinds {
		if !strings.Contains(s, fmt.Sprintf("%s ", k)) {
			t.Errorf("summary lacks %s:\n%s", k, s)
		}
	}
}

// The schedule leaves gaps longer than the checker's convergence window:
// the two defaults are one figure.
func TestDefaultQuietAgrees(t *testing.T) {
	if schedule.DefaultQuiet != checker.DefaultQuiet {
		t.Errorf("schedule.DefaultQuiet %v, checker.DefaultQuiet %v", schedule.DefaultQuiet, checker.DefaultQuiet)
	}
}
