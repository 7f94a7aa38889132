package e2e

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

// The owner of a VIP dies with its host (daemon killed, link down): a
// survivor takes the VIP over and the client reaches it again.
func TestCrashMovesTheVIPToASurvivor(t *testing.T) {
	for _, timing := range []string{"lan", "fast"} {
		t.Run(timing, func(t *testing.T) {
			c := newCluster(t, cluster.Options{Nodes: 3, Timing: timing})
			h := start(t, c)
			stable(t, c, time.Second, h)
			v := c.VIPs[0]
			victim := c.Node(cluster.Owner(h, v))
			p := ping(t, c, v)

			if err := c.Kill(victim); err != nil {
				t.Fatal(err)
			}
			if err := c.LinkDown(context.Background(), victim); err != nil {
				t.Fatal(err)
			}
			reachable(t, p, 15*time.Second)
			r := p.Stop()
			t.Logf("client-visible outage with timing %s: %v (%d of %d probes lost)", timing, r.MaxGap.Round(time.Millisecond), r.Lost(), r.Sent)

			survivors := others(c.Nodes, victim)
			h = converge(t, c, 15*time.Second, survivors...)
			stable(t, c, time.Second, h)
		})
	}
}

// kill -9 leaves the address on the interface; a restarted daemon removes
// it at start-up and the group spreads the VIPs again.
func TestRestartAfterKillCleansUp(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3})
	h := start(t, c)
	victim := c.Nodes[1]
	held := heldBy(h, victim.Name)
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	// The survivors take the VIP over; the dead daemon's address is still
	// on its interface (nobody removed it).
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, _ = c.Holders(context.Background())
		if len(h[held[0]]) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("survivors did not take over %v: %v", held, h)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Start(victim); err != nil {
		t.Fatal(err)
	}
	h = converge(t, c, 30*time.Second, c.Nodes...)
	stable(t, c, 2*time.Second, h)
	log, _ := os.ReadFile(victim.LogPath + ".2")
	if !strings.Contains(string(log), "removed a stale VIP address") {
		t.Errorf("the restarted daemon did not report removing the stale address")
	}
}

// SIGTERM hands the VIP over make-before-break: the client loses at most a
// probe or two, and the stopped node keeps no address.
func TestGracefulStopHandsOver(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3})
	h := start(t, c)
	v := c.VIPs[0]
	owner := c.Node(cluster.Owner(h, v))
	p := ping(t, c, v)
	time.Sleep(200 * time.Millisecond)

	if err := c.Stop(owner, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	r := p.Stop()
	t.Logf("graceful stop: largest gap %v, %d of %d probes lost", r.MaxGap.Round(time.Millisecond), r.Lost(), r.Sent)
	if r.Lost() > 3 {
		t.Errorf("graceful stop lost %d probes, want at most 3", r.Lost())
	}
	addrs, err := owner.Host.Addrs(context.Background(), "eth0")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		for _, vv := range c.VIPs {
			if a.Addr() == vv {
				t.Errorf("stopped node still has %s", a)
			}
		}
	}
	h = converge(t, c, 10*time.Second, others(c.Nodes, owner)...)
	stable(t, c, time.Second, h)
}

// A fourth node joins a group of three with four VIPs: exactly one VIP
// moves to it, from the node that had two.
func TestJoinMovesOnlyWhatBalanceNeeds(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3, VIPs: 4})
	before := start(t, c)
	stable(t, c, time.Second, before)
	n4, err := c.AddNode(within(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(n4); err != nil {
		t.Fatal(err)
	}
	after := converge(t, c, 30*time.Second, c.Nodes...)
	moved := 0
	for v, hs := range after {
		if before[v][0] != hs[0] {
			moved++
			if hs[0] != n4.Name {
				t.Errorf("%s moved from %s to %s, not to the newcomer", v, before[v][0], hs[0])
			}
		}
	}
	if moved != 1 {
		t.Errorf("%d VIPs moved, balance needs 1", moved)
	}
	stable(t, c, time.Second, after)
}

// A daemon given an invalid file on SIGHUP keeps its running configuration.
func TestBadConfigOnReloadIsRejected(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3})
	h := start(t, c)
	n := c.Nodes[0]
	good, err := os.ReadFile(n.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.ConfigPath, append(good, []byte("\nquorom = 2\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.Process().Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		log, _ := os.ReadFile(n.LogPath)
		if strings.Contains(string(log), "reload rejected") && strings.Contains(string(log), "quorom") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no log line rejecting the reload and naming the bad key")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !n.Running() {
		t.Fatal("the daemon died on a bad reload")
	}
	stable(t, c, 2*time.Second, h)
}

// A VIP added to every node's file and loaded with SIGHUP is planned and
// taken like the others, without disturbing the VIPs that stayed.
func TestReloadWithANewVIP(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3})
	h := start(t, c)
	c.VIPs = append(c.VIPs, c.Lab.VIP(len(c.VIPs)))
	for _, n := range c.Nodes {
		if err := c.WriteConfig(n, ""); err != nil {
			t.Fatal(err)
		}
		if err := n.Process().Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	after := converge(t, c, 20*time.Second, c.Nodes...)
	for v, hs := range h {
		if after[v][0] != hs[0] {
			t.Errorf("%s moved from %s to %s on a reload that only added a VIP", v, hs[0], after[v][0])
		}
	}
	stable(t, c, time.Second, after)
}
