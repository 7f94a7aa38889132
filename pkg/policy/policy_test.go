package policy

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/membership"
	"github.com/wackamole/wackamole/pkg/policy/damping"
	"github.com/wackamole/wackamole/vip"
)

var t0 = time.Unix(1000, 0)

func testConfig() Config {
	return Config{
		Self:        "n1",
		VIPs:        []vip.Spec{{Name: "a"}, {Name: "b"}, {Name: "c"}},
		Fingerprint: 7,
		QuorumNeed:  2,
		Mature:      time.Second,
		Settle:      300 * time.Millisecond,
	}
}

// member is a live, fresh, mature, healthy peer with fingerprint fp,
// holding the VIPs at held (indexes into testConfig's list).
func member(name string, fp uint64, held ...int) membership.Member {
	m := membership.Meta{State: membership.Mature, Healthy: true, Fingerprint: fp, Held: membership.NewBitmap(3), Leaving: membership.NewBitmap(3)}
	for _, i := range held {
		m.Held.Set(i)
	}
	return membership.Member{Name: name, Alive: true, Fresh: true, Process: 1, Meta: m}
}

func view(ms ...membership.Member) membership.View {
	self := membership.Member{Name: "n1", Self: true, Alive: true, Fresh: true}
	return membership.View{Self: "n1", Members: append([]membership.Member{self}, ms...)}
}

func local() Local {
	return Local{Started: t0, Held: map[string]bool{}, Leaving: map[string]bool{}, Healthy: true}
}

// step is one round of a transcript: the view at an instant (seconds after
// t0) and what the decision must say.
type step struct {
	at      float64
	view    membership.View
	local   func(*Local)
	quorum  string // "have/need"
	settle  bool
	state   membership.State
	events  string // kinds, space-separated
	members string // name:eligible-or-why, space-separated
	holds   string // name:holds, for the allocator input, space-separated
	next    float64
}

func run(t *testing.T, c Config, steps []step) {
	t.Helper()
	var mem Memory
	for i, s := range steps {
		l := local()
		if s.local != nil {
			s.local(&l)
		}
		now := t0.Add(time.Duration(s.at * float64(time.Second)))
		d := Decide(c, s.view, l, mem, now)
		mem = d.Memory
		where := fmt.Sprintf("step %d (t=%gs)", i, s.at)
		if got := fmt.Sprintf("%d/%d", d.Quorum.Have, d.Quorum.Need); s.quorum != "" && got != s.quorum {
			t.Errorf("%s: quorum %s, want %s", where, got, s.quorum)
		}
		if d.Input.Quorum != d.Quorum.OK() {
			t.Errorf("%s: allocator quorum %v, decision %v", where, d.Input.Quorum, d.Quorum.OK())
		}
		if d.Settling != s.settle {
			t.Errorf("%s: settling %v, want %v", where, d.Settling, s.settle)
		}
		if d.State != s.state {
			t.Errorf("%s: state %v, want %v", where, d.State, s.state)
		}
		if got := eventString(d.Events); got != s.events {
			t.Errorf("%s: events %q, want %q", where, got, s.events)
		}
		if s.members != "" {
			if got := verdictString(d.Members); got != s.members {
				t.Errorf("%s: members %q, want %q", where, got, s.members)
			}
		}
		if s.holds != "" {
			if got := holdString(d.Input.Members); got != s.holds {
				t.Errorf("%s: allocator members %q, want %q", where, got, s.holds)
			}
		}
		var next float64
		if !d.Next.IsZero() {
			next = d.Next.Sub(t0).Seconds()
		}
		if math.Abs(next-s.next) > 0.01 {
			t.Errorf("%s: next %gs, want %gs", where, next, s.next)
		}
	}
}

var eventNames = map[EventKind]string{QuorumReached: "quorum-reached", QuorumLost: "quorum-lost", MismatchStarted: "mismatch", MismatchLasting: "mismatch-lasting", NoEligible: "no-eligible",
	Flapped: "flapped", Damped: "damped", Undamped: "undamped", DampingIgnored: "damping-ignored"}

