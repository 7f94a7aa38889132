package hooks

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
	"github.com/wackamole/wackamole/pkg/config"
)

// script writes a shell script to dir and returns its name.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func exists(name string) func() bool {
	return func() bool {
		_, err := os.Stat(name)
		return err == nil
	}
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// newTest returns a Runner that is closed, and checked for leftover
// goroutines, at the end of the test.
func newTest(t *testing.T, cfg config.Hooks, log *slog.Logger, queueSize int) *Runner {
	t.Helper()
	before := runtime.NumGoroutine()
	r := newRunner(cfg, log, queueSize)
	t.Cleanup(func() {
		r.Close()
		testenv.Eventually(t, 5*time.Second, "the workers are gone", func() bool { return runtime.NumGoroutine() <= before })
	})
	return r
}

func checkCounts(t *testing.T, r *Runner, ran, failed, dropped uint64) {
	t.Helper()
	if a, b, c := r.Counts(); a != ran || b != failed || c != dropped {
		t.Errorf("Counts = %d ran, %d failed, %d dropped; want %d, %d, %d", a, b, c, ran, failed, dropped)
	}
}

// TestEnvironment: the hook gets its arguments and exactly the documented
// environment, nothing of the daemon's.
func TestEnvironment(t *testing.T) {
	t.Setenv("WACKAMOLE_TEST_LEAK", "1")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	hook := script(t, dir, "acquire", `{ echo "argv: $0|$1|$2|$#"; echo "cwd: $(pwd)"; env; } > `+out+".tmp && mv "+out+".tmp "+out+"\n")
	log, logs := testenv.Logger()
	r := newTest(t, config.Hooks{OnAcquire: hook, Timeout: 5 * time.Second}, log, QueueSize)
	r.Run(Event{
		Kind: Acquire, VIP: "www-1",
		Addresses:  []string{"198.18.1.10/32", "2001:db8::10/128"},
		Interfaces: []string{"eth0", "eth1"},
		Reason:     "orphan of web2", Node: "web1",
	})
	r.Close()
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	wantHead := []string{"argv: " + hook + "|acquire|www-1|2", "cwd: /"}
	if len(lines) < 2 || !slices.Equal(lines[:2], wantHead) {
		t.Errorf("got %q, want %q", lines, wantHead)
	}
	var env []string
	for _, l := range lines[2:] {
		if !strings.HasPrefix(l, "PWD=") { // the shell's own
			env = append(env, l)
		}
	}
	slices.Sort(env)
	want := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"WACKAMOLE_ADDRESSES=198.18.1.10/32 2001:db8::10/128",
		"WACKAMOLE_EVENT=acquire",
		"WACKAMOLE_INTERFACES=eth0 eth1",
		"WACKAMOLE_NODE=web1",
		"WACKAMOLE_REASON=orphan of web2",
		"WACKAMOLE_VIP=www-1",
	}
	if !slices.Equal(env, want) {
		t.Errorf("environment:\n%s\nwant:\n%s", strings.Join(env, "\n"), strings.Join(want, "\n"))
	}
	checkCounts(t, r, 1, 0, 0)
	if !strings.Contains(logs.String(), `level=INFO msg="hook ran" event=acquire vip=www-1 hook=`+hook) {
		t.Errorf("log:\n%s", logs)
	}
}

