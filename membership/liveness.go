package membership

import (
	"errors"
	"net"
	"time"

	"github.com/wackamole/wackamole/membership/heartbeat"
)

// heartbeatLoop tells every member we are alive, and notices members that
// stopped doing so at the moment their failure timeout runs out, not at the
// next heartbeat: detection time is the timeout, whatever the interval.
//
// With Config.Sched it runs on a thread of its own at realtime priority,
// so that the rest of the host cannot delay it. Without, it is an ordinary
// goroutine: a thread of its own at normal priority protects it from
// nothing (it still waits for a P like every goroutine) and costs a relay
// between two threads at every timer. The short intervals of the polled
// loop always lock their thread (see polledLoop). started receives nil
// once it runs, or why it cannot.
func (g *Group) heartbeatLoop(started chan<- error) {
	defer g.wg.Done()
	if g.cfg.Timing.Polled() {
		g.polledLoop(started)
		return
	}
	if g.cfg.Sched != (heartbeat.Sched{}) {
		if err := heartbeat.LockThread(g.cfg.Sched); err != nil {
			started <- err
			return // still locked: the thread ends with the goroutine
		}
	}
	send, stopSend, err := ticks(g.cfg.Timing.HeartbeatInterval)
	if err != nil {
		started <- err
		return
	}
	defer stopSend()
	started <- nil
	// The check timer is a Go timer, but it is only armed when a member
	// is late (see below): it costs nothing while every member beats.
	check := time.NewTimer(g.cfg.Timing.FailureTimeout)
	defer check.Stop()
	for {
		beat := true
		select {
		case <-g.stop:
			return
		case <-g.beat:
		case <-send:
		case <-check.C:
			beat = false
		}
		now := time.Now()
		g.mu.Lock()
		g.checkStallLocked(now, true)
		if beat {
			g.prepareBeatLocked(now)
		}
		g.mu.Unlock()
		if beat && len(g.to) > 0 {
			// Best effort by design: a lost heartbeat is what the
			// failure timeout allows for. g.outgoing and g.to are
			// only written on this goroutine.
			_ = g.tr.SendBeat(&g.outgoing, g.to)
		}
		next := g.checkLiveness(now)
		if !check.Stop() {
			select {
			case <-check.C:
			default:
			}
		}
		// Armed only for a deadline before the next tick, which
		// checks anyway. A Go timer moved later still wakes the
		// process at its old deadline (the runtime re-sorts its timer
		// heap lazily), so a check pushed back at every tick woke an
		// idle node once per tick for nothing.
		if next < g.cfg.Timing.HeartbeatInterval {
			check.Reset(next)
		}
	}
}

// polledLoop is the heartbeat loop of short intervals (Timing.polled): one
// thread that wakes once per interval, reads what arrived meanwhile (with
// the kernel's arrival times), judges liveness and sends. On a VM a thread
// wake-up costs tens of microseconds, the packets a few: waking once per
// interval, not once per packet and per timer, is what makes a 5 ms
// heartbeat affordable.
func (g *Group) polledLoop(started chan<- error) {
	if err := heartbeat.LockThread(g.cfg.Sched); err != nil {
		started <- err
		return // still locked: the thread ends with the goroutine
	}
	started <- nil
	interval := g.cfg.Timing.HeartbeatInterval
	for next := time.Now().Add(interval); ; next = next.Add(interval) {
		select {
		case <-g.stop:
			return
		default:
		}
		now := sleepUntil(next)
		if now.Sub(next) > interval {
			next = now // a stall: start the grid again rather than catch up
		}
		if _, err := g.tr.Poll(); errors.Is(err, net.ErrClosed) {
			return
		}
		g.mu.Lock()
		g.checkStallLocked(now, true)
		g.prepareBeatLocked(now)
		g.mu.Unlock()
		if len(g.to) > 0 {
			_ = g.tr.SendBeat(&g.outgoing, g.to)
		}
		g.checkLiveness(now)
	}
}

func (g *Group) numMembers() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.members)
}

// prepareBeatLocked fills the outgoing beat and its destinations.
func (g *Group) prepareBeatLocked(now time.Time) {
	b := &g.outgoing
	b.MetaVersion = g.version.counter
	b.Interval = min(g.cfg.Timing.HeartbeatInterval, heartbeat.MaxInterval)
	b.ResetLate()
	g.lateBuf = g.lateBuf[:0]
	g.to = g.to[:0]
	for _, p := range g.members {
		if p.hbAddr.IsValid() {
			g.to = append(g.to, p.hbAddr)
		}
		if p.id != 0 {
			g.lateBuf = append(g.lateBuf, late{id: p.id, age: age(now, p.lastHeard), suspected: p.suspected(now, g.cfg.Timing)})
		}
	}
	for _, l := range pickLate(g.lateBuf, g.cfg.Timing.FailureTimeout/4) {
		b.AddLate(l.id, l.age)
	}
}

