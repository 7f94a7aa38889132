package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/control"
	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

// metricsPort is where each node serves metrics, on its own lab address.
const metricsPort = 9470

// wackatrl runs the control CLI against node n's socket (a file: no
// namespace needed) and returns its exit status and output.
func wackatrl(t *testing.T, n *cluster.Node, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLI(t, nil, wackatrlBinary, append([]string{"-s", n.Socket}, args...)...)
}

// runCLI runs the wackatrl binary bin, behind the prefix command when
// given (setpriv).
func runCLI(t *testing.T, prefix []string, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append(append(slices.Clone(prefix), bin), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running %v: %v", argv, err)
	}
	return code, o.String(), e.String()
}

// wackatrlJSON runs a command with --json, insists on exit status 0 and
// decodes the output into out.
func wackatrlJSON(t *testing.T, n *cluster.Node, out any, args ...string) {
	t.Helper()
	code, stdout, stderr := wackatrl(t, n, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("wackatrl %v on %s: exit %d: %s%s", args, n.Name, code, stdout, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		t.Fatalf("wackatrl %v --json on %s: %v in %q", args, n.Name, err, stdout)
	}
}

// eventually retries check until it returns "" or d passes, then fails
// with check's last complaint.
func eventually(t *testing.T, d time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		why := check()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ownersFromIP maps each VIP name to the node that has its address on its
// interface (ip addr, not the daemons' word).
func ownersFromIP(c *cluster.Cluster, h map[netip.Addr][]string) map[string]string {
	out := map[string]string{}
	for i, v := range c.VIPs {
		out[cluster.VIPName(i)] = cluster.Owner(h, v)
	}
	return out
}

func member(ms []control.Member, name string) (control.Member, bool) {
	for _, m := range ms {
		if m.Name == name {
			return m, true
		}
	}
	return control.Member{}, false
}

// Every wackatrl command against real daemons: status, members and vips
// agree with ip addr; drain hands a VIP over while a client pings it;
// undrain brings the node back; reload; metrics; and the socket refuses
// other users.
func TestWackatrl(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3})
	for _, n := range c.Nodes {
		extra := fmt.Sprintf("metrics_listen = %q\n", netip.AddrPortFrom(n.Host.Addr, metricsPort))
		if err := c.WriteConfig(n, extra); err != nil {
			t.Fatal(err)
		}
	}
	h := start(t, c)
	ips := ownersFromIP(c, h)

	t.Run("status", func(t *testing.T) {
		for _, n := range c.Nodes {
			var st control.Status
			wackatrlJSON(t, n, &st, "status")
			if st.Node != n.Name || st.Quorum != (control.Quorum{Have: 3, Need: 2, OK: true}) || len(st.Members) != 3 {
				t.Errorf("%s: node %q, quorum %+v, %d members", n.Name, st.Node, st.Quorum, len(st.Members))
			}
			for _, m := range st.Members {
				if !m.Alive || !m.Eligible {
					t.Errorf("%s sees %s alive=%v eligible=%v (%s)", n.Name, m.Name, m.Alive, m.Eligible, m.Why)
				}
			}
		}
	})

	t.Run("vips", func(t *testing.T) {
		for _, n := range c.Nodes {
			// Each node reports what the group's metadata said at its
			// last round: it agrees with ip addr within a moment.
			eventually(t, 5*time.Second, func() string {
				var v control.VIPs
				wackatrlJSON(t, n, &v, "vips")
				got := map[string]string{}
				for _, vs := range v.VIPs {
					got[vs.Name] = vs.Owner
				}
				if fmt.Sprint(got) != fmt.Sprint(ips) {
					return fmt.Sprintf("%s's wackatrl vips says %v; ip addr says %v", n.Name, got, ips)
				}
				return ""
			})
		}
		code, out, _ := wackatrl(t, c.Nodes[1], "vips")
		for name, owner := range ips {
			if code != 0 || !strings.Contains(out, name) || !strings.Contains(out, owner) {
				t.Errorf("vips: exit %d, %s/%s missing:\n%s", code, name, owner, out)
			}
		}
		// Now that the views agree, the one-glance answer.
		code, out, errOut := wackatrl(t, c.Nodes[0], "status")
		if code != 0 || !strings.Contains(out, "quorum  3/2 ok") || !strings.Contains(out, "MEMBER") || !strings.Contains(out, "HAND-OVER") {
			t.Errorf("status: exit %d\n%s%s", code, out, errOut)
		}
		t.Logf("wackatrl status on %s:\n%s", c.Nodes[0].Name, out)
	})

	t.Run("members", func(t *testing.T) {
		n := c.Nodes[2]
		var m control.Members
		wackatrlJSON(t, n, &m, "members")
		if m.Node != n.Name || len(m.Members) != 3 {
			t.Fatalf("members = %+v", m)
		}
		for _, ms := range m.Members {
			var want []string
			for vip, owner := range ips {
				if owner == ms.Name {
					want = append(want, vip)
				}
			}
			slices.Sort(want)
			if !slices.Equal(ms.Held, want) {
				t.Errorf("%s says %s holds %v; ip addr says %v", n.Name, ms.Name, ms.Held, want)
			}
		}
		if code, out, _ := wackatrl(t, n, "members"); code != 0 || !strings.Contains(out, n.Name+" *") {
			t.Errorf("members: exit %d\n%s", code, out)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		for _, n := range c.Nodes {
			url := fmt.Sprintf("http://%s/metrics", netip.AddrPortFrom(n.Host.Addr, metricsPort))
			body, err := n.Host.HTTPGet(within(t, 10*time.Second), url)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				"wackamole_quorum_ok 1\n",
				"wackamole_quorum_have 3\n",
				"wackamole_vips_held 1\n",
				`wackamole_members{state="mature"} 3` + "\n",
				fmt.Sprintf(`wackamole_vip_owner{owner=%q,vip="vip-01"} 1`, ips["vip-01"]),
			} {
				if !strings.Contains(body, want) {
					t.Errorf("%s: %s lacks %q", n.Name, url, want)
				}
			}
		}
	})

	t.Run("reload", func(t *testing.T) {
		n := c.Nodes[0]
		code, out, errOut := wackatrl(t, n, "reload")
		if code != 0 || !strings.Contains(out, "reloaded its configuration") {
			t.Errorf("reload: exit %d: %s%s", code, out, errOut)
		}
		good, err := os.ReadFile(n.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(n.ConfigPath, good, 0o600)
		if err := os.WriteFile(n.ConfigPath, append(good, "\nquorom = 2\n"...), 0o600); err != nil {
			t.Fatal(err)
		}
		var r control.Result
		code, out, _ = wackatrl(t, n, "reload", "--json")
		if err := json.Unmarshal([]byte(out), &r); code != 1 || err != nil || r.OK || !strings.Contains(r.Error, "quorom") {
			t.Errorf("reload of a bad file: exit %d, %q", code, out)
		}
		bind := strings.Replace(string(good), fmt.Sprintf(":%d", cluster.GossipPort), fmt.Sprintf(":%d", cluster.GossipPort+1), 1)
		if err := os.WriteFile(n.ConfigPath, []byte(bind), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, _ = wackatrl(t, n, "reload")
		if code != 1 || !strings.Contains(out, "bind") || !strings.Contains(out, "cannot change without a restart") {
			t.Errorf("reload changing bind: exit %d, %q", code, out)
		}
		stable(t, c, time.Second, h)
	})

	t.Run("drain and undrain", func(t *testing.T) {
		v := c.VIPs[0]
		owner := c.Node(cluster.Owner(h, v))
		p := ping(t, c, v)
		time.Sleep(200 * time.Millisecond)

		start := time.Now()
		code, out, errOut := wackatrl(t, owner, "drain", "--timeout", "30s", "--json")
		took := time.Since(start)
		var r control.Result
		if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || !r.OK || len(r.Held) != 0 || r.State != "draining" {
			t.Fatalf("drain of %s: exit %d, %q, stderr %q", owner.Name, code, out, errOut)
		}
		time.Sleep(300 * time.Millisecond)
		res := p.Stop()
		t.Logf("wackatrl drain of %s took %v (daemon: %d ms); pinging %s every 10 ms: %d of %d probes lost, largest gap %v",
			owner.Name, took.Round(time.Millisecond), r.ElapsedMS, v, res.Lost(), res.Sent, res.MaxGap.Round(time.Millisecond))
		if errOut != "" {
			t.Logf("progress lines:\n%s", errOut)
		}
		if res.Lost() > 1 {
			t.Errorf("drain lost %d probes, want at most 1", res.Lost())
		}
		if addrs := heldBy(mustHolders(t, c), owner.Name); len(addrs) != 0 {
			t.Errorf("the drained node still holds %v", addrs)
		}
		rest := others(c.Nodes, owner)
		drained := converge(t, c, 10*time.Second, rest...)
		// The drained node stays in the group, as draining, and the others
		// know it.
		for _, n := range rest {
			eventually(t, 5*time.Second, func() string {
				var m control.Members
				wackatrlJSON(t, n, &m, "members")
				ms, ok := member(m.Members, owner.Name)
				if !ok || !ms.Alive || ms.State != "draining" || ms.Eligible || ms.Why != "draining" {
					return fmt.Sprintf("%s sees the drained %s as %+v (present %v)", n.Name, owner.Name, ms, ok)
				}
				return ""
			})
		}
		var st control.Status
		wackatrlJSON(t, owner, &st, "status")
		if st.State != "draining" || !st.Quorum.OK || st.Quorum.Have != 3 {
			t.Errorf("the drained node's status: state %s, quorum %+v", st.State, st.Quorum)
		}
		stable(t, c, time.Second, drained)

		code, out, errOut = wackatrl(t, owner, "undrain")
		if code != 0 || !strings.Contains(out, "undrained") {
			t.Fatalf("undrain: exit %d: %s%s", code, out, errOut)
		}
		for _, n := range c.Nodes {
			eventually(t, 5*time.Second, func() string {
				var m control.Members
				wackatrlJSON(t, n, &m, "members")
				if ms, _ := member(m.Members, owner.Name); !ms.Eligible {
					return fmt.Sprintf("%s sees the undrained %s as %+v", n.Name, owner.Name, ms)
				}
				return ""
			})
		}
		// Rebalancing gives it a VIP back.
		h = converge(t, c, 30*time.Second, c.Nodes...)
		if len(heldBy(h, owner.Name)) != 1 {
			t.Errorf("after undrain %s holds %v", owner.Name, heldBy(h, owner.Name))
		}
	})

	t.Run("drain with nobody to take over", func(t *testing.T) {
		first, second, last := c.Nodes[0], c.Nodes[1], c.Nodes[2]
		for _, n := range []*cluster.Node{first, second} {
			if code, out, errOut := wackatrl(t, n, "drain", "--timeout", "30s"); code != 0 {
				t.Fatalf("drain of %s: exit %d: %s%s", n.Name, code, out, errOut)
			}
		}
		converge(t, c, 10*time.Second, last)
		// The last eligible node cannot hand anything over: it says so,
		// exits 1, and keeps serving every VIP.
		code, out, _ := wackatrl(t, last, "drain", "--timeout", "30s")
		if code != 1 || !strings.Contains(out, "nobody can take") {
			t.Errorf("drain of the last node: exit %d, %q", code, out)
		}
		if h := mustHolders(t, c); len(heldBy(h, last.Name)) != len(c.VIPs) {
			t.Errorf("after a refused drain the last node holds %v", heldBy(h, last.Name))
		}
		for _, n := range c.Nodes {
			if code, out, errOut := wackatrl(t, n, "undrain"); code != 0 {
				t.Fatalf("undrain of %s: exit %d: %s%s", n.Name, code, out, errOut)
			}
		}
		h = converge(t, c, 30*time.Second, c.Nodes...)
	})

	t.Run("other users refused", func(t *testing.T) {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Fatalf("setpriv (util-linux) is needed to run wackatrl as nobody: %v", err)
		}
		asNobody := []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"}
		// nobody must be able to run wackatrl and reach the socket's
		// path: only the socket's own permissions may stop it.
		bin := filepath.Join(t.TempDir(), "wackatrl")
		if err := copyExecutable(wackatrlBinary, bin); err != nil {
			t.Fatal(err)
		}
		n := c.Nodes[0]
		for _, dir := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin)), filepath.Dir(n.Socket), filepath.Dir(filepath.Dir(n.Socket))} {
			if err := os.Chmod(dir, 0o711); err != nil {
				t.Fatal(err)
			}
		}
		code, out, errOut := runCLI(t, asNobody, bin, "-s", n.Socket, "status")
		want := "wackatrl: connect to " + n.Socket + ": permission denied — run as root or as a member of the control group\n"
		if code != 3 || errOut != want {
			t.Errorf("nobody, socket mode 0600: exit %d, stdout %q, stderr %q; want exit 3 and %q", code, out, errOut, want)
		}
		// A socket opened up by mistake: the daemon checks the
		// credentials itself.
		if err := os.Chmod(n.Socket, 0o666); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(n.Socket, 0o600)
		code, _, errOut = runCLI(t, asNobody, bin, "-s", n.Socket, "drain")
		if code != 3 || !strings.Contains(errOut, "permission denied: uid 65534 is not root") {
			t.Errorf("nobody, socket mode 0666: exit %d, stderr %q", code, errOut)
		}
		if st := mustStatus(t, n); st.State == "draining" {
			t.Errorf("nobody's drain request drained the node")
		}
	})

	t.Run("second daemon refused", func(t *testing.T) {
		n := c.Nodes[1]
		logPath := filepath.Join(t.TempDir(), "second.log")
		p, err := n.Host.Start(binary, []string{"-c", n.ConfigPath}, logPath)
		if err != nil {
			t.Fatal(err)
		}
		st, err := p.Wait(20 * time.Second)
		if err != nil {
			p.Kill()
			t.Fatalf("a second daemon with the same control socket kept running: %v", err)
		}
		log, _ := os.ReadFile(logPath)
		if st.ExitCode() != 1 || !strings.Contains(string(log), "another process answers on it") {
			t.Errorf("second daemon: %v, log:\n%s", st, log)
		}
		if _, err := os.Stat(n.Socket); err != nil {
			t.Errorf("the first daemon's socket is gone: %v", err)
		}
		mustStatus(t, n)
	})

	t.Run("stopped daemon", func(t *testing.T) {
		n := c.Nodes[2]
		if err := c.Stop(n, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := wackatrl(t, n, "status")
		if code != 3 || !strings.Contains(errOut, "no such socket — is wackamole running?") {
			t.Errorf("status of a stopped daemon: exit %d, %q", code, errOut)
		}
	})
}

func mustStatus(t *testing.T, n *cluster.Node) control.Status {
	t.Helper()
	var st control.Status
	wackatrlJSON(t, n, &st, "status")
	return st
}

func mustHolders(t *testing.T, c *cluster.Cluster) map[netip.Addr][]string {
	t.Helper()
	h, err := c.Holders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func copyExecutable(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o755)
}