// TestOrder: acquire and release events run in the order they came,
// one at a time.
func TestOrder(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	// A short sleep between two writes would show overlapping runs.
	body := `echo "start $1 $2" >> ` + out + "\nsleep 0.01\necho \"end $1 $2\" >> " + out + "\n"
	cfg := config.Hooks{
		OnAcquire: script(t, dir, "acquire", body),
		OnRelease: script(t, dir, "release", body),
		Timeout:   5 * time.Second,
	}
	r := newTest(t, cfg, slog.New(slog.DiscardHandler), QueueSize)
	var want []string
	for i := range 20 {
		kind := Acquire
		if i%2 == 1 {
			kind = Release
		}
		vip := fmt.Sprintf("v%d", i/2)
		r.Run(Event{Kind: kind, VIP: vip})
		want = append(want, "start "+kind+" "+vip, "end "+kind+" "+vip)
	}
	r.Close()
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSpace(string(data)), "\n"); !slices.Equal(got, want) {
		t.Errorf("runs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	checkCounts(t, r, 20, 0, 0)
}

// TestFailures: non-zero exit, a signal and a program that cannot run are
// failures, logged with the first line of stderr.
func TestFailures(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "plain")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, hook, log string
	}{
		{"exit status", script(t, dir, "exit", "echo 'cannot reach the router' >&2\necho more >&2\nexit 3"), `error="exit status 3: cannot reach the router"`},
		{"signal", script(t, dir, "signal", "kill -KILL $$"), `error="signal: killed"`},
		{"not executable", notExec, "permission denied"},
		{"missing", filepath.Join(dir, "missing"), "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, logs := testenv.Logger()
			r := newTest(t, config.Hooks{OnRelease: tt.hook, Timeout: 5 * time.Second}, log, QueueSize)
			r.Run(Event{Kind: Release, VIP: "www-1"})
			r.Close()
			checkCounts(t, r, 1, 1, 0)
			if !strings.Contains(logs.String(), `level=ERROR msg="hook failed" event=release vip=www-1`) || !strings.Contains(logs.String(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, logs)
			}
		})
	}
}

// TestTimeout: a hook that runs too long is killed with its process
// group, and the next event runs.
func TestTimeout(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	out := filepath.Join(dir, "out")
	hook := script(t, dir, "hook", `if [ "$2" = slow ]; then sleep 30 & echo $! > `+pidFile+"; wait; fi\necho \"$2\" >> "+out+"\n")
	log, logs := testenv.Logger()
	r := newTest(t, config.Hooks{OnConflict: hook, Timeout: 300 * time.Millisecond}, log, QueueSize)
	start := time.Now()
	r.Run(Event{Kind: Conflict, VIP: "slow"})
	r.Run(Event{Kind: Conflict, VIP: "fast"})
	testenv.Eventually(t, 5*time.Second, "the next event ran", exists(out))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the next event ran after %v", d)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	testenv.Eventually(t, 5*time.Second, "the hook's child is killed", func() bool { return !alive(pid) })
	r.Close()
	checkCounts(t, r, 2, 1, 0)
	if !strings.Contains(logs.String(), `error="timed out after 300ms (killed)"`) {
		t.Errorf("log:\n%s", logs)
	}
}

