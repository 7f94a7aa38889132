package daemon

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/agent"
)

// supervisor is the systemd side of the notify protocol: a unix datagram
// socket whose name goes into NOTIFY_SOCKET.
type supervisor struct {
	conn *net.UnixConn
}

func newSupervisor(t *testing.T) *supervisor {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return &supervisor{conn: conn}
}

// next returns the next datagram, or "" if none comes within d.
func (s *supervisor) next(t *testing.T, d time.Duration) string {
	t.Helper()
	buf := make([]byte, 4096)
	s.conn.SetReadDeadline(time.Now().Add(d))
	n, err := s.conn.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestNotifyProtocol(t *testing.T) {
	s := newSupervisor(t)
	t.Setenv("WATCHDOG_USEC", "2000000")
	t.Setenv("WATCHDOG_PID", "")
	n := newNotifier(slog.New(slog.DiscardHandler))
	if !n.enabled || n.watchdog != 2*time.Second {
		t.Fatalf("notifier enabled %v watchdog %v: want on, 2s", n.enabled, n.watchdog)
	}
	// The rounds' times are given, so that the watchdog pacing does not
	// depend on how fast the test runs.
	t0 := time.Now()
	at := func(d time.Duration, r agent.Round) func() { return func() { n.roundAt(t0.Add(d), r) } }
	q := agent.Quorum{Have: 2, Need: 2, OK: true}
	joining := agent.Round{State: "joining", Quorum: q, Members: 2, VIPs: 3}
	settled := agent.Round{State: "mature", Settled: true, Quorum: q, Members: 2, VIPs: 3, Held: []string{"www-1"}}

	steps := []struct {
		what string
		do   func()
		want []string // every line of the one datagram expected; nil for none
	}{
		{"a joining round extends the start-up timeout and beats",
			at(0, joining),
			[]string{"EXTEND_TIMEOUT_USEC=30000000", "STATUS=joining; quorum 2/2; 2 members; holding 0 of 3 VIPs", "WATCHDOG=1"}},
		{"the same round again at once says nothing",
			at(time.Millisecond, joining),
			nil},
		{"a reload before READY says nothing either",
			func() { n.reloading(); n.reloaded() },
			nil},
		{"the first settled round is READY",
			at(2*time.Millisecond, settled),
			[]string{"READY=1", "STATUS=mature; quorum 2/2; 2 members; holding 1 of 3 VIPs: www-1"}},
		{"no second READY",
			at(3*time.Millisecond, settled),
			nil},
		{"a beat a quarter of the watchdog interval later",
			at(500*time.Millisecond, settled),
			[]string{"WATCHDOG=1"}},
		{"quorum lost shows in STATUS",
			func() {
				r := settled
				r.Quorum = agent.Quorum{Have: 1, Need: 2}
				r.Members = 1
				n.roundAt(t0.Add(600*time.Millisecond), r)
			},
			[]string{"STATUS=mature; no quorum (1/2): taking nothing; 1 member; holding 1 of 3 VIPs: www-1"}},
		{"reloading",
			func() { n.reloading() },
			[]string{"RELOADING=1", "MONOTONIC_USEC="}},
		{"reloaded",
			func() { n.reloaded() },
			[]string{"READY=1"}},
		{"the first stopping round",
			func() {
				r := settled
				r.Stopping = true
				n.roundAt(t0.Add(700*time.Millisecond), r)
			},
			[]string{"STOPPING=1", "STATUS=stopping: handing VIPs over; quorum 2/2; 2 members; holding 1 of 3 VIPs: www-1"}},
		{"no reload notifications while stopping",
			func() { n.reloading(); n.reloaded() },
			nil},
	}
	for _, st := range steps {
		st.do()
		got := s.next(t, 200*time.Millisecond)
		if st.want == nil {
			if got != "" {
				t.Errorf("%s: got datagram %q, want none", st.what, got)
			}
			continue
		}
		lines := strings.Split(got, "\n")
		if len(lines) != len(st.want) {
			t.Errorf("%s: got %q, want the lines %q", st.what, got, st.want)
			continue
		}
		for i, w := range st.want {
			if !strings.HasPrefix(lines[i], w) || (!strings.HasSuffix(w, "=") && lines[i] != w) {
				t.Errorf("%s: line %d is %q, want %q", st.what, i, lines[i], w)
			}
		}
	}
}

// Another process's WATCHDOG_USEC (WATCHDOG_PID not ours) is not ours to
// honour; without NOTIFY_SOCKET nothing is sent, and the rounds go on.
func TestNotifyOutsideSystemd(t *testing.T) {
	s := newSupervisor(t)
	t.Setenv("WATCHDOG_USEC", "2000000")
	t.Setenv("WATCHDOG_PID", "1")
	if n := newNotifier(slog.New(slog.DiscardHandler)); n.watchdog != 0 {
		t.Errorf("watchdog %v for another pid", n.watchdog)
	}
	os.Unsetenv("NOTIFY_SOCKET")
	n := newNotifier(slog.New(slog.DiscardHandler))
	n.round(agent.Round{State: "mature", Settled: true})
	n.reloading()
	n.reloaded()
	if got := s.next(t, 100*time.Millisecond); got != "" {
		t.Errorf("sent %q without NOTIFY_SOCKET", got)
	}
}

// The test hook is inert unless its variable names an existing file.
func TestWedgeHookIsInert(t *testing.T) {
	t.Setenv(WedgeEnv, filepath.Join(t.TempDir(), "absent"))
	n := newNotifier(slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() {
		n.round(agent.Round{State: "mature"})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a round blocked with the wedge file absent")
	}
}

func TestStatusLineBoundsVIPNames(t *testing.T) {
	r := agent.Round{State: "mature", Settled: true, Quorum: agent.Quorum{Have: 3, Need: 2, OK: true}, Members: 3, VIPs: 9,
		Held: []string{"a", "b", "c", "d", "e", "f", "g"}}
	want := "mature; quorum 3/2; 3 members; holding 7 of 9 VIPs: a b c d e and 2 more"
	if got := statusLine(r); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	r.Settled = false
	if got := statusLine(r); !strings.HasPrefix(got, "mature, settling;") {
		t.Errorf("unsettled: %q", got)
	}
}
