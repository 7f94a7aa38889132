//go:build linux

package heartbeat

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary run one of the child functions below
// instead of the tests: what must happen in a process of its own (locking
// all memory, losing privileges for good).
const childEnv = "HEARTBEAT_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "unprivileged":
		os.Exit(childUnprivileged())
	case "lockmemory":
		os.Exit(childLockMemory())
	case "node":
		os.Exit(childNode())
	case "sender":
		os.Exit(childSender())
	case "process":
		os.Exit(childScheduleProcess())
	default:
		fmt.Fprintln(os.Stderr, "unknown child", os.Getenv(childEnv))
		os.Exit(2)
	}
}

// needRoot skips a test without root, unless WACKAMOLE_E2E=1 asks for
// every root test to run, then it fails.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("WACKAMOLE_E2E") == "1" {
		t.Fatal("this test needs root (WACKAMOLE_E2E=1)")
	}
	t.Skip("needs root")
}

// realtimeThreads returns the threads of this process with a realtime
// policy.
func realtimeThreads(t *testing.T) []int {
	t.Helper()
	tids, err := processThreads()
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, tid := range tids {
		s, err := schedOf(tid)
		if err != nil {
			continue // the thread ended meanwhile
		}
		if s.Policy != PolicyOther {
			out = append(out, tid)
		}
	}
	return out
}

// threadSched returns the calling thread's policy and priority.
func threadSched() (Sched, error) { return schedOf(0) }

// schedOf returns thread (or process) tid's policy and priority; 0 is the
// calling thread.
func schedOf(tid int) (Sched, error) {
	attr, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		return Sched{}, fmt.Errorf("heartbeat: sched_getattr: %w", err)
	}
	switch attr.Policy {
	case unix.SCHED_FIFO:
		return Sched{Policy: PolicyFIFO, Priority: int(attr.Priority)}, nil
	case unix.SCHED_RR:
		return Sched{Policy: PolicyRR, Priority: int(attr.Priority)}, nil
	}
	return Sched{}, nil
}

func TestSchedValidate(t *testing.T) {
	for _, tt := range []struct {
		s  Sched
		ok bool
	}{
		{Sched{}, true},
		{Sched{Policy: PolicyFIFO, Priority: 1}, true},
		{Sched{Policy: PolicyRR, Priority: 99}, true},
		{Sched{Policy: PolicyFIFO}, false},
		{Sched{Policy: PolicyRR, Priority: 100}, false},
		{Sched{Priority: 5}, false},
		{Sched{Policy: 7, Priority: 5}, false},
	} {
		if err := tt.s.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: %v", tt.s, err)
		}
	}
	if PolicyFIFO.String() != "SCHED_FIFO" || Policy(9).String() != "policy(9)" {
		t.Error("policy names")
	}
}

// TestLockThreadRealtime applies SCHED_FIFO and SCHED_RR to a locked
// goroutine's thread, and UnlockThread gives it back in its normal state.
func TestLockThreadRealtime(t *testing.T) {
	needRoot(t)
	if rt := realtimeThreads(t); len(rt) != 0 {
		t.Fatalf("realtime threads before the test: %v", rt)
	}
	for _, s := range []Sched{{Policy: PolicyFIFO, Priority: 1}, {Policy: PolicyRR, Priority: 2}} {
		done := make(chan error)
		go func() {
			niceBefore, _ := unix.Getpriority(unix.PRIO_PROCESS, 0)
			if err := LockThread(s); err != nil {
				done <- err
				return
			}
			got, err := threadSched()
			if err == nil && got != s {
				err = fmt.Errorf("thread runs %+v, want %+v", got, s)
			}
			if err == nil && len(realtimeThreads(t)) != 1 {
				err = fmt.Errorf("realtime threads %v, want this one (%d)", realtimeThreads(t), unix.Gettid())
			}
			if err == nil {
				err = UnlockThread()
			}
			if got, _ := threadSched(); err == nil && got != (Sched{}) {
				err = fmt.Errorf("after UnlockThread the thread runs %+v", got)
			}
			if nice, _ := unix.Getpriority(unix.PRIO_PROCESS, 0); err == nil && nice != niceBefore {
				err = fmt.Errorf("nice value %d after UnlockThread, %d before", 20-nice, 20-niceBefore)
			}
			done <- err
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if rt := realtimeThreads(t); len(rt) != 0 {
			t.Fatalf("realtime threads after UnlockThread: %v", rt)
		}
	}
}

// TestListenRealtime runs the receive goroutine at SCHED_FIFO: exactly
// one realtime thread while the transport is open, none after Close, and
// beats still flow.
func TestListenRealtime(t *testing.T) {
	needRoot(t)
	rec := &recorder{}
	c := config("b", rec, key1)
	c.Sched = Sched{Policy: PolicyFIFO, Priority: 1}
	tr, err := Listen(c)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if rt := realtimeThreads(t); len(rt) != 1 {
		t.Fatalf("realtime threads: %v, want one", rt)
	}
	hears(t, newNode(t, "a", key1), node{tr, rec})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "no realtime thread after Close", func() bool { return len(realtimeThreads(t)) == 0 })
}

