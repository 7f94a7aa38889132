package membership

import (
	"testing"
	"time"

	"github.com/wackamole/wackamole/membership/heartbeat"
)

func TestLocalHealth(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	type run struct {
		at        int // ms after t0
		stalled   int // ms, what ran returns
		tolerance int // ms, after the run
	}
	for _, tt := range []struct {
		name string
		runs []run
	}{
		{"on time", []run{{200, 0, 0}, {400, 0, 0}, {600, 0, 0}}},
		// 150 ms late: the node waits 300 ms longer for others.
		{"late", []run{{200, 0, 0}, {550, 0, 300}, {750, 0, 300}}},
		// Lateness is capped at one timeout (1 s).
		{"very late", []run{{590, 0, 780}, {1180, 0, 780}, {1690, 0, 780}}},
		// A gap over the threshold (600 ms) is a stall, not lateness.
		{"stall", []run{{200, 0, 0}, {3200, 3000, 0}, {3400, 0, 0}}},
		// Lateness is forgotten after two windows of 10 timeouts.
		{"forgotten", []run{{550, 0, 700}, {10550, 10000, 700}, {20550, 10000, 0}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newLocalHealth(LAN(), t0)
			for _, r := range tt.runs {
				if got := h.ran(t0.Add(ms(r.at))); got != ms(r.stalled) {
					t.Errorf("run at %d ms: stalled %v, want %v", r.at, got, ms(r.stalled))
				}
				if got := h.tolerance(); got != ms(r.tolerance) {
					t.Errorf("after the run at %d ms: tolerance %v, want %v", r.at, got, ms(r.tolerance))
				}
			}
		})
	}
}

func TestStalledAt(t *testing.T) {
	t0 := time.Unix(1000, 0)
	h := newLocalHealth(Timing{HeartbeatInterval: 25 * time.Millisecond, FailureTimeout: 150 * time.Millisecond}, t0) // threshold: max(75 ms, 75 ms)
	if got := h.stalledAt(t0.Add(70 * time.Millisecond)); got != 0 {
		t.Fatalf("stalled %v after 70 ms", got)
	}
	if got := h.stalledAt(t0.Add(80 * time.Millisecond)); got != 80*time.Millisecond {
		t.Fatalf("stalled %v after 80 ms, want 80ms", got)
	}
}

// A node that did not run for 3 s must not find every member failed when
// it resumes: their silence over its stall is forgiven, and the view says
// it is recovering until each was heard again.
func TestStallIsForgiven(t *testing.T) {
	now := time.Now()
	g := bareGroup(t, LAN())
	for name, silent := range map[string]time.Duration{
		"n2": 100 * time.Millisecond,
		"n3": 900 * time.Millisecond, // about to fail anyway
		"n4": 5 * time.Second,        // failed before
	} {
		join(g, name, metaVersion{start: 1, counter: 1}, metaHolding())
		// The loop last ran 3 s ago, and so did everything else.
		(*beats)(g).OnBeat(from, beatFrom(name, 1, 1), now.Add(-silent-3*time.Second))
	}
	g.health.last = now.Add(-3 * time.Second)
	v := g.View()
	alive := map[string]bool{}
	for _, m := range v.Members {
		alive[m.Name] = m.Alive
	}
	if !alive["n2"] || !alive["n3"] || alive["n4"] {
		t.Fatalf("after the stall: alive %v, want n2 and n3 (their silence was this node's), not n4", alive)
	}
	if !v.Recovering {
		t.Fatal("the view does not say it is recovering")
	}
	for len(g.changed) > 0 {
		<-g.changed
	}
	(*beats)(g).OnBeat(from, beatFrom("n2", 1, 1), time.Now())
	if !g.View().Recovering {
		t.Fatal("recovered before n3 was heard")
	}
	(*beats)(g).OnBeat(from, beatFrom("n3", 1, 1), time.Now())
	if g.View().Recovering {
		t.Fatal("still recovering after every member was heard")
	}
	select {
	case <-g.changed:
	default:
		t.Fatal("the end of recovery was not signalled")
	}
	// Without a stall, silence is silence.
	g.members["n2"].lastHeard = time.Now().Add(-2 * time.Second)
	g.members["n2"].heardAny = g.members["n2"].lastHeard
	for _, m := range g.View().Members {
		if m.Name == "n2" && m.Alive {
			t.Fatal("n2, silent for 2 s, is alive")
		}
	}
}

