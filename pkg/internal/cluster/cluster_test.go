package cluster

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
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

func TestFaultGap(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	result := func(end int, replies ...int) lab.Result {
		r := lab.Result{Start: t0, End: at(end)}
		for i, ms := range replies {
			r.Replies = append(r.Replies, lab.Reply{Seq: i, Received: at(ms)})
		}
		return r
	}
	tests := []struct {
		name     string
		r        lab.Result
		fault    int
		gap      time.Duration
		from, to int
	}{
		// 4.5 s before the first reply (ARP) do not count: the fault
		// comes later, and the failover's gap is 900 ms.
		{"slow start", result(5440, 4500, 4510, 4520, 5420, 5430), 4525, 900 * time.Millisecond, 4520, 5420},
		{"gap across the fault", result(1020, 10, 20, 30, 1000, 1010), 25, 970 * time.Millisecond, 30, 1000},
		{"a later, longer gap", result(1520, 10, 20, 100, 1500, 1510), 15, 1400 * time.Millisecond, 100, 1500},
		{"never back", result(3000, 10, 20), 25, 2980 * time.Millisecond, 20, 3000},
		// Replies out of order are sorted by arrival.
		{"unsorted", result(1020, 1000, 10, 20, 1010), 25, 980 * time.Millisecond, 20, 1000},
	}
	for _, tt := range tests {
		gap, from, to := faultGap(tt.r, at(tt.fault))
		if gap != tt.gap || !from.Equal(at(tt.from)) || !to.Equal(at(tt.to)) {
			t.Errorf("%s: faultGap = %v from %v to %v, want %v from %d ms to %d ms", tt.name, gap, from.Sub(t0), to.Sub(t0), tt.gap, tt.from, tt.to)
		}
	}
}
