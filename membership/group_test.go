package membership

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// freePort returns a port free for both UDP and TCP on 127.0.0.1.
func freePort(t *testing.T) uint16 {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return uint16(port)
		}
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// cluster starts n members on loopback with the fast profile.
func cluster(t *testing.T, n int, key func(i int) []byte) []*Group {
	t.Helper()
	return namedCluster(t, "node", n, key)
}

func namedCluster(t *testing.T, prefix string, n int, key func(i int) []byte) []*Group {
	t.Helper()
	return timedCluster(t, prefix, n, key, testTiming())
}

func timedCluster(t *testing.T, prefix string, n int, key func(i int) []byte, timing Timing) []*Group {
	t.Helper()
	var addrs []string
	ports := make([]uint16, n)
	for i := range ports {
		ports[i] = freePort(t)
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", ports[i]))
	}
	groups := make([]*Group, n)
	for i := range groups {
		cfg := DefaultConfig()
		cfg.Name = fmt.Sprintf("%s%d", prefix, i)
		cfg.Bind = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ports[i])
		cfg.HeartbeatBind = netip.MustParseAddrPort("127.0.0.1:0")
		cfg.Seeds = addrs
		cfg.Timing = timing
		cfg.Key = key(i)
		cfg.Logger = testLogger(t)
		meta, _ := Meta{State: Joining, Healthy: true, Held: NewBitmap(3), Leaving: NewBitmap(3)}.MarshalBinary()
		g, err := Start(cfg, meta)
		// The port was free when picked, before the members started
		// before this one took ephemeral ports of their own (their
		// joins' connections, their heartbeat sockets): pick another.
		for try := 0; err != nil && strings.Contains(err.Error(), "address already in use") && try < 5; try++ {
			cfg.Bind = netip.AddrPortFrom(cfg.Bind.Addr(), freePort(t))
			g, err = Start(cfg, meta)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Shutdown() })
		groups[i] = g
	}
	return groups
}

func sameKey(int) []byte { return bytes.Repeat([]byte{7}, 32) }

// testTiming is quick enough for tests and tolerant enough for a busy
// machine under the race detector (fast's 20 ms failure timeout is not).
func testTiming() Timing {
	return Timing{HeartbeatInterval: 25 * time.Millisecond, FailureTimeout: 250 * time.Millisecond, RejoinInterval: time.Second, GossipInterval: 50 * time.Millisecond}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func aliveNames(g *Group) map[string]bool {
	m := map[string]bool{}
	for _, mem := range g.View().Alive() {
		m[mem.Name] = true
	}
	return m
}

func TestGroupFormsAndSpreadsMeta(t *testing.T) {
	gs := cluster(t, 3, sameKey)
	eventually(t, 5*time.Second, "every member sees all three alive", func() bool {
		for _, g := range gs {
			if len(aliveNames(g)) != 3 {
				return false
			}
		}
		return true
	})
	m := Meta{State: Mature, Healthy: true, Fingerprint: 99, Held: NewBitmap(3), Leaving: NewBitmap(3)}
	m.Held.Set(2)
	b, _ := m.MarshalBinary()
	if err := gs[0].SetMeta(b); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "node1 sees node0's new metadata", func() bool {
		for _, mem := range gs[1].View().Members {
			if mem.Name == "node0" {
				return mem.MetaErr == nil && mem.Meta.Held.Has(2) && mem.Meta.State == Mature
			}
		}
		return false
	})
	if v := gs[0].View(); v.Members[0].Name != "node0" || !v.Members[0].Self {
		t.Fatalf("view does not list self first in name order: %+v", v.Members)
	}
}

func TestGroupDetectsCrash(t *testing.T) {
	gs := cluster(t, 3, sameKey)
	eventually(t, 5*time.Second, "group formed", func() bool { return len(aliveNames(gs[0])) == 3 })
	// Drain the change signal, then crash node2 (no leave).
	select {
	case <-gs[0].Changed():
	default:
	}
	gs[2].Shutdown()
	start := time.Now()
	eventually(t, 2*time.Second, "node0 drops node2 from its view", func() bool { return !aliveNames(gs[0])["node2"] })
	t.Logf("crash detected after %v (failure timeout %v)", time.Since(start).Round(time.Millisecond), gs[0].Timing().FailureTimeout)
	select {
	case <-gs[0].Changed():
	case <-time.After(time.Second):
		t.Fatal("no change signalled for the crash")
	}
}

// The fast profile's polled heartbeat loop (5 ms beats, 20 ms timeout)
// forms the group and detects a crash in about the timeout.
func TestFastGroupDetectsCrash(t *testing.T) {
	gs := timedCluster(t, "fast", 3, sameKey, Fast())
	eventually(t, 5*time.Second, "group formed", func() bool { return len(aliveNames(gs[0])) == 3 })
	gs[2].Shutdown()
	start := time.Now()
	eventually(t, 2*time.Second, "fast0 drops fast2 from its view", func() bool { return !aliveNames(gs[0])["fast2"] })
	t.Logf("crash detected after %v (failure timeout %v)", time.Since(start).Round(time.Millisecond), gs[0].Timing().FailureTimeout)
}

