package daemon

import (
	"github.com/wackamole/wackamole/membership"
	"github.com/wackamole/wackamole/pkg/config"
)

// Procs is the number of Ps (GOMAXPROCS) the daemon runs with, or 0 to
// leave the runtime's choice alone. env is the GOMAXPROCS environment
// variable: an operator's setting always wins.
//
// An L2 daemon with heartbeats above 20 ms and no realtime thread runs
// on one P. It is a few goroutines that wake for a packet or a timer and
// go back to sleep; with a second P, each wake-up also wakes a second
// thread to look for work that is not there (the scheduler's spinning),
// and at 50 nodes that was a sixth of the daemon's CPU (bench-scale: 1.20
// % of a core per node idle with two Ps, 1.00 % with one, converge and
// failover no slower). The others keep the runtime's choice: the polled
// loop of the short intervals holds a P while it sleeps, a realtime
// heartbeat thread must not wait for a P that another goroutine has, and
// a bgp node's BFD and BGP sessions were measured with the default.
func Procs(c *config.Config, t membership.Timing, env string) int {
	switch {
	case env != "", t.Polled(), c.Realtime, c.Mode == config.ModeBGP:
		return 0
	}
	return 1
}