// checkLiveness signals a change when a member's liveness differs from what
// was last signalled, and returns how long until the next member could
// time out.
func (g *Group) checkLiveness(now time.Time) time.Duration {
	g.mu.Lock()
	g.checkStallLocked(now, false)
	timeout := g.timeoutLocked()
	next := timeout / 2
	changed := false
	for name, p := range g.members {
		silent := now.Sub(p.heardAny)
		heard := !p.heardAny.IsZero()
		alive := heard && silent < timeout
		fresh := heard && silent < timeout/2
		switch {
		case fresh:
			next = min(next, timeout/2-silent)
		case alive:
			next = min(next, timeout-silent)
		}
		if fresh != p.fresh {
			p.fresh = fresh
			changed = true
		}
		if alive != p.alive {
			p.alive = alive
			changed = true
			if !alive {
				g.log.Warn("member silent: out of the view", "member", name, "silent", silent.Round(time.Millisecond))
			}
		}
		if p.gone && !alive {
			g.dropLocked(name)
		}
	}
	if len(g.awaiting) > 0 {
		if now.Before(g.recoverBy) {
			next = min(next, g.recoverBy.Sub(now))
		} else {
			g.awaiting = nil // recovered by timeout
			changed = true
		}
	}
	g.mu.Unlock()
	if changed {
		signal(g.changed)
	}
	return max(next+time.Millisecond, time.Millisecond)
}

// timeoutLocked is the failure timeout this node applies now: the
// configured one, longer while this node itself runs late.
func (g *Group) timeoutLocked() time.Duration {
	return g.cfg.Timing.FailureTimeout + g.health.tolerance()
}

// checkStallLocked notices a stall of this node: the heartbeat loop (loop
// true) or a reader of the view found that the loop had not run for
// longer than the stall threshold. The members' silence over the stall is
// forgiven (it says nothing about them), and the view is marked
// recovering until each member known before has been heard again, or a
// failure timeout has passed (then those not heard are failed, as they
// would have been).
func (g *Group) checkStallLocked(now time.Time, loop bool) {
	var stalled time.Duration
	if loop {
		stalled = g.health.ran(now)
	} else if stalled = g.health.stalledAt(now); stalled > 0 {
		g.health.last = now
	}
	if stalled == 0 {
		return
	}
	forgive := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		if t = t.Add(stalled); t.After(now) {
			return now
		}
		return t
	}
	g.awaiting = map[string]bool{}
	for name, p := range g.members {
		p.lastHeard, p.heardAny = forgive(p.lastHeard), forgive(p.heardAny)
		if !p.heardAny.IsZero() && now.Sub(p.heardAny) < g.cfg.Timing.FailureTimeout {
			g.awaiting[name] = true
		}
	}
	g.stalledAt, g.recoverBy = now, now.Add(g.cfg.Timing.FailureTimeout)
	g.log.Warn("this node did not run for a while (stalled); the members' silence meanwhile is forgiven, and nothing is decided until they are heard again",
		"stalled", stalled.Round(time.Millisecond), "awaiting", len(g.awaiting))
}

// recoveringLocked reports whether the view is still the one from before a
// stall (see checkStallLocked).
func (g *Group) recoveringLocked(now time.Time) bool {
	return len(g.awaiting) > 0 && now.Before(g.recoverBy)
}

// ticks delivers a ticker's ticks every interval on the channel it
// returns, from a heartbeat.Alarm instead of a time.Ticker: a Go timer
// wakes an idle process ten times or more per tick (see
// heartbeat.Alarm). As with a time.Ticker, a tick the receiver is not
// ready for is dropped. stop ends the ticks.
//
// The ticks fall on the wall clock's multiples of the interval (see
// gridPhase), so that members whose clocks agree (NTP, or one host's
// namespaces) beat at the same instants: a member's beats then arrive
// together, read in one wake-up of its receive goroutine (and, with
// Config.Coalesce, one batch), and they arrive while it is awake
// sending its own, instead of N-1 wake-ups at random moments. Nothing
// depends on it: with clocks apart, the beats arrive at random moments
// as they did before.
func ticks(interval time.Duration) (c <-chan struct{}, stop func(), err error) {
	a, err := heartbeat.NewAlarm()
	if err != nil {
		return nil, nil, err
	}
	if err := a.Set(gridPhase(time.Now(), interval), interval); err != nil {
		a.Close()
		return nil, nil, err
	}
	ch := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			switch err := a.Wait(); {
			case errors.Is(err, heartbeat.ErrAlarmClosed):
				return
			case err != nil:
				// A timerfd's read has no other error; were there one,
				// pace on a Go timer rather than fall silent.
				time.Sleep(interval)
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	return ch, func() { a.Close(); <-done }, nil
}

// gridPhase returns how long after now the wall clock next reads a
// multiple of interval. The alarm it starts runs on the monotonic clock:
// a step of the wall clock moves the grid until the next start, but
// never stops or hurries the ticks.
func gridPhase(now time.Time, interval time.Duration) time.Duration {
	past := time.Duration(now.UnixNano() % int64(interval))
	if past < 0 {
		past += interval // before 1970
	}
	return interval - past
}
