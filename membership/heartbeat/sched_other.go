//go:build !linux

package heartbeat

import (
	"errors"
	"runtime"
)

var errNotLinux = errors.New("heartbeat: realtime scheduling and memory locking are implemented on Linux only (" + runtime.GOOS + ")")

func setThreadSched(Sched) error { return errNotLinux }

func resetThreadSched() error { return nil }

// LockMemory is implemented on Linux only.
func LockMemory() error { return errNotLinux }