// runChild runs the test binary as one of the children and returns its
// output.
func runChild(t *testing.T, mode string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
	return string(out)
}

// TestNotPermitted: without the privileges, realtime scheduling and
// memory locking fail with errors that say what is missing.
func TestNotPermitted(t *testing.T) {
	needRoot(t) // to drop the privileges in the child
	out := runChild(t, "unprivileged")
	for _, want := range []string{
		"LockThread: heartbeat: set SCHED_FIFO priority 1 on thread",
		"operation not permitted (realtime scheduling needs CAP_SYS_NICE",
		"Listen: heartbeat: set SCHED_RR priority 3 on thread",
		"LockMemory: heartbeat: lock memory: cannot allocate memory (RLIMIT_MEMLOCK is 65536 bytes",
		"ScheduleProcess: heartbeat: set SCHED_FIFO priority 1 on thread",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
}

func childUnprivileged() int {
	for _, l := range []struct {
		res int
		max uint64
	}{{unix.RLIMIT_RTPRIO, 0}, {unix.RLIMIT_MEMLOCK, 64 << 10}} {
		if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: l.max, Max: l.max}); err != nil {
			fmt.Println("setrlimit:", err)
			return 1
		}
	}
	// Leaving uid 0 drops every capability, on every thread.
	if err := syscall.Setgroups(nil); err != nil {
		fmt.Println("setgroups:", err)
		return 1
	}
	if err := syscall.Setresgid(65534, 65534, 65534); err != nil {
		fmt.Println("setresgid:", err)
		return 1
	}
	if err := syscall.Setresuid(65534, 65534, 65534); err != nil {
		fmt.Println("setresuid:", err)
		return 1
	}
	errc := make(chan error)
	go func() { errc <- LockThread(Sched{Policy: PolicyFIFO, Priority: 1}) }()
	fmt.Println("LockThread:", <-errc)
	c := config("x", nil, nil)
	c.Sched = Sched{Policy: PolicyRR, Priority: 3}
	tr, err := Listen(c)
	if err == nil {
		tr.Close()
	}
	fmt.Println("Listen:", err)
	fmt.Println("LockMemory:", LockMemory())
	fmt.Println("ScheduleProcess:", ScheduleProcess(Sched{Policy: PolicyFIFO, Priority: 1}))
	return 0
}

// TestLockMemory locks a process's memory and reads the kernel's count
// of locked memory back.
func TestLockMemory(t *testing.T) {
	needRoot(t)
	out := runChild(t, "lockmemory")
	if !strings.HasPrefix(out, "locked ") {
		t.Fatalf("child: %s", out)
	}
	kb, err := strconv.Atoi(strings.Fields(out)[1])
	if err != nil || kb < 1024 {
		t.Fatalf("VmLck %q: want at least 1 MB locked", out)
	}
}

func childLockMemory() int {
	if err := LockMemory(); err != nil {
		fmt.Println(err)
		return 1
	}
	runtime.GC()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if kb, ok := strings.CutPrefix(sc.Text(), "VmLck:"); ok {
			fmt.Println("locked", strings.TrimSuffix(strings.TrimSpace(kb), " kB"))
			return 0
		}
	}
	fmt.Println("no VmLck in /proc/self/status")
	return 1
}
