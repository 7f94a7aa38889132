package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
	"github.com/wackamole/wackamole/membership"
	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/internal/cluster"
	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// examplesDir is the examples directory, from this package's directory.
const examplesDir = "../../examples"

// exampleConfig copies examples/wackamole.toml to a temporary directory
// with secret_key_file pointing at a fresh key there (the example names
// /etc/wackamole/gossip.key), after applying edit to the text, and returns
// the copy's path.
func exampleConfig(t *testing.T, edit func(string) string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examplesDir, "wackamole.toml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key, err := config.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "gossip.key")
	if err := os.WriteFile(keyPath, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := string(data)
	const keyLine = `secret_key_file = "/etc/wackamole/gossip.key"`
	if strings.Count(text, "\n"+keyLine+"\n") != 1 {
		t.Fatalf("the example has no line %s", keyLine)
	}
	text = strings.Replace(text, "\n"+keyLine+"\n", fmt.Sprintf("\nsecret_key_file = %q\n", keyPath), 1)
	if edit != nil {
		text = edit(text)
	}
	path := filepath.Join(dir, "wackamole.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The example configuration passes "wackamole check" and says what its
// comments say.
func TestExampleConfig(t *testing.T) {
	path := exampleConfig(t, nil)
	out, err := exec.Command(binary, "check", "-c", path).CombinedOutput()
	if err != nil {
		t.Fatalf("wackamole check: %v\n%s", err, out)
	}
	if want := "OK (3 VIPs, node web1, quorum 2 of 3 peers)"; !strings.Contains(string(out), want) {
		t.Errorf("wackamole check printed %q, want %q", out, want)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Timing != config.TimingLAN || c.Mature != 5*time.Second || c.Balance.MaxMoves != 1 || c.ARP.Repeat != 3 || c.DrainTimeout != 10*time.Second {
		t.Errorf("unexpected values: %+v", c)
	}
	// Documentation addresses only: it is a file operators copy.
	doc := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("2001:db8::/32"),
	}
	isDoc := func(a netip.Addr) bool {
		return a.IsLoopback() || slices.ContainsFunc(doc, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	var addrs []netip.Addr
	addrs = append(addrs, c.ARP.Notify...)
	for _, v := range c.VIPs {
		for _, a := range v.Addresses {
			addrs = append(addrs, a.Prefix.Addr())
		}
	}
	for _, s := range append(slices.Clone(c.Peers), c.Bind, c.MetricsListen) {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		addrs = append(addrs, ap.Addr())
	}
	for _, a := range addrs {
		if !isDoc(a) {
			t.Errorf("%s is not a documentation address", a)
		}
	}
}

// commentedKey matches the example's commented-out settings: "# key = value"
// and "# [[table]]" lines (explanations have no "key = " at their start).
var commentedKey = regexp.MustCompile(`(?m)^# ((?:[a-z_]+ = .+)|(?:\[\[?[a-z]+\]\]?))$`)

// Every commented-out setting of the example is valid too once uncommented.
func TestExampleConfigCommentedSettings(t *testing.T) {
	var uncommented []string
	path := exampleConfig(t, func(s string) string {
		for _, m := range commentedKey.FindAllStringSubmatch(s, -1) {
			uncommented = append(uncommented, m[1])
		}
		return commentedKey.ReplaceAllString(s, "$1")
	})
	if len(uncommented) < 8 {
		t.Fatalf("only %d commented settings found: %q", len(uncommented), uncommented)
	}
	t.Logf("uncommented: %q", uncommented)
	c, err := config.Load(path)
	if err != nil {
		t.Fatalf("the example with its commented settings enabled: %v", err)
	}
	if len(c.VIPs) != 4 || c.Membership.FailureTimeout != time.Second || c.Advertise == "" || len(c.Checks) != 1 || c.Hooks.Timeout != 10*time.Second {
		t.Errorf("the commented settings did not take: %d VIPs, membership %+v, advertise %q, checks %+v, hooks %+v",
			len(c.VIPs), c.Membership, c.Advertise, c.Checks, c.Hooks)
	}
}

// The example's comments give each [membership] key's value in the lan,
// fast and wan profiles, and its commented-out value is lan's: both must
// follow the membership package.
func TestExampleConfigTimings(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(examplesDir, "wackamole.toml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	var profiles []membership.Timing
	for _, name := range []string{"lan", "fast", "wan"} {
		p, err := membership.Profile(name)
		if err != nil {
			t.Fatal(err)
		}
		profiles = append(profiles, p)
	}
	for key, field := range map[string]func(membership.Timing) time.Duration{
		"heartbeat_interval": func(p membership.Timing) time.Duration { return p.HeartbeatInterval },
		"failure_timeout":    func(p membership.Timing) time.Duration { return p.FailureTimeout },
		"rejoin_interval":    func(p membership.Timing) time.Duration { return p.RejoinInterval },
		"gossip_interval":    func(p membership.Timing) time.Duration { return p.GossipInterval },
	} {
		// "(A / B / C)." in the comment right above "# key = "VALUE"".
		re := regexp.MustCompile(`\(([0-9a-z]+) / ([0-9a-z]+) / ([0-9a-z]+)\)\.?\n# ` + key + ` = "([0-9a-z]+)"\n`)
		m := re.FindStringSubmatch(text)
		if m == nil {
			t.Errorf("%s: no \"(lan / fast / wan)\" comment right above \"# %s = ...\"", key, key)
			continue
		}
		for i, s := range []string{m[1], m[2], m[3], m[4]} {
			d, err := time.ParseDuration(s)
			if err != nil {
				t.Fatalf("%s: %q: %v", key, s, err)
			}
			want := field(profiles[i%3])
			if d != want {
				t.Errorf("%s: the example says %v, the profile has %v (%q)", key, d, want, m[0])
			}
		}
	}
}

// The zone publishes exactly the example configuration's VIPs under www.
func TestExampleZoneMatchesConfig(t *testing.T) {
	c, err := config.Load(exampleConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	var want []netip.Addr
	for _, v := range c.VIPs {
		for _, a := range v.Addresses {
			want = append(want, a.Prefix.Addr())
		}
	}
	f, err := os.Open(filepath.Join(examplesDir, "zone.example"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []netip.Addr
	ttls := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), ";")
		fs := strings.Fields(line)
		// www TTL IN A|AAAA address
		if len(fs) != 5 || fs[0] != "www" || fs[2] != "IN" {
			continue
		}
		a, err := netip.ParseAddr(fs[4])
		if err != nil {
			t.Fatalf("zone: %q: %v", sc.Text(), err)
		}
		if (fs[3] == "A") != a.Is4() || (fs[3] != "A" && fs[3] != "AAAA") {
			t.Errorf("zone: %q: record type does not fit the address", sc.Text())
		}
		ttls[fs[1]] = true
		got = append(got, a)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, netip.Addr.Compare)
	slices.SortFunc(want, netip.Addr.Compare)
	if !slices.Equal(got, want) {
		t.Errorf("zone www records %v, want the VIPs %v", got, want)
	}
	for ttl := range ttls {
		if n, err := strconv.Atoi(ttl); err != nil || n > 300 {
			t.Errorf("zone TTL %q: want a short TTL in seconds", ttl)
		}
	}
}

// unitFile reads examples/wackamole.service into key -> values (keys may
// repeat).
func unitFile(t *testing.T) map[string][]string {
	t.Helper()
	return systemdFile(t, "wackamole.service")
}

// systemdFile reads the keys of a unit or drop-in in examples/.
func systemdFile(t *testing.T, name string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	u := map[string][]string{}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("unit: %q is not key=value", line)
		}
		u[k] = append(u[k], v)
	}
	return u
}

// capList turns "CAP_NET_ADMIN CAP_NET_RAW" into setpriv's
// "-all,+net_admin,+net_raw".
func capList(t *testing.T, v string) string {
	t.Helper()
	out := []string{"-all"}
	for c := range strings.FieldsSeq(v) {
		name, ok := strings.CutPrefix(c, "CAP_")
		if !ok {
			t.Fatalf("unit: capability %q", c)
		}
		out = append(out, "+"+strings.ToLower(name))
	}
	return strings.Join(out, ",")
}

// The unit's claims hold: the daemon does its job as an unprivileged user
// with exactly the capabilities the unit grants, and "wackamole cleanup"
// (ExecStopPost) removes what a killed daemon left.
func TestExampleServiceCapabilities(t *testing.T) {
	u := unitFile(t)
	for key, want := range map[string]string{
		"Restart":                 "always",
		"NoNewPrivileges":         "yes",
		"User":                    "wackamole",
		"AmbientCapabilities":     "CAP_NET_ADMIN CAP_NET_RAW",
		"CapabilityBoundingSet":   "CAP_NET_ADMIN CAP_NET_RAW",
		"ExecStartPre":            "/usr/local/sbin/wackamole check -c /etc/wackamole/wackamole.toml",
		"ExecStart":               "/usr/local/sbin/wackamole -c /etc/wackamole/wackamole.toml",
		"ExecStopPost":            "-/usr/local/sbin/wackamole cleanup -c /etc/wackamole/wackamole.toml",
		"RuntimeDirectory":        "wackamole",
		"ProtectKernelTunables":   "", // would make promote_secondaries read-only
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET",
	} {
		if got := strings.Join(u[key], " | "); got != want {
			t.Errorf("unit: %s=%q, want %q", key, got, want)
		}
	}

	c, n, nobody, wrapper := asNobody(t, u["AmbientCapabilities"][0], u["CapabilityBoundingSet"][0], "", "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Start(n); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitConverged(within(t, 20*time.Second), []string{n.Name}); err != nil {
		t.Fatal(err)
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.Process().Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^Uid:\s+` + nobody.Uid + `\s`).Match(st) {
		t.Fatalf("the daemon does not run as nobody:\n%s", st)
	}
	if !regexp.MustCompile(`(?m)^CapEff:\s+0000000000003000$`).Match(st) {
		t.Errorf("the daemon's effective capabilities are not exactly CAP_NET_ADMIN and CAP_NET_RAW:\n%s", st)
	}
	out, err := n.Host.Run(ctx, "cat", "/proc/sys/net/ipv4/conf/eth0/promote_secondaries")
	if err != nil || strings.TrimSpace(out) != "1" {
		t.Errorf("promote_secondaries = %q (%v), want 1 set by the daemon", out, err)
	}
	// The client never asked: its neighbour entries come from the
	// daemon's gratuitous ARP, sent through a packet socket.
	for _, v := range c.VIPs {
		deadline := time.Now().Add(5 * time.Second)
		for {
			mac, _, err := c.Lab.Client.Neigh(ctx, v)
			if err == nil && mac == n.Host.MAC.String() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the client did not learn %s from a gratuitous ARP: %q, %v", v, mac, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Graceful stop: everything released, exit 0.
	if err := c.Stop(n, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, v := range c.VIPs {
		if has, err := n.Host.HasAddr(ctx, v); err != nil || has {
			t.Errorf("after SIGTERM %s is still on eth0 (%v)", v, err)
		}
	}
	// Crash, then ExecStopPost's cleanup with the same privileges.
	if err := c.Start(n); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitConverged(within(t, 20*time.Second), []string{n.Name}); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(n); err != nil {
		t.Fatal(err)
	}
	if has, _ := n.Host.HasAddr(ctx, c.VIPs[0]); !has {
		t.Fatal("a killed daemon's VIP is gone before the cleanup: the test proves nothing")
	}
	if out, err := n.Host.Run(ctx, wrapper, "cleanup", "-c", n.ConfigPath); err != nil {
		t.Fatalf("wackamole cleanup as nobody: %v\n%s", err, out)
	}
	for _, v := range c.VIPs {
		if has, err := n.Host.HasAddr(ctx, v); err != nil || has {
			t.Errorf("after cleanup %s is still on eth0 (%v)", v, err)
		}
	}
	logs := c.Logs(1000)
	for _, bad := range []string{"level=ERROR", "operation not permitted", "permission denied", "cannot set promote_secondaries"} {
		if strings.Contains(strings.ToLower(logs), strings.ToLower(bad)) {
			t.Errorf("the daemon's log mentions %q", bad)
		}
	}
}

// asNobody is a one-node lab whose daemon runs as the user nobody through
// setpriv with the unit's capability lists (ambient, bounding) and the
// shell commands prelude run first as root (ulimit ...), its
// configuration with extra; the node is not started yet. It returns the
// wrapper that runs wackamole so.
func asNobody(t *testing.T, ambient, bounding, prelude, extra string) (c *cluster.Cluster, n *cluster.Node, nobody *user.User, wrapper string) {
	t.Helper()
	testenv.RequireNetns(t, "setpriv")
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)

	// The files must be reachable by the daemon's user: a directory of our
	// own, world-searchable, owned by that user (it creates its socket
	// there), key and configuration owned by it with the modes the
	// examples recommend.
	dir, err := os.MkdirTemp("", "wackamole-caps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatal(err)
	}
	wrapper = filepath.Join(dir, "wackamole-as-nobody")
	script := fmt.Sprintf("#!/bin/sh\n%s\nexec %s --reuid=%d --regid=%d --clear-groups --inh-caps=%s --ambient-caps=%s --bounding-set=%s --no-new-privs %s \"$@\"\n",
		prelude, setpriv, uid, gid, capList(t, ambient), capList(t, ambient), capList(t, bounding), binary)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err = cluster.New(ctx, cluster.Options{
		Binary: wrapper,
		Dir:    dir,
		Nodes:  1,
		VIPs:   2,
		Mature: 100 * time.Millisecond,
		Prefix: "wkt" + fmt.Sprintf("%06x", time.Now().UnixNano()&0xffffff),
		Logf:   t.Logf,
		Extra:  extra,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon logs:\n%s", c.Logs(40))
		}
		if err := c.Close(); err != nil {
			t.Errorf("closing the lab: %v", err)
		}
	})
	n = c.Nodes[0]
	for _, p := range []string{dir, n.ConfigPath, n.KeyPath} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Start from the kernel default, so that the daemon has to write it.
	if err := n.Host.Sysctl("net.ipv4.conf.eth0.promote_secondaries", "0"); err != nil {
		t.Fatal(err)
	}
	// The client learns addresses from gratuitous ARP only with arp_accept.
	if err := c.Lab.Client.Sysctl("net.ipv4.conf.eth0.arp_accept", "1"); err != nil {
		t.Fatal(err)
	}

	return c, n, nobody, wrapper
}

// examples/realtime.conf, the drop-in the unit asks realtime = true and
// lock_memory = true to install, gives the daemon what they need: run as
// nobody with its capabilities and limits, the daemon's threads are
// SCHED_FIFO and the memory is locked.
func TestRealtimeDropIn(t *testing.T) {
	d := systemdFile(t, "realtime.conf")
	if got := strings.Join(d["RestrictRealtime"], " "); got != "no" {
		t.Fatalf("realtime.conf: RestrictRealtime=%q, want no", got)
	}
	prelude := ""
	for key, opt := range map[string]string{"LimitRTPRIO": "-r", "LimitMEMLOCK": "-l"} {
		v := strings.Join(d[key], " ")
		if v == "" {
			t.Fatalf("realtime.conf has no %s", key)
		}
		// Best effort: raising a hard limit needs CAP_SYS_RESOURCE, which
		// root in a container may lack; CAP_SYS_NICE and CAP_IPC_LOCK
		// make both limits moot anyway, and that is what this proves.
		prelude += "ulimit " + opt + " " + strings.Replace(v, "infinity", "unlimited", 1) + " 2>/dev/null\n"
	}
	c, n, _, _ := asNobody(t, d["AmbientCapabilities"][0], d["CapabilityBoundingSet"][0], prelude, "realtime = true\nlock_memory = true\n")
	if err := c.Start(n); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitConverged(within(t, 20*time.Second), []string{n.Name}); err != nil {
		t.Fatal(err)
	}
	pid := n.Process().Pid()
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^VmLck:\s+(\d+) kB$`).FindSubmatch(st); m == nil || string(m[1]) == "0" {
		t.Errorf("lock_memory = true, but nothing is locked:\n%s", st)
	}
	notFIFO, total, err := threadPolicies(pid)
	if err != nil {
		t.Fatal(err)
	}
	fifo := total - len(notFIFO)
	if fifo == 0 {
		t.Errorf("realtime = true, but none of the daemon's %d threads is SCHED_FIFO", total)
	}
	t.Logf("as nobody with realtime.conf: %d of %d threads SCHED_FIFO, memory locked", fifo, total)
}

// buildWackalab builds the demo's command into a directory the test
// removes.
func buildWackalab(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wackalab")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/wackamole/wackamole/pkg/internal/cmd/wackalab").CombinedOutput()
	if err != nil {
		t.Fatalf("building wackalab: %v\n%s", err, out)
	}
	return bin
}

// demoRun is a running "wackalab demo".
type demoRun struct {
	cmd    *exec.Cmd
	out    *testenv.LogBuffer
	prefix string
	done   chan struct{} // closed when the process has exited
}

// startDemo runs "wackalab demo -prefix PREFIX args...". The command is
// killed when the test ends, and the test fails if any namespace with the
// prefix is left.
func startDemo(t *testing.T, args ...string) *demoRun {
	t.Helper()
	testenv.RequireNetns(t, "dnsmasq")
	bin := buildWackalab(t)
	d := &demoRun{
		out:    &testenv.LogBuffer{},
		prefix: "wkt" + fmt.Sprintf("%06x", time.Now().UnixNano()&0xffffff),
		done:   make(chan struct{}),
	}
	d.cmd = exec.Command(bin, append([]string{"demo", "-prefix", d.prefix}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
		if left := namespaces(t, d.prefix); len(left) > 0 {
			t.Errorf("namespaces left behind: %v", left)
			lab.Sweep(d.prefix)
		}
	})
	return d
}

// wait waits for the demo to exit, at most timeout, and returns its exit
// code.
func (d *demoRun) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-d.done:
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		d.cmd.Process.Kill()
		<-d.done
		t.Fatalf("the demo did not finish within %v:\n%s", timeout, d.out)
		return -1
	}
}

// namespaces lists the network namespaces named prefix-*.
func namespaces(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var names []string
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix+"-") {
			names = append(names, f[0])
		}
	}
	return names
}

