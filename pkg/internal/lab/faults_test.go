package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
)

// procState returns the state letter of /proc/PID/stat (R, S, T, …).
func procState(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ...: comm may hold spaces, the state follows the last ')'.
	rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
	return strings.Fields(rest)[0]
}

// procCPU returns the CPU time (user + system) the process has used.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	// Fields after the comm: state is [0], utime [11], stime [12], in clock
	// ticks (100 per second on Linux).
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func TestPauseResume(t *testing.T) {
	l := newTest(t, Options{Nodes: 1})
	p, err := l.Nodes[0].Start("sleep", []string{"300"}, "")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "sleep running", func() bool { return procState(t, p.Pid()) == "S" })
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "paused (state T)", func() bool { return procState(t, p.Pid()) == "T" })
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "resumed (state S)", func() bool { return procState(t, p.Pid()) == "S" })
	// A paused process is killed by Close like any other.
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !p.Exited() {
		t.Fatal("Close left the paused process running")
	}
	if err := p.Resume(); !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("Resume after exit: %v, want ErrProcessDone", err)
	}
}

// carrier reports whether the host's eth0 has carrier.
func carrier(t *testing.T, h *Host) bool {
	t.Helper()
	out, err := h.ip(context.Background(), "-j", "link", "show", "dev", hostIf)
	if err != nil {
		t.Fatal(err)
	}
	var links []struct {
		Flags []string `json:"flags"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j link: %q: %v", out, err)
	}
	if !slices.Contains(links[0].Flags, "UP") {
		t.Fatalf("%s: eth0 is administratively down: %v", h.NS, links[0].Flags)
	}
	return !slices.Contains(links[0].Flags, "NO-CARRIER")
}

func TestPortDownAndFlap(t *testing.T) {
	l := newTest(t, Options{Nodes: 1})
	ctx := testContext(t)
	n := l.Nodes[0]
	if !carrier(t, n) {
		t.Fatal("no carrier before the test")
	}
	if err := n.PortDown(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Second, "carrier lost after PortDown", func() bool { return !carrier(t, n) })
	if err := n.PortUp(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Second, "carrier back after PortUp", func() bool { return carrier(t, n) })

	if _, err := n.Flap(ctx, 10*time.Millisecond, time.Second); err == nil {
		t.Error("Flap accepted a 10 ms period")
	}
	if _, err := n.Flap(ctx, time.Second, 500*time.Millisecond); err == nil {
		t.Error("Flap accepted a duration shorter than the period")
	}
	// 200 ms period for 1 s: five times down, and the carrier seen going.
	f, err := n.Flap(ctx, 200*time.Millisecond, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sawDown := false
	for done := false; !done; {
		select {
		case <-f.Done():
			done = true
		case <-time.After(10 * time.Millisecond):
			sawDown = sawDown || !carrier(t, n)
		}
	}
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	if got := f.Flaps(); got < 4 || got > 6 {
		t.Errorf("%d flaps in 1 s at a 200 ms period, want 5", got)
	}
	if !sawDown {
		t.Error("never saw the carrier go while flapping")
	}
	if !carrier(t, n) {
		t.Error("no carrier after the flapping ended")
	}
	// Stopped early, and by Close: the port ends up.
	f, err = n.Flap(ctx, 100*time.Millisecond, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond)
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	if !carrier(t, n) {
		t.Error("no carrier after Stop")
	}
	f, err = n.Flap(ctx, 100*time.Millisecond, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the flapping")
	}
}

func TestDropRandom(t *testing.T) {
	testenv.RequireNetns(t, "nft")
	l := newTest(t, Options{Nodes: 1})
	ctx := testContext(t)
	n := l.Nodes[0]
	for _, bad := range []int{0, -1, 101} {
		if err := n.DropRandom(ctx, bad); err == nil {
			t.Errorf("DropRandom(%d) accepted", bad)
		}
	}
	measure := func() Result {
		p, err := l.Client.Ping(ctx, n.Addr, 2*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		return p.Stop()
	}
	// 30 % each way: a round trip survives with probability 0.49.
	if err := n.DropRandom(ctx, 30); err != nil {
		t.Fatal(err)
	}
	r := measure()
	loss := float64(r.Lost()) / float64(r.Sent)
	t.Logf("30%% drop each way: %s", r)
	if r.Sent < 200 || loss < 0.35 || loss > 0.67 {
		t.Errorf("loss %.2f over %d probes, want about 0.51", loss, r.Sent)
	}
	// Inbound only: the echo requests are dropped, the replies not.
	if err := n.DropRandomInbound(ctx, 30); err != nil {
		t.Fatal(err)
	}
	r = measure()
	loss = float64(r.Lost()) / float64(r.Sent)
	t.Logf("30%% drop inbound: %s", r)
	if r.Sent < 200 || loss < 0.18 || loss > 0.42 {
		t.Errorf("inbound only: loss %.2f over %d probes, want about 0.30", loss, r.Sent)
	}
	// ARP is not dropped: the client resolved the node every time it asked.
	if mac, _, err := l.Client.Neigh(ctx, n.Addr); err != nil || mac != n.MAC.String() {
		t.Errorf("client's neighbour entry for the lossy node: %q, %v", mac, err)
	}
	// Isolation and loss combine; Heal removes both.
	if err := n.Isolate(ctx, 7946); err != nil {
		t.Fatal(err)
	}
	if err := n.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := n.Run(ctx, "nft", "list", "tables")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, lossTable) || strings.Contains(out, nftTable) {
		t.Fatalf("tables left after Heal: %q", out)
	}
	if r := measure(); r.Lost() > 2 {
		t.Errorf("after Heal: %s", r)
	}
}

// pingOnce reports whether from gets an echo reply from to within a second.
func pingOnce(t *testing.T, from *Host, to *Host) bool {
	t.Helper()
	_, err := from.Run(context.Background(), "ping", "-c", "1", "-W", "1", "-n", "-q", to.Addr.String())
	return err == nil
}

func TestCutPath(t *testing.T) {
	testenv.RequireNetns(t, "nft", "ping")
	l := newTest(t, Options{Nodes: 3})
	ctx := testContext(t)
	n1, n2, n3 := l.Nodes[0], l.Nodes[1], l.Nodes[2]
	if err := l.CutPath(ctx, n1, n1); err == nil {
		t.Error("CutPath accepted a host and itself")
	}
	if err := l.CutPath(ctx, n1, l.Bridge); err == nil {
		t.Error("CutPath accepted the bridge host")
	}
	if err := l.CutPath(ctx, n1, n2); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		from, to *Host
		want     bool
	}{
		{n1, n2, false}, {n2, n1, false},
		{n1, n3, true}, {n2, n3, true}, {n3, n1, true}, {l.Client, n1, true}, {l.Client, n2, true}, {n1, l.Client, true},
	} {
		if got := pingOnce(t, c.from, c.to); got != c.want {
			t.Errorf("%s pings %s: %v, want %v", c.from.Name, c.to.Name, got, c.want)
		}
	}
	// ARP still flows: n1 resolved n2 while its pings went unanswered.
	if mac, _, err := n1.Neigh(ctx, n2.Addr); err != nil || mac != n2.MAC.String() {
		t.Errorf("n1's neighbour entry for n2 across the cut: %q, %v", mac, err)
	}
	if err := l.HealPath(ctx, n2, n1); err != nil { // either order
		t.Fatal(err)
	}
	if !pingOnce(t, n1, n2) || !pingOnce(t, n2, n1) {
		t.Error("n1 and n2 do not reach each other after HealPath")
	}
	if err := l.HealPath(ctx, n1, n2); err != nil {
		t.Errorf("healing a healed path: %v", err)
	}
}

func TestLimitCPU(t *testing.T) {
	testenv.RequireNetns(t, "sh")
	if _, err := CPUController(); err != nil {
		if os.Getenv(testenv.E2EEnv) == "1" {
			t.Fatalf("%v (%s=1, so this is a failure)", err, testenv.E2EEnv)
		}
		t.Skipf("%v (set %s=1 to fail instead)", err, testenv.E2EEnv)
	}
	how, _ := CPUController()
	t.Logf("CPU quotas through %s", how)
	l := newTest(t, Options{Nodes: 1})
	// A shell whose busy child is in its process group: the cap covers
	// both.
	p, err := l.Nodes[0].Start("sh", []string{"-c", "sh -c 'while :; do :; done' & wait"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.LimitCPU(0.5); err == nil {
		t.Error("LimitCPU accepted 0.5 %")
	}
	hier, err := findCPUHierarchy()
	if err != nil {
		t.Fatal(err)
	}
	before, err := procCgroup(hier, p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	var child int
	testenv.Eventually(t, 5*time.Second, "the busy child started", func() bool {
		m := groupMembers(p.Pid())
		if len(m) == 1 {
			child = m[0]
		}
		return child != 0
	})
	usage := func(d time.Duration) float64 {
		c0 := procCPU(t, child)
		time.Sleep(d)
		return float64(procCPU(t, child)-c0) / float64(d)
	}
	free := usage(500 * time.Millisecond)
	lim, err := p.LimitCPU(5)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := procCgroup(hier, p.Pid()); got != lim.Dir() {
		t.Fatalf("the process is in %s, want %s", got, lim.Dir())
	}
	capped := usage(2 * time.Second)
	t.Logf("busy loop: %.0f%% of a CPU free, %.1f%% capped at 5%%", 100*free, 100*capped)
	if capped > 0.10 {
		t.Errorf("capped at 5%%, the busy loop used %.1f%% of a CPU", 100*capped)
	}
	if free < 3*capped {
		t.Errorf("the busy loop used %.1f%% free and %.1f%% capped: the cap made no difference", 100*free, 100*capped)
	}
	if err := lim.Remove(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{p.Pid(), child} {
		if got, _ := procCgroup(hier, pid); got != before {
			t.Errorf("after Remove process %d is in %s, want %s", pid, got, before)
		}
	}
	if exists(lim.Dir()) {
		t.Errorf("Remove left %s", lim.Dir())
	}
	// A limit still set at Close is lifted, and the lab's group removed.
	lim, err = p.LimitCPU(50)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{lim.Dir(), filepath.Dir(lim.Dir())} {
		if exists(d) {
			t.Errorf("Close left %s", d)
		}
	}
}

func TestParseMountinfo(t *testing.T) {
	for _, c := range []struct {
		line, mount, fstype, opts string
		ok                        bool
	}{
		{"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu", "/sys/fs/cgroup/cpu", "cgroup", "rw,cpu", true},
		{"30 23 0:27 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate", "/sys/fs/cgroup", "cgroup2", "rw,nsdelegate", true},
		{`40 31 0:37 / /mnt/a\040b rw - cgroup cgroup rw,cpu,cpuacct`, "/mnt/a b", "cgroup", "rw,cpu,cpuacct", true},
		{"garbage", "", "", "", false},
		{"1 2 - x", "", "", "", false},
	} {
		m, f, o, ok := parseMountinfo(c.line)
		if m != c.mount || f != c.fstype || o != c.opts || ok != c.ok {
			t.Errorf("parseMountinfo(%q) = %q %q %q %v", c.line, m, f, o, ok)
		}
	}
}
