package daemon

import "github.com/wackamole/wackamole/pkg/config"

// Procs is the number of Ps (GOMAXPROCS) a daemon of configuration c
// runs with, or 0 to leave the runtime's choice alone. env is the
// GOMAXPROCS environment variable: an operator's setting always wins.
//
// An L2 daemon with heartbeats above 20 ms and no realtime thread runs
// on one P. It is a few goroutines that wake for a packet or a timer and
// go back to sleep; with a second P, a wake-up can also wake a second
// thread to look for work that is not there (the scheduler's spinning).
// At 50 nodes one P saved a tenth to a sixth of the daemon's idle CPU
// (bench-scale: 1.09-1.20 % of a core per node with two Ps, 0.95-1.00 %
// with one; converge 3.1 s, crash 1016 ms, against 3.4 s and 991 ms with
// two). The others keep the runtime's choice: the polled
// loop of the short intervals holds a P while it sleeps, a realtime
// heartbeat thread must not wait for a P that another goroutine has, and
// a bgp node's BFD and BGP sessions were measured with the default.
func Procs(c *config.Config, env string) int {
	t, err := Timing(c)
	switch {
	case err != nil, env != "", t.Polled(), c.Realtime, c.Mode == config.ModeBGP:
		return 0 // a bad timing: New says why
	}
	return 1
}
