package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wackamole/wackamole/arp"
	"github.com/wackamole/wackamole/membership"
	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/health"
	"github.com/wackamole/wackamole/pkg/hooks"
	"github.com/wackamole/wackamole/pkg/policy"
	"github.com/wackamole/wackamole/vip"
)

// These tests drive single reconcile rounds with fakes at the three
// boundaries (group, binder, announcer): the loop's logic without sockets.
// The real thing runs in pkg/e2e.

type fakeGroup struct {
	mu      sync.Mutex
	members []membership.Member
	meta    []byte
	changed chan struct{}
	shared  []membership.Neighbor // what others share
	ours    []membership.Neighbor // what we shared
	sets    int                   // SetMeta calls
	// recovering is View.Recovering.
	recovering bool
}

func (g *fakeGroup) SetNeighbors(a []membership.Neighbor) {
	g.mu.Lock()
	g.ours = a
	g.mu.Unlock()
}
func (g *fakeGroup) SharedNeighbors() []membership.Neighbor {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append(slices.Clone(g.shared), g.ours...)
}

func (g *fakeGroup) View() membership.View {
	g.mu.Lock()
	defer g.mu.Unlock()
	return membership.View{Self: "n1", Members: slices.Clone(g.members), Recovering: g.recovering}
}
func (g *fakeGroup) Changed() <-chan struct{} { return g.changed }
func (g *fakeGroup) SetMeta(b []byte) error {
	g.mu.Lock()
	g.sets++
	g.meta = b
	g.mu.Unlock()
	return nil
}
func (g *fakeGroup) Leave(time.Duration) error { return nil }
func (g *fakeGroup) HealthScore() int          { return 0 }

func (g *fakeGroup) published(t *testing.T) membership.Meta {
	var m membership.Meta
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := m.UnmarshalBinary(g.meta); err != nil {
		t.Fatalf("published metadata: %v", err)
	}
	return m
}

type fakeBinder struct {
	addrs  map[vip.Bound]bool
	down   map[string]bool
	failOn netip.Prefix
}

func (b *fakeBinder) Add(ifname string, p netip.Prefix) error {
	if p == b.failOn {
		return errors.New("injected failure")
	}
	b.addrs[vip.Bound{Interface: ifname, Prefix: p}] = true
	return nil
}
func (b *fakeBinder) Remove(ifname string, p netip.Prefix) error {
	delete(b.addrs, vip.Bound{Interface: ifname, Prefix: p})
	return nil
}
func (b *fakeBinder) Has(ifname string, p netip.Prefix) (bool, error) {
	return b.addrs[vip.Bound{Interface: ifname, Prefix: p}], nil
}
func (b *fakeBinder) LinkUp(ifname string) (bool, error) { return !b.down[ifname], nil }
func (b *fakeBinder) Labelled() ([]vip.Bound, error)     { return nil, nil }

func (b *fakeBinder) has(s string) bool {
	for a := range b.addrs {
		if a.Prefix.String() == s {
			return true
		}
	}
	return false
}

type fakeAnnouncer struct{ sent []string }

func (a *fakeAnnouncer) AnnounceTo(ifname string, addr netip.Addr, notify []arp.Host) error {
	var hosts []string
	for _, h := range notify {
		hosts = append(hosts, h.Addr.String())
	}
	a.sent = append(a.sent, fmt.Sprintf("%s %s %v", ifname, addr, hosts))
	return nil
}

const testConfig = `
node_name = "n1"
bind = "198.18.0.11:7946"
peers = ["198.18.0.11", "198.18.0.12", "198.18.0.13"]
insecure = true
mature = "0s"
[arp]
repeat = 2
interval = "1s"
notify = ["198.18.0.1"]
[[vip]]
name = "a"
addresses = ["198.18.0.100/32", "eth1:198.18.1.100/32"]
prefer = ["n1"]
[[vip]]
name = "b"
addresses = ["198.18.0.101/32"]
prefer = ["n2"]
[[vip]]
name = "c"
addresses = ["198.18.0.102/32"]
prefer = ["n3"]
`

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	c, err := config.Parse("test.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type rig struct {
	a     *Agent
	g     *fakeGroup
	b     *fakeBinder
	ann   *fakeAnnouncer
	clock time.Time
}

func newRig(t *testing.T, text string) *rig {
	t.Helper()
	return newRigWith(t, text, nil)
}

// newRigWith is newRig with a chance to change the options.
func newRigWith(t *testing.T, text string, change func(*Options)) *rig {
	t.Helper()
	r := &rig{
		g:     &fakeGroup{changed: make(chan struct{})},
		b:     &fakeBinder{addrs: map[vip.Bound]bool{}, down: map[string]bool{}},
		ann:   &fakeAnnouncer{},
		clock: time.Unix(1000, 0),
	}
	o := Options{Config: parse(t, text), Group: r.g, Binder: r.b, Announcer: r.ann,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return r.clock }}
	if change != nil {
		change(&o)
	}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	a.started = r.clock
	r.a = a
	r.setSettle(0) // TestSettlesBeforeTakingAnything covers it
	r.peers(t, "n2", "n3")
	return r
}