func eventString(evs []Event) string {
	var out []string
	for _, e := range evs {
		s := eventNames[e.Kind]
		if e.Member != "" {
			s += ":" + e.Member
		}
		if e.Cause != "" {
			s += ":" + strings.ReplaceAll(e.Cause, " ", "-")
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func verdictString(vs []Verdict) string {
	var out []string
	for _, v := range vs {
		s := v.Member.Name + ":"
		if v.Eligible {
			s += "ok"
		} else {
			s += strings.ReplaceAll(v.Why, " ", "-")
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func holdString(ms []vip.Member) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name+":"+strings.Join(m.Holds, ","))
	}
	return strings.Join(out, " ")
}

func TestStartMaturesThenSettles(t *testing.T) {
	v := view(member("n2", 7), member("n3", 7))
	run(t, testConfig(), []step{
		// Joining for Mature (1 s), then settling for Settle (0.3 s).
		{at: 0, view: v, quorum: "3/2", settle: true, state: membership.Joining, events: "quorum-reached", members: "n1:joining n2:ok n3:ok", next: 1},
		{at: 0.5, view: v, quorum: "3/2", settle: true, state: membership.Joining, next: 1},
		{at: 1, view: v, quorum: "3/2", settle: true, state: membership.Mature, members: "n1:ok n2:ok n3:ok", next: 1.3},
		{at: 1.3, view: v, quorum: "3/2", settle: false, state: membership.Mature},
	})
}

func TestQuorumCountsFreshCompatibleMembersOnly(t *testing.T) {
	stale := member("n2", 7)
	stale.Fresh = false
	silent := member("n3", 7)
	silent.Alive, silent.Fresh = false, false
	unreadable := member("n3", 7)
	unreadable.MetaErr = fmt.Errorf("meta: version 9")
	for _, tt := range []struct {
		name    string
		view    membership.View
		quorum  string
		members string
		holds   string
	}{
		{"everyone", view(member("n2", 7), member("n3", 7)), "3/2", "n1:ok n2:ok n3:ok", "n1: n2: n3:"},
		// Stale: out of quorum, but still in the plan, its VIPs not orphans.
		{"stale", view(stale, member("n3", 7, 2)), "2/2", "n1:ok n2:ok n3:ok", "n1: n2: n3:c"},
		// Silent: out of quorum and out of the plan.
		{"silent", view(member("n2", 7, 1), silent), "2/2", "n1:ok n2:ok n3:silent", "n1: n2:b"},
		// Another configuration, never seen with ours: nothing to go by.
		{"other configuration", view(member("n2", 7), member("n3", 8, 2)), "2/2", "n1:ok n2:ok n3:different-VIP-configuration", "n1: n2: n3:"},
		{"unreadable", view(member("n2", 7), unreadable), "2/2", "n1:ok n2:ok n3:unreadable-metadata:-meta:-version-9", "n1: n2: n3:"},
		{"alone", view(), "1/2", "n1:ok", "n1:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig()
			c.Mature = 0
			d := Decide(c, tt.view, local(), Memory{}, t0.Add(time.Second))
			if got := fmt.Sprintf("%d/%d", d.Quorum.Have, d.Quorum.Need); got != tt.quorum {
				t.Errorf("quorum %s, want %s", got, tt.quorum)
			}
			if got := verdictString(d.Members); got != tt.members {
				t.Errorf("members %q, want %q", got, tt.members)
			}
			if got := holdString(d.Input.Members); got != tt.holds {
				t.Errorf("allocator members %q, want %q", got, tt.holds)
			}
		})
	}
}

// The transcripts below follow a reload and a comeback.
func TestReconfigurationGraceTranscript(t *testing.T) {
	c := testConfig()
	c.Mature = 0
	before := view(member("n2", 7, 1), member("n3", 7))
	reloaded := view(member("n2", 8), member("n3", 7)) // its bitmaps index another list
	run(t, c, []step{
		{at: 0, view: before, quorum: "3/2", settle: true, state: membership.Mature, events: "quorum-reached", holds: "n1: n2:b n3:", next: 0.3},
		{at: 1, view: reloaded, quorum: "3/2", state: membership.Mature, events: "mismatch:n2", members: "n1:ok n2:ok n3:ok", holds: "n1: n2:b n3:", next: 11},
		{at: 10.9, view: reloaded, quorum: "3/2", state: membership.Mature, holds: "n1: n2:b n3:", next: 11},
		{at: 11, view: reloaded, quorum: "2/2", state: membership.Mature, events: "mismatch-lasting:n2", members: "n1:ok n2:different-VIP-configuration n3:ok", holds: "n1: n2: n3:"},
		// Back to our configuration: readable again, nothing to report.
		{at: 12, view: before, quorum: "3/2", state: membership.Mature, holds: "n1: n2:b n3:"},
	})
}

func TestNoGraceForAMemberThatCameBack(t *testing.T) {
	c := testConfig()
	c.Mature = 0
	silent := member("n2", 7, 1)
	silent.Alive, silent.Fresh = false, false
	restarted := member("n2", 8)
	restarted.Process = 2
	run(t, c, []step{
		{at: 0, view: view(member("n2", 7, 1), member("n3", 7)), quorum: "3/2", settle: true, state: membership.Mature, events: "quorum-reached", holds: "n1: n2:b n3:", next: 0.3},
		{at: 1, view: view(silent, member("n3", 7)), quorum: "2/2", state: membership.Mature, holds: "n1: n3:"},
		// Back with another configuration: its claims from before are forgotten.
		{at: 2, view: view(member("n2", 8), member("n3", 7)), quorum: "2/2", state: membership.Mature, events: "mismatch:n2", members: "n1:ok n2:different-VIP-configuration n3:ok", holds: "n1: n2: n3:", next: 12},
	})
	run(t, c, []step{
		{at: 0, view: view(member("n2", 7, 1), member("n3", 7)), quorum: "3/2", settle: true, state: membership.Mature, events: "quorum-reached", holds: "n1: n2:b n3:", next: 0.3},
		// A new process within the failure timeout: no grace either.
		{at: 1, view: view(restarted, member("n3", 7)), quorum: "2/2", state: membership.Mature, events: "mismatch:n2", holds: "n1: n2: n3:", next: 11},
	})
}

func TestSettlesAfterRegainingQuorum(t *testing.T) {
	c := testConfig()
	c.Mature = 0
	all := view(member("n2", 7), member("n3", 7))
	run(t, c, []step{
		{at: 0, view: all, quorum: "3/2", settle: true, state: membership.Mature, events: "quorum-reached", next: 0.3},
		{at: 1, view: all, quorum: "3/2", state: membership.Mature},
		{at: 2, view: view(), quorum: "1/2", state: membership.Mature, events: "quorum-lost"},
		{at: 3, view: all, quorum: "3/2", settle: true, state: membership.Mature, events: "quorum-reached", next: 3.3},
		{at: 3.3, view: all, quorum: "3/2", state: membership.Mature},
	})
}

func TestSelfIsWhatItHoldsNotWhatItPublished(t *testing.T) {
	c := testConfig()
	c.Mature = 0
	v := view(member("n2", 7), member("n3", 7))
	v.Members[0].Meta = member("n1", 99, 0, 1, 2).Meta // stale published metadata
	holdsB := func(l *Local) { l.Held["b"] = true; l.Leaving["b"] = true }
	unhealthy := func(l *Local) { l.Healthy = false }
	draining := func(l *Local) { l.Draining = true }
	run(t, c, []step{
		{at: 0, view: v, local: holdsB, quorum: "3/2", settle: true, state: membership.Mature, events: "quorum-reached", members: "n1:ok n2:ok n3:ok", holds: "n1:b n2: n3:", next: 0.3},
		{at: 1, view: v, local: unhealthy, quorum: "3/2", state: membership.Mature, members: "n1:unhealthy n2:ok n3:ok"},
		{at: 2, view: v, local: draining, quorum: "3/2", state: membership.Draining, members: "n1:draining n2:ok n3:ok"},
	})
}

func TestNoEligibleIsReportedOnce(t *testing.T) {
	c := testConfig()
	c.Mature = 0
	sick := func(name string) membership.Member {
		m := member(name, 7)
		m.Meta.Healthy = false
		return m
	}
	unhealthy := func(l *Local) { l.Healthy = false }
	v := view(sick("n2"), sick("n3"))
	run(t, c, []step{
		{at: 0, view: v, local: unhealthy, quorum: "3/2", settle: true, state: membership.Mature, events: "quorum-reached no-eligible", next: 0.3},
		{at: 1, view: v, local: unhealthy, quorum: "3/2", state: membership.Mature},
		{at: 2, view: v, quorum: "3/2", state: membership.Mature},
		{at: 3, view: v, local: unhealthy, quorum: "3/2", state: membership.Mature, events: "no-eligible"},
	})
}

// Decide must not change the memory it was given: a round that is thrown
// away (a test, a dry run) leaves nothing behind.
func TestDecideDoesNotModifyItsMemory(t *testing.T) {
	c := testConfig()
	d := Decide(c, view(member("n2", 7), member("n3", 8)), local(), Memory{}, t0)
	mem := d.Memory
	snapshot := fmt.Sprint(mem.claims, mem.mismatchSince, mem.settleUntil, mem.hadQuorum)
	Decide(c, view(member("n2", 8)), local(), mem, t0.Add(20*time.Second))
	if got := fmt.Sprint(mem.claims, mem.mismatchSince, mem.settleUntil, mem.hadQuorum); got != snapshot {
		t.Fatalf("memory changed: %s, was %s", got, snapshot)
	}
}

func TestPublishedMeta(t *testing.T) {
	c := testConfig()
	l := local()
	l.Held["a"], l.Held["c"], l.Leaving["c"] = true, true, true
	m := Memory{}.Meta(c, l, t0.Add(2*time.Second))
	var held, leaving []int
	for i := range c.VIPs {
		if m.Held.Has(i) {
			held = append(held, i)
		}
		if m.Leaving.Has(i) {
			leaving = append(leaving, i)
		}
	}
	if m.State != membership.Mature || !m.Healthy || m.Fingerprint != 7 || !slices.Equal(held, []int{0, 2}) || !slices.Equal(leaving, []int{2}) {
		t.Fatalf("meta %+v held %v leaving %v", m, held, leaving)
	}
}

func dampedMember(name string, held ...int) membership.Member {
	m := member(name, 7, held...)
	m.Meta.Damped = true
	return m
}

func TestFlapsDampThisNode(t *testing.T) {
	c := testConfig()
	c.Mature = 0
	c.Damping = damping.Default()
	v := view(member("n2", 7), member("n3", 7))
	eth1Down := func(l *Local) { l.InterfacesDown = []string{"eth1"}; l.Healthy = false }
	failing := func(l *Local) { l.ChecksFailing = true; l.Healthy = false }
	run(t, c, []step{
		{at: 0, view: v, quorum: "3/2", settle: true, state: membership.Mature, events: "quorum-reached", members: "n1:ok n2:ok n3:ok", next: 0.3},
		// The link goes down: a flap, damped for 10 s.
		{at: 1, view: v, local: eth1Down, quorum: "3/2", state: membership.Mature, events: "flapped:interface-eth1-down damped", members: "n1:unhealthy n2:ok n3:ok", next: 11},
		// Back up: healthy, but damped: no VIP comes back to it yet.
		{at: 2, view: v, quorum: "3/2", state: membership.Mature, members: "n1:damped-(flapping) n2:ok n3:ok", next: 11},
		{at: 11, view: v, quorum: "3/2", state: membership.Mature, events: "undamped", members: "n1:ok n2:ok n3:ok"},
		// Failing checks are a flap too; staying down or failing is not
		// another one. What is left of the first penalty adds up:
		// 1000/2^1.1 + 1000 decays to 500 in 15.5 s.
		{at: 12, view: v, local: failing, quorum: "3/2", state: membership.Mature, events: "flapped:health-checks-failing damped", next: 27.52},
		{at: 13, view: v, local: failing, quorum: "3/2", state: membership.Mature, next: 27.52},
		// Losing quorum is no flap. Alone, this node is the only member:
		// damping is ignored rather than leave a VIP dark.
		{at: 23, view: view(), quorum: "1/2", state: membership.Mature, events: "damping-ignored quorum-lost", next: 27.52},
	})
}

// A node starts with its health checks failing (they do until their
// first passes), or with a VIP interface down: that is its state at start,
// not a flap, and must not damp it once it is healthy.
func TestStartingUnhealthyIsNoFlap(t *testing.T) {
	c := testConfig()
	c.Mature = 0
	c.Damping = damping.Default()
	v := view(member("n2", 7), member("n3", 7))
	failing := func(l *Local) {
		l.ChecksFailing, l.InterfacesDown, l.Healthy = true, []string{"eth1"}, false
	}
	run(t, c, []step{
		{at: 0, view: v, local: failing, quorum: "3/2", settle: true, state: membership.Mature, events: "quorum-reached", members: "n1:unhealthy n2:ok n3:ok", next: 0.3},
		{at: 1, view: v, quorum: "3/2", state: membership.Mature, members: "n1:ok n2:ok n3:ok"},
		// Failing after that is a flap.
		{at: 2, view: v, local: failing, quorum: "3/2", state: membership.Mature, events: "flapped:interface-eth1-down damped flapped:health-checks-failing", next: 22},
	})
}

func TestDampingIsOffWhenDisabled(t *testing.T) {
	c := testConfig()
	c.Mature = 0
	v := view(member("n2", 7), member("n3", 7))
	run(t, c, []step{
		{at: 0, view: v, quorum: "3/2", settle: true, state: membership.Mature, events: "quorum-reached", next: 0.3},
		{at: 1, view: v, local: func(l *Local) { l.InterfacesDown = []string{"eth0"} }, quorum: "3/2", state: membership.Mature},
		{at: 2, view: v, quorum: "3/2", state: membership.Mature, members: "n1:ok n2:ok n3:ok"},
	})
}

// Other members' damping is what they publish. A damped member gets no
// VIPs, unless every eligible member is damped: damping must never leave a
// VIP dark.
func TestDampedMembers(t *testing.T) {
	c := testConfig()
	c.Mature = 0
	c.Damping = damping.Default()
	unhealthy := func(l *Local) { l.Healthy = false }
	run(t, c, []step{
		{at: 0, view: view(dampedMember("n2"), member("n3", 7)), quorum: "3/2", settle: true, state: membership.Mature, events: "quorum-reached", members: "n1:ok n2:damped-(flapping) n3:ok", next: 0.3},
		{at: 1, view: view(dampedMember("n2", 1), dampedMember("n3")), local: unhealthy, quorum: "3/2", state: membership.Mature, events: "damping-ignored", members: "n1:unhealthy n2:ok n3:ok", holds: "n1: n2:b n3:"},
		{at: 2, view: view(dampedMember("n2", 1), dampedMember("n3")), local: unhealthy, quorum: "3/2", state: membership.Mature, members: "n1:unhealthy n2:ok n3:ok"},
		{at: 3, view: view(dampedMember("n2", 1), dampedMember("n3")), quorum: "3/2", state: membership.Mature, members: "n1:ok n2:damped-(flapping) n3:damped-(flapping)"},
	})
	d := Decide(c, view(dampedMember("n2"), member("n3", 7)), local(), Memory{}, t0)
	for _, m := range d.Input.Members {
		if m.Name == "n2" && m.Eligible {
			t.Fatal("a damped member is eligible for the allocator")
		}
	}
}

func TestDampedNodePublishesIt(t *testing.T) {
	c := testConfig()
	c.Mature = 0
	c.Damping = damping.Default()
	v := view(member("n2", 7), member("n3", 7))
	var mem Memory
	l := local()
	mem = Decide(c, v, l, mem, t0).Memory
	l.InterfacesDown = []string{"eth0"}
	mem = Decide(c, v, l, mem, t0.Add(time.Second)).Memory
	l.InterfacesDown = nil
	m := mem.Meta(c, l, t0.Add(2*time.Second))
	if !m.Damped || m.Penalty != 933 || m.DampedFor != 9 {
		t.Fatalf("published damped %v penalty %d for %d s, want true 933 9", m.Damped, m.Penalty, m.DampedFor)
	}
	if m := mem.Meta(c, l, t0.Add(12*time.Second)); m.Damped {
		// Meta reads the memory as of the last round: the next round
		// ends the damping (and says so).
		d := Decide(c, v, l, mem, t0.Add(12*time.Second))
		if d.Memory.Meta(c, l, t0.Add(12*time.Second)).Damped {
			t.Fatal("still published damped after the damping ended")
		}
	}
}

// A node back from a stall decides nothing, and its quorum changes are
// not flaps (the view is the one from before).
func TestRecovering(t *testing.T) {
	c := testConfig()
	c.Mature = 0
	c.Damping = damping.Default()
	v := view(member("n2", 7), member("n3", 7))
	stale := view()
	stale.Recovering = true
	mem := Decide(c, v, local(), Memory{}, t0).Memory
	d := Decide(c, stale, local(), mem, t0.Add(time.Second))
	if !d.Recovering {
		t.Fatal("not recovering")
	}
	if len(d.Events) != 0 {
		t.Fatalf("events while recovering: %s", eventString(d.Events))
	}
}

func TestWitnessCountsButHoldsNothing(t *testing.T) {
	c := testConfig()
	c.Mature = 0
	w := member("w", 7)
	w.Meta.Witness = true
	d := Decide(c, view(member("n2", 7), w), local(), Memory{}, t0)
	if got := verdictString(d.Members); got != "n1:ok n2:ok w:witness" {
		t.Fatalf("members %q", got)
	}
	if d.Quorum.Have != 3 {
		t.Fatalf("quorum %+v: the witness does not count", d.Quorum)
	}
	c.Witness = true
	d = Decide(c, view(member("n2", 7)), local(), Memory{}, t0)
	if got := verdictString(d.Members); got != "n1:witness n2:ok" {
		t.Fatalf("members as the witness %q", got)
	}
	if m := d.Memory.Meta(c, local(), t0); !m.Witness {
		t.Fatal("a witness does not publish it")
	}
}

// A damped side (its port flapping) reaches the tie-breaker in each up
// period and loses the other in each down period: it must not act with
// quorum then, or it takes the VIPs back every time while the stable side
// serves them (found by the two-node soak: 5 s of a minority's holds).
func TestTieBreakerNotWhenDamped(t *testing.T) {
	c := testConfig()
	c.Mature, c.Voters, c.TieBreaker, c.QuorumNeed = 0, 2, true, 2
	c.Damping = damping.Default()
	both := view(member("n2", 7))
	mem := Decide(c, both, local(), Memory{}, t0).Memory
	down := local()
	down.InterfacesDown = []string{"eth1"}
	d := Decide(c, both, down, mem, t0.Add(time.Second))
	if !d.Memory.damped {
		t.Fatal("an interface going down did not damp the node: the test proves nothing")
	}
	l := local()
	l.TieBreaker = TieBreakerProbe{Reached: true}
	d = Decide(c, view(), l, d.Memory, t0.Add(2*time.Second))
	if d.Quorum.OK() || d.Quorum.TieBreaker {
		t.Fatalf("quorum %+v: a damped side acted on the tie-breaker", d.Quorum)
	}
	// Once undamped, it may.
	d = Decide(c, view(), l, d.Memory, t0.Add(40*time.Second))
	if !d.Quorum.OK() || !d.Quorum.TieBreaker {
		t.Fatalf("quorum %+v: undamped, the side that reaches the tie-breaker has quorum", d.Quorum)
	}
}

func TestTieBreaker(t *testing.T) {
	c := testConfig()
	c.Mature, c.Voters, c.TieBreaker, c.QuorumNeed = 0, 2, true, 2
	both := view(member("n2", 7))
	gone := view()
	all := map[string]bool{}
	for _, v := range c.VIPs {
		all[v.Name] = true
	}
	for _, tt := range []struct {
		name   string
		probe  TieBreakerProbe
		quorum bool
		yield  bool
	}{
		{"the other crashed, the gateway answers", TieBreakerProbe{Reached: true}, true, false},
		{"this side lost the gateway", TieBreakerProbe{}, false, false},
		{"both reach the gateway, the other is alive and serves", TieBreakerProbe{Reached: true, PeerAlive: true, PeerServes: all}, true, true},
		// Its daemon died or stopped (or handed everything over) on a
		// live host: nothing of it is served there, so nothing is left
		// to it (the soak found the VIPs it won dark until it restarted).
		{"the other's host is alive but serves nothing", TieBreakerProbe{Reached: true, PeerAlive: true}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mem := Decide(c, both, local(), Memory{}, t0).Memory
			l := local()
			l.TieBreaker = tt.probe
			d := Decide(c, gone, l, mem, t0.Add(time.Second))
			if d.Quorum.OK() != tt.quorum || d.Input.Quorum != tt.quorum {
				t.Fatalf("quorum %+v, want ok %v", d.Quorum, tt.quorum)
			}
			if (len(d.Yield) > 0) != tt.yield {
				t.Fatalf("yield %v, want some: %v", d.Yield, tt.yield)
			}
		})
	}
	// Both sides yield complementary sets: every VIP has one keeper.
	l := local()
	l.TieBreaker = TieBreakerProbe{Reached: true, PeerAlive: true, PeerServes: all}
	mem := Decide(c, both, local(), Memory{}, t0).Memory
	y1 := Decide(c, gone, l, mem, t0.Add(time.Second)).Yield
	c2 := c
	c2.Self = "n2"
	v2 := membership.View{Self: "n2", Members: []membership.Member{{Name: "n2", Self: true, Alive: true, Fresh: true}, member("n1", 7)}}
	mem2 := Decide(c2, v2, local(), Memory{}, t0).Memory
	y2 := Decide(c2, membership.View{Self: "n2", Members: v2.Members[:1]}, l, mem2, t0.Add(time.Second)).Yield
	for _, v := range c.VIPs {
		if y1[v.Name] == y2[v.Name] {
			t.Fatalf("%s: n1 yields %v, n2 yields %v: want exactly one keeper", v.Name, y1[v.Name], y2[v.Name])
		}
	}
	// Without a tie-breaker, or with three voters, nothing changes.
	c3 := c
	c3.Voters = 3
	if d := Decide(c3, gone, l, mem, t0.Add(time.Second)); d.Quorum.OK() {
		t.Fatal("the tie-breaker acted with three voters")
	}
}

// Checks fail until they pass rise times, and interfaces may come up
// after the daemon: neither is a flap before it was ever fine.
func TestNoFlapAtStart(t *testing.T) {
	c := testConfig()
	c.Mature = 0
	c.Damping = damping.Default()
	v := view(member("n2", 7), member("n3", 7))
	starting := func(l *Local) { l.ChecksFailing, l.InterfacesDown, l.Healthy = true, []string{"eth1"}, false }
	failing := func(l *Local) { l.ChecksFailing, l.Healthy = true, false }
	run(t, c, []step{
		{at: 0, view: v, local: starting, quorum: "3/2", settle: true, state: membership.Mature, events: "quorum-reached", next: 0.3},
		{at: 1, view: v, local: failing, quorum: "3/2", state: membership.Mature},
		{at: 2, view: v, quorum: "3/2", state: membership.Mature},
		{at: 3, view: v, local: failing, quorum: "3/2", state: membership.Mature, events: "flapped:health-checks-failing damped", next: 13},
	})
}
