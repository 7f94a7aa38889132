package heartbeat

import (
	"fmt"
	"runtime"
)

// Policy is a Linux scheduling policy for a thread (sched(7)).
type Policy uint8

// Scheduling policies.
const (
	// PolicyOther is the default time-sharing policy: nothing is changed.
	PolicyOther Policy = iota
	// PolicyFIFO is SCHED_FIFO: the thread runs before every normal
	// thread until it blocks, and before realtime threads of lower
	// priority.
	PolicyFIFO
	// PolicyRR is SCHED_RR: SCHED_FIFO with a time slice among threads
	// of the same priority.
	PolicyRR
)

var policyNames = [...]string{PolicyOther: "SCHED_OTHER", PolicyFIFO: "SCHED_FIFO", PolicyRR: "SCHED_RR"}

// String returns the policy's name as sched(7) spells it.
func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// Sched is how the threads that send and receive heartbeats are
// scheduled. The zero value changes nothing.
//
// A realtime policy keeps the heartbeat running on a host whose CPUs the
// rest of the machine (or the rest of the daemon) keeps busy, which would
// otherwise delay beats until peers declare this node failed. Its risk is
// the usual one of realtime threads: a realtime thread that spins starves
// the normal ones on its CPU (the kernel's realtime throttling,
// sched_rt_runtime_us, leaves them 5 % by default). The threads that run
// here block on the socket or a timer between packets. Pick a modest
// priority, as keepalived (vrrp_rt_priority) and corosync do, below the
// kernel's own realtime threads (50 and up).
type Sched struct {
	Policy Policy
	// Priority is the realtime priority, 1 (lowest) to 99, for
	// PolicyFIFO and PolicyRR; it must be 0 for PolicyOther.
	Priority int
}

// Validate reports whether s is a policy and priority Linux accepts. Sched
// and Policy are plain values, safe for concurrent use.
func (s Sched) Validate() error {
	switch s.Policy {
	case PolicyOther:
		if s.Priority != 0 {
			return fmt.Errorf("heartbeat: %s takes no priority, got %d", s.Policy, s.Priority)
		}
	case PolicyFIFO, PolicyRR:
		if s.Priority < 1 || s.Priority > 99 {
			return fmt.Errorf("heartbeat: %s priority must be 1 to 99, got %d", s.Policy, s.Priority)
		}
	default:
		return fmt.Errorf("heartbeat: unknown scheduling policy %d", uint8(s.Policy))
	}
	return nil
}

// LockThread locks the calling goroutine to its OS thread
// (runtime.LockOSThread) and applies s to that thread. It is how a
// heartbeat sender goroutine starts; the transport's receive goroutine
// does the same with Config.Sched.
//
// End it with UnlockThread, which gives the thread the process's policy
// back before unlocking it, or by returning from the goroutine while
// still locked: the Go runtime then ends the thread (or, if it is the
// process's main thread, parks it for good), so a realtime policy never
// passes to other goroutines. Do not call runtime.UnlockOSThread instead.
// Threads the runtime creates meanwhile do not inherit the policy: a
// locked thread has them created by another one. On error the thread is
// locked and its policy unchanged.
//
// It concerns the caller's thread only; safe to call from any goroutine.
func LockThread(s Sched) error {
	if err := s.Validate(); err != nil {
		return err
	}
	runtime.LockOSThread()
	if s.Policy == PolicyOther {
		return nil
	}
	return setThreadSched(s)
}

// UnlockThread undoes LockThread: it gives the calling thread the
// process's policy back (ScheduleProcess's, or SCHED_OTHER at the
// thread's nice value) and unlocks the goroutine from it. If the policy cannot be reset, the goroutine stays
// locked and UnlockThread returns the error: return from the goroutine
// then, and the thread ends with it. It concerns the caller's thread only.
func UnlockThread() error {
	if err := resetThreadSched(); err != nil {
		return err
	}
	runtime.UnlockOSThread()
	return nil
}
