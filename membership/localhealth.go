package membership

import "time"

// localHealth is this node's account of its own timeliness, the idea of
// Lifeguard's local health awareness (Dadgar et al., 2018) reduced to what
// a heartbeat detector needs. A node cannot tell "every member went
// silent" from "I did not run": a process stopped for 3 s (a VM migration,
// SIGSTOP, a long page-in) resumes, sees every member silent for 3 s, and
// would declare them all failed and lose quorum, although it was the one
// that was away. So the heartbeat loop notes when it runs; a gap much
// longer than its interval is this node's own stall, and the silence it
// covers is forgiven. Smaller delays (a starved CPU) make the node more
// tolerant of others' silence rather than quicker to accuse them.
//
// It is pure arithmetic: time comes in as an argument.
type localHealth struct {
	interval, timeout time.Duration
	last              time.Time // the heartbeat loop's last run
	// lateness is the worst delay of the loop's runs beyond its interval,
	// in the current and the previous window of lagWindow timeouts.
	lateness    [2]time.Duration
	windowStart time.Time
}

// lagWindow is how many failure timeouts a lateness is remembered for, at
// least: a host that was busy a moment ago is likely to be busy again.
const lagWindow = 10

func newLocalHealth(t Timing, now time.Time) localHealth {
	return localHealth{interval: t.HeartbeatInterval, timeout: t.FailureTimeout, last: now, windowStart: now}
}

// stallThreshold is the gap between two runs of the heartbeat loop beyond
// which this node counts itself stalled. The loop runs at least every
// heartbeat interval.
func (h *localHealth) stallThreshold() time.Duration {
	return max(3*h.interval, h.timeout/2)
}

// ran records a run of the heartbeat loop at now. It returns how long this
// node was stalled (0 if it was not): the whole gap, when it was longer
// than the stall threshold.
func (h *localHealth) ran(now time.Time) (stalled time.Duration) {
	gap := now.Sub(h.last)
	h.last = now
	if now.Sub(h.windowStart) >= lagWindow*h.timeout {
		h.lateness = [2]time.Duration{0, h.lateness[0]}
		h.windowStart = now
	}
	if gap > h.stallThreshold() {
		return gap
	}
	h.lateness[0] = max(h.lateness[0], gap-h.interval)
	return 0
}

// stalledAt reports whether, at now, the heartbeat loop has not run for
// longer than the stall threshold: the node is stalled (or has just
// resumed and the loop has not run yet). Readers of the view check it
// before trusting the silence of others.
func (h *localHealth) stalledAt(now time.Time) time.Duration {
	if gap := now.Sub(h.last); gap > h.stallThreshold() {
		return gap
	}
	return 0
}

// tolerance is how much longer than the failure timeout this node lets a
// member be silent before it calls it failed: twice its own recent
// lateness, at most one more timeout. A node whose own timers fire late
// (CPU starvation) also reads late what others sent on time.
func (h *localHealth) tolerance() time.Duration {
	return min(2*max(h.lateness[0], h.lateness[1]), h.timeout)
}
