package agent

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/membership"
)

type fakeRouter struct{ routes []Route }

func (r *fakeRouter) SetRoutes(routes []Route) error {
	r.routes = slices.Clone(routes)
	return nil
}

// String lists the routes as "198.18.0.100/32 198.18.0.101/32:standby".
func (r *fakeRouter) String() string {
	var out []string
	for _, rt := range r.routes {
		s := rt.Prefix.String()
		if rt.Standby {
			s += ":standby"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

const bgpConfig = `
node_name = "n1"
bind = "198.18.0.11:7946"
peers = ["198.18.0.11", "198.18.0.12", "198.18.0.13"]
insecure = true
mature = "0s"
mode = "bgp"
[bgp]
asn = 65101
announce = "%s"
[[bgp.peer]]
address = "198.18.0.1"
asn = 65000
[[vip]]
name = "a"
addresses = ["198.18.1.100/32"]
prefer = ["n1"]
[[vip]]
name = "b"
addresses = ["198.18.1.101/32"]
prefer = ["n2"]
[[vip]]
name = "c"
addresses = ["198.18.1.102/32"]
prefer = ["n3"]
`

func newBGPRig(t *testing.T, announce string) (*rig, *fakeRouter) {
	t.Helper()
	rt := &fakeRouter{}
	r := newRigWith(t, fmt.Sprintf(bgpConfig, announce), func(o *Options) { o.Announcer, o.Router = nil, rt })
	return r, rt
}

// The owner announces its VIP; the planned successor of another member's
// VIP binds it and announces a standby path; nothing goes out by ARP.
func TestBGPOwnerAndStandby(t *testing.T) {
	r, rt := newBGPRig(t, "owner")
	fp := Fingerprint(r.a.cfg)
	r.peers(t, "n2")
	r.setMember(1, func(m *membership.Member) { m.Meta = matureMeta(fp, 3, 1, 2) }) // n2 holds b and c
	r.round()
	// n1 owns a; were n2 to fail, b and c would come here: n1 is their
	// planned successor.
	if !r.b.has("198.18.1.100/32") || !r.b.has("198.18.1.101/32") || !r.b.has("198.18.1.102/32") {
		t.Fatalf("bound %v, want a (owned) and b, c (standby)", r.b.addrs)
	}
	if got, want := rt.String(), "198.18.1.100/32 198.18.1.101/32:standby 198.18.1.102/32:standby"; got != want {
		t.Fatalf("routes %q, want %q", got, want)
	}
	if len(r.ann.sent) != 0 {
		t.Fatalf("ARP in bgp mode: %v", r.ann.sent)
	}
	if st := r.a.Status(); slices.ContainsFunc(st.VIPs, func(v VIPStatus) bool { return v.Name == "b" && slices.Contains(v.Holders, "n1") }) {
		t.Fatal("a standby VIP is reported as held")
	}
	// Without quorum: the owned VIP only as a standby path, no successor.
	r.peers(t)
	r.round()
	if got := rt.String(); got != "198.18.1.100/32:standby" {
		t.Fatalf("routes without quorum %q, want the held VIP as a standby path only", got)
	}
	if r.b.has("198.18.1.101/32") || r.b.has("198.18.1.102/32") {
		t.Fatal("a standby binding survived the loss of quorum")
	}
}

// A VIP handed over lingers: bound and announced as a standby path for a
// second after the new owner claimed it, then gone.
func TestBGPHandOverLingers(t *testing.T) {
	r, rt := newBGPRig(t, "owner")
	fp := Fingerprint(r.a.cfg)
	r.round()
	r.a.draining = true
	r.round()
	as, _ := r.a.plan.Lookup("a")
	i := slices.IndexFunc(r.g.members, func(m membership.Member) bool { return m.Name == as.Owner })
	r.setMember(i, func(m *membership.Member) { m.Meta, m.MetaVersion = matureMeta(fp, 3, 0), m.MetaVersion+1 })
	r.clock = r.clock.Add(10 * time.Millisecond)
	r.round()
	if r.a.held["a"] {
		t.Fatal("still holds a after the new owner claimed it")
	}
	if !r.b.has("198.18.1.100/32") || rt.String() != "198.18.1.100/32:standby" {
		t.Fatalf("a does not linger: bound %v, routes %q", r.b.has("198.18.1.100/32"), rt.String())
	}
	r.clock = r.clock.Add(linger)
	r.round()
	if r.b.has("198.18.1.100/32") || rt.String() != "" {
		t.Fatalf("a still lingers after %v: bound %v, routes %q", linger, r.b.has("198.18.1.100/32"), rt.String())
	}
}

// announce = all: every eligible node announces every VIP; a node that
// stops being eligible withdraws only what others announce.
func TestBGPAnnounceAll(t *testing.T) {
	r, rt := newBGPRig(t, "all")
	r.round()
	if got := rt.String(); got != "198.18.1.100/32 198.18.1.101/32 198.18.1.102/32" {
		t.Fatalf("routes %q, want every VIP", got)
	}
	// Draining while nobody else announces: keep them.
	r.a.draining = true
	r.round()
	if len(rt.routes) != 3 {
		t.Fatalf("withdrew %q although no other node announces them", rt.String())
	}
	fp := Fingerprint(r.a.cfg)
	r.setMember(1, func(m *membership.Member) { m.Meta = matureMeta(fp, 3, 0, 1, 2) })
	r.clock = r.clock.Add(10 * time.Millisecond)
	r.round()
	// Withdrawn, and lingering: the routes are standby paths at once,
	// the addresses stay bound for a second (what the router sends
	// before it has the withdrawal is served), then both go.
	if got, want := rt.String(), "198.18.1.100/32:standby 198.18.1.101/32:standby 198.18.1.102/32:standby"; got != want {
		t.Fatalf("a draining node announces %q, want %q", got, want)
	}
	if len(r.b.addrs) != 3 || len(r.a.held) != 0 {
		t.Fatalf("a withdrawn VIP does not linger: bound %v, held %v", r.b.addrs, r.a.held)
	}
	r.clock = r.clock.Add(linger)
	r.round()
	if len(rt.routes) != 0 || len(r.b.addrs) != 0 {
		t.Fatalf("after %v a draining node still announces %q, binds %v", linger, rt.String(), r.b.addrs)
	}
	// Eligible again: it announces every VIP once more.
	r.a.draining = false
	r.round()
	if got := rt.String(); got != "198.18.1.100/32 198.18.1.101/32 198.18.1.102/32" {
		t.Fatalf("routes %q after the drain, want every VIP", got)
	}
}

// announce = all: a VIP taken again while it lingers is announced as an
// ordinary path at once and stays bound when the linger ends.
func TestBGPAnnounceAllRetakesALingeringVIP(t *testing.T) {
	r, rt := newBGPRig(t, "all")
	fp := Fingerprint(r.a.cfg)
	r.round()
	r.setMember(1, func(m *membership.Member) { m.Meta = matureMeta(fp, 3, 0, 1, 2) })
	r.a.draining = true
	r.round()
	r.a.draining = false
	r.clock = r.clock.Add(100 * time.Millisecond)
	r.round()
	if got := rt.String(); got != "198.18.1.100/32 198.18.1.101/32 198.18.1.102/32" || len(r.a.held) != 3 {
		t.Fatalf("routes %q, held %v: want every VIP taken again", got, r.a.held)
	}
	r.clock = r.clock.Add(linger)
	r.round()
	if got := rt.String(); got != "198.18.1.100/32 198.18.1.101/32 198.18.1.102/32" || len(r.b.addrs) != 3 {
		t.Fatalf("after the linger: routes %q, bound %v", got, r.b.addrs)
	}
}
