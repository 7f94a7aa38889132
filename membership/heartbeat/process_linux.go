//go:build linux

package heartbeat

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// ordinary is the thread OnOrdinaryThread runs functions on.
var ordinary struct {
	once sync.Once
	tid  atomic.Int64 // 0 until the thread exists
	err  error
	work chan func()
}

func onOrdinaryThread(f func() error) error {
	ordinary.once.Do(startOrdinary)
	if ordinary.err != nil {
		return ordinary.err
	}
	errc := make(chan error, 1)
	ordinary.work <- func() { errc <- f() }
	return <-errc
}

// startOrdinary starts the goroutine that owns the ordinary thread; it
// never ends (a program started there may have a parent-death signal).
func startOrdinary() {
	ordinary.work = make(chan func())
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // for good: the thread is this goroutine's
		ordinary.tid.Store(int64(unix.Gettid()))
		err := setThreadOther(0)
		ready <- err
		if err != nil {
			return
		}
		for f := range ordinary.work {
			f()
		}
	}()
	ordinary.err = <-ready
}

func scheduleProcess(s Sched) error {
	// A thread created while we go through the list may have been cloned
	// from one not yet changed: go through it again until a pass finds
	// no thread it has not seen.
	done := map[int]bool{}
	for pass := 0; ; pass++ {
		tids, err := processThreads()
		if err != nil {
			return err
		}
		changed := false
		for _, tid := range tids {
			if done[tid] || int64(tid) == ordinary.tid.Load() {
				continue
			}
			done[tid], changed = true, true
			var err error
			if s.Policy == PolicyOther {
				err = setThreadOther(tid)
			} else {
				err = setSched(tid, s)
			}
			if errors.Is(err, unix.ESRCH) {
				continue // it ended meanwhile
			}
			if err != nil {
				return err
			}
		}
		if !changed {
			return nil
		}
		if pass == 100 {
			return fmt.Errorf("heartbeat: set %s on the process's threads: new threads keep appearing", s.Policy)
		}
	}
}

// processThreads lists the process's threads.
func processThreads() ([]int, error) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("heartbeat: list the process's threads: %w", err)
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}
