package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wackamole/wackamole/pkg/control"
)

type fakeSource struct {
	mu sync.Mutex
	s  control.Status
}

func (f *fakeSource) Status() control.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s
}

func (f *fakeSource) set(s control.Status) {
	f.mu.Lock()
	f.s = s
	f.mu.Unlock()
}

func status() control.Status {
	return control.Status{
		Node:         "n1",
		State:        "mature",
		Healthy:      true,
		Quorum:       control.Quorum{Have: 2, Need: 2, OK: true},
		Timing:       "lan",
		Started:      time.Unix(1700000000, 500_000_000),
		GossipHealth: 1,
		Damping:      control.Damping{Damped: true, Penalty: 1450, Flaps: 2},
		Members: []control.Member{
			{Name: "n1", Self: true, Alive: true, State: "mature", Healthy: true, Eligible: true, Held: []string{"vip-01", "vip-02"}},
			{Name: "n2", Alive: true, Unreachable: true, State: "draining", Healthy: true},
			{Name: "n3", Alive: false, State: "mature"},
		},
		VIPs: []control.VIP{
			{Name: "vip-01", Owner: "n1", Holders: []string{"n1"}},
			{Name: "vip-02", Owner: "n1", Holders: []string{"n2", "n1"}},
			{Name: "vip-03"},
		},
		Counters: control.Counters{
			Acquired:      map[string]uint64{"orphaned": 2, "rebalanced": 1},
			Released:      map[string]uint64{"drain": 1},
			Conflicts:     3,
			Announcements: 12,
			Errors:        1,
		},
	}
}

func TestCollector(t *testing.T) {
	src := &fakeSource{s: status()}
	c := NewCollector(src)
	want := `
# HELP wackamole_members Members of the group as this node sees them, by state (dead: not heard from within the failure timeout).
# TYPE wackamole_members gauge
wackamole_members{state="dead"} 1
wackamole_members{state="draining"} 1
wackamole_members{state="joining"} 0
wackamole_members{state="mature"} 1
# HELP wackamole_members_eligible Members that may be given VIPs.
# TYPE wackamole_members_eligible gauge
wackamole_members_eligible 1
# HELP wackamole_quorum_have Live, same-configured members this node sees, itself included.
# TYPE wackamole_quorum_have gauge
wackamole_quorum_have 2
# HELP wackamole_quorum_need Members needed for quorum.
# TYPE wackamole_quorum_need gauge
wackamole_quorum_need 2
# HELP wackamole_quorum_ok 1 when this node sees a quorum: it may take orphaned VIPs and rebalance.
# TYPE wackamole_quorum_ok gauge
wackamole_quorum_ok 1
# HELP wackamole_vips VIPs configured.
# TYPE wackamole_vips gauge
wackamole_vips 3
# HELP wackamole_vips_held VIPs this node holds.
# TYPE wackamole_vips_held gauge
wackamole_vips_held 2
# HELP wackamole_vip_owner 1 for each VIP and the member serving it (owner is empty while nobody does).
# TYPE wackamole_vip_owner gauge
wackamole_vip_owner{owner="",vip="vip-03"} 1
wackamole_vip_owner{owner="n1",vip="vip-01"} 1
wackamole_vip_owner{owner="n1",vip="vip-02"} 1
# HELP wackamole_vip_holders Members claiming each VIP: 2 during a hand-over, more than 1 for long means a conflict.
# TYPE wackamole_vip_holders gauge
wackamole_vip_holders{vip="vip-01"} 1
wackamole_vip_holders{vip="vip-02"} 2
wackamole_vip_holders{vip="vip-03"} 0
# HELP wackamole_node_info 1, labelled with this node's name, state and timing profile.
# TYPE wackamole_node_info gauge
wackamole_node_info{node="n1",state="mature",timing="lan"} 1
# HELP wackamole_healthy 1 when this node's health checks pass.
# TYPE wackamole_healthy gauge
wackamole_healthy 1
# HELP wackamole_start_time_seconds When the agent started, in seconds since the Unix epoch.
# TYPE wackamole_start_time_seconds gauge
wackamole_start_time_seconds 1.7000000005e+09
# HELP wackamole_acquisitions_total VIPs this node acquired, by cause.
# TYPE wackamole_acquisitions_total counter
wackamole_acquisitions_total{cause="orphaned"} 2
wackamole_acquisitions_total{cause="rebalanced"} 1
# HELP wackamole_releases_total VIPs this node released, by cause.
# TYPE wackamole_releases_total counter
wackamole_releases_total{cause="drain"} 1
# HELP wackamole_conflicts_total Times another host announced a VIP this node held.
# TYPE wackamole_conflicts_total counter
wackamole_conflicts_total 3
# HELP wackamole_announcements_total Gratuitous ARP and unsolicited neighbour advertisements sent.
# TYPE wackamole_announcements_total counter
wackamole_announcements_total 12
# HELP wackamole_errors_total Errors applying the plan (netlink, ARP, metadata).
# TYPE wackamole_errors_total counter
wackamole_errors_total 1
# HELP wackamole_gossip_health_score memberlist's awareness score: 0 is healthy, higher means this node is slow to keep up with the group.
# TYPE wackamole_gossip_health_score gauge
wackamole_gossip_health_score 1
# HELP wackamole_damped 1 while this node is damped for flapping: it takes no VIPs.
# TYPE wackamole_damped gauge
wackamole_damped 1
# HELP wackamole_damping_penalty This node's flap damping penalty (RFC 2439 style: each flap adds, it halves every half-life).
# TYPE wackamole_damping_penalty gauge
wackamole_damping_penalty 1450
# HELP wackamole_members_unreachable Members that others hear but this node does not: a cut path between two members.
# TYPE wackamole_members_unreachable gauge
wackamole_members_unreachable 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}

	// Every scrape reads the status afresh.
	s := status()
	s.Quorum = control.Quorum{Have: 1, Need: 2}
	src.set(s)
	lost := `
# HELP wackamole_quorum_ok 1 when this node sees a quorum: it may take orphaned VIPs and rebalance.
# TYPE wackamole_quorum_ok gauge
wackamole_quorum_ok 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(lost), "wackamole_quorum_ok"); err != nil {
		t.Errorf("after losing quorum: %v", err)
	}
}