// peers makes the view: n1 (self) plus the given peers, alive and mature,
// holding nothing.
func (r *rig) peers(t *testing.T, names ...string) {
	fp := Fingerprint(r.a.cfg)
	ms := []membership.Member{{Name: "n1", Self: true, Alive: true, Fresh: true}}
	for _, n := range names {
		ms = append(ms, membership.Member{Name: n, Alive: true, Fresh: true, Meta: matureMeta(fp, len(r.a.cfg.VIPs))})
	}
	r.g.mu.Lock()
	r.g.members = ms
	r.g.mu.Unlock()
}

// setMember changes member i of the view (0 is n1, this node).
func (r *rig) setMember(i int, change func(m *membership.Member)) {
	r.g.mu.Lock()
	defer r.g.mu.Unlock()
	change(&r.g.members[i])
}

// matureMeta is the metadata of a mature, healthy member whose VIP
// configuration has fingerprint fp and n VIPs, holding the VIPs at held.
func matureMeta(fp uint64, n int, held ...int) membership.Meta {
	m := membership.Meta{State: membership.Mature, Healthy: true, Fingerprint: fp, Held: membership.NewBitmap(n), Leaving: membership.NewBitmap(n)}
	for _, i := range held {
		m.Held.Set(i)
	}
	return m
}

// setSettle sets how long the agent settles after maturing or regaining
// quorum.
func (r *rig) setSettle(d time.Duration) {
	r.a.settle = d
	r.a.policy.Settle = d
}

// round is one pass of the loop body.
func (r *rig) round() {
	r.a.reconcile(r.clock)
}

// setRecovering makes the group's view say whether this node recovers
// from a stall.
func (r *rig) setRecovering(on bool) {
	r.g.mu.Lock()
	r.g.recovering = on
	r.g.mu.Unlock()
}

// announcedSince reports whether an announcement made after the first
// sent ones names addr.
func (r *rig) announcedSince(sent int, addr string) bool {
	for _, a := range r.ann.sent[sent:] {
		if strings.Contains(a, addr) {
			return true
		}
	}
	return false
}

func TestAcquiresItsShareAndAnnouncesIt(t *testing.T) {
	r := newRig(t, testConfig)
	r.round()
	if !r.b.has("198.18.0.100/32") || !r.b.has("198.18.1.100/32") {
		t.Fatalf("VIP a (preferred here) not bound: %v", r.b.addrs)
	}
	if r.b.has("198.18.0.101/32") {
		t.Fatal("took a VIP planned for another member")
	}
	if len(r.ann.sent) != 2 || !strings.Contains(r.ann.sent[0], "[198.18.0.1]") {
		t.Fatalf("announcements: %v", r.ann.sent)
	}
	if m := r.g.published(t); !m.Held.Has(0) || m.Held.Count() != 1 || m.State != membership.Mature {
		t.Fatalf("published metadata does not claim a: %+v", m)
	}
	// The repeat goes out ARP.Interval later, not before.
	r.clock = r.clock.Add(500 * time.Millisecond)
	r.round()
	if len(r.ann.sent) != 2 {
		t.Fatalf("repeated too early: %v", r.ann.sent)
	}
	r.clock = r.clock.Add(600 * time.Millisecond)
	r.round()
	if len(r.ann.sent) != 4 {
		t.Fatalf("no repeat after the interval: %v", r.ann.sent)
	}
	r.clock = r.clock.Add(2 * time.Second)
	r.round()
	if len(r.ann.sent) != 4 {
		t.Fatalf("more than repeat=2 announcements: %v", r.ann.sent)
	}
}

func TestWithoutQuorumTakesNothing(t *testing.T) {
	r := newRig(t, testConfig)
	r.peers(t) // alone: 1 of 2 needed
	r.round()
	if len(r.b.addrs) != 0 {
		t.Fatalf("took %v without quorum", r.b.addrs)
	}
	if st := r.a.Status(); st.Quorum.OK || st.Quorum.Have != 1 || st.Quorum.Need != 2 {
		t.Fatalf("status quorum %+v", st.Quorum)
	}
}

func TestAcquireIsAllOrNothing(t *testing.T) {
	r := newRig(t, testConfig)
	r.b.failOn = netip.MustParsePrefix("198.18.1.100/32")
	r.round()
	if len(r.b.addrs) != 0 {
		t.Fatalf("half-applied VIP left behind: %v", r.b.addrs)
	}
	if r.g.published(t).Held.Count() != 0 {
		t.Fatal("claimed a VIP it could not bind")
	}
}

func TestRestoresAnAddressRemovedByHand(t *testing.T) {
	r := newRig(t, testConfig)
	r.round()
	r.b.Remove("eth0", netip.MustParsePrefix("198.18.0.100/32"))
	before := len(r.ann.sent)
	r.round()
	if !r.b.has("198.18.0.100/32") {
		t.Fatal("address not restored")
	}
	if len(r.ann.sent) == before {
		t.Fatal("restored address not announced")
	}
}

