//go:build linux

package heartbeat

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// setThreadSched applies s to the calling thread.
func setThreadSched(s Sched) error { return setSched(0, s) }

// setSched applies s to thread tid (0: the calling one) with
// sched_setattr(2).
func setSched(tid int, s Sched) error {
	policy := uint32(unix.SCHED_FIFO)
	if s.Policy == PolicyRR {
		policy = unix.SCHED_RR
	}
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: policy, Priority: uint32(s.Priority)}
	err := unix.SchedSetAttr(tid, &attr, 0)
	if tid == 0 {
		tid = unix.Gettid()
	}
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("heartbeat: set %s priority %d on thread %d: %w (realtime scheduling needs CAP_SYS_NICE or RLIMIT_RTPRIO >= %d, and a cgroup and systemd unit that allow it: RestrictRealtime=no)",
			s.Policy, s.Priority, tid, err, s.Priority)
	}
	if err != nil {
		return fmt.Errorf("heartbeat: set %s priority %d on thread %d: %w", s.Policy, s.Priority, tid, err)
	}
	return nil
}

// resetThreadSched gives the calling thread the process's policy back:
// ScheduleProcess's, or the normal one.
func resetThreadSched() error {
	if s, _ := processSched.Load().(Sched); s.Policy != PolicyOther {
		return setThreadSched(s)
	}
	return setThreadOther(0)
}

// setThreadOther gives thread tid (0: the calling one), if realtime,
// SCHED_OTHER back at its own nice value: no privilege is needed to lower
// a policy.
func setThreadOther(tid int) error {
	attr, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		return fmt.Errorf("heartbeat: sched_getattr: %w", err)
	}
	if attr.Policy != unix.SCHED_FIFO && attr.Policy != unix.SCHED_RR {
		return nil
	}
	// The raw system call returns 20 - nice; a realtime thread keeps the
	// nice value it had.
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return fmt.Errorf("heartbeat: getpriority: %w", err)
	}
	other := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL, Nice: int32(20 - prio)}
	if err := unix.SchedSetAttr(tid, &other, 0); err != nil {
		if tid == 0 {
			tid = unix.Gettid()
		}
		return fmt.Errorf("heartbeat: reset thread %d to SCHED_OTHER: %w", tid, err)
	}
	return nil
}

// LockMemory locks every page of the process in memory, now and in future
// (mlockall(2) with MCL_CURRENT and MCL_FUTURE), so that the heartbeat
// never waits for a page to come back from swap or a dropped file page
// (the program's own text) to be read again: what keepalived's
// vrrp_no_swap does. It costs resident memory: the whole process stays in
// RAM, and the Go heap's future growth too.
//
// It needs CAP_IPC_LOCK, or an RLIMIT_MEMLOCK above the process's size.
// Safe to call from any goroutine, once per process.
func LockMemory() error {
	err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("heartbeat: lock memory: %w (mlockall needs CAP_IPC_LOCK)", err)
	case errors.Is(err, unix.ENOMEM):
		var lim unix.Rlimit
		_ = unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim)
		return fmt.Errorf("heartbeat: lock memory: %w (RLIMIT_MEMLOCK is %d bytes, below the process's size; raise it, e.g. LimitMEMLOCK=infinity, or grant CAP_IPC_LOCK)", err, lim.Cur)
	default:
		return fmt.Errorf("heartbeat: lock memory: %w", err)
	}
}