// TestQueueFull: Run never blocks; with the worker busy and the queue
// full, events are dropped, logged and counted.
func TestQueueFull(t *testing.T) {
	dir := t.TempDir()
	gate, started := filepath.Join(dir, "gate"), filepath.Join(dir, "started")
	hook := script(t, dir, "hook", "touch "+started+"\nwhile ! [ -e "+gate+" ]; do sleep 0.01; done\n")
	log, logs := testenv.Logger()
	r := newTest(t, config.Hooks{OnAcquire: hook, Timeout: 10 * time.Second}, log, QueueSize)
	r.Run(Event{Kind: Acquire, VIP: "first"})
	testenv.Eventually(t, 5*time.Second, "the first hook runs", exists(started))
	start := time.Now()
	for i := range QueueSize + 3 {
		r.Run(Event{Kind: Acquire, VIP: fmt.Sprint(i)})
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run blocked for %v", d)
	}
	checkCounts(t, r, 0, 0, 3)
	if n := strings.Count(logs.String(), `msg="hook queue full: event dropped" event=acquire`); n != 3 {
		t.Errorf("%d drops logged, want 3:\n%s", n, logs)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r.Close()
	checkCounts(t, r, QueueSize+1, 0, 3)
}

// TestQueuesIndependent: a hung acquire hook does not hold up conflict
// hooks.
func TestQueuesIndependent(t *testing.T) {
	dir := t.TempDir()
	gate, out := filepath.Join(dir, "gate"), filepath.Join(dir, "out")
	cfg := config.Hooks{
		OnAcquire:  script(t, dir, "acquire", "while ! [ -e "+gate+" ]; do sleep 0.01; done\n"),
		OnConflict: script(t, dir, "conflict", "touch "+out+"\n"),
		Timeout:    10 * time.Second,
	}
	r := newTest(t, cfg, slog.New(slog.DiscardHandler), QueueSize)
	r.Run(Event{Kind: Acquire, VIP: "a"})
	r.Run(Event{Kind: Conflict, VIP: "a"})
	testenv.Eventually(t, 5*time.Second, "the conflict hook ran", exists(out))
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r.Close()
	checkCounts(t, r, 2, 0, 0)
}

// TestCloseBound: Close waits for queued hooks at most its bound, then
// kills the running one and drops the rest.
func TestCloseBound(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	hook := script(t, dir, "hook", "echo $$ > "+pidFile+".tmp && mv "+pidFile+".tmp "+pidFile+"\nexec sleep 30\n")
	log, logs := testenv.Logger()
	r := newTest(t, config.Hooks{OnRelease: hook, Timeout: time.Minute}, log, QueueSize)
	r.closeWait = 200 * time.Millisecond
	for i := range 3 {
		r.Run(Event{Kind: Release, VIP: fmt.Sprint(i)})
	}
	testenv.Eventually(t, 5*time.Second, "the first hook runs", exists(pidFile))
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	start := time.Now()
	r.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if alive(pid) {
		t.Errorf("the hook (pid %d) survived Close", pid)
	}
	checkCounts(t, r, 1, 1, 2)
	if !strings.Contains(logs.String(), `msg="hooks still running at shutdown were killed" waited=200ms dropped=2`) {
		t.Errorf("log:\n%s", logs)
	}

	// After Close, events are dropped; Close again does nothing.
	r.Run(Event{Kind: Release, VIP: "late"})
	r.Close()
	checkCounts(t, r, 1, 1, 3)
}

// TestNoHooks: without hooks nothing runs, nothing is counted, and there
// are no workers.
func TestNoHooks(t *testing.T) {
	r := newTest(t, config.Hooks{}, slog.New(slog.DiscardHandler), QueueSize)
	for _, k := range []string{Acquire, Release, Conflict} {
		r.Run(Event{Kind: k, VIP: "a"})
	}
	r.Close()
	checkCounts(t, r, 0, 0, 0)
	if len(r.queues) != 0 {
		t.Errorf("queues: %v", r.queues)
	}
}

func TestUnknownKind(t *testing.T) {
	log, logs := testenv.Logger()
	r := newTest(t, config.Hooks{OnAcquire: "/bin/true"}, log, QueueSize)
	r.Run(Event{Kind: "move", VIP: "a"})
	checkCounts(t, r, 0, 0, 1)
	if !strings.Contains(logs.String(), `msg="hook event of unknown kind dropped" event=move`) {
		t.Errorf("log:\n%s", logs)
	}
	if r.timeout != config.DefaultHookTimeout {
		t.Errorf("timeout %v, want the default", r.timeout)
	}
}

// TestConcurrentRunAndClose, for the race detector: Run from many
// goroutines while Close runs never panics (no send on a closed queue).
func TestConcurrentRunAndClose(t *testing.T) {
	r := newTest(t, config.Hooks{OnAcquire: "/bin/true", OnConflict: "/bin/true", Timeout: 5 * time.Second}, slog.New(slog.DiscardHandler), 4)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				kind := Acquire
				if (i+j)%2 == 0 {
					kind = Conflict
				}
				r.Run(Event{Kind: kind, VIP: "a"})
			}
		})
	}
	time.Sleep(10 * time.Millisecond)
	r.Close()
	wg.Wait()
	if ran, _, dropped := r.Counts(); ran+dropped != 200 {
		t.Errorf("ran %d + dropped %d != 200 events", ran, dropped)
	}
}
