package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
)

// newTest builds a lab for a test, or skips or fails it as the gate
// (testenv.RequireNetns) says. The prefix defaults to "wkt" plus 6 random
// hex digits and Logf to t.Logf. The lab is closed by t.Cleanup, after
// logging Lab.Dump if the test failed; a failed Close fails the test.
func newTest(t testing.TB, opt Options) *Lab {
	t.Helper()
	testenv.RequireNetns(t)
	if opt.Prefix == "" {
		opt.Prefix = "wkt" + randomHex(3)
	}
	if opt.Logf == nil {
		opt.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := New(ctx, opt)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			t.Logf("lab state at failure:\n%s", l.Dump(ctx))
			cancel()
		}
		if err := l.Close(); err != nil {
			t.Errorf("lab: close: %v", err)
		}
	})
	return l
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// namespacesWithPrefix lists the namespaces a lab with prefix would own.
func namespacesWithPrefix(t *testing.T, prefix string) []string {
	t.Helper()
	names, err := listNamespaces(testContext(t), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// addRawNamespace creates a namespace outside any lab and removes it when
// the test ends.
func addRawNamespace(t *testing.T, name string) {
	t.Helper()
	if _, err := ipCmd(testContext(t), "netns", "add", name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ipCmd(context.Background(), "netns", "del", name) })
}

func TestLab(t *testing.T) {
	l := newTest(t, Options{Nodes: 3})
	ctx := testContext(t)

	t.Run("topology", func(t *testing.T) {
		want := []string{l.Prefix + "-br", l.Prefix + "-cl", l.Prefix + "-n1", l.Prefix + "-n2", l.Prefix + "-n3"}
		if got := namespacesWithPrefix(t, l.Prefix); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("namespaces = %v, want %v", got, want)
		}
		if l.Client.Addr != l.addrAt(2) || l.Nodes[1].Addr != l.NodeAddr(2) || l.Nodes[1].Addr.String() != "198.18.0.12" {
			t.Errorf("client %s, node 2 %s", l.Client.Addr, l.Nodes[1].Addr)
		}
		for _, h := range append([]*Host{l.Client}, l.Nodes...) {
			addrs, err := h.Addrs(ctx, IfName)
			if err != nil {
				t.Fatal(err)
			}
			want := netip.PrefixFrom(h.Addr, 24)
			found := false
			for _, a := range addrs {
				found = found || a == want
			}
			if !found {
				t.Errorf("%s: addresses %v, want %s", h, addrs, want)
			}
			if a := h.Addr.As4(); h.MAC.String() != fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3]) {
				t.Errorf("%s: MAC %v", h, h.MAC)
			}
			// No veth end may have landed in the root namespace.
			if _, err := net.InterfaceByName(h.peer); err == nil {
				t.Errorf("interface %s exists in the root namespace", h.peer)
			}
		}
		for _, key := range []string{"arp_ignore", "arp_announce"} {
			out, err := l.Nodes[0].Run(ctx, "cat", "/proc/sys/net/ipv4/conf/eth0/"+key)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"arp_ignore": "1", "arp_announce": "2"}[key]
			if strings.TrimSpace(out) != want {
				t.Errorf("node 1 %s = %q, want %s", key, out, want)
			}
		}
		out, err := l.Bridge.Run(ctx, "ip", "-br", "addr", "show", "dev", "br0")
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(out); len(f) != 2 || f[1] != "UP" {
			t.Errorf("br0: %q, want up without addresses", out)
		}
	})

	t.Run("ping nodes", func(t *testing.T) {
		for _, n := range l.Nodes {
			p, err := l.Client.Ping(ctx, n.Addr, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.WaitReplies(ctx, 10); err != nil {
				t.Fatal(err)
			}
			r := p.Stop()
			t.Logf("%v", r)
			if r.Received < 10 || r.Lost() > 1 || r.MaxGap > time.Second || r.Duplicates != 0 || r.SendErrors != 0 {
				t.Errorf("ping %s: %v", n, r)
			}
			if len(r.Replies) != r.Received || r.Replies[0].RTT() <= 0 {
				t.Errorf("replies: %+v", r.Replies[:1])
			}
		}
	})

	t.Run("run", func(t *testing.T) {
		out, err := l.Nodes[0].Run(ctx, "ip", "-br", "link", "show", "dev", "eth0")
		if err != nil || !strings.HasPrefix(out, "eth0@") {
			t.Errorf("Run: %q, %v", out, err)
		}
		_, err = l.Nodes[0].Run(ctx, "ip", "link", "show", "dev", "nosuchlink")
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("Run of a failing command: %v, want the command's stderr", err)
		}
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := l.Nodes[0].Run(short, "sh", "-c", "sleep 30 & sleep 30"); err == nil {
			t.Error("Run outlived its context")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Run took %v after its context ended", d)
		}
	})

	t.Run("secondary address and HTTP", func(t *testing.T) {
		n1 := l.Nodes[0]
		vip := l.VIP(0)
		if err := n1.AddAddr(ctx, netip.PrefixFrom(vip, 24)); err != nil {
			t.Fatal(err)
		}
		defer n1.DelAddr(ctx, netip.PrefixFrom(vip, 24))
		if ok, err := n1.HasAddr(ctx, vip); !ok || err != nil {
			t.Fatalf("HasAddr(%s) = %v, %v", vip, ok, err)
		}
		p, err := l.Client.Ping(ctx, vip, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		if err := p.WaitReplies(ctx, 5); err != nil {
			t.Fatal(err)
		}
		mac, state, err := l.Client.Neigh(ctx, vip)
		if err != nil || mac != n1.MAC.String() {
			t.Errorf("client neighbour %s = %q %q, %v; want %s", vip, mac, state, err, n1.MAC)
		}
		if _, _, err := l.Client.Neigh(ctx, l.VIP(99)); !errors.Is(err, ErrNoNeighbor) {
			t.Errorf("Neigh of an unknown address: %v, want ErrNoNeighbor", err)
		}

		ln, err := n1.Listen("tcp", ":80")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, n1.Name)
		})}
		go srv.Serve(ln)
		defer srv.Close()
		body, err := l.Client.HTTPGet(ctx, "http://"+vip.String()+"/")
		if err != nil || body != "n1" {
			t.Errorf("HTTPGet via VIP = %q, %v; want n1", body, err)
		}
		if _, err := l.Client.HTTPGet(ctx, "http://localhost/"); err == nil {
			t.Error("HTTPGet resolved a host name")
		}
	})

	t.Run("link down", func(t *testing.T) {
		n2 := l.Nodes[1]
		p, err := l.Client.Ping(ctx, n2.Addr, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		if err := p.WaitReplies(ctx, 5); err != nil {
			t.Fatal(err)
		}
		if err := n2.LinkDown(ctx); err != nil {
			t.Fatal(err)
		}
		out, err := n2.Run(ctx, "ip", "-br", "link", "show", "dev", "eth0")
		if err != nil || !strings.Contains(out, "DOWN") {
			t.Errorf("eth0 after LinkDown: %q, %v", out, err)
		}
		if err := p.WaitSilence(ctx, 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := n2.LinkUp(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.WaitReplies(ctx, 5); err != nil {
			t.Fatal(err)
		}
		r := p.Stop()
		t.Logf("%v", r)
		if r.MaxGap < 300*time.Millisecond || len(r.Gaps) == 0 || r.Gaps[len(r.Gaps)-1].Open {
			t.Errorf("link down: %v, gaps %+v; want a closed gap of at least 300ms", r, r.Gaps)
		}
	})

	t.Run("isolate", func(t *testing.T) {
		testenv.RequireNetns(t, "nft")
		n3 := l.Nodes[2]
		const gossip, web = 7946, 8080
		for _, port := range []int{gossip, web} {
			serveEcho(t, n3, port)
		}
		p, err := l.Client.Ping(ctx, n3.Addr, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		check := func(port int, proto string, want bool) {
			t.Helper()
			if got := echoes(ctx, l.Client, proto, netip.AddrPortFrom(n3.Addr, uint16(port))); got != want {
				t.Errorf("%s port %d reachable = %v, want %v", proto, port, got, want)
			}
		}
		for _, proto := range []string{"tcp", "udp"} {
			check(gossip, proto, true)
		}
		if err := n3.Isolate(ctx, gossip); err != nil {
			t.Fatal(err)
		}
		for _, proto := range []string{"tcp", "udp"} {
			check(gossip, proto, false)
			check(web, proto, true)
		}
		if err := p.WaitReplies(ctx, 5); err != nil {
			t.Errorf("ping while the gossip port is isolated: %v", err)
		}
		if err := n3.Heal(ctx); err != nil {
			t.Fatal(err)
		}
		for _, proto := range []string{"tcp", "udp"} {
			check(gossip, proto, true)
		}
		if err := n3.Heal(ctx); err != nil {
			t.Errorf("second Heal: %v", err)
		}
	})

	t.Run("isolate all", func(t *testing.T) {
		testenv.RequireNetns(t, "nft")
		n1, n3 := l.Nodes[0], l.Nodes[2]
		peer, err := n1.Ping(ctx, n3.Addr, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Stop()
		client, err := l.Client.Ping(ctx, n3.Addr, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Stop()
		if err := peer.WaitReplies(ctx, 5); err != nil {
			t.Fatal(err)
		}
		if err := n3.IsolateAll(ctx, l.Client.Addr); err != nil {
			t.Fatal(err)
		}
		if err := peer.WaitSilence(ctx, 300*time.Millisecond); err != nil {
			t.Errorf("peer still reaches an isolated node: %v", err)
		}
		if err := client.WaitReplies(ctx, 5); err != nil {
			t.Errorf("client cut off by IsolateAll: %v", err)
		}
		if err := n3.Heal(ctx); err != nil {
			t.Fatal(err)
		}
		if err := peer.WaitReplies(ctx, 5); err != nil {
			t.Errorf("peer after Heal: %v", err)
		}
	})

	t.Run("silence", func(t *testing.T) {
		testenv.RequireNetns(t, "nft")
		n3 := l.Nodes[2]
		client, err := l.Client.Ping(ctx, n3.Addr, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Stop()
		if err := client.WaitReplies(ctx, 5); err != nil {
			t.Fatal(err)
		}
		if err := n3.Silence(ctx); err != nil {
			t.Fatal(err)
		}
		if err := client.WaitSilence(ctx, 300*time.Millisecond); err != nil {
			t.Errorf("the client still reaches a silenced node: %v", err)
		}
		// Not even ARP: with its neighbour cache flushed it cannot
		// resolve the client.
		if _, err := n3.Run(ctx, "ip", "neigh", "flush", "dev", "eth0"); err != nil {
			t.Fatal(err)
		}
		if _, err := n3.Run(ctx, "ping", "-c", "1", "-W", "1", l.Client.Addr.String()); err == nil {
			t.Error("a silenced node still reaches the client")
		}
		if out, _ := n3.Run(ctx, "ip", "neigh", "show", l.Client.Addr.String()); strings.Contains(out, "REACHABLE") || strings.Contains(out, "lladdr") {
			t.Errorf("a silenced node resolved the client: %s", out)
		}
		if err := n3.Heal(ctx); err != nil {
			t.Fatal(err)
		}
		if err := client.WaitReplies(ctx, 5); err != nil {
			t.Errorf("client after Heal: %v", err)
		}
	})

	t.Run("processes", func(t *testing.T) {
		n1 := l.Nodes[0]
		log := filepath.Join(t.TempDir(), "p.log")
		p, err := n1.Start("sh", []string{"-c", "echo started; readlink /proc/self/ns/net; sleep 1000 & wait"}, log)
		if err != nil {
			t.Fatal(err)
		}
		var nsID string
		if err := n1.Do(func() error {
			var err error
			nsID, err = os.Readlink("/proc/thread-self/ns/net")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		lines := waitLines(t, log, 2)
		if lines[0] != "started" || lines[1] != nsID {
			t.Errorf("log %q, want started and %s", lines, nsID)
		}
		if rootID, _ := os.Readlink("/proc/self/ns/net"); rootID == nsID {
			t.Errorf("Do ran in the root namespace %s", rootID)
		}
		if p.Exited() {
			t.Fatal("exited early")
		}
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		st, err := p.Wait(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if ws := st.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("exit state %v, want killed", st)
		}
		// The backgrounded sleep shared the group and died with it.
		waitNoPids(t, n1)
		if err := p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("Signal after exit: %v", err)
		}

		q, err := n1.Start("sleep", []string{"1000"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Wait(50 * time.Millisecond); !errors.Is(err, ErrRunning) {
			t.Errorf("Wait on a running process: %v", err)
		}
		if err := q.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		st, err = q.Wait(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if ws := st.Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGTERM {
			t.Errorf("exit state %v, want SIGTERM", st)
		}
	})

	t.Run("ipv6 loopback", func(t *testing.T) {
		if _, err := os.Stat("/proc/net/if_inet6"); err != nil {
			t.Skip("no IPv6 in this kernel")
		}
		p, err := l.Client.Ping(ctx, netip.IPv6Loopback(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitReplies(ctx, 5); err != nil {
			t.Fatal(err)
		}
		if r := p.Stop(); r.Received < 5 {
			t.Errorf("%v", r)
		}
	})

	t.Run("add node", func(t *testing.T) {
		n4, err := l.AddNode(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n4.NS != l.Prefix+"-n4" || n4.Addr.String() != "198.18.0.14" || len(l.Nodes) != 4 || l.Nodes[3] != n4 {
			t.Fatalf("AddNode = %s %s, %d nodes", n4.NS, n4.Addr, len(l.Nodes))
		}
		p, err := n4.Ping(ctx, l.Nodes[0].Addr, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitReplies(ctx, 5); err != nil {
			t.Fatal(err)
		}
		p.Stop()
	})

	t.Run("dump", func(t *testing.T) {
		d := l.Dump(ctx)
		for _, want := range []string{l.Client.NS, l.Nodes[0].Addr.String(), "vn1"} {
			if !strings.Contains(d, want) {
				t.Errorf("Dump lacks %q:\n%s", want, d)
			}
		}
	})
}

// serveEcho serves TCP and UDP echo on port in h until the test ends.
func serveEcho(t *testing.T, h *Host, port int) {
	t.Helper()
	addr := fmt.Sprintf(":%d", port)
	ln, err := h.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	pc, err := h.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
}

// echoes reports whether an echo server at ap answers from h within a
// short timeout.
func echoes(ctx context.Context, h *Host, proto string, ap netip.AddrPort) bool {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	c, err := h.DialContext(ctx, proto, ap.String())
	if err != nil {
		return false
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	if _, err := c.Write([]byte("ping")); err != nil {
		return false
	}
	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	return err == nil && string(buf) == "ping"
}

// waitLines waits until path holds at least n lines and returns them.
func waitLines(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		var lines []string
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d lines after 10s, want %d: %q", path, len(lines), n, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitNoPids waits until no process runs in h's namespace.
func waitNoPids(t *testing.T, h *Host) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := ipCmd(context.Background(), "netns", "pids", h.NS)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(out) == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left in %s: %s", h.NS, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseRemovesEverything(t *testing.T) {
	testenv.RequireNetns(t)
	ctx := testContext(t)
	prefix := "wkt" + randomHex(3)
	l, err := New(ctx, Options{Prefix: prefix, Nodes: 2, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	proc, err := l.Nodes[0].Start("sleep", []string{"1000"}, "")
	if err != nil {
		t.Fatal(err)
	}
	prober, err := l.Client.Ping(ctx, l.Nodes[1].Addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := l.Nodes[1].Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := namespacesWithPrefix(t, prefix); len(got) > 0 {
		t.Errorf("namespaces left after Close: %v", got)
	}
	if !proc.Exited() {
		t.Errorf("process %s survived Close", proc)
	}
	if err := prober.WaitReplies(ctx, 1); !errors.Is(err, ErrStopped) {
		t.Errorf("prober after Close: %v", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listener after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := l.AddNode(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("AddNode after Close: %v", err)
	}
	if _, err := l.Nodes[0].Start("true", nil, ""); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}

func TestNewFailures(t *testing.T) {
	testenv.RequireNetns(t)
	tests := []struct {
		name string
		opt  Options
	}{
		{"subnet outside 198.18.0.0/15", Options{Subnet: netip.MustParsePrefix("10.1.0.0/24")}},
		{"subnet too small", Options{Subnet: netip.MustParsePrefix("198.18.0.0/28")}},
		{"too many nodes", Options{Nodes: MaxNodes + 1}},
		{"bad prefix", Options{Prefix: "a b"}},
		{"failure after the bridge", Options{Nodes: 3, failStep: "bridge"}},
		{"failure in the second node", Options{Nodes: 3, failStep: "veth n2"}},
		{"routed: no room for the client subnet", Options{Routed: true, Subnet: netip.MustParsePrefix("198.19.255.0/24")}},
		{"routed: failure in the router", Options{Nodes: 2, Routed: true, failStep: "router"}},
		{"routed: failure in the client", Options{Nodes: 2, Routed: true, failStep: "veth cl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := tt.opt.Prefix
			if prefix == "" {
				prefix = "wkt" + randomHex(3)
				tt.opt.Prefix = prefix
			}
			l, err := New(testContext(t), tt.opt)
			if err == nil {
				l.Close()
				t.Fatal("New succeeded")
			}
			t.Logf("%v", err)
			if checkPrefix(prefix) == nil {
				if got := namespacesWithPrefix(t, prefix); len(got) > 0 {
					t.Errorf("namespaces left after a failed New: %v", got)
					Sweep(prefix)
				}
			}
		})
	}
}

func TestAddNodeFailureCleansUp(t *testing.T) {
	l := newTest(t, Options{Nodes: 1})
	l.failStep = "veth n2"
	if _, err := l.AddNode(testContext(t)); err == nil {
		t.Fatal("AddNode succeeded")
	}
	want := []string{l.Prefix + "-br", l.Prefix + "-cl", l.Prefix + "-n1"}
	if got := namespacesWithPrefix(t, l.Prefix); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("namespaces = %v, want %v", got, want)
	}
	if len(l.Nodes) != 1 {
		t.Errorf("%d nodes after a failed AddNode", len(l.Nodes))
	}
	l.failStep = ""
	if n, err := l.AddNode(testContext(t)); err != nil || n.Name != "n2" {
		t.Errorf("AddNode after a failed one: %v, %v", n, err)
	}
}

func TestNewRefusesExistingPrefix(t *testing.T) {
	testenv.RequireNetns(t)
	prefix := "wkt" + randomHex(3)
	addRawNamespace(t, prefix+"-n1")
	if l, err := New(testContext(t), Options{Prefix: prefix}); err == nil {
		l.Close()
		t.Fatal("New succeeded over an existing namespace")
	}
	if got := namespacesWithPrefix(t, prefix); len(got) != 1 {
		t.Errorf("New touched a namespace it did not create: %v", got)
	}
}

func TestSweep(t *testing.T) {
	testenv.RequireNetns(t)
	prefix := "wkt" + randomHex(3)
	addRawNamespace(t, prefix+"-n1")
	addRawNamespace(t, prefix+"-br")
	addRawNamespace(t, prefix+"x-n1") // another prefix: must survive
	h := &Host{NS: prefix + "-n1", lab: &Lab{procs: map[*Process]struct{}{}, closers: map[int]func(){}}}
	p, err := h.Start("sleep", []string{"1000"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := Sweep(prefix); err != nil {
		t.Fatal(err)
	}
	if got := namespacesWithPrefix(t, prefix); len(got) != 0 {
		t.Errorf("after Sweep: %v", got)
	}
	if got := namespacesWithPrefix(t, prefix+"x"); len(got) != 1 {
		t.Errorf("Sweep removed another prefix's namespace: %v", got)
	}
	if _, err := p.Wait(5 * time.Second); err != nil {
		t.Errorf("process in a swept namespace: %v", err)
	}
	if err := Sweep(""); err == nil {
		t.Error("Sweep of the empty prefix succeeded")
	}
}

func TestAddHost(t *testing.T) {
	l := newTest(t, Options{Nodes: 1})
	ctx := testContext(t)
	dns, err := l.AddHost(ctx, "dns")
	if err != nil {
		t.Fatal(err)
	}
	if dns.NS != l.Prefix+"-dns" || dns.Addr.String() != "198.18.0.3" || len(l.Extras) != 1 || l.Extras[0] != dns {
		t.Fatalf("host %s at %s, extras %v", dns.NS, dns.Addr, l.Extras)
	}
	// Reachable from the client and able to serve it.
	p, err := l.Client.Ping(ctx, dns.Addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReplies(ctx, 3); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	ln, err := dns.Listen("tcp", net.JoinHostPort(dns.Addr.String(), "53"))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, err := l.Client.DialContext(ctx, "tcp", net.JoinHostPort(dns.Addr.String(), "53"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if string(b) != "hi" {
		t.Errorf("read %q from the added host", b)
	}
	// Not a node: no ARP settings for shared VIPs.
	if out, err := dns.Run(ctx, "cat", "/proc/sys/net/ipv4/conf/eth0/arp_ignore"); err != nil || strings.TrimSpace(out) != "0" {
		t.Errorf("arp_ignore = %q, %v; want 0", out, err)
	}

	for _, bad := range []string{"dns", "n2", "cl", "Bad"} {
		if _, err := l.AddHost(ctx, bad); err == nil {
			t.Errorf("AddHost(%q) succeeded", bad)
		}
	}
	l.failStep = "veth r1"
	if _, err := l.AddHost(ctx, "r1"); err == nil {
		t.Error("AddHost with an injected failure succeeded")
	}
	l.failStep = ""
	want := []string{l.Prefix + "-br", l.Prefix + "-cl", l.Prefix + "-dns", l.Prefix + "-n1"}
	if got := namespacesWithPrefix(t, l.Prefix); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("namespaces after failed AddHost calls = %v, want %v", got, want)
	}
	for i := 1; i < MaxExtraHosts; i++ {
		h, err := l.AddHost(ctx, fmt.Sprintf("x%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if want := l.addrAt(extraOffset + i); h.Addr != want {
			t.Errorf("host %d at %s, want %s", i, h.Addr, want)
		}
	}
	if last := l.Extras[MaxExtraHosts-1].Addr; last.Compare(l.NodeAddr(1)) >= 0 {
		t.Errorf("last extra host at %s collides with the nodes", last)
	}
	if _, err := l.AddHost(ctx, "full"); err == nil {
		t.Error("AddHost beyond MaxExtraHosts succeeded")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := namespacesWithPrefix(t, l.Prefix); len(got) > 0 {
		t.Errorf("namespaces left after Close: %v", got)
	}
	if _, err := l.AddHost(ctx, "late"); !errors.Is(err, ErrClosed) {
		t.Errorf("AddHost after Close: %v", err)
	}
}

func TestRoutedSubnets(t *testing.T) {
	tests := []struct {
		subnet, client, vips string // client "" = refused
	}{
		{"198.18.0.0/24", "198.18.1.0/24", "198.18.2.0/24"},
		{"198.18.7.0/24", "198.18.8.0/24", "198.18.9.0/24"},
		{"198.19.253.0/24", "198.19.254.0/24", "198.19.255.0/24"},
		{"198.19.254.0/24", "", ""},
		{"198.18.0.0/17", "198.18.128.0/17", "198.19.0.0/17"},
		{"198.18.0.0/16", "", ""},
	}
	for _, tt := range tests {
		c, v, err := routedSubnets(netip.MustParsePrefix(tt.subnet))
		switch {
		case tt.client == "" && err == nil:
			t.Errorf("%s: client %s, VIPs %s; want an error", tt.subnet, c, v)
		case tt.client != "" && (err != nil || c.String() != tt.client || v.String() != tt.vips):
			t.Errorf("%s: client %s, VIPs %s, %v; want %s and %s", tt.subnet, c, v, err, tt.client, tt.vips)
		}
	}
}

// A routed lab: the client in a subnet of its own reaches the nodes
// through the router, and a VIP only once the router has a route to it.
func TestRoutedLab(t *testing.T) {
	l := newTest(t, Options{Nodes: 2, Routed: true})
	ctx := testContext(t)
	want := []string{l.Prefix + "-br", l.Prefix + "-cl", l.Prefix + "-n1", l.Prefix + "-n2", l.Prefix + "-rt"}
	if got := namespacesWithPrefix(t, l.Prefix); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("namespaces = %v, want %v", got, want)
	}
	if l.Router == nil || l.Router.Addr.String() != "198.18.0.1" || l.RouterClientAddr().String() != "198.18.1.1" ||
		l.Client.Addr.String() != "198.18.1.2" || l.ClientAddr(3).String() != "198.18.1.5" || l.VIP(0).String() != "198.18.2.100" {
		t.Fatalf("router %v/%v, client %v (+3: %v), VIP %v", l.Router, l.RouterClientAddr(), l.Client.Addr, l.ClientAddr(3), l.VIP(0))
	}
	if _, err := l.AddHost(ctx, "rt"); err == nil {
		t.Error(`AddHost("rt") succeeded in a routed lab`)
	}
	for _, n := range l.Nodes {
		p, err := l.Client.Ping(ctx, n.Addr, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitReplies(ctx, 3); err != nil {
			t.Fatalf("the client does not reach %s through the router: %v", n, err)
		}
		p.Stop()
	}
	// A node whose link went down and came back has its default route
	// back: it can answer the client again.
	if err := l.Nodes[0].LinkDown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Nodes[0].LinkUp(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := l.Client.Ping(ctx, l.Nodes[0].Addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReplies(ctx, 3); err != nil {
		t.Fatalf("the client does not reach %s after its link came back: %v", l.Nodes[0], err)
	}
	p.Stop()
	// The client is not on the nodes' bridge: no neighbour entry for a
	// node, only for its gateway.
	if _, _, err := l.Client.Neigh(ctx, l.Nodes[0].Addr); !errors.Is(err, ErrNoNeighbor) {
		t.Errorf("the client has a neighbour entry for node 1: %v", err)
	}

	vip := l.VIP(0)
	if _, err := l.Nodes[1].Run(ctx, "ip", "addr", "add", netip.PrefixFrom(vip, 32).String(), "dev", "lo"); err != nil {
		t.Fatal(err)
	}
	p, err = l.Client.Ping(ctx, vip, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitSilence(ctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if r := p.Snapshot(); r.Received > 0 {
		t.Fatalf("the VIP answered without a route to it: %v", r)
	}
	if _, err := l.Router.Run(ctx, "ip", "route", "add", netip.PrefixFrom(vip, 32).String(), "via", l.Nodes[1].Addr.String()); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReplies(ctx, 5); err != nil {
		t.Fatalf("the VIP does not answer through the route: %v", err)
	}
	p.Stop()
	if !strings.Contains(l.Dump(ctx), "198.18.2.100 via 198.18.0.12") {
		t.Errorf("Dump lacks the router's route:\n%s", l.Dump(ctx))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := namespacesWithPrefix(t, l.Prefix); len(got) > 0 {
		t.Errorf("namespaces left after Close: %v", got)
	}
}
