//go:build linux

package heartbeat

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestScheduleProcess runs, in a process of its own (it changes every
// thread), ScheduleProcess and the checks of childScheduleProcess: every
// thread realtime, also those created later, programs started from
// OnOrdinaryThread ordinary and those started elsewhere realtime (what
// OnOrdinaryThread is for), UnlockThread giving the process's policy back,
// and the zero Sched undoing it all.
func TestScheduleProcess(t *testing.T) {
	needRoot(t)
	out := runChild(t, "process")
	if strings.TrimSpace(out) != "ok" {
		t.Fatalf("child:\n%s", out)
	}
}

func childScheduleProcess() int {
	var failed []string
	check := func(what string, err error) {
		if err != nil {
			failed = append(failed, what+": "+err.Error())
		}
	}
	fifo := Sched{Policy: PolicyFIFO, Priority: 2}
	check("ScheduleProcess", ScheduleProcess(fifo))
	check("threads after ScheduleProcess", everyThread(fifo))
	// The ordinary thread, once it exists, is left alone by another
	// ScheduleProcess.
	check("ordinary thread", OnOrdinaryThread(func() error { return nil }))
	check("ScheduleProcess again", ScheduleProcess(fifo))
	check("threads after the second ScheduleProcess", everyThread(fifo))
	// New threads: goroutines locked to threads of their own make the
	// runtime start some.
	before, _ := processThreads()
	var wg sync.WaitGroup
	hold := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			runtime.LockOSThread()
			wg.Done()
			<-hold
			runtime.UnlockOSThread()
		}()
	}
	wg.Wait()
	after, _ := processThreads()
	if len(after) <= len(before) {
		check("new threads", fmt.Errorf("%d threads before, %d after: none was created", len(before), len(after)))
	}
	check("threads created later", everyThread(fifo))
	close(hold)
	// Programs: from the ordinary thread and from any other.
	policyOf := func(start func(*exec.Cmd) error) (Sched, error) {
		cmd := exec.Command("sleep", "5")
		if err := start(cmd); err != nil {
			return Sched{}, err
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		return schedOf(cmd.Process.Pid)
	}
	got, err := policyOf(func(cmd *exec.Cmd) error { return OnOrdinaryThread(cmd.Start) })
	check("program from the ordinary thread", err)
	if err == nil && got != (Sched{}) {
		check("program from the ordinary thread", fmt.Errorf("runs %+v, want the normal policy", got))
	}
	got, err = policyOf(func(cmd *exec.Cmd) error { return cmd.Start() })
	check("program from another thread", err)
	if err == nil && got != fifo {
		check("program from another thread", fmt.Errorf("runs %+v, want %+v (inherited: else OnOrdinaryThread is not needed)", got, fifo))
	}
	// A heartbeat thread at a higher priority, unlocked: back to the
	// process's policy.
	done := make(chan error)
	go func() {
		if err := LockThread(Sched{Policy: PolicyFIFO, Priority: 3}); err != nil {
			done <- err
			return
		}
		if err := UnlockThread(); err != nil {
			done <- err
			return
		}
		s, err := threadSched()
		if err == nil && s != fifo {
			err = fmt.Errorf("after UnlockThread the thread runs %+v, want the process's %+v", s, fifo)
		}
		done <- err
	}()
	check("UnlockThread", <-done)
	check("ScheduleProcess(Sched{})", ScheduleProcess(Sched{}))
	check("threads after ScheduleProcess(Sched{})", everyThread(Sched{}))
	if len(failed) > 0 {
		fmt.Println(strings.Join(failed, "\n"))
		return 1
	}
	fmt.Println("ok")
	return 0
}

// everyThread checks that every thread but the ordinary one runs s, and
// the ordinary one the normal policy.
func everyThread(s Sched) error {
	tids, err := processThreads()
	if err != nil {
		return err
	}
	var wrong []string
	for _, tid := range tids {
		want := s
		if int64(tid) == ordinary.tid.Load() {
			want = Sched{}
		}
		got, err := schedOf(tid)
		if err != nil {
			continue // ended meanwhile
		}
		if got != want {
			wrong = append(wrong, fmt.Sprintf("thread %d runs %+v, want %+v", tid, got, want))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("%d of %d threads: %s", len(wrong), len(tids), strings.Join(wrong, "; "))
	}
	return nil
}