func TestConflictWithoutQuorumReleases(t *testing.T) {
	r := newRig(t, testConfig)
	r.round()
	r.peers(t) // quorum lost
	r.round()
	if !r.b.has("198.18.0.100/32") {
		t.Fatal("released without a conflict: without quorum a node keeps what it holds")
	}
	r.a.Conflict("eth0", netip.MustParseAddr("198.18.0.100"), "02:00:00:00:00:99")
	r.round()
	if r.b.has("198.18.0.100/32") || r.b.has("198.18.1.100/32") {
		t.Fatal("kept a VIP another host announced, without quorum")
	}
}

func TestConflictWithQuorumDefendsAtMostOncePerInterval(t *testing.T) {
	r := newRig(t, testConfig)
	r.round()
	r.clock = r.clock.Add(10 * time.Second) // past the acquisition's repeats
	r.round()
	base := len(r.ann.sent)
	for i := 0; i < 5; i++ {
		r.a.Conflict("eth0", netip.MustParseAddr("198.18.0.100"), "02:00:00:00:00:99")
		r.clock = r.clock.Add(100 * time.Millisecond)
		r.round()
	}
	if got := len(r.ann.sent) - base; got != 2 { // one burst = 2 addresses
		t.Fatalf("defended with %d announcements in 0.5 s, want one burst of 2", got)
	}
	if !r.b.has("198.18.0.100/32") {
		t.Fatal("gave up a VIP it owns with quorum")
	}
	if st := r.a.Status(); st.Counters.Conflicts != 5 {
		t.Fatalf("conflicts counted: %d", st.Counters.Conflicts)
	}
}

// woke reports whether a round was asked for since the last call.
func woke(a *Agent) bool {
	select {
	case <-a.wake:
		return true
	default:
		return false
	}
}

// Every node re-announces what it holds when membership changes: if each
// announcement of another node's VIP cost a round, a group of N nodes
// would run N^2 rounds after every change.
func TestConflictWakesARoundOnlyForHeldVIPs(t *testing.T) {
	r := newRig(t, testConfig)
	r.round() // n1 takes a
	woke(r.a)
	r.a.Conflict("eth0", netip.MustParseAddr("198.18.0.101"), "02:00:00:00:00:02") // b, n2's
	if woke(r.a) {
		t.Fatal("an announcement of a VIP held elsewhere woke a round")
	}
	r.a.Conflict("eth0", netip.MustParseAddr("198.18.1.100"), "02:00:00:00:00:99") // a's second address
	if !woke(r.a) {
		t.Fatal("no round for another host announcing a VIP this node holds")
	}
	r.round()
	if st := r.a.Status(); st.Counters.Conflicts != 1 {
		t.Fatalf("conflicts counted: %d, want 1 (a only)", st.Counters.Conflicts)
	}

	// Another host announces c while a round runs, and that round takes
	// c: the acquisition asks for a round, which sees the conflict.
	r.a.Conflict("eth0", netip.MustParseAddr("198.18.0.102"), "02:00:00:00:00:03")
	if woke(r.a) {
		t.Fatal("woke for c before holding it")
	}
	r.a.acquire("c", "orphaned", "test", r.clock)
	if !woke(r.a) {
		t.Fatal("acquiring a VIP announced meanwhile asked for no round")
	}
	r.round()
	if st := r.a.Status(); st.Counters.Conflicts != 2 {
		t.Fatalf("conflicts counted: %d, want 2", st.Counters.Conflicts)
	}

	// Released: announcements of it wake nothing any more.
	r.a.release("a", "test", "test")
	woke(r.a)
	r.a.Conflict("eth0", netip.MustParseAddr("198.18.0.100"), "02:00:00:00:00:99")
	if woke(r.a) {
		t.Fatal("woke for a VIP this node released")
	}
}

func TestReannouncesWhenMembershipChanges(t *testing.T) {
	r := newRig(t, testConfig)
	r.round()
	r.clock = r.clock.Add(10 * time.Second)
	r.round()
	base := len(r.ann.sent)
	r.peers(t, "n2") // n3 went away
	r.round()
	if len(r.ann.sent) == base {
		t.Fatal("no re-announcement after a membership change")
	}
}

func TestLinkDownMakesTheNodeUnhealthy(t *testing.T) {
	r := newRig(t, testConfig)
	r.round()
	r.b.down["eth1"] = true
	r.round()
	if r.g.published(t).Healthy {
		t.Fatal("published healthy with a VIP interface down")
	}
	if st := r.a.Status(); st.Healthy {
		t.Fatal("status says healthy")
	}
}

func TestReloadRefusesRestartOnlyChanges(t *testing.T) {
	r := newRig(t, testConfig)
	err := r.a.reload(parse(t, strings.Replace(testConfig, `node_name = "n1"`, `node_name = "n9"`, 1)))
	if err == nil || !strings.Contains(err.Error(), "node_name") {
		t.Fatalf("reload with another node name: %v", err)
	}
	if r.a.cfg.NodeName != "n1" {
		t.Fatal("half-applied reload")
	}
}

