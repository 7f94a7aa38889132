package agent

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/vip"
)

// The loop reports every round to OnRound: joining and unsettled first,
// settled once mature with its first plan applied (its VIP bound by then),
// stopping after the context ends.
func TestOnRoundReportsTheLoop(t *testing.T) {
	cfg := strings.Replace(testConfig, `mature = "0s"`, `mature = "300ms"`+"\ndrain_timeout = \"300ms\"", 1)
	g := &fakeGroup{changed: make(chan struct{})}
	b := &fakeBinder{addrs: map[vip.Bound]bool{}, down: map[string]bool{}}
	rounds := make(chan Round, 1000)
	a, err := New(Options{Config: parse(t, cfg), Group: g, Binder: b, Announcer: &fakeAnnouncer{},
		Logger: slog.New(slog.DiscardHandler), Resync: 50 * time.Millisecond,
		OnRound: func(r Round) {
			if r.Settled && !slices.Contains(r.Held, "a") {
				t.Errorf("a settled round before the VIP was bound: %+v", r)
			}
			rounds <- r
		}})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{a: a, g: g, b: b}
	r.peers(t, "n2", "n3")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	first := <-rounds
	if first.State != "joining" || first.Settled || first.Stopping || len(first.Held) != 0 || first.VIPs != 3 {
		t.Errorf("first round %+v: want joining, not settled, holding nothing of 3 VIPs", first)
	}
	deadline := time.After(5 * time.Second)
	for settled := false; !settled; {
		select {
		case r := <-rounds:
			settled = r.Settled
			if settled && (r.State != "mature" || r.Quorum != (Quorum{Have: 3, Need: 2, OK: true}) || r.Members != 3 || !slices.Equal(r.Held, []string{"a"})) {
				t.Errorf("first settled round %+v: want mature, quorum 3/2, 3 members, holding a", r)
			}
		case <-deadline:
			t.Fatal("no settled round within 5s of a 300ms maturity")
		}
	}
	cancel()
	for stopping := false; !stopping; {
		select {
		case r := <-rounds:
			stopping = r.Stopping
		case <-deadline:
			t.Fatal("no stopping round after the context ended")
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
