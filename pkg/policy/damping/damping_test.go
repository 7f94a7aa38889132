package damping

import (
	"testing"
	"time"
)

var t0 = time.Unix(1000, 0)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func TestDefaultTimes(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.MaxSuppress(); got != 30*time.Second {
		t.Errorf("MaxSuppress %v, want 30s", got)
	}
	s := State{}.Flap(c, t0)
	if !s.Damped(c, t0) {
		t.Fatal("a first flap does not damp with the defaults")
	}
	if got := s.Until(c, t0); got != at(10) {
		t.Errorf("a single flap damps until %v, want 10 s later", got.Sub(t0))
	}
}

// A transcript: flaps and checks at instants (seconds after t0).
func TestTranscript(t *testing.T) {
	c := Default()
	type step struct {
		at      float64
		flap    bool
		penalty float64 // at the instant, after the flap
		damped  bool
		until   float64 // 0: not damped
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"one flap", []step{
			{at: 0, flap: true, penalty: 1000, damped: true, until: 10},
			{at: 5, penalty: 707.1, damped: true, until: 10},
			{at: 10, penalty: 500, damped: false},
			{at: 20, penalty: 250, damped: false},
		}},
		{"flapping every second for 20 s", func() []step {
			var st []step
			for i := 0; i < 20; i++ {
				st = append(st, step{at: float64(i), flap: true, damped: true, penalty: -1, until: -1})
			}
			return append(st,
				step{at: 19, penalty: 4000, damped: true, until: 49}, // capped: 30 s after the last flap
				step{at: 48.9, penalty: 503.5, damped: true, until: 49},
				step{at: 49, penalty: 500, damped: false},
			)
		}()},
		{"hysteresis: below suppress is not enough", []step{
			{at: 0, flap: true, penalty: 1000, damped: true, until: 10},
			{at: 9, penalty: 535.9, damped: true, until: 10},
			// A flap at 9 s: 1535.9, damped until that decays to 500.
			{at: 9, flap: true, penalty: 1535.9, damped: true, until: 25.2},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s State
			for i, st := range tt.steps {
				now := at(st.at)
				if st.flap {
					s = s.Flap(c, now)
				}
				if p := s.Penalty(c, now); st.penalty >= 0 && (p < st.penalty-0.1 || p > st.penalty+0.1) {
					t.Errorf("step %d (t=%g): penalty %.1f, want %.1f", i, st.at, p, st.penalty)
				}
				if d := s.Damped(c, now); d != st.damped {
					t.Errorf("step %d (t=%g): damped %v, want %v", i, st.at, d, st.damped)
				}
				if st.until >= 0 {
					u := s.Until(c, now)
					var got float64
					if !u.IsZero() {
						got = u.Sub(t0).Seconds()
					}
					if got < st.until-0.05 || got > st.until+0.05 {
						t.Errorf("step %d (t=%g): until %.2f s, want %.2f s", i, st.at, got, st.until)
					}
				}
			}
		})
	}
}

func TestSuppressAboveOneFlap(t *testing.T) {
	c := Config{Penalty: 1000, Suppress: 1900, Reuse: 750, Max: 6000, HalfLife: 15 * time.Second}
	s := State{}.Flap(c, at(0))
	if s.Damped(c, at(0)) {
		t.Fatal("damped after one flap with suppress 1900")
	}
	s = s.Flap(c, at(1))
	if !s.Damped(c, at(1)) {
		t.Fatalf("not damped after two quick flaps (penalty %.0f)", s.Penalty(c, at(1)))
	}
}

func TestOff(t *testing.T) {
	c := Off()
	s := State{}
	for i := 0; i < 10; i++ {
		s = s.Flap(c, at(float64(i)))
	}
	if s.Damped(c, at(10)) || s.Penalty(c, at(10)) != 0 || c.MaxSuppress() != 0 {
		t.Fatal("damping that is off damps")
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{Penalty: 1000, Suppress: 1000, Reuse: 500, Max: 4000},                         // no half-life
		{Penalty: 1000, Suppress: 1000, Reuse: 1000, Max: 4000, HalfLife: time.Second}, // reuse = suppress
		{Penalty: 1000, Suppress: 5000, Reuse: 500, Max: 4000, HalfLife: time.Second},  // suppress > max
		{Penalty: 1000, Suppress: 1000, Reuse: 0, Max: 4000, HalfLife: time.Second},    // no reuse
	} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