func TestReloadReleasesRemovedVIPs(t *testing.T) {
	r := newRig(t, testConfig)
	r.round()
	without := strings.Replace(testConfig, "[[vip]]\nname = \"a\"\naddresses = [\"198.18.0.100/32\", \"eth1:198.18.1.100/32\"]\nprefer = [\"n1\"]\n", "", 1)
	if err := r.a.reload(parse(t, without)); err != nil {
		t.Fatal(err)
	}
	if r.b.has("198.18.0.100/32") || r.b.has("198.18.1.100/32") {
		t.Fatal("a VIP removed from the config kept its addresses")
	}
}

func TestDrainHandsOverAndReports(t *testing.T) {
	r := newRig(t, testConfig)
	r.round()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.a.Drain(ctx) }()
	cmd := <-r.a.commands
	cmd.run(r.a)
	r.round()
	if m := r.g.published(t); m.State != membership.Draining || !m.Leaving.Has(0) {
		t.Fatalf("draining node does not mark its VIP leaving: %+v", m)
	}
	// The planned owner takes a over: its claims change, and so does
	// their version.
	as, _ := r.a.plan.Lookup("a")
	i := slices.IndexFunc(r.g.members, func(m membership.Member) bool { return m.Name == as.Owner })
	if i < 1 {
		t.Fatalf("a is planned for %q", as.Owner)
	}
	r.setMember(i, func(m *membership.Member) {
		m.Meta, m.MetaVersion = matureMeta(Fingerprint(r.a.cfg), 3, 0), m.MetaVersion+1
	})
	r.round()
	r.a.answerDrains()
	if r.b.has("198.18.0.100/32") {
		t.Fatal("kept the VIP after the new owner claimed it")
	}
	if err := <-done; err != nil {
		t.Fatalf("drain: %v", err)
	}
}

func TestSettlesBeforeTakingAnything(t *testing.T) {
	r := newRig(t, testConfig)
	r.setSettle(300 * time.Millisecond)
	r.round()
	if len(r.b.addrs) != 0 {
		t.Fatal("acquired before the settle time after maturity")
	}
	if m := r.g.published(t); m.State != membership.Mature {
		t.Fatalf("not published as mature while settling: %v", m.State)
	}
	r.clock = r.clock.Add(300 * time.Millisecond)
	r.round()
	if !r.b.has("198.18.0.100/32") {
		t.Fatal("did not acquire after settling")
	}
}

// A member that has gone quiet for half the failure timeout no longer
// counts for quorum, but its VIPs are not orphans until it is declared
// failed: a partitioned minority loses quorum before it could take any.
func TestStaleMembersDoNotCountForQuorum(t *testing.T) {
	r := newRig(t, testConfig)
	r.g.mu.Lock()
	for i := range r.g.members[1:] {
		r.g.members[1+i].Fresh = false
	}
	r.g.mu.Unlock()
	r.round()
	if st := r.a.Status(); st.Quorum.OK || st.Quorum.Have != 1 {
		t.Fatalf("stale members counted: %+v", st.Quorum)
	}
	if len(r.b.addrs) != 0 {
		t.Fatalf("took %v without quorum", r.b.addrs)
	}
}

type fakeHealth struct{ ok bool }

func (h *fakeHealth) Healthy() bool                { return h.ok }
func (h *fakeHealth) Status() []health.CheckStatus { return nil }

type fakeHooks struct{ events []hooks.Event }

func (h *fakeHooks) Run(ev hooks.Event) { h.events = append(h.events, ev) }

func TestFailingChecksMakeTheNodeUnhealthy(t *testing.T) {
	r := newRig(t, testConfig)
	h := &fakeHealth{ok: true}
	r.a.health = h
	r.round()
	if !r.g.published(t).Healthy {
		t.Fatal("unhealthy with passing checks")
	}
	h.ok = false
	r.round()
	if r.g.published(t).Healthy {
		t.Fatal("healthy with failing checks")
	}
}

func TestHooksSeeAcquireReleaseAndConflict(t *testing.T) {
	r := newRig(t, testConfig)
	hk := &fakeHooks{}
	r.a.hooks = hk
	r.round()
	r.peers(t) // quorum lost
	r.round()
	r.a.Conflict("eth0", netip.MustParseAddr("198.18.0.100"), "02:00:00:00:00:99")
	r.round()
	var kinds []string
	for _, ev := range hk.events {
		kinds = append(kinds, ev.Kind+":"+ev.VIP+":"+ev.Reason)
	}
	want := []string{"acquire:a:orphaned", "conflict:a:yielded", "release:a:yielded"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("hook events %v, want %v", kinds, want)
	}
	if ev := hk.events[0]; !slices.Equal(ev.Addresses, []string{"198.18.0.100/32", "198.18.1.100/32"}) || !slices.Equal(ev.Interfaces, []string{"eth0", "eth1"}) || ev.Node != "n1" {
		t.Fatalf("acquire event %+v", ev)
	}
}