// Rejoin joins a missing seed at once, not at the next rejoin interval
// (an hour here): the daemon calls it when a link comes back.
func TestRejoinJoinsMissingSeedsNow(t *testing.T) {
	timing := testTiming()
	timing.RejoinInterval = time.Hour
	ports := []uint16{freePort(t), freePort(t)}
	start := func(i int, seeds ...uint16) *Group {
		cfg := DefaultConfig()
		cfg.Name = fmt.Sprintf("node%d", i)
		cfg.Bind = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ports[i])
		for _, p := range seeds {
			cfg.Seeds = append(cfg.Seeds, fmt.Sprintf("127.0.0.1:%d", p))
		}
		cfg.Timing = timing
		cfg.Key = sameKey(i)
		cfg.Logger = testLogger(t)
		meta, _ := Meta{State: Mature, Healthy: true, Held: NewBitmap(3), Leaving: NewBitmap(3)}.MarshalBinary()
		g, err := Start(cfg, meta)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Shutdown() })
		return g
	}
	// node0 starts first: its one join to node1, at start, is refused.
	g0 := start(0, ports...)
	eventually(t, 5*time.Second, "node0's first join has ended", func() bool {
		g0.mu.Lock()
		defer g0.mu.Unlock()
		return len(g0.joining) == 0
	})
	g1 := start(1) // knows no seed: only node0 can bring them together
	g0.Rejoin()
	eventually(t, 5*time.Second, "node0 and node1 see each other", func() bool {
		return aliveNames(g0)["node1"] && aliveNames(g1)["node0"]
	})
}

func TestGroupRefusesAStrangerKey(t *testing.T) {
	gs := cluster(t, 3, func(i int) []byte {
		if i == 2 {
			return bytes.Repeat([]byte{9}, 32)
		}
		return sameKey(i)
	})
	eventually(t, 5*time.Second, "the two with the key form a group", func() bool { return len(aliveNames(gs[0])) == 2 })
	time.Sleep(time.Second)
	if a := aliveNames(gs[0]); a["node2"] {
		t.Fatal("a member with another key joined")
	}
	if a := aliveNames(gs[2]); len(a) != 1 {
		t.Fatalf("the stranger sees %v", a)
	}
}

func TestGroupSurvivesGarbage(t *testing.T) {
	gs := cluster(t, 2, sameKey)
	eventually(t, 5*time.Second, "group formed", func() bool { return len(aliveNames(gs[0])) == 2 })
	addr := gs[0].View().Members[0].Addr
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 200; i++ {
		c.Write(bytes.Repeat([]byte{byte(i)}, i*7%1400))
	}
	// And on the heartbeat port.
	hb, err := net.Dial("udp", gs[0].tr.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer hb.Close()
	for i := 0; i < 200; i++ {
		hb.Write(bytes.Repeat([]byte{byte(i)}, i*7%1400))
	}
	// Messages from members that do not exist.
	(*delegate)(gs[0]).NotifyMsg([]byte{'H'})
	(*delegate)(gs[0]).NotifyMsg(append([]byte{msgNeighbors}, "nobody"...))
	(*delegate)(gs[0]).NotifyMsg(nil)
	time.Sleep(300 * time.Millisecond)
	if len(aliveNames(gs[0])) != 2 {
		t.Fatal("garbage disturbed the group")
	}
}

func TestProfiles(t *testing.T) {
	for _, name := range []string{"lan", "fast", "wan"} {
		p, err := Profile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Profile("lann"); err == nil {
		t.Error("unknown profile accepted")
	}
	p, _ := Profile("lan")
	if err := p.Override(Timing{FailureTimeout: 150 * time.Millisecond}).Validate(); err == nil {
		t.Error("failure timeout below 3 heartbeats accepted")
	}
}

// View is called all the time by the agent while memberlist delivers join
// events under its own lock: the two must never wait for each other.
func TestViewDuringJoinsDoesNotDeadlock(t *testing.T) {
	for round := 0; round < 5; round++ {
		stop := make(chan struct{})
		var gs []*Group
		done := make(chan struct{})
		gs = cluster(t, 1, sameKey)
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
					gs[0].View()
				}
			}
		}()
		more := namedCluster(t, "more", 3, sameKey)
		for _, g := range more {
			g.ml.Join([]string{gs[0].View().Members[0].Addr.String()})
		}
		eventually(t, 5*time.Second, "all four see each other", func() bool { return len(aliveNames(gs[0])) == 4 })
		close(stop)
		<-done
	}
}

// A key rotation in three steps, on every member before the next step,
// never splits the group; a member left with only the old key is out.
func TestKeyRotation(t *testing.T) {
	old, new := sameKey(0), bytes.Repeat([]byte{8}, 32)
	gs := cluster(t, 3, sameKey)
	eventually(t, 5*time.Second, "group formed", func() bool { return len(aliveNames(gs[0])) == 3 })
	steps := []struct {
		primary []byte
		others  [][]byte
	}{
		{old, [][]byte{new}}, // 1: accept the new key
		{new, [][]byte{old}}, // 2: send with it
		{new, nil},           // 3: forget the old one
	}
	for i, s := range steps {
		for _, g := range gs[:2] {
			if err := g.SetKeys(s.primary, s.others); err != nil {
				t.Fatal(err)
			}
		}
		if i < 2 {
			if err := gs[2].SetKeys(s.primary, s.others); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(500 * time.Millisecond)
		if a := aliveNames(gs[0]); i < 2 && len(a) != 3 {
			t.Fatalf("step %d split the group: %v", i+1, a)
		}
	}
	// node2 stopped at step 2 and still sends with the new key... make it
	// stale: back to the old key only.
	if err := gs[2].SetKeys(old, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the member with the stale key drops out", func() bool { return !aliveNames(gs[0])["node2"] })
	if err := (&Group{}).SetKeys(new, nil); err == nil {
		t.Fatal("a clear-text group accepted a key")
	}
}
