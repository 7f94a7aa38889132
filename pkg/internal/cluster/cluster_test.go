package cluster

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConverged(t *testing.T) {
	a, b, c := netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101"), netip.MustParseAddr("198.18.0.102")
	live := []string{"n1", "n2", "n3"}
	tests := []struct {
		name    string
		holders map[netip.Addr][]string
		ok      bool
		why     string
	}{
		{"one each", map[netip.Addr][]string{a: {"n1"}, b: {"n2"}, c: {"n3"}}, true, ""},
		{"held twice", map[netip.Addr][]string{a: {"n1", "n2"}, b: {"n2"}, c: {"n3"}}, false, "held by [n1 n2]"},
		{"unheld", map[netip.Addr][]string{a: nil, b: {"n2"}, c: {"n3"}}, false, "held by []"},
		{"dead holder", map[netip.Addr][]string{a: {"n9"}, b: {"n2"}, c: {"n3"}}, false, "not a live node"},
		{"unbalanced", map[netip.Addr][]string{a: {"n1"}, b: {"n1"}, c: {"n2"}}, false, "unbalanced"},
	}
	for _, tt := range tests {
		ok, why := Converged(tt.holders, live)
		if ok != tt.ok || !strings.Contains(why, tt.why) {
			t.Errorf("%s: Converged = %v %q", tt.name, ok, why)
		}
	}
	if d := Duplicates(map[netip.Addr][]string{a: {"n1", "n2"}, b: {"n2"}}); len(d) != 1 {
		t.Errorf("Duplicates = %v", d)
	}
}

func TestSummarize(t *testing.T) {
	ms := func(n ...int) []Outage {
		var out []Outage
		for _, v := range n {
			out = append(out, Outage{Gap: time.Duration(v) * time.Millisecond})
		}
		return out
	}
	if s := Summarize(ms(30, 10, 20)); s.Median != 20*time.Millisecond || s.Min != 10*time.Millisecond || s.Max != 30*time.Millisecond {
		t.Errorf("odd: %+v", s)
	}
	if s := Summarize(ms(40, 10, 20, 30)); s.Median != 25*time.Millisecond {
		t.Errorf("even: %+v", s)
	}
	if s := Summarize(nil); s.Runs != 0 {
		t.Errorf("empty: %+v", s)
	}
}

func TestTails(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	if err := os.WriteFile(a, []byte("1\n2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := tails([]string{a, filepath.Join(dir, "missing.log")}, 2)
	want := "==== " + a + " (last 2 lines)\n2\n3\n"
	if got != want {
		t.Fatalf("tails = %q, want %q", got, want)
	}
}