func TestAcquisitionAnnouncesToSharedNeighbours(t *testing.T) {
	r := newRig(t, testConfig)
	r.a.neighbors = func(ifname string) ([]arp.Host, error) {
		if ifname == "eth0" {
			return []arp.Host{{Addr: netip.MustParseAddr("198.18.0.2")}}, nil
		}
		return nil, nil
	}
	r.a.shareNeighbors()
	if got := r.g.SharedNeighbors(); len(got) != 1 {
		t.Fatalf("shared %v", got)
	}
	r.g.shared = []membership.Neighbor{{Addr: netip.MustParseAddr("198.18.0.7")}, {Addr: netip.MustParseAddr("2001:2::7")}}
	r.round()
	if len(r.ann.sent) == 0 || !strings.Contains(r.ann.sent[0], "198.18.0.1 198.18.0.7 198.18.0.2") {
		t.Fatalf("acquisition not announced to the shared neighbours: %v", r.ann.sent)
	}
	// The periodic refresh is broadcast only.
	r.clock = r.clock.Add(10 * time.Second)
	r.round()
	n := len(r.ann.sent)
	r.a.schedule("a", 1, "refresh", r.clock)
	r.round()
	if got := r.ann.sent[n]; strings.Contains(got, "198.18.0.7") {
		t.Fatalf("refresh unicast to neighbours: %s", got)
	}
}

// A membership change right after an acquisition must not turn the
// acquisition's announcements into plain broadcasts.
func TestUnicastSurvivesAMembershipChange(t *testing.T) {
	r := newRig(t, testConfig)
	r.g.shared = []membership.Neighbor{{Addr: netip.MustParseAddr("198.18.0.7")}}
	r.a.acquire("a", "orphaned", "test", r.clock)
	r.a.schedule("a", 1, "membership changed", r.clock)
	r.a.announceDue(r.clock)
	if len(r.ann.sent) == 0 || !strings.Contains(r.ann.sent[0], "198.18.0.7") {
		t.Fatalf("announcements: %v", r.ann.sent)
	}
}

// A node that regains quorum waits before it takes anything: the members
// it has not heard from yet only look failed.
func TestSettlesAfterRegainingQuorum(t *testing.T) {
	r := newRig(t, testConfig)
	r.setSettle(300 * time.Millisecond)
	r.peers(t) // alone: no quorum
	r.round()
	r.peers(t, "n2", "n3")
	r.round()
	if len(r.b.addrs) != 0 {
		t.Fatal("acquired at once after regaining quorum")
	}
	r.clock = r.clock.Add(300 * time.Millisecond)
	r.round()
	if !r.b.has("198.18.0.100/32") {
		t.Fatal("did not acquire after settling")
	}
}

// A member that reloads a new VIP list keeps its VIPs while the change
// reaches the other nodes; past the grace it gets none.
func TestReconfigurationGrace(t *testing.T) {
	r := newRig(t, testConfig)
	fp := Fingerprint(r.a.cfg)
	r.setMember(1, func(m *membership.Member) { m.Meta = matureMeta(fp, 3, 1) }) // n2 holds b
	r.round()
	if r.b.has("198.18.0.101/32") {
		t.Fatal("took n2's VIP")
	}
	// n2 reloads: another fingerprint, its bitmaps over another list.
	r.setMember(1, func(m *membership.Member) { m.Meta = matureMeta(fp+1, 4) })
	r.clock = r.clock.Add(time.Second)
	r.round()
	if r.b.has("198.18.0.101/32") {
		t.Fatal("took the VIP of a member that just reloaded")
	}
	if st := r.a.Status(); st.Quorum.Have != 3 {
		t.Fatalf("a member within the grace does not count for quorum: %+v", st.Quorum)
	}
	r.clock = r.clock.Add(policy.ReconfigGrace)
	r.round()
	if st := r.a.Status(); st.Quorum.Have != 2 {
		t.Fatalf("a member with another configuration counts for quorum after the grace: %+v", st.Quorum)
	}
	for _, v := range r.a.Status().VIPs {
		if v.Name == "b" && (v.Planned == "n2" || v.Planned == "") {
			t.Fatalf("after the grace, b is still planned for %q", v.Planned)
		}
	}
}

// The reconfiguration grace is for a member that reloads, not for one that
// comes back: a member that returns with another configuration (restarted
// with a new file) holds nothing, and its claims from before must not keep
// its VIP from being served. It may come back after going silent (cut off,
// and reloaded meanwhile), or restart faster than the failure timeout, as a
// new process.
func TestNoGraceForAMemberThatCameBack(t *testing.T) {
	for _, tt := range []struct {
		name    string
		silent  bool
		process uint64 // when it is back; it was 1
	}{
		{"silent in between", true, 1},
		{"restarted within the failure timeout", false, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, testConfig)
			fp := Fingerprint(r.a.cfg)
			r.setMember(1, func(m *membership.Member) { m.Process, m.Meta = 1, matureMeta(fp, 3, 1) }) // n2 holds b
			r.round()

			if tt.silent {
				r.setMember(1, func(m *membership.Member) { m.Alive, m.Fresh = false, false })
				r.clock = r.clock.Add(time.Second)
				r.round()
			}

			r.setMember(1, func(m *membership.Member) {
				*m = membership.Member{Name: "n2", Alive: true, Fresh: true, Process: tt.process, Meta: matureMeta(fp+1, 4)}
			})
			r.clock = r.clock.Add(time.Second)
			r.round()
			for _, v := range r.a.Status().VIPs {
				if v.Name == "b" && slices.Contains(v.Holders, "n2") {
					t.Fatalf("n2 came back with another configuration and is taken to hold b: %+v", v)
				}
			}
		})
	}
}

