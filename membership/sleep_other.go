//go:build !linux

package membership

import "time"

// sleepUntil sleeps until t and returns the time it woke.
func sleepUntil(t time.Time) time.Time {
	time.Sleep(time.Until(t))
	return time.Now()
}