func TestEmptyStatus(t *testing.T) {
	// Before the agent's first round: no panic, zeroes.
	c := NewCollector(&fakeSource{})
	if n := testutil.CollectAndCount(c); n == 0 {
		t.Error("no metric for an empty status")
	}
	if n := testutil.CollectAndCount(c, "wackamole_vips_held"); n != 1 {
		t.Errorf("vips_held series: %d", n)
	}
}

func TestBadLabelValueDoesNotPanic(t *testing.T) {
	s := status()
	s.VIPs[0].Name = "bad\xff"
	// The scrape reports the bad series and serves the rest.
	rec := httptest.NewRecorder()
	Handler(&fakeSource{s: s}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if body := rec.Body.String(); !strings.Contains(body, "wackamole_quorum_ok 1") {
		t.Errorf("the good series are missing:\n%.500s", body)
	}
}

func TestServer(t *testing.T) {
	src := &fakeSource{s: status()}
	srv, err := Listen("127.0.0.1:0", src, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	url := "http://" + srv.Addr().String()
	body := get(t, url+"/metrics", 200)
	for _, want := range []string{"wackamole_quorum_ok 1\n", `wackamole_vip_owner{owner="n1",vip="vip-01"} 1`, "go_goroutines ", "process_"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	get(t, url+"/", 200)
	get(t, url+"/nope", 404)

	if _, err := Listen(srv.Addr().String(), src, nil); err == nil || !strings.Contains(err.Error(), "metrics_listen") {
		t.Errorf("second Listen on a port in use: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func get(t *testing.T, url string, code int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != code {
		t.Errorf("GET %s: %s, want %d", url, resp.Status, code)
	}
	return string(data)
}

func TestCollectorBGP(t *testing.T) {
	s := status()
	s.BGP = &control.BGP{
		Peers:  []control.BGPPeer{{Address: "198.18.0.1", State: "established", BFD: "up", Flaps: 2}, {Address: "198.18.0.2", State: "active", BFD: "down"}},
		Routes: []control.BGPRoute{{Prefix: "198.18.1.100/32"}, {Prefix: "198.18.1.101/32", Standby: true}, {Prefix: "198.18.1.102/32", Standby: true}},
	}
	want := `
# HELP wackamole_bgp_session_up 1 while the BGP session with the router is established (bgp mode).
# TYPE wackamole_bgp_session_up gauge
wackamole_bgp_session_up{peer="198.18.0.1"} 1
wackamole_bgp_session_up{peer="198.18.0.2"} 0
# HELP wackamole_bgp_bfd_up 1 while the BFD session with the router is up (bgp mode, bfd = true).
# TYPE wackamole_bgp_bfd_up gauge
wackamole_bgp_bfd_up{peer="198.18.0.1"} 1
wackamole_bgp_bfd_up{peer="198.18.0.2"} 0
# HELP wackamole_bgp_routes_announced Host routes this node announces, by path (owner or standby).
# TYPE wackamole_bgp_routes_announced gauge
wackamole_bgp_routes_announced{path="owner"} 1
wackamole_bgp_routes_announced{path="standby"} 2
`
	if err := testutil.CollectAndCompare(NewCollector(&fakeSource{s: s}), strings.NewReader(want),
		"wackamole_bgp_session_up", "wackamole_bgp_bfd_up", "wackamole_bgp_routes_announced"); err != nil {
		t.Error(err)
	}
}
