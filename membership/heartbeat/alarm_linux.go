package heartbeat

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An Alarm is a timer whose expiry wakes the waiting goroutine through the
// Go runtime's network poller: a timerfd(2) on CLOCK_MONOTONIC, read
// through an *os.File, not a Go timer. It is for the periodic waits of an
// idle daemon (the lan heartbeat tick, the receive goroutine's coalescing
// pause), where a Go timer costs an order of magnitude more than the work
// it paces:
//
//   - the poller waits for a Go timer in epoll_wait(2), whose timeout is in
//     whole milliseconds, rounded down: it wakes up to a millisecond early,
//     sees the timer not yet due and waits again for a millisecond, so
//     every timer costs two wake-ups and fires up to a millisecond late;
//   - the runtime's monitor thread (sysmon), asleep while the process is
//     idle, sets its own wake-up to the next Go timer; finding it due but
//     not yet run (the poller's second wait), it polls every 20 us until
//     it has run: about ten more wake-ups per timer.
//
// Seen on an idle lan node (perf trace, 2-core VM): each 200 ms tick of a
// time.Ticker cost ten or more thread wake-ups (two epoll_wait returns,
// sysmon's futex and 7-10 of its nanosleeps); an expiring timerfd costs
// the one epoll_wait(2) return, on time.
//
// An Alarm is used by one goroutine at a time; Close may be called from
// any goroutine and ends a Wait in progress.
type Alarm struct {
	file *os.File
	conn syscall.RawConn
	buf  [8]byte
}

// ErrAlarmClosed is what Wait returns once the Alarm is closed.
var ErrAlarmClosed = errors.New("heartbeat: alarm closed")

// NewAlarm returns an Alarm that is not set.
func NewAlarm() (*Alarm, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("heartbeat: timerfd_create: %w", err)
	}
	// A non-blocking descriptor: os.NewFile registers it with the poller.
	f := os.NewFile(uintptr(fd), "heartbeat-alarm")
	conn, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("heartbeat: alarm: %w", err)
	}
	return &Alarm{file: f, conn: conn}, nil
}

// Set arms the alarm to expire after first (at least a nanosecond) and
// then every every, or only once if every is zero. It replaces any earlier
// setting, and an expiry not waited for yet is forgotten.
func (a *Alarm) Set(first, every time.Duration) error {
	if first <= 0 {
		first = 1 // zero would disarm it
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(first)), Interval: unix.NsecToTimespec(int64(every))}
	var errno syscall.Errno
	err := a.conn.Control(func(fd uintptr) {
		// Raw system calls, here and in Wait: they never block, and one
		// the runtime sees, made by an idle process, wakes its monitor
		// thread from its deep sleep (see recvBatch.tryRead).
		_, _, errno = unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	})
	if err != nil {
		return fmt.Errorf("heartbeat: alarm: %w", ErrAlarmClosed)
	}
	if errno != 0 {
		return fmt.Errorf("heartbeat: timerfd_settime: %w", errno)
	}
	return nil
}

// Wait blocks until the alarm expires (at once if it has expired since the
// last Wait) or is closed, and then returns ErrAlarmClosed. An alarm that
// is not set waits until Close.
func (a *Alarm) Wait() error {
	var errno syscall.Errno
	err := a.conn.Read(func(fd uintptr) bool {
		for {
			_, _, errno = unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&a.buf[0])), uintptr(len(a.buf)))
			if errno != unix.EINTR {
				return errno != unix.EAGAIN
			}
		}
	})
	if err != nil {
		return ErrAlarmClosed
	}
	if errno != 0 {
		return fmt.Errorf("heartbeat: alarm: read: %w", errno)
	}
	return nil
}

// Close disarms the alarm and ends a Wait in progress.
func (a *Alarm) Close() error { return a.file.Close() }
