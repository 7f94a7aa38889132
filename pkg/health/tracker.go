package health

import "math"

// Tracker turns the results of one check, in order, into a state with
// hysteresis: it becomes healthy after rise consecutive successes and
// unhealthy after fall consecutive failures (like haproxy's and
// keepalived's rise and fall).
//
// A Tracker starts unhealthy, so a freshly started node takes no VIP
// until its service has answered rise times; it never passes through an
// "unknown" state that would count as either. The zero Tracker is
// unhealthy with rise and fall of 1.
//
// A Tracker is a plain value without locking; Monitor guards its own.
type Tracker struct {
	rise, fall int
	healthy    bool
	successes  int // in a row
	failures   int // in a row
}

// NewTracker returns an unhealthy Tracker. Rise and fall below 1 count as 1.
func NewTracker(rise, fall int) Tracker {
	return Tracker{rise: max(rise, 1), fall: max(fall, 1)}
}

// Observe records one result, true for a success, and reports whether
// the state changed.
func (t *Tracker) Observe(ok bool) (changed bool) {
	if ok {
		t.failures = 0
		t.successes = inc(t.successes)
		if !t.healthy && t.successes >= max(t.rise, 1) {
			t.healthy = true
			return true
		}
		return false
	}
	t.successes = 0
	t.failures = inc(t.failures)
	if t.healthy && t.failures >= max(t.fall, 1) {
		t.healthy = false
		return true
	}
	return false
}

// inc counts up without overflowing: a check that runs every millisecond
// for ever must not wrap around to negative.
func inc(n int) int {
	if n == math.MaxInt {
		return n
	}
	return n + 1
}

// Healthy reports the state.
func (t *Tracker) Healthy() bool { return t.healthy }

// Successes is the number of consecutive successes up to now (0 after a
// failure).
func (t *Tracker) Successes() int { return t.successes }

// Failures is the number of consecutive failures up to now (0 after a
// success).
func (t *Tracker) Failures() int { return t.failures }
