package heartbeat

import (
	"fmt"
	"time"
)

// A Pacer paces a heartbeat loop: Wait returns once per interval, on a
// fixed grid (start + k*interval), so that late wake-ups do not add up to
// drift, and says how late it woke.
//
// On Linux it sleeps in the kernel (clock_nanosleep(2) on CLOCK_MONOTONIC
// with an absolute deadline), not on a Go timer: the kernel wakes the
// calling thread itself. A Go timer is fired by whichever runtime thread
// gets to run it, at normal priority; on a host whose CPUs are busy, a
// realtime sender thread (LockThread) would then wait for the very
// threads it is meant to outrun. Use a Pacer from a goroutine locked with
// LockThread.
//
// Lateness is the measure of a starved host (Lifeguard's "local health"):
// a node whose own timer fires late is the one being slow, not its peers,
// and should give them more time before it declares them silent.
//
// A Pacer is used by one goroutine at a time.
type Pacer struct {
	interval time.Duration
	next     int64 // deadline, nanoseconds on the pacer's clock
}

// NewPacer returns a Pacer whose first Wait returns one interval from now.
// The interval must be at least a millisecond.
func NewPacer(interval time.Duration) (*Pacer, error) {
	if interval < time.Millisecond {
		return nil, fmt.Errorf("heartbeat: pacer interval %v is below 1ms", interval)
	}
	return &Pacer{interval: interval, next: monotonicNow() + int64(interval)}, nil
}

// Interval returns the pacer's interval.
func (p *Pacer) Interval() time.Duration { return p.interval }

// Wait sleeps until the next tick and returns how late it woke: about
// zero on an idle host, more on a busy one. If it woke a whole interval
// late or more, the ticks it missed are skipped, not made up: the next
// one is an interval after now.
func (p *Pacer) Wait() (late time.Duration) {
	sleepUntil(p.next)
	now := monotonicNow()
	late = time.Duration(now - p.next)
	p.next += int64(p.interval)
	if p.next <= now {
		p.next = now + int64(p.interval)
	}
	return max(late, 0)
}
