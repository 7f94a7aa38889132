package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

// A node whose health check fails hands its VIP over to a healthy peer
// (the client keeps reaching the VIP), and takes VIPs again once the check
// passes.
func TestFailingCheckHandsTheVIPOver(t *testing.T) {
	flags := t.TempDir()
	extra := fmt.Sprintf(`
[[check]]
name = "service"
kind = "exec"
command = ["/usr/bin/test", "!", "-e", "%s/down"]
interval = "200ms"
timeout = "150ms"
rise = 2
fall = 2
`, flags)
	c := newCluster(t, cluster.Options{Nodes: 3, Extra: extra})
	// Each node gets its own flag file: put the node name in the path.
	for _, n := range c.Nodes {
		os.MkdirAll(filepath.Join(flags, n.Name), 0o755)
		if err := c.WriteConfig(n, ""); err != nil {
			t.Fatal(err)
		}
		cfg, _ := os.ReadFile(n.ConfigPath)
		os.WriteFile(n.ConfigPath, []byte(strings.ReplaceAll(string(cfg), flags+"/down", filepath.Join(flags, n.Name, "down"))), 0o600)
	}
	h := start(t, c)
	v := c.VIPs[0]
	sick := c.Node(cluster.Owner(h, v))
	p := ping(t, c, v)

	if err := os.WriteFile(filepath.Join(flags, sick.Name, "down"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	healthy := others(c.Nodes, sick)
	h = converge(t, c, 15*time.Second, healthy...)
	if got := heldBy(h, sick.Name); len(got) > 0 {
		t.Fatalf("the unhealthy node still holds %v", got)
	}
	time.Sleep(300 * time.Millisecond)
	r := p.Snapshot()
	t.Logf("check failed on %s: %s moved to %s; client's largest gap %v, %d lost", sick.Name, v, cluster.Owner(h, v), r.MaxGap.Round(time.Millisecond), r.Lost())
	if r.Lost() > 2 {
		t.Errorf("the hand-over of an unhealthy node lost %d probes; it is make-before-break", r.Lost())
	}

	os.Remove(filepath.Join(flags, sick.Name, "down"))
	h = converge(t, c, 30*time.Second, c.Nodes...)
	if len(heldBy(h, sick.Name)) != 1 {
		t.Fatalf("the recovered node did not get a VIP back: %v", h)
	}
	stable(t, c, time.Second, h)
}

// Hooks run with the VIP, its addresses, interfaces and the reason in their
// environment.
func TestHooksRunWithTheirEnvironment(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	script := filepath.Join(dir, "hook")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nenv | grep ^WACKAMOLE_ | sort > \"$0.$WACKAMOLE_NODE.$1.$2\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	extra := fmt.Sprintf("\n[hooks]\non_acquire = %q\non_release = %q\ntimeout = \"5s\"\n", script, script)
	c := newCluster(t, cluster.Options{Nodes: 3, Extra: extra})
	h := start(t, c)
	v := c.VIPs[0]
	owner := c.Node(cluster.Owner(h, v))
	want := fmt.Sprintf("WACKAMOLE_ADDRESSES=%s/32\nWACKAMOLE_EVENT=acquire\nWACKAMOLE_INTERFACES=eth0\nWACKAMOLE_NODE=%s\nWACKAMOLE_REASON=orphaned\nWACKAMOLE_VIP=vip-01\n", v, owner.Name)
	file := fmt.Sprintf("%s.%s.acquire.vip-01", script, owner.Name)
	var got []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, _ = os.ReadFile(file); len(got) > 0 {
			break
		}
	}
	if string(got) != want {
		t.Fatalf("on_acquire environment:\n%s\nwant:\n%s", got, want)
	}
	if err := c.Stop(owner, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	rel, err := os.ReadFile(fmt.Sprintf("%s.%s.release.vip-01", script, owner.Name))
	if err != nil || !strings.Contains(string(rel), "WACKAMOLE_EVENT=release") || !strings.Contains(string(rel), "WACKAMOLE_REASON=handed-over") {
		t.Fatalf("on_release after a graceful stop: %q (%v)", rel, err)
	}
}

// A client that was talking to a VIP gets a unicast announcement from the
// new owner after a takeover: its address was in the old owner's
// neighbour cache, shared through the group.
func TestTakeoverAnnouncesToTheOldOwnersClients(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3, Extra: "\n[arp]\ncache = \"500ms\"\n"})
	h := start(t, c)
	v := c.VIPs[0]
	victim := c.Node(cluster.Owner(h, v))
	p := ping(t, c, v)
	time.Sleep(1500 * time.Millisecond) // the old owner shares its neighbours

	capture := filepath.Join(t.TempDir(), "arp.txt")
	tcpdump, err := c.Lab.Client.Start("tcpdump", []string{"-i", "eth0", "-n", "-e", "-l", "arp"}, capture)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	if err := c.LinkDown(context.Background(), victim); err != nil {
		t.Fatal(err)
	}
	reachable(t, p, 15*time.Second)
	time.Sleep(300 * time.Millisecond)
	tcpdump.Kill()
	tcpdump.Wait(2 * time.Second)
	out, _ := os.ReadFile(capture)
	client := c.Lab.Client
	// e.g. "02:00:c6:12:00:0c > 02:00:c6:12:00:02, ethertype ARP (0x0806), length 42: Request who-has 198.18.0.2 tell 198.18.0.100, length 28"
	unicast := fmt.Sprintf("> %s, ethertype ARP", client.MAC)
	found := ""
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, unicast) && strings.Contains(line, "tell "+v.String()) {
			found = line
			break
		}
	}
	if found == "" {
		t.Fatalf("no unicast announcement of %s to the client %s; capture:\n%s", v, client.MAC, out)
	}
	t.Logf("unicast announcement seen by the client: %s", strings.TrimSpace(found))
}

// Held VIPs are announced again every arp.refresh, so that switch and
// router caches never age out into a black hole (MetalLB issue 2910).
func TestPeriodicReannouncement(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3, Extra: "\n[arp]\nrepeat = 1\nrefresh = \"500ms\"\n"})
	h := start(t, c)
	v := c.VIPs[0]
	owner := c.Node(cluster.Owner(h, v))
	capture := filepath.Join(t.TempDir(), "arp.txt")
	tcpdump, err := c.Lab.Client.Start("tcpdump", []string{"-i", "eth0", "-n", "-e", "-l", "arp"}, capture)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2600 * time.Millisecond)
	tcpdump.Kill()
	tcpdump.Wait(2 * time.Second)
	out, _ := os.ReadFile(capture)
	garp := fmt.Sprintf("%s > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 60: Request who-has %s tell %s", owner.Host.MAC, v, v)
	if n := strings.Count(string(out), garp); n < 3 {
		t.Fatalf("%d gratuitous announcements of %s in 2.6 s with refresh 500ms; capture:\n%s", n, v, out)
	} else {
		t.Logf("%d refreshes of %s in 2.6 s", n, v)
	}
}