// After a stall a member counts as heard again only on a beat that
// arrived after it, and only once this node holds the metadata that beat
// names: the beats queued during the stall are read first, and the
// metadata (what the member took over meanwhile) comes a round trip after
// the first fresh beat. On 6d18811 recovery ended on the queued beats, the
// node announced its VIPs as their only holder, and the member that had
// taken one over defended it (TestStalledOwnerResumes).
func TestRecoveryWaitsForFreshBeatsAndMetadata(t *testing.T) {
	now := time.Now()
	g := bareGroup(t, LAN())
	join(g, "n2", metaVersion{start: 1, counter: 1}, metaHolding())
	(*beats)(g).OnBeat(from, beatFrom("n2", 1, 1), now.Add(-3*time.Second-100*time.Millisecond))
	g.health.last = now.Add(-3 * time.Second)
	if !g.View().Recovering {
		t.Fatal("the view does not say it is recovering")
	}
	// Queued during the stall: n2 took a VIP over (version 2).
	(*beats)(g).OnBeat(from, beatFrom("n2", 1, 2), now.Add(-time.Second))
	if !g.View().Recovering {
		t.Fatal("recovered on a beat that arrived during the stall")
	}
	(*beats)(g).OnBeat(from, beatFrom("n2", 1, 2), time.Now())
	if !g.View().Recovering {
		t.Fatal("recovered before the metadata the beat names arrived")
	}
	(*beats)(g).OnMetaReply(from, &heartbeat.MetaReply{Header: heartbeat.Header{Sender: heartbeat.ID("n2"), Process: 1, Counter: 2}, Version: 2, Meta: metaHolding(1)}, time.Now())
	v := g.View()
	if v.Recovering {
		t.Fatal("still recovering with n2 heard and its metadata current")
	}
	if m := member(v, "n2"); !m.Alive || !m.Meta.Held.Has(1) {
		t.Fatalf("n2 after the recovery: %+v, want alive and holding VIP 1", m)
	}
	// The same through memberlist's gossip instead of the pull.
	g2 := bareGroup(t, LAN())
	join(g2, "n2", metaVersion{start: 1, counter: 1}, metaHolding())
	(*beats)(g2).OnBeat(from, beatFrom("n2", 1, 1), now.Add(-3*time.Second-100*time.Millisecond))
	g2.health.last = now.Add(-3 * time.Second)
	g2.View()
	(*beats)(g2).OnBeat(from, beatFrom("n2", 1, 3), time.Now())
	join(g2, "n2", metaVersion{start: 1, counter: 3}, metaHolding(1))
	if g2.View().Recovering {
		t.Fatal("still recovering after memberlist brought the metadata the beat names")
	}
}

// A beat naming a metadata version not asked for yet is asked for at
// once, even right after another request: a contest waits on it.
func TestNewMetadataVersionIsAskedForAtOnce(t *testing.T) {
	g := bareGroup(t, LAN())
	join(g, "n2", metaVersion{start: 1, counter: 1}, metaHolding())
	now := time.Now()
	(*beats)(g).OnBeat(from, beatFrom("n2", 1, 2), now)
	(*beats)(g).OnBeat(from, beatFrom("n2", 1, 3), now.Add(time.Millisecond))
	if p := g.members["n2"]; p.askedFor != (metaVersion{start: 1, counter: 3}) || !p.asked.Equal(now.Add(time.Millisecond)) {
		t.Fatalf("version 3, named 1 ms after version 2 was asked for: asked for %+v at %v, want version 3 at once", p.askedFor, p.asked.Sub(now))
	}
	(*beats)(g).OnBeat(from, beatFrom("n2", 1, 3), now.Add(2*time.Millisecond))
	if p := g.members["n2"]; !p.asked.Equal(now.Add(time.Millisecond)) {
		t.Fatal("asked for the same version again at once")
	}
}