// A VIP on an interface that went down serves nobody: it is released at
// once, not handed over make-before-break, whatever the quorum.
func TestLinkDownReleasesAtOnce(t *testing.T) {
	r := newRig(t, testConfig)
	r.round()
	if !r.b.has("198.18.0.100/32") {
		t.Fatal("a not acquired")
	}
	r.b.down["eth1"] = true
	before := len(r.ann.sent)
	r.round()
	if r.b.has("198.18.0.100/32") || r.b.has("198.18.1.100/32") {
		t.Fatal("kept a VIP with an address on a down interface")
	}
	if len(r.ann.sent) != before {
		t.Fatalf("announced while releasing on link down: %v", r.ann.sent[before:])
	}
	if st := r.a.Status(); st.Counters.Released["link-down"] != 1 {
		t.Fatalf("released counters %v", st.Counters.Released)
	}
	// Nothing is taken while it is down.
	r.peers(t, "n2")
	r.round()
	if len(r.b.addrs) != 0 {
		t.Fatalf("took %v with a VIP interface down", r.b.addrs)
	}
}

// A node back from a stall does nothing until it has heard the group: a
// conflict seen meanwhile is neither yielded nor defended.
func TestRecoveringDoesNothing(t *testing.T) {
	r := newRig(t, testConfig)
	r.round()
	r.setRecovering(true)
	r.peers(t) // the stale view: alone
	r.a.Conflict("eth0", netip.MustParseAddr("198.18.0.100"), "02:00:00:00:00:99")
	before := len(r.ann.sent)
	r.round()
	if !r.b.has("198.18.0.100/32") {
		t.Fatal("released a VIP while recovering from a stall")
	}
	if len(r.ann.sent) != before {
		t.Fatal("defended a VIP while recovering from a stall")
	}
}

// An announcement that falls due while this node recovers from a stall
// waits for the recovery's end: made on the view from before the stall,
// it pulled the clients away from the node that had taken the VIP over,
// which defended it, and both fought over the clients
// (TestStalledOwnerResumes).
func TestNoAnnouncementWhileRecovering(t *testing.T) {
	r := newRig(t, testConfig)
	r.round() // a acquired: announced now, and again ARP.Interval later
	r.setRecovering(true)
	sent := len(r.ann.sent)
	r.clock = r.clock.Add(3 * r.a.cfg.ARP.Interval)
	if next := r.a.reconcile(r.clock); !next.IsZero() && !next.After(r.clock) {
		t.Errorf("while recovering the round asks to run again at once (%v), for an announcement it does not make", next.Sub(r.clock))
	}
	if len(r.ann.sent) != sent {
		t.Fatalf("announced while recovering from a stall: %v", r.ann.sent[sent:])
	}
	r.setRecovering(false)
	r.round()
	if !r.announcedSince(sent, "198.18.0.100") {
		t.Fatal("the announcement due during the recovery was not made after it")
	}
}

// The loser of a contest lets go only when the winner claims the VIP again
// after the contest began, or announces it: the winner's claim may be one
// it made before a stall and no longer true.
func TestContestIsMakeBeforeBreak(t *testing.T) {
	r := newRig(t, testConfig)
	fp := Fingerprint(r.a.cfg)
	// n1 holds b; so does n2, which wins the contest for b (it prefers n2).
	r.a.acquire("b", "orphaned", "test", r.clock)
	r.setMember(1, func(m *membership.Member) { m.Meta, m.MetaVersion = matureMeta(fp, 3, 1), 5 })
	r.clock = r.clock.Add(10 * time.Second)
	r.round()
	if !r.b.has("198.18.0.101/32") {
		t.Fatal("released a contested VIP on a claim that may be stale")
	}
	if m := r.g.published(t); !m.Leaving.Has(1) {
		t.Fatal("the loser does not mark the VIP leaving")
	}
	r.round()
	if !r.b.has("198.18.0.101/32") {
		t.Fatal("released without the winner claiming it again")
	}
	r.setMember(1, func(m *membership.Member) { m.MetaVersion = 6 })
	r.round()
	if r.b.has("198.18.0.101/32") {
		t.Fatal("kept the VIP after the winner claimed it again")
	}
}