// checkGone fails t if the demo left namespaces or its directory behind.
func (d *demoRun) checkGone(t *testing.T) {
	t.Helper()
	if left := namespaces(t, d.prefix); len(left) > 0 {
		t.Errorf("namespaces left after the demo: %v", left)
	}
	if dir := demoDir(d.out.String()); dir == "" {
		t.Error("the output names no temporary directory")
	} else if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the demo's directory %s is still there (%v)", dir, err)
	}
}

// demoDir returns the temporary directory the demo announced in step 1.
func demoDir(out string) string {
	m := regexp.MustCompile(`-> (\S*wackalab-demo-\S+)`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

// "make demo" works: every step passes and nothing is left behind.
func TestDemo(t *testing.T) {
	d := startDemo(t)
	code := d.wait(t, 4*time.Minute)
	text := d.out.String()
	t.Logf("demo output:\n%s", text)
	if code != 0 {
		t.Fatalf("wackalab demo exited with %d", code)
	}
	for _, want := range []string{
		"[11/11] The group after the recovery",
		"every step worked",
		"status: NOERROR",
		"hello from n1", "hello from n2", "hello from n3",
		"3 nodes serve the name again",
		"pings lost",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	d.checkGone(t)
}

// -keep leaves the lab running until Ctrl-C, which removes everything.
func TestDemoKeepThenInterrupt(t *testing.T) {
	d := startDemo(t, "-keep", "-timing", "fast")
	deadline := time.After(3 * time.Minute)
	for !strings.Contains(d.out.String(), "Press Ctrl-C") {
		select {
		case <-deadline:
			t.Fatalf("the demo did not reach the -keep prompt:\n%s", d.out)
		case <-d.done:
			t.Fatalf("the demo exited (%v) before the -keep prompt:\n%s", d.cmd.ProcessState, d.out)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if got := namespaces(t, d.prefix); len(got) != 6 {
		t.Errorf("the kept lab has namespaces %v, want br, cl, dns, n1, n2, n3", got)
	}
	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	code := d.wait(t, time.Minute)
	t.Logf("demo output:\n%s", d.out)
	if code != 130 {
		t.Errorf("exit %d after Ctrl-C, want 130", code)
	}
	d.checkGone(t)
}
