//go:build !linux

package heartbeat

import (
	"errors"
	"sync"
	"time"
)

// An Alarm is a timer a goroutine waits for; on Linux a timerfd(2) that
// the runtime's network poller waits on (see alarm_linux.go), here a Go
// timer.
type Alarm struct {
	mu     sync.Mutex
	timer  *time.Timer
	gen    uint64 // the current setting's, so that a replaced one fires no more
	fired  chan struct{}
	done   chan struct{}
	closed bool
}

// ErrAlarmClosed is what Wait returns once the Alarm is closed.
var ErrAlarmClosed = errors.New("heartbeat: alarm closed")

// NewAlarm returns an Alarm that is not set.
func NewAlarm() (*Alarm, error) {
	return &Alarm{fired: make(chan struct{}, 1), done: make(chan struct{})}, nil
}

// Set arms the alarm to expire after first and then every every, or only
// once if every is zero. It replaces any earlier setting.
func (a *Alarm) Set(first, every time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrAlarmClosed
	}
	if a.timer != nil {
		a.timer.Stop()
	}
	select {
	case <-a.fired:
	default:
	}
	a.gen++
	gen := a.gen
	var fire func()
	fire = func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.gen != gen || a.closed {
			return
		}
		select {
		case a.fired <- struct{}{}:
		default:
		}
		if every > 0 {
			a.timer = time.AfterFunc(every, fire)
		}
	}
	a.timer = time.AfterFunc(max(first, 1), fire)
	return nil
}

// Wait blocks until the alarm expires or is closed, and then returns
// ErrAlarmClosed.
func (a *Alarm) Wait() error {
	select {
	case <-a.fired:
		return nil
	case <-a.done:
		return ErrAlarmClosed
	}
}

// Close disarms the alarm and ends a Wait in progress.
func (a *Alarm) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closed {
		a.closed = true
		if a.timer != nil {
			a.timer.Stop()
		}
		close(a.done)
	}
	return nil
}
