package control

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestWriteStatus(t *testing.T) {
	s := testStatus()
	s.Started = now.Add(-5*time.Minute - 12*time.Second)
	s.Fingerprint = "3f2a9c1e12ab45cd"
	s.Members[0].Since = s.Started
	s.Members[1].Since = now.Add(-3 * time.Hour)
	s.VIPs[0].Since = now.Add(-4 * time.Minute)
	s.VIPs[1].Planned = "n1"
	s.VIPs[1].Reason = "rebalanced"
	s.VIPs[1].Waiting = "n1 adds it first"
	var b strings.Builder
	if err := WriteStatus(&b, s, now); err != nil {
		t.Fatal(err)
	}
	want := `node    n1 (mature, healthy)
quorum  3/2 ok
config  3f2a9c1e12ab (timing lan)
up      5m12s (gossip health 0)

MEMBER  ADDRESS          STATE     HEALTH   ALIVE  ELIGIBLE      AGE    VIPS
n1 *    198.18.0.2:7946  mature    healthy  yes    yes           5m12s  vip-01
n2      198.18.0.3:7946  mature    healthy  yes    yes           3h00m  vip-02
n3      198.18.0.4:7946  draining  healthy  yes    no: draining  -      -

VIP     ADDRESSES           OWNER  SINCE  HAND-OVER
vip-01  eth0:198.18.1.1/32  n1     4m00s  -
vip-02  eth0:198.18.1.2/32  n2     -      to n1 (rebalanced); waits: n1 adds it first
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteStatusTrouble(t *testing.T) {
	s := Status{
		Node:         "n1",
		State:        "mature",
		Quorum:       Quorum{Have: 1, Need: 2},
		GossipHealth: 3,
		Members: []Member{
			{Name: "n1", Self: true, Alive: true, State: "mature", Why: "unhealthy", Held: []string{"vip-01"}, Leaving: []string{"vip-02"}},
			{Name: "n2", Addr: "198.18.0.3:7946", Why: "silent"},
		},
		VIPs: []VIP{
			{Name: "vip-01", Addresses: []string{"eth0:198.18.1.1/32", "eth1:198.18.2.1/32"}, Owner: "n1", Holders: []string{"n1", "n2"}, Planned: "n1", Reason: "contested"},
			{Name: "vip-02", Addresses: []string{"eth0:198.18.1.2/32"}, Owner: "n1", Holders: []string{"n1"}, Reason: "vacated"},
			{Name: "vip-03", Reason: "unowned", Waiting: "no quorum"},
		},
	}
	var b strings.Builder
	if err := WriteStatus(&b, s, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"node    n1 (mature, UNHEALTHY)\n",
		"quorum  1/2 LOST: takes no orphan VIP and does no rebalance\n",
		"up      - (gossip health 3, lagging",
		"n1 *    -                mature  unhealthy  yes    no: unhealthy  -    vip-01 (handing over vip-02)\n",
		"n2      198.18.0.3:7946  -       -          NO     no: silent     -    -\n",
		"vip-01  eth0:198.18.1.1/32,eth1:198.18.2.1/32  n1 (also held by n2)  -      -\n",
		"vip-02  eth0:198.18.1.2/32                     n1                    -      to nobody (vacated)\n",
		"vip-03  -                                      -                     -      none: unowned; waits: no quorum\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
}

func TestAge(t *testing.T) {
	for _, tc := range []struct {
		ago  time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{0, "0s"},
		{42*time.Second + 600*time.Millisecond, "42s"},
		{5*time.Minute + 2*time.Second, "5m02s"},
		{3*time.Hour + 5*time.Minute + 59*time.Second, "3h05m"},
		{50 * time.Hour, "2d02h"},
	} {
		if got := Age(now.Add(-tc.ago), now); got != tc.want {
			t.Errorf("Age(%v ago) = %q, want %q", tc.ago, got, tc.want)
		}
	}
	if got := Age(time.Time{}, now); got != "-" {
		t.Errorf("Age(zero) = %q", got)
	}
}

func TestWriteResult(t *testing.T) {
	for _, tc := range []struct {
		r    Result
		want string
	}{
		{Result{Command: "drain", Node: "n1", OK: true, State: "draining", Held: []string{}, ElapsedMS: 1234},
			"n1 drained in 1.234s: holds no VIP, stays in the group ineligible (state draining). Run 'wackatrl undrain' to take VIPs again.\n"},
		{Result{Command: "drain", Node: "n1", TimedOut: true, Error: "x", State: "draining", Held: []string{"vip-01"}, ElapsedMS: 5000},
			"n1: drain timed out after 5s, still holding vip-01; the node stays draining and keeps handing over.\n"},
		{Result{Command: "drain", Node: "n1", Error: "nobody can take vip-01, vip-02", State: "draining", Held: []string{"vip-01", "vip-02"}, ElapsedMS: 10},
			"n1: drain failed after 10ms: nobody can take vip-01, vip-02 (state draining, holding vip-01, vip-02)\n"},
		{Result{Command: "undrain", Node: "n1", OK: true, State: "mature"},
			"n1 undrained: eligible for VIPs again (state mature); VIPs come back as the group rebalances.\n"},
		{Result{Command: "reload", Node: "n1", OK: true, State: "mature", Held: []string{"vip-01"}},
			"n1 reloaded its configuration (state mature, holding vip-01).\n"},
		{Result{Command: "reload", Node: "n1", Error: "reload refused: bind cannot change", State: "mature"},
			"n1: reload failed after 0s: reload refused: bind cannot change (state mature, holding no VIP)\n"},
	} {
		var b strings.Builder
		if err := WriteResult(&b, tc.r); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("got  %q\nwant %q", b.String(), tc.want)
		}
	}
}

func TestDrainLine(t *testing.T) {
	s := testStatus()
	s.VIPs[0].Planned = "n2"
	s.VIPs[0].Waiting = "n2 adds it first"
	if got, want := DrainLine(s, 1234*time.Millisecond), "draining n1 (1.2s): handing over vip-01 to n2 waiting: n2 adds it first"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	s.VIPs[0].Planned = "n1"
	if got, want := DrainLine(s, time.Second), "draining n1 (1s): handing over vip-01 (no taker yet) waiting: n2 adds it first"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	s.VIPs[0].Holders = []string{"n2"}
	s.Members[0].Held = nil
	if got, want := DrainLine(s, 2*time.Second), "draining n1 (2s): holds no VIP"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