// A VIP being handed over is never announced, not even when the members
// change (found by TestStalledOwnerResumes: the loser of a contest
// re-announced it in the round it began handing it over, pulled the
// client back to itself and let go a moment later, leaving the client on
// its MAC for a second).
func TestNoAnnouncementWhileHandingOver(t *testing.T) {
	r := newRig(t, testConfig)
	r.a.acquire("b", "orphaned", "test", r.clock)
	r.clock = r.clock.Add(10 * time.Second)
	r.round() // b goes to n2, which prefers it: n1 hands it over
	if !r.a.leaving["b"] {
		t.Fatal("not handing b over to n2")
	}
	sent := len(r.ann.sent)
	r.peers(t, "n2") // n3 leaves: the members changed
	r.clock = r.clock.Add(100 * time.Millisecond)
	r.round()
	r.clock = r.clock.Add(5 * time.Second)
	r.round()
	if !r.a.leaving["b"] {
		t.Fatal("no longer handing b over")
	}
	for _, a := range r.ann.sent[sent:] {
		if strings.Contains(a, "198.18.0.101") {
			t.Fatalf("announced b while handing it over: %v", r.ann.sent[sent:])
		}
	}
}

// A contest over a VIP this node owns may begin and end while it recovers
// from a stall (the other lets go on its first claim): the first round
// after the recovery gives the last word anyway, or clients stay on the
// other's MAC (TestStalledOwnerResumes).
func TestLastWordAfterRecovery(t *testing.T) {
	r := newRig(t, testConfig)
	r.round() // a acquired: n1 prefers it
	r.clock = r.clock.Add(10 * time.Second)
	r.round()
	r.setRecovering(true)
	r.clock = r.clock.Add(3 * time.Second)
	r.round()
	sent := len(r.ann.sent)
	r.setRecovering(false)
	r.clock = r.clock.Add(100 * time.Millisecond)
	r.round()
	if !r.announcedSince(sent, "198.18.0.100") {
		t.Fatal("no announcement of its own VIP after recovering from a stall")
	}
}

func TestContestLostToAnAnnouncement(t *testing.T) {
	r := newRig(t, testConfig)
	fp := Fingerprint(r.a.cfg)
	r.a.acquire("b", "orphaned", "test", r.clock)
	r.setMember(1, func(m *membership.Member) { m.Meta, m.MetaVersion = matureMeta(fp, 3, 1), 5 })
	r.round()
	r.a.Conflict("eth0", netip.MustParseAddr("198.18.0.101"), "02:00:00:00:00:02")
	r.round()
	if r.b.has("198.18.0.101/32") {
		t.Fatal("kept the VIP after the winner announced it")
	}
}

// The winner of a contest claims the VIP again (a new metadata version),
// at most once a second while the other holds it, and announces it; when
// the other has let go it announces once more (the last word).
func TestWinnerReclaimsAndHasTheLastWord(t *testing.T) {
	r := newRig(t, testConfig)
	fp := Fingerprint(r.a.cfg)
	r.round() // a acquired: n1 prefers it
	r.clock = r.clock.Add(10 * time.Second)
	r.round()
	r.setMember(1, func(m *membership.Member) { m.Meta = matureMeta(fp, 3, 0) }) // n2 holds a too
	sets, sent := r.g.sets, len(r.ann.sent)
	r.round()
	if r.g.sets != sets+1 {
		t.Fatalf("metadata published %d times, want once more (claimed again)", r.g.sets-sets)
	}
	if len(r.ann.sent) == sent {
		t.Fatal("the winner did not announce the contested VIP")
	}
	r.clock = r.clock.Add(500 * time.Millisecond)
	next := r.a.reconcile(r.clock)
	if r.g.sets != sets+1 {
		t.Fatal("claimed again within a second")
	}
	// Nothing else may wake this node while the contest lasts: the round
	// asks to run again when it may claim again.
	if want := r.clock.Add(500 * time.Millisecond); next.IsZero() || next.After(want) {
		t.Fatalf("next round at %v, want by %v (the next claim)", next, want)
	}
	r.clock = r.clock.Add(600 * time.Millisecond)
	r.round()
	if r.g.sets != sets+2 {
		t.Fatal("not claimed again after a second")
	}
	r.clock = r.clock.Add(10 * time.Second)
	r.round()
	sent = len(r.ann.sent)
	r.setMember(1, func(m *membership.Member) { m.Meta = matureMeta(fp, 3) }) // n2 let go
	r.round()
	if len(r.ann.sent) == sent {
		t.Fatal("no announcement after the other holder let go: clients may keep its MAC")
	}
}

// While another member holds a VIP it owns, the winner's loop wakes up to
// claim it again a second later, whatever else happens: the loser waits
// for that claim to let go (found by the soak: the second claim came 4.5 s
// later, with the next unrelated event, and two nodes held the VIP
// meanwhile).
func TestWinnerWakesUpToClaimAgain(t *testing.T) {
	r := newRig(t, testConfig)
	fp := Fingerprint(r.a.cfg)
	r.round()
	r.clock = r.clock.Add(10 * time.Second)
	r.round()
	r.setMember(1, func(m *membership.Member) { m.Meta = matureMeta(fp, 3, 0) }) // n2 holds a too
	sets := r.g.sets
	next := r.a.reconcile(r.clock)
	if r.g.sets != sets+1 {
		t.Fatal("did not claim the shared VIP again")
	}
	if next.IsZero() || next.After(r.clock.Add(defendInterval)) {
		t.Fatalf("next round at %v, want within %v (the next claim)", next.Sub(r.clock), defendInterval)
	}
	r.clock = next
	r.round()
	if r.g.sets != sets+2 {
		t.Fatal("not claimed again at the round it woke up for")
	}
}

