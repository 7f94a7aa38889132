package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
	"github.com/wackamole/wackamole/pkg/internal/labtest"
)

// These tests play systemd for the real daemon (cmd/wackamole, built for
// them), run in a network namespace of their own: they own NOTIFY_SOCKET, set WATCHDOG_USEC, read what the
// daemon tells them and, for the watchdog, kill it when the beats stop, as
// systemd does with WatchdogSec= (SIGABRT first, WatchdogSignal's default).

// watchdogInterval is the watchdog interval the tests give the daemon.
const watchdogInterval = 2 * time.Second

var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
)

// binary builds the daemon once for the tests.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wackamole-systemd-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtPath = filepath.Join(dir, "wackamole")
		out, err := exec.Command("go", "build", "-o", builtPath, "github.com/wackamole/wackamole/cmd/wackamole").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtPath != "" {
		os.RemoveAll(filepath.Dir(builtPath))
	}
	os.Exit(code)
}

// datagram is one notification and when it arrived.
type datagram struct {
	at    time.Time
	lines []string
}

func (d datagram) has(prefix string) bool {
	for _, l := range d.lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// notifySocket is systemd's end of the protocol.
type notifySocket struct {
	path string
	ch   chan datagram
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &notifySocket{path: path, ch: make(chan datagram, 1000)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(s.ch)
				return
			}
			s.ch <- datagram{at: time.Now(), lines: strings.Split(string(buf[:n]), "\n")}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return s
}

// await returns the first datagram with a line starting with prefix,
// failing the test if none comes within d.
func (s *notifySocket) await(t *testing.T, prefix string, d time.Duration) datagram {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case dg, ok := <-s.ch:
			if !ok {
				t.Fatalf("notify socket closed while waiting for %s", prefix)
			}
			if dg.has(prefix) {
				return dg
			}
		case <-timeout:
			t.Fatalf("no %s within %v", prefix, d)
		}
	}
}

// node is one daemon in a one-node lab.
type node struct {
	host   *lab.Host
	proc   *lab.Process
	config string
	vip    netip.Addr
}

// startNode writes a one-node configuration and starts the daemon with the
// given extra environment, as systemd would with Type=notify.
func startNode(t *testing.T, env ...string) *node {
	t.Helper()
	bin := binary(t)
	l := labtest.New(t, lab.Options{Nodes: 1})
	h := l.Nodes[0]
	dir := t.TempDir()
	n := &node{host: h, config: filepath.Join(dir, "wackamole.toml"), vip: l.VIP(0)}
	self := netip.AddrPortFrom(h.Addr, 7946)
	conf := fmt.Sprintf(`node_name = "n1"
bind = %q
peers = [%q]
insecure = true
mature = "1s"
interface = %q
control_socket = %q
drain_timeout = "2s"

[[vip]]
name = "vip-1"
addresses = ["%s/32"]
`, self, self, lab.IfName, filepath.Join(dir, "wackamole.sock"), n.vip)
	if err := os.WriteFile(n.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "wackamole.log")
	args := append(env, bin, "-c", n.config)
	p, err := h.Start("env", args, logPath)
	if err != nil {
		t.Fatal(err)
	}
	n.proc = p
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("daemon log:\n%s", log)
		}
	})
	return n
}

