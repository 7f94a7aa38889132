package heartbeat

import "sync/atomic"

// Why the whole process: a heartbeat thread at realtime priority is not
// enough in Go. The runtime preempts a goroutine that has run for 10 ms
// (the polled loop's, which sleeps without giving up its P, always has),
// and a goroutine locked to its thread that is preempted, or that waits
// for a mutex, a channel or a P, is handed back to its thread by another
// of the runtime's threads: one at normal priority, which a busy host (or
// a CPU quota on the daemon) can keep from running for tens of
// milliseconds. In the e2e lab, with only the heartbeat threads at
// realtime priority, a fast node held to 2 % of a CPU lost its VIP 3 to 16
// times in 20 s; with every thread of the daemons at realtime priority, 0
// or 1 times (see TestCPUStarvedOwner; what remains is the VM's own
// stalls, 40-60 ms now and then under load, which a C program sees at any
// priority).

// processSched is what ScheduleProcess applied, for UnlockThread to give a
// thread back (a Sched; the zero value is the normal policy).
var processSched atomic.Value

// ScheduleProcess applies s to every thread of the process, so that none
// of the threads the heartbeat threads depend on (see above) waits behind
// the rest of the host. Threads the runtime creates later are cloned from
// these and inherit s. Programs the process starts inherit the policy of
// the thread that starts them: start them with OnOrdinaryThread, from the
// one thread of the process that runs at the normal policy. The zero Sched
// gives every thread the normal policy back (at the process's nice value).
//
// The risk is that of any realtime process: a bug that spins starves the
// normal work on its CPU (the kernel's realtime throttling,
// sched_rt_runtime_us, leaves it 5 % by default). A process whose threads
// block between packets, as the daemon's do, does not come near it.
//
// On error (without the privilege, the first thread already refuses) the
// threads changed so far get the normal policy back. Call it once, early,
// before the process starts programs.
func ScheduleProcess(s Sched) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := scheduleProcess(s); err != nil {
		if s.Policy != PolicyOther {
			_ = scheduleProcess(Sched{}) // nothing half-applied
		}
		return err
	}
	processSched.Store(s)
	return nil
}

// OnOrdinaryThread runs f, and returns its error, on a thread of the
// normal policy: a program started there (exec.Cmd.Start) runs at the
// normal policy, not at the realtime one ScheduleProcess gave the process.
// Once ScheduleProcess has made the process realtime, that is one thread
// that lives as long as the process (a parent-death signal,
// SysProcAttr.Pdeathsig, which follows the thread that started the
// program, then comes only when the process ends), and one f runs there
// at a time; before, f runs on the caller's thread, which is already
// ordinary. f must not block for long. Safe for concurrent use.
func OnOrdinaryThread(f func() error) error {
	if s, _ := processSched.Load().(Sched); s.Policy == PolicyOther {
		return f()
	}
	return onOrdinaryThread(f)
}
