package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/rpc"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// The end-to-end tests run each node's speaker in a process of its own
// inside the node's namespace: GoBGP opens its sockets (BGP, BFD) in the
// namespace of the thread that happens to run it, so an in-process speaker
// cannot be pinned to one. The process is this test binary again, started
// with helperEnv naming a unix socket on which it serves speakerService
// over net/rpc; unix sockets live in the file system, so the test reaches
// it from any namespace.
const helperEnv = "WACKAMOLE_BGP_TEST_SPEAKER"

func TestMain(m *testing.M) {
	if sock := os.Getenv(helperEnv); sock != "" {
		os.Exit(serveHelper(sock))
	}
	// The unit tests start speakers whose peers are unreachable: in a
	// namespace of their own, their connection attempts go nowhere.
	testenv.RunIsolated(m)
}

// serveHelper serves the speaker service on sock until it is told to exit
// or killed.
func serveHelper(sock string) int {
	ln, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	svc := &speakerService{exit: make(chan struct{})}
	srv := rpc.NewServer()
	if err := srv.RegisterName("Speaker", svc); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	go srv.Accept(ln)
	<-svc.exit
	return 0
}

// speakerService exposes a Speaker over net/rpc.
type speakerService struct {
	s    *Speaker
	exit chan struct{}
}

// HelperConfig is Config without the logger, plus the test-only knobs.
type HelperConfig struct {
	ASN        uint32
	RouterID   netip.Addr
	ListenPort int
	Peers      []Peer
	KeepBFD    bool
	StuckAfter time.Duration
}

type AnnounceArgs struct {
	Prefix netip.Prefix
	Path   Path
}

func (h *speakerService) Start(c HelperConfig, _ *struct{}) error {
	if h.s != nil {
		return errors.New("already started")
	}
	s, err := Start(context.Background(), Config{
		ASN: c.ASN, RouterID: c.RouterID, ListenPort: c.ListenPort, Peers: c.Peers,
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
		keepBFD: c.KeepBFD, stuckAfter: c.StuckAfter,
	})
	if err != nil {
		return err
	}
	h.s = s
	return nil
}

func (h *speakerService) Announce(a AnnounceArgs, _ *struct{}) error {
	return h.s.Announce(a.Prefix, a.Path)
}

func (h *speakerService) Withdraw(p netip.Prefix, _ *struct{}) error {
	return h.s.Withdraw(p)
}

func (h *speakerService) Announced(_ struct{}, out *[]Route) error {
	*out = h.s.Announced()
	return nil
}

func (h *speakerService) Peers(_ struct{}, out *[]PeerStatus) error {
	*out = h.s.Peers()
	return nil
}

func (h *speakerService) Close(_ struct{}, _ *struct{}) error {
	return h.s.Close()
}

func (h *speakerService) Exit(_ struct{}, _ *struct{}) error {
	close(h.exit)
	return nil
}

// node is a speaker running in a node's namespace, as seen by a test.
type node struct {
	t      testing.TB
	host   *lab.Host
	proc   *lab.Process
	client *rpc.Client
	log    string
}

// startNode starts a speaker with c in host's namespace and stops it when
// the test ends.
func startNode(t testing.TB, host *lab.Host, c HelperConfig) *node {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "wkbgp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "speaker.sock")
	n := &node{t: t, host: host, log: filepath.Join(t.TempDir(), host.Name+".log")}
	n.proc, err = host.Start("env", []string{helperEnv + "=" + sock, exe, "-test.run=^$"}, n.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("speaker log of %s:\n%s", host, n.Log(60))
		}
		if n.client != nil {
			n.client.Close()
		}
		n.proc.Kill()
		n.proc.Wait(5 * time.Second)
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		n.client, err = rpc.Dial("unix", sock)
		if err == nil {
			break
		}
		if n.proc.Exited() || time.Now().After(deadline) {
			t.Fatalf("speaker helper in %s did not start: %v\n%s", host, err, n.Log(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := n.call("Start", c, nil); err != nil {
		t.Fatalf("%s: start speaker: %v", host, err)
	}
	return n
}

// call calls method with a timeout.
func (n *node) call(method string, args, reply any) error {
	if reply == nil {
		reply = &struct{}{}
	}
	c := n.client.Go("Speaker."+method, args, reply, make(chan *rpc.Call, 1))
	select {
	case <-c.Done:
		return c.Error
	case <-time.After(15 * time.Second):
		return fmt.Errorf("%s: %s timed out", n.host, method)
	}
}

func (n *node) announce(prefix netip.Prefix, p Path) {
	n.t.Helper()
	if err := n.call("Announce", AnnounceArgs{prefix, p}, nil); err != nil {
		n.t.Fatalf("%s: announce %v: %v", n.host, prefix, err)
	}
}

func (n *node) withdraw(prefix netip.Prefix) {
	n.t.Helper()
	if err := n.call("Withdraw", prefix, nil); err != nil {
		n.t.Fatalf("%s: withdraw %v: %v", n.host, prefix, err)
	}
}

func (n *node) announced() []Route {
	n.t.Helper()
	var rs []Route
	if err := n.call("Announced", struct{}{}, &rs); err != nil {
		n.t.Fatalf("%s: announced: %v", n.host, err)
	}
	return rs
}

func (n *node) peers() []PeerStatus {
	n.t.Helper()
	var ps []PeerStatus
	if err := n.call("Peers", struct{}{}, &ps); err != nil {
		n.t.Fatalf("%s: peers: %v", n.host, err)
	}
	return ps
}

// peer returns the status of the session with addr.
func (n *node) peer(addr netip.Addr) PeerStatus {
	n.t.Helper()
	for _, p := range n.peers() {
		if p.Address == addr {
			return p
		}
	}
	n.t.Fatalf("%s: no peer %v", n.host, addr)
	return PeerStatus{}
}

// close closes the speaker gracefully.
func (n *node) close() {
	n.t.Helper()
	if err := n.call("Close", struct{}{}, nil); err != nil {
		n.t.Fatalf("%s: close: %v", n.host, err)
	}
}

// crash takes the node's link down and then kills the speaker, so that
// nothing it would send on the way out (a TCP FIN, a notification)
// reaches the router: a node that lost power.
func (n *node) crash(ctx context.Context) {
	n.t.Helper()
	if err := n.host.LinkDown(ctx); err != nil {
		n.t.Fatal(err)
	}
	if err := n.proc.Kill(); err != nil {
		n.t.Fatal(err)
	}
}

// waitPeer polls until the session with addr satisfies cond.
func (n *node) waitPeer(within time.Duration, addr netip.Addr, what string, cond func(PeerStatus) bool) PeerStatus {
	n.t.Helper()
	deadline := time.Now().Add(within)
	for {
		p := n.peer(addr)
		if cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s: session with %v not %s within %v: %+v", n.host, addr, what, within, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *node) waitEstablished(within time.Duration, addr netip.Addr, bfd bool) PeerStatus {
	n.t.Helper()
	what := "established"
	if bfd {
		what += " with BFD up"
	}
	return n.waitPeer(within, addr, what, func(p PeerStatus) bool {
		return p.State == Established && (!bfd || p.BFD == BFDUp)
	})
}

// Log returns the last lines of the speaker's log.
func (n *node) Log(lines int) string {
	data, err := os.ReadFile(n.log)
	if err != nil {
		return err.Error()
	}
	ls := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// logged reports whether the speaker's log has a line containing all of
// parts.
func (n *node) logged(parts ...string) bool {
	data, _ := os.ReadFile(n.log)
	for line := range strings.Lines(string(data)) {
		all := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}