func (n *node) hasVIP(t *testing.T) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ok, err := n.host.HasAddr(ctx, n.vip)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// READY=1 comes once the node has applied its first plan (alone, after
// its maturity: its VIP is bound by then), with STATUS= and watchdog beats;
// SIGHUP is framed by RELOADING=1 and READY=1; SIGTERM says STOPPING=1 and
// the daemon exits 0 having removed its VIP.
func TestSystemdNotify(t *testing.T) {
	s := listenNotify(t)
	n := startNode(t, "NOTIFY_SOCKET="+s.path, fmt.Sprintf("WATCHDOG_USEC=%d", watchdogInterval.Microseconds()))
	start := time.Now()

	var status []string
	var beats []time.Time
	for ready := false; !ready; {
		select {
		case dg := <-s.ch:
			for _, l := range dg.lines {
				switch {
				case strings.HasPrefix(l, "STATUS="):
					status = append(status, l)
				case l == "WATCHDOG=1":
					beats = append(beats, dg.at)
				case l == "READY=1":
					ready = true
				}
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no READY=1 within 20s; STATUS lines %q", status)
		}
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("READY=1 after %v, before the 1s maturity", took)
	}
	if !n.hasVIP(t) {
		t.Error("READY=1 before the first plan was applied: the VIP is not bound")
	}
	if len(status) == 0 || !strings.Contains(status[0], "joining") {
		t.Errorf("first STATUS %q: want joining", status)
	}
	if last := status[len(status)-1]; !strings.Contains(last, "quorum 1/1") || !strings.Contains(last, "holding 1 of 1 VIPs: vip-1") {
		t.Errorf("STATUS at READY %q: want quorum 1/1, holding vip-1", last)
	}

	// Beats keep coming while idle (the loop is woken to send them).
	deadline := time.Now().Add(3 * watchdogInterval)
	for time.Now().Before(deadline) {
		dg := s.await(t, "WATCHDOG=1", watchdogInterval)
		beats = append(beats, dg.at)
	}
	for i := 1; i < len(beats); i++ {
		if gap := beats[i].Sub(beats[i-1]); gap >= watchdogInterval {
			t.Errorf("watchdog beats %v apart, not within WATCHDOG_USEC=%v", gap, watchdogInterval)
		}
	}

	if err := n.proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.await(t, "RELOADING=1", 5*time.Second)
	s.await(t, "READY=1", 5*time.Second)

	if err := n.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.await(t, "STOPPING=1", 5*time.Second)
	st, err := n.proc.Wait(15 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitCode() != 0 {
		t.Errorf("graceful stop: %v", st)
	}
	if n.hasVIP(t) {
		t.Error("the VIP is still bound after a graceful stop")
	}
}

// A daemon whose reconcile loop is wedged (by the test hook) stops beating
// although its other goroutines run on; the supervisor kills it within
// the watchdog interval of the last beat, and "wackamole cleanup", the
// unit's ExecStopPost, removes the VIP it left behind.
func TestSystemdWatchdogKillsWedgedLoop(t *testing.T) {
	s := listenNotify(t)
	wedge := filepath.Join(t.TempDir(), "wedge")
	n := startNode(t, "NOTIFY_SOCKET="+s.path, fmt.Sprintf("WATCHDOG_USEC=%d", watchdogInterval.Microseconds()),
		WedgeEnv+"="+wedge)
	s.await(t, "READY=1", 20*time.Second)
	if !n.hasVIP(t) {
		t.Fatal("ready without its VIP")
	}
	last := s.await(t, "WATCHDOG=1", watchdogInterval).at
	last = s.await(t, "WATCHDOG=1", watchdogInterval).at

	if err := os.WriteFile(wedge, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wedged := time.Now()
	// The supervisor: every datagram is a sign of life; a silence of the
	// watchdog interval since the last beat gets the process killed.
	var killedAt time.Time
	for killedAt.IsZero() {
		select {
		case dg := <-s.ch:
			if dg.has("WATCHDOG=1") {
				last = dg.at
			}
		case <-time.After(time.Until(last.Add(watchdogInterval))):
			if n.proc.Exited() {
				t.Fatal("the daemon exited by itself; the watchdog had nothing to do")
			}
			killedAt = time.Now()
			if err := n.proc.Signal(syscall.SIGABRT); err != nil {
				t.Fatal(err)
			}
		}
		if time.Since(wedged) > 5*watchdogInterval {
			t.Fatalf("beats went on for %v after the loop was wedged", time.Since(wedged))
		}
	}
	if d := killedAt.Sub(wedged); d > watchdogInterval+time.Second {
		t.Errorf("killed %v after the wedge: want within the watchdog interval %v (and a beat's pacing)", d, watchdogInterval)
	}
	st, err := n.proc.Wait(10 * time.Second)
	if errors.Is(err, lab.ErrRunning) {
		n.proc.Kill() // systemd's SIGKILL after TimeoutAbortSec
		st, err = n.proc.Wait(5 * time.Second)
	}
	if err != nil {
		t.Fatal(err)
	}
	if st.Success() {
		t.Errorf("the killed daemon exited cleanly: %v", st)
	}
	if !n.hasVIP(t) {
		t.Fatal("the killed daemon removed its VIP: nothing for ExecStopPost to do, the test proves nothing")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := n.host.Run(ctx, binary(t), "cleanup", "-c", n.config); err != nil {
		t.Fatalf("wackamole cleanup: %v\n%s", err, out)
	}
	if n.hasVIP(t) {
		t.Error("wackamole cleanup left the VIP on the interface")
	}
}
