package health

import (
	"math"
	"strings"
	"testing"
)

// results parses "++-+" into successes (+) and failures (-).
func results(s string) []bool {
	r := make([]bool, len(s))
	for i := range s {
		r[i] = s[i] == '+'
	}
	return r
}

func TestTracker(t *testing.T) {
	tests := []struct {
		rise, fall int
		seq        string
		// states after each result: H healthy, u unhealthy; a capital
		// letter where the state changed.
		want string
	}{
		{2, 3, "", ""},
		{2, 3, "-", "u"},
		{2, 3, "+", "u"},
		{2, 3, "++", "uH"},
		{2, 3, "+-+", "uuu"},
		{2, 3, "+-++", "uuuH"},
		{2, 3, "++--", "uHhh"},
		{2, 3, "++---", "uHhhU"},
		{2, 3, "++--+---", "uHhhhhhU"},
		{2, 3, "++---+-++", "uHhhUuuuH"},
		{2, 3, "-----++", "uuuuuuH"},
		{1, 1, "+-+-", "HUHU"},
		{1, 1, "--++", "uuHh"},
		{3, 1, "++-+++-", "uuuuuHU"},
		{1, 3, "+--+---", "Hhhhhh" + "U"},
		// Below 1 counts as 1.
		{0, 0, "+-", "HU"},
		{-5, -5, "+-", "HU"},
	}
	for _, tt := range tests {
		tr := NewTracker(tt.rise, tt.fall)
		var got strings.Builder
		for _, ok := range results(tt.seq) {
			changed := tr.Observe(ok)
			c := byte('u')
			if tr.Healthy() {
				c = 'h'
			}
			if changed {
				c -= 'a' - 'A'
			}
			got.WriteByte(c)
		}
		if got.String() != tt.want {
			t.Errorf("rise %d fall %d %q: got %s, want %s", tt.rise, tt.fall, tt.seq, got.String(), tt.want)
		}
	}
}

// TestTrackerExhaustive compares Tracker with a definition written
// differently, over every sequence of up to 10 results for rise and fall
// 1 to 4: the state flips to healthy when the last rise results passed,
// and to unhealthy when the last fall results failed; it starts unhealthy.
func TestTrackerExhaustive(t *testing.T) {
	const maxLen = 10
	all := func(r []bool, n int, want bool) bool {
		if len(r) < n {
			return false
		}
		for _, ok := range r[len(r)-n:] {
			if ok != want {
				return false
			}
		}
		return true
	}
	runLen := func(r []bool) int {
		n := 0
		for i := len(r) - 1; i >= 0 && r[i] == r[len(r)-1]; i-- {
			n++
		}
		return n
	}
	for rise := 1; rise <= 4; rise++ {
		for fall := 1; fall <= 4; fall++ {
			for n := 0; n <= maxLen; n++ {
				for bits := 0; bits < 1<<n; bits++ {
					seq := make([]bool, n)
					for i := range seq {
						seq[i] = bits&(1<<i) != 0
					}
					tr := NewTracker(rise, fall)
					want := false
					for i, ok := range seq {
						prev := want
						switch {
						case !want && all(seq[:i+1], rise, true):
							want = true
						case want && all(seq[:i+1], fall, false):
							want = false
						}
						changed := tr.Observe(ok)
						if tr.Healthy() != want || changed != (want != prev) {
							t.Fatalf("rise %d fall %d, %v: after %d results healthy=%v changed=%v, want %v %v",
								rise, fall, seq, i+1, tr.Healthy(), changed, want, want != prev)
						}
						s, f := 0, runLen(seq[:i+1])
						if ok {
							s, f = f, 0
						}
						if tr.Successes() != s || tr.Failures() != f {
							t.Fatalf("rise %d fall %d, %v: after %d results %d successes, %d failures; want %d, %d",
								rise, fall, seq, i+1, tr.Successes(), tr.Failures(), s, f)
						}
					}
				}
			}
		}
	}
}

func TestTrackerZero(t *testing.T) {
	var tr Tracker
	if tr.Healthy() {
		t.Fatal("zero Tracker is healthy")
	}
	if !tr.Observe(true) || !tr.Healthy() {
		t.Fatal("zero Tracker: one success does not make it healthy")
	}
	if !tr.Observe(false) || tr.Healthy() {
		t.Fatal("zero Tracker: one failure does not make it unhealthy")
	}
}

func TestTrackerSaturates(t *testing.T) {
	tr := NewTracker(1, 1)
	tr.successes = math.MaxInt - 1
	tr.Observe(true)
	tr.Observe(true)
	if tr.Successes() != math.MaxInt {
		t.Errorf("successes = %d, want MaxInt", tr.Successes())
	}
	tr.failures = math.MaxInt
	tr.successes = 0
	tr.healthy = false
	tr.Observe(false)
	if tr.Failures() != math.MaxInt {
		t.Errorf("failures = %d, want MaxInt", tr.Failures())
	}
}