// A node whose link flapped is damped: it publishes it, and a VIP it
// prefers does not come back to it until the damping ends.
func TestFlappingLinkDamps(t *testing.T) {
	r := newRig(t, testConfig)
	r.round()
	r.b.down["eth1"] = true
	r.clock = r.clock.Add(time.Second)
	r.round()
	delete(r.b.down, "eth1")
	r.clock = r.clock.Add(time.Second)
	r.round()
	if m := r.g.published(t); !m.Damped || !m.Healthy {
		t.Fatalf("published damped %v healthy %v after a link flap, want both", m.Damped, m.Healthy)
	}
	if r.b.has("198.18.0.100/32") {
		t.Fatal("a damped node took back the VIP it prefers")
	}
	r.clock = r.clock.Add(15 * time.Second)
	r.round()
	if r.g.published(t).Damped {
		t.Fatal("still damped 16 s after a single flap")
	}
	if !r.b.has("198.18.0.100/32") {
		t.Fatal("the preferred VIP did not come back after the damping ended")
	}
}

// The status says what this node holds after the round's actions: a drain
// answered in the round that released the last VIP reports nothing held.
func TestStatusShowsWhatIsHeldAfterTheRound(t *testing.T) {
	r := newRig(t, testConfig)
	r.round()
	r.peers(t) // quorum lost
	r.round()
	r.a.Conflict("eth0", netip.MustParseAddr("198.18.0.100"), "02:00:00:00:00:99")
	r.round()
	for _, m := range r.a.Status().Members {
		if m.Self && len(m.Held) != 0 {
			t.Fatalf("status shows %v held after the round released it", m.Held)
		}
	}
}

func TestWitnessTakesNothing(t *testing.T) {
	text := strings.Replace(testConfig, `mature = "0s"`, "mature = \"0s\"\nwitness = true", 1)
	r := newRigWith(t, text, func(o *Options) { o.Announcer = nil })
	r.round()
	if len(r.b.addrs) != 0 {
		t.Fatalf("a witness took %v", r.b.addrs)
	}
	if m := r.g.published(t); !m.Witness {
		t.Fatal("the witness does not publish it")
	}
	if st := r.a.Status(); !st.Quorum.OK {
		t.Fatalf("quorum %+v", st.Quorum)
	}
}

type fakeTieBreaker struct{ p policy.TieBreakerProbe }

func (f *fakeTieBreaker) Probe() policy.TieBreakerProbe { return f.p }

// A two-voter group with a tie-breaker: alone, this node acts with quorum
// if it reaches the tie-breaker; if the other's host is alive too, it keeps
// only the VIPs it wins and lets go of the others.
func TestTieBreakerSplit(t *testing.T) {
	text := strings.Replace(testConfig, `peers = ["198.18.0.11", "198.18.0.12", "198.18.0.13"]`,
		"peers = [\"198.18.0.11\", \"198.18.0.12\"]\ntie_breaker = [\"198.18.0.1\"]", 1)
	tb := &fakeTieBreaker{}
	r := newRigWith(t, text, func(o *Options) { o.TieBreaker = tb })
	r.peers(t, "n2")
	r.round() // with n2: a and c here, b there, say
	r.peers(t)
	r.clock = r.clock.Add(time.Second)
	r.round()
	if st := r.a.Status(); st.Quorum.OK {
		t.Fatal("quorum without reaching the tie-breaker")
	}
	tb.p = policy.TieBreakerProbe{Reached: true}
	r.clock = r.clock.Add(time.Second)
	r.round()
	if st := r.a.Status(); !st.Quorum.OK || !st.Quorum.TieBreaker {
		t.Fatalf("quorum %+v, want ok by the tie-breaker", st.Quorum)
	}
	if len(r.a.held) != 3 {
		t.Fatalf("holds %v: the other is gone, this side serves every VIP", r.a.heldNames())
	}
	tb.p.PeerAlive = true
	r.clock = r.clock.Add(time.Second)
	r.round()
	if yield := r.a.lastDecision.Yield; len(yield) > 0 || len(r.a.held) != 3 {
		t.Fatalf("yields %v, holds %v: the other's host serves nothing, this side keeps every VIP", yield, r.a.heldNames())
	}
	tb.p.PeerServes = map[string]bool{"a": true, "b": true, "c": true}
	r.clock = r.clock.Add(time.Second)
	r.round()
	yield := r.a.lastDecision.Yield
	if len(yield) == 0 || len(yield) == 3 {
		t.Fatalf("yields %v of 3 VIPs: the hash should split them", yield)
	}
	for name := range yield {
		if r.a.held[name] {
			t.Fatalf("still holds %s, which the other voter keeps", name)
		}
	}
}
