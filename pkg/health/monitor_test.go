package health

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
	"github.com/wackamole/wackamole/pkg/config"
)

// run starts m.Run and returns a function that stops it and checks that
// it returned and left no goroutine behind.
func run(t *testing.T, m *Monitor) (stop func()) {
	t.Helper()
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		m.Run(ctx)
		close(done)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
			testenv.Eventually(t, 5*time.Second, "the goroutines are gone", func() bool { return runtime.NumGoroutine() <= before })
		})
	}
	t.Cleanup(stop)
	return stop
}

// listener accepts and closes connections until closed.
func listener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
			c.Close()
		}
	}()
	return ln
}

func TestMonitorNoChecks(t *testing.T) {
	m := New(nil, nil, nil)
	if !m.Healthy() {
		t.Error("a node without checks is unhealthy")
	}
	if st := m.Status(); len(st) != 0 {
		t.Errorf("Status = %v", st)
	}
	stop := run(t, m)
	stop()
}

// TestMonitorRiseAndFall runs a tcp check against a listener that comes
// and goes.
func TestMonitorRiseAndFall(t *testing.T) {
	ln := listener(t)
	check := config.Check{
		Name: "web", Kind: config.CheckTCP, Address: ln.Addr().String(),
		Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond, Rise: 3, Fall: 2,
	}
	var changes atomic.Int32
	log, logs := testenv.Logger()
	m := New([]config.Check{check}, log, func() { changes.Add(1) })
	if m.Healthy() {
		t.Fatal("healthy before the first check")
	}
	st := m.Status()
	if len(st) != 1 || st[0].Name != "web" || st[0].Kind != "tcp" || st[0].Healthy || !st[0].LastCheck.IsZero() {
		t.Fatalf("initial Status = %+v", st)
	}

	start := time.Now()
	run(t, m)
	testenv.Eventually(t, 5*time.Second, "healthy", m.Healthy)
	// Rise 3 at 50 ms: at least 100 ms after the first run.
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("healthy after %v, before 3 runs", d)
	}
	testenv.Eventually(t, 5*time.Second, "onChange is called", func() bool { return changes.Load() == 1 })
	st = m.Status()
	if !st[0].Healthy || st[0].Successes < 3 || st[0].Failures != 0 || st[0].LastError != "" || st[0].LastChange.IsZero() {
		t.Errorf("Status = %+v", st[0])
	}

	ln.Close()
	testenv.Eventually(t, 5*time.Second, "unhealthy", func() bool { return !m.Healthy() })
	testenv.Eventually(t, 5*time.Second, "onChange is called", func() bool { return changes.Load() == 2 })
	st = m.Status()
	if st[0].Healthy || st[0].Failures < 2 || st[0].Successes != 0 || !strings.Contains(st[0].LastError, "connection refused") {
		t.Errorf("Status = %+v", st[0])
	}
	for _, want := range []string{
		`level=INFO msg="health check passing" check=web kind=tcp successes=3`,
		`level=WARN msg="health check failing" check=web kind=tcp failures=2 error=`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// TestMonitorAllChecks: the node is healthy only while every check is.
func TestMonitorAllChecks(t *testing.T) {
	ln := listener(t)
	log, logs := testenv.Logger()
	m := New([]config.Check{
		{Name: "up", Kind: config.CheckTCP, Address: ln.Addr().String(), Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond, Rise: 1, Fall: 1},
		{Name: "down", Kind: config.CheckExec, Command: []string{"/bin/false"}, Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond, Rise: 1, Fall: 1},
	}, log, nil)
	run(t, m)
	testenv.Eventually(t, 5*time.Second, "the tcp check passes", func() bool { return m.Status()[0].Healthy })
	testenv.Eventually(t, 5*time.Second, "the exec check ran twice", func() bool { return m.Status()[1].Failures >= 2 })
	if m.Healthy() {
		t.Error("healthy with a failing check")
	}
	// A check that never passed logs its first failure, once.
	const first = `msg="health check not passing yet; the node takes no VIPs until it does" check=down kind=exec error=`
	if n := strings.Count(logs.String(), first); n != 1 {
		t.Errorf("first failure logged %d times:\n%s", n, logs)
	}
}

// TestMonitorSlowCallback: a blocked onChange delays nothing but itself,
// and changes during it are coalesced into one more call.
func TestMonitorSlowCallback(t *testing.T) {
	ln := listener(t)
	release := make(chan struct{})
	var calls atomic.Int32
	m := New([]config.Check{{
		Name: "web", Kind: config.CheckTCP, Address: ln.Addr().String(),
		Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond, Rise: 1, Fall: 1,
	}}, slog.New(slog.DiscardHandler), func() {
		if calls.Add(1) == 1 {
			<-release
		}
	})
	stop := run(t, m)
	testenv.Eventually(t, 5*time.Second, "healthy", m.Healthy)
	testenv.Eventually(t, 5*time.Second, "onChange is called", func() bool { return calls.Load() == 1 })
	// Two more changes while onChange blocks.
	ln.Close()
	testenv.Eventually(t, 5*time.Second, "unhealthy", func() bool { return !m.Healthy() })
	ln2, err := net.Listen("tcp", ln.Addr().String())
	if err != nil {
		t.Skip("cannot listen on the same port again:", err)
	}
	defer ln2.Close()
	go func() {
		for {
			c, err := ln2.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	testenv.Eventually(t, 5*time.Second, "healthy again", m.Healthy)
	last := m.Status()[0].LastCheck
	testenv.Eventually(t, 5*time.Second, "checks go on", func() bool { return m.Status()[0].LastCheck.After(last) })
	close(release)
	testenv.Eventually(t, 5*time.Second, "one more onChange call", func() bool { return calls.Load() == 2 })
	time.Sleep(50 * time.Millisecond)
	if n := calls.Load(); n != 2 {
		t.Errorf("%d onChange calls, want 2", n)
	}
	ln2.Close() // its goroutine came after run's count
	stop()
}

// TestMonitorCancelKillsChecks: cancelling Run kills a running exec check
// and does not count it as a failure.
func TestMonitorCancelKillsChecks(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	name := script(t, "echo $$ > "+pidFile+"\nexec sleep 30")
	m := New([]config.Check{{
		Name: "slow", Kind: config.CheckExec, Command: []string{name},
		Interval: 400 * time.Millisecond, Timeout: 300 * time.Millisecond, Rise: 1, Fall: 1,
	}}, slog.New(slog.DiscardHandler), nil)
	stop := run(t, m)
	pid := readPID(t, pidFile)
	stop()
	waitDead(t, pid, "the check")
	if st := m.Status()[0]; !st.LastCheck.IsZero() || st.Failures != 0 {
		t.Errorf("an interrupted run was recorded: %+v", st)
	}
}

// TestMonitorRunTwice: a second Run while one runs returns at once; Run
// may run again after it returned.
func TestMonitorRunTwice(t *testing.T) {
	ln := listener(t)
	m := New([]config.Check{{
		Name: "web", Kind: config.CheckTCP, Address: ln.Addr().String(),
		Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond, Rise: 1, Fall: 1,
	}}, slog.New(slog.DiscardHandler), nil)
	stop := run(t, m)
	testenv.Eventually(t, 5*time.Second, "Run runs", m.running.Load)
	done := make(chan struct{})
	go func() {
		m.Run(context.Background())
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("a second Run did not return")
	}
	testenv.Eventually(t, 5*time.Second, "healthy", m.Healthy)
	stop()
	run(t, m)
	last := m.Status()[0].LastCheck
	testenv.Eventually(t, 5*time.Second, "checks run again", func() bool { return m.Status()[0].LastCheck.After(last) })
}

// TestMonitorRepairs: out-of-range values from a config that skipped
// validation neither panic nor spin.
func TestMonitorRepairs(t *testing.T) {
	m := New([]config.Check{{Name: "odd", Kind: config.CheckTCP, Address: "127.0.0.1:1", Interval: -1, Timeout: 0, Rise: 0, Fall: -3}}, slog.New(slog.DiscardHandler), nil)
	c := m.checks[0].cfg
	if c.Interval != config.DefaultCheckInterval || c.Timeout != config.DefaultCheckInterval/2 {
		t.Errorf("interval %v, timeout %v", c.Interval, c.Timeout)
	}
	stop := run(t, m)
	stop()
}

// TestMonitorConcurrentReads exercises Healthy and Status during runs,
// for the race detector.
func TestMonitorConcurrentReads(t *testing.T) {
	ln := listener(t)
	var checks []config.Check
	for i := range 4 {
		checks = append(checks, config.Check{
			Name: "c" + string(rune('0'+i)), Kind: config.CheckTCP, Address: ln.Addr().String(),
			Interval: 20 * time.Millisecond, Timeout: 15 * time.Millisecond, Rise: 1, Fall: 1,
		})
	}
	m := New(checks, slog.New(slog.DiscardHandler), func() {})
	run(t, m)
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		m.Healthy()
		m.Status()
	}
	testenv.Eventually(t, 5*time.Second, "healthy", m.Healthy)
}
