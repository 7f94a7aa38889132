// Package damping holds a flapping node out of VIP ownership, the way BGP
// route flap damping holds a flapping route out of the routing table
// (RFC 2439).
//
// Each flap (a VIP interface going down, the health checks starting to
// fail) adds a fixed penalty. The penalty
// decays exponentially, halving every half-life. A node whose penalty
// reaches the suppress limit is damped: it takes no VIPs, nor may a
// preference pull one back to it, until the penalty has decayed below the
// reuse limit. The penalty is capped, so a node that stops flapping is
// eligible again within a bounded time (MaxSuppress).
//
// With the defaults a single flap damps the node for 10 s (its VIPs have
// moved anyway; it only does not get them back at once), and a port
// flapping every second keeps it out until it has been stable for up to
// 30 s: each VIP moves once when the flapping starts and once when it is
// over, instead of once per flap.
//
// Everything here is pure: time comes in as an argument.
package damping

import (
	"errors"
	"math"
	"time"
)

// Config are the damping parameters, in RFC 2439's terms.
type Config struct {
	// Penalty is what one flap adds.
	Penalty float64
	// Suppress is the penalty at which the node is damped.
	Suppress float64
	// Reuse is the penalty below which a damped node is eligible again.
	Reuse float64
	// Max caps the penalty.
	Max float64
	// HalfLife is how long the penalty takes to halve.
	HalfLife time.Duration
}

// Default returns the default parameters: penalty 1000 per flap, damped
// at 1000 (the first flap), eligible again below 500, at most 4000,
// half-life 10 s. A single flap damps for 10 s, the most for 30 s.
func Default() Config {
	return Config{Penalty: 1000, Suppress: 1000, Reuse: 500, Max: 4000, HalfLife: 10 * time.Second}
}

// Off returns parameters that never damp.
func Off() Config { return Config{} }

// Enabled reports whether c damps at all.
func (c Config) Enabled() bool { return c.Penalty > 0 }

// Validate checks that the parameters make sense together.
func (c Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	switch {
	case c.HalfLife <= 0:
		return errors.New("half-life must be positive")
	case c.Reuse <= 0 || c.Reuse >= c.Suppress:
		return errors.New("reuse limit must be positive and below the suppress limit")
	case c.Suppress > c.Max:
		return errors.New("suppress limit must not exceed the maximum penalty")
	}
	return nil
}

// MaxSuppress is the longest a node stays damped after its last flap: the
// time the capped penalty takes to decay to the reuse limit.
func (c Config) MaxSuppress() time.Duration {
	if !c.Enabled() {
		return 0
	}
	return c.decayTime(c.Max, c.Reuse)
}

// decayTime is how long a penalty takes to decay from p to q.
func (c Config) decayTime(p, q float64) time.Duration {
	if p <= q {
		return 0
	}
	return time.Duration(math.Ceil(float64(c.HalfLife) * math.Log2(p/q)))
}

// State is one node's penalty. The zero value has none.
type State struct {
	penalty float64   // as of at
	at      time.Time // of the last update
	damped  bool      // as of at
	flaps   int       // since the penalty was last zero, for reports
}

// Penalty is the penalty at now.
func (s State) Penalty(c Config, now time.Time) float64 {
	if s.penalty == 0 || !c.Enabled() {
		return 0
	}
	elapsed := now.Sub(s.at)
	if elapsed <= 0 {
		return s.penalty
	}
	return s.penalty * math.Exp2(-float64(elapsed)/float64(c.HalfLife))
}

// Flap records a flap at now.
func (s State) Flap(c Config, now time.Time) State {
	if !c.Enabled() {
		return s
	}
	s = s.advance(c, now)
	s.penalty = math.Min(s.penalty+c.Penalty, c.Max)
	s.flaps++
	if s.penalty >= c.Suppress {
		s.damped = true
	}
	return s
}

// advance brings the state to now: decays the penalty and ends the damping
// once the penalty is below the reuse limit.
func (s State) advance(c Config, now time.Time) State {
	s.penalty = s.Penalty(c, now)
	if now.After(s.at) {
		s.at = now
	}
	if s.damped && s.penalty <= c.Reuse {
		s.damped = false
	}
	if !s.damped && s.penalty < 1 {
		s.penalty, s.flaps = 0, 0
	}
	return s
}

// Damped reports whether the node is damped at now.
func (s State) Damped(c Config, now time.Time) bool {
	return s.damped && s.Penalty(c, now) > c.Reuse
}

// Until is when a damped node becomes eligible again (the zero time if it
// is not damped at now).
func (s State) Until(c Config, now time.Time) time.Time {
	if !s.Damped(c, now) {
		return time.Time{}
	}
	return now.Add(c.decayTime(s.Penalty(c, now), c.Reuse))
}

// Flaps counts the flaps since the node was last without penalty.
func (s State) Flaps() int { return s.flaps }
