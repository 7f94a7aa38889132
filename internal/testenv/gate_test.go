package testenv

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// verdictRecorder records what the gate decided instead of stopping the
// test.
type verdictRecorder struct {
	testing.TB
	verdict, msg string
}

func (r *verdictRecorder) Helper() {}
func (r *verdictRecorder) Fatalf(format string, args ...any) {
	r.verdict, r.msg = "fail", fmt.Sprintf(format, args...)
}
func (r *verdictRecorder) Skipf(format string, args ...any) {
	r.verdict, r.msg = "skip", fmt.Sprintf(format, args...)
}

func TestGate(t *testing.T) {
	root := os.Geteuid() == 0
	tests := []struct {
		name     string
		commands []string
		e2e      string
		// want is the verdict as root; without root it is always skip
		// or fail.
		want, msg string
	}{
		{"present", []string{"sh"}, "", "", ""},
		{"missing command skips", []string{"sh", "no-such-command-wk"}, "", "skip", "command no-such-command-wk not found"},
		{"missing command fails under e2e", []string{"no-such-command-wk"}, "1", "fail", "WACKAMOLE_E2E=1, so this is a failure"},
		{"other values of the variable skip", []string{"no-such-command-wk"}, "yes", "skip", "set WACKAMOLE_E2E=1 to fail instead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(E2EEnv, tt.e2e)
			r := &verdictRecorder{TB: t}
			RequireRoot(r, tt.commands...)
			want, msg := tt.want, tt.msg
			if !root {
				want, msg = "skip", "needs root"
				if tt.e2e == "1" {
					want = "fail"
				}
			}
			if r.verdict != want || !strings.Contains(r.msg, msg) {
				t.Errorf("verdict %q (%q), want %q containing %q", r.verdict, r.msg, want, msg)
			}
		})
	}
}

func TestRequireNetnsNeedsIP(t *testing.T) {
	t.Setenv(E2EEnv, "")
	t.Setenv("PATH", t.TempDir())
	r := &verdictRecorder{TB: t}
	RequireNetns(r)
	want := "command ip not found"
	if os.Geteuid() != 0 {
		want = "needs root"
	}
	if r.verdict != "skip" || !strings.Contains(r.msg, want) {
		t.Errorf("without ip on PATH: %q (%q), want skip with %q", r.verdict, r.msg, want)
	}
}
