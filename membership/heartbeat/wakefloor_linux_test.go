//go:build linux

package heartbeat

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkWakeFloor measures the floor under a heartbeat interval: a
// thread locked with LockThread that a Pacer wakes once per interval and
// that does nothing else, no packet, no check. It reports the process's
// CPU time (user and system, the Go runtime's monitor thread included) as
// a percentage of one core. Whatever a node does per interval costs at
// least this: on a VM a thread's wake-up costs tens of microseconds, so at
// 5 ms (fast) the floor alone can be about 1 % of a core. One op is one
// interval; run it with -benchtime=10s (1000x takes 200 s at 200 ms).
func BenchmarkWakeFloor(b *testing.B) {
	for _, interval := range []time.Duration{5 * time.Millisecond, 20 * time.Millisecond, 200 * time.Millisecond} {
		b.Run(fmt.Sprintf("interval=%v", interval), func(b *testing.B) {
			done := make(chan time.Duration)
			go func() {
				if err := LockThread(Sched{}); err != nil {
					b.Error(err)
					done <- 0
					return
				}
				p, err := NewPacer(interval)
				if err != nil {
					b.Error(err)
					done <- 0
					return
				}
				start, t0 := cpuTime(), time.Now()
				for range b.N {
					p.Wait()
				}
				cpu := cpuTime() - start
				done <- time.Duration(float64(cpu) / float64(time.Since(t0)) * float64(time.Second))
			}()
			perSecond := <-done
			b.ReportMetric(100*perSecond.Seconds(), "cpu%")
		})
	}
}
