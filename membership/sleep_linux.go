package membership

import (
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sleepUntil blocks the calling thread until t (CLOCK_MONOTONIC) and returns
// the time it woke, for the polled heartbeat loop on its locked thread.
//
// It sleeps in clock_nanosleep(2) entered as a raw system call, which the
// Go runtime does not see: the goroutine keeps its P while it sleeps, so
// no runtime thread is woken to take the P over and give it back at every
// beat. (Entered as an ordinary system call, the runtime's monitor retakes
// the P after 20 us of every sleep, and the hand-overs cost more CPU than
// the heartbeats.) The price is one P held by the heartbeat thread, and a
// stop-the-world of the garbage collector that waits for the end of the
// current sleep, at most one heartbeat interval: so it is done only for
// intervals of 20 ms or less, and only with at least two Ps, else it
// sleeps on a Go timer.
func sleepUntil(t time.Time) time.Time {
	if runtime.GOMAXPROCS(0) < 2 {
		time.Sleep(time.Until(t))
		return time.Now()
	}
	for {
		now := time.Now()
		d := t.Sub(now)
		if d <= 0 {
			return now
		}
		// A relative sleep of what is left: Go's monotonic clock has no
		// fixed relation to CLOCK_MONOTONIC's epoch to compute an absolute
		// deadline from. A signal (the runtime preempts a goroutine that
		// runs for 10 ms) ends it early: sleep the rest.
		ts := unix.NsecToTimespec(int64(d))
		unix.RawSyscall6(unix.SYS_CLOCK_NANOSLEEP, unix.CLOCK_MONOTONIC, 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	}
}
