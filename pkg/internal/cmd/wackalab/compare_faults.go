package main

// The fault scenarios of bench-compare (issue 11): faults that leave the
// owner of a VIP alive but impaired, where what matters is how much the
// VIP moves, how long the client goes without it, how long two nodes hold
// it, and whether the client is left in the dark after the fault is over.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// The fault scenarios.
const (
	// compareStall stops the owner's daemons (SIGSTOP) for -stall, then
	// continues them.
	compareStall compareScenario = "stall"
	// compareFlap makes the owner's switch port go down and up every
	// second (down 1 s, up 1 s) for -flap.
	compareFlap compareScenario = "flap"
	// compareStarve caps the owner's daemons at 2 % of a CPU for -starve.
	compareStarve compareScenario = "starve"
	// compareCut cuts the path between the owner and the next node for
	// -cut (no IP between them, ARP flowing, both reach the others).
	compareCut compareScenario = "cut"
	// compareLoss drops 10 % of every node's IP packets each way for
	// -loss.
	compareLoss compareScenario = "loss"
)

var compareFaultScenarios = []compareScenario{compareStall, compareFlap, compareStarve, compareCut, compareLoss}

// isFault reports whether s is a fault scenario (measured by measureFault).
func (s compareScenario) isFault() bool {
	for _, f := range compareFaultScenarios {
		if s == f {
			return true
		}
	}
	return false
}

// Parameters of the fault scenarios.
const (
	compareFlapPeriod  = 2 * time.Second
	compareStarveShare = 2  // % of a CPU
	compareLossShare   = 10 // % of IP packets, each way
	// compareFaultSettle is how long the watch goes on after a fault
	// ends: late moves and late outages show.
	compareFaultSettle = 5 * time.Second
)

// compareFaultLengths are how long each fault scenario lasts.
type compareFaultLengths struct {
	Stall, Flap, Starve, Cut, Loss time.Duration
}

func defaultFaultLengths() compareFaultLengths {
	return compareFaultLengths{Stall: 3 * time.Second, Flap: 20 * time.Second, Starve: 20 * time.Second, Cut: 20 * time.Second, Loss: 60 * time.Second}
}

func (l compareFaultLengths) of(s compareScenario) time.Duration {
	switch s {
	case compareStall:
		return l.Stall
	case compareFlap:
		return l.Flap
	case compareStarve:
		return l.Starve
	case compareCut:
		return l.Cut
	case compareLoss:
		return l.Loss
	}
	return 0
}

// faultFigures are what a fault run measures, from the start of the fault
// until compareFaultSettle after its end: of every VIP, since a fault on
// one node (a cut path) may move another node's VIP; of the client's
// probes of the VIP under test.
type faultFigures struct {
	// Moves counts the ownership changes of every VIP: every time a node
	// started to hold one.
	Moves int
	// TwoHolders is the time VIPs were on two nodes or more, summed over
	// the VIPs.
	TwoHolders time.Duration
	// DarkAfter is the time the client went without replies after the
	// fault ended (gaps longer than 3 probe intervals, from the end on).
	DarkAfter time.Duration
}

// analyzeFault derives the figures from the holder samples and the
// prober's gaps; the fault ran from start to end, the watch ended at stop.
func analyzeFault(samples []holderSample, gaps []lab.Gap, start, end, stop time.Time) faultFigures {
	var f faultFigures
	var prev []holderSet
	for i, s := range samples {
		next := stop
		if i+1 < len(samples) {
			next = samples[i+1].At
		}
		from, to := s.At, next
		if from.Before(start) {
			from = start
		}
		if to.After(stop) {
			to = stop
		}
		for vi, h := range s.Holders {
			if h.count() >= 2 && to.After(from) {
				f.TwoHolders += to.Sub(from)
			}
			if prev != nil && vi < len(prev) && !s.At.Before(start) && !s.At.After(stop) {
				f.Moves += (h &^ prev[vi]).count()
			}
		}
		prev = s.Holders
	}
	for _, g := range gaps {
		from, to := g.Start, g.End
		if from.Before(end) {
			from = end
		}
		if to.After(from) {
			f.DarkAfter += to.Sub(from)
		}
	}
	return f
}

// measureFault applies fault scenario s to the owner of v while the client
// pings v and the watcher polls the holders.
func measureFault(ctx context.Context, c compareSystem, s compareScenario, v netip.Addr, opts compareOpts) (compareRun, func() error) {
	r := compareRun{Scenario: s, VIP: v}
	noop := func() error { return nil }
	l := c.Lab()
	vi := -1
	for i, a := range c.VIPs() {
		if a == v {
			vi = i
		}
	}
	h, err := c.Holders(ctx)
	if err != nil {
		r.Err = err
		return r, noop
	}
	owner := -1
	if hs := h[v]; len(hs) == 1 {
		for k, n := range l.Nodes {
			if n.Name == hs[0] {
				owner = k
			}
		}
	}
	if owner < 0 || vi < 0 {
		r.Err = fmt.Errorf("%s has no single owner: %v", v, h[v])
		return r, noop
	}
	ownerHost := l.Nodes[owner]
	r.From = ownerHost.Name
	w, err := watchHolders(l.Nodes, c.VIPs(), holderPollInterval)
	if err != nil {
		r.Err = err
		return r, noop
	}
	p, err := l.Client.Ping(ctx, v, compareFaultProbeInterval)
	if err != nil {
		w.Stop()
		r.Err = err
		return r, noop
	}
	stopAll := func() (lab.Result, holderWatch) { return p.Stop(), w.Stop() }
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = p.WaitReplies(wctx, 20)
	cancel()
	if err != nil {
		stopAll()
		r.Err = fmt.Errorf("the client does not reach %s before the fault: %w", v, err)
		return r, noop
	}

	length := opts.Faults.of(s)
	start := time.Now()
	restore, ferr := injectFault(ctx, c, s, owner, length)
	end := time.Now()
	if ferr != nil {
		stopAll()
		r.Err = fmt.Errorf("%s of %s: %w", s, ownerHost.Name, ferr)
		return r, restore
	}
	select {
	case <-ctx.Done():
	case <-time.After(compareFaultSettle):
	}
	pr, wr := stopAll()
	if wr.Polls == 0 {
		r.Err = fmt.Errorf("no holder poll succeeded: %v", wr.LastErr)
	}
	r.Outage, r.Lost, r.Sent = pr.MaxGap, pr.Lost(), pr.Sent
	r.Faulted = analyzeFault(wr.Samples, pr.Gaps, start, end, wr.End)
	r.fault = compareFault{Scenario: s, VIP: vi, Owner: owner, At: start, Healed: end}
	r.samples, r.vips = wr.Samples, c.VIPs()
	r.PollGap = wr.MaxPollGap
	return r, restore
}

// injectFault applies s to node k for d and undoes it. The returned
// function undoes what is left if it failed halfway.
func injectFault(ctx context.Context, c compareSystem, s compareScenario, k int, d time.Duration) (func() error, error) {
	l := c.Lab()
	h := l.Nodes[k]
	wait := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	noop := func() error { return nil }
	switch s {
	case compareStall:
		resume := func() error { return c.Resume(k) }
		if err := c.Pause(k); err != nil {
			return resume, err
		}
		err := wait()
		return noop, errors.Join(err, resume())
	case compareFlap:
		f, err := h.Flap(ctx, compareFlapPeriod, d)
		if err != nil {
			return noop, err
		}
		return noop, f.Wait(ctx)
	case compareStarve:
		lift, err := c.LimitCPU(k, compareStarveShare)
		if err != nil {
			return noop, err
		}
		err = wait()
		return noop, errors.Join(err, lift())
	case compareCut:
		next := l.Nodes[(k+1)%len(l.Nodes)]
		heal := func() error { return l.HealPath(context.Background(), h, next) }
		if err := l.CutPath(ctx, h, next); err != nil {
			return heal, err
		}
		err := wait()
		return noop, errors.Join(err, heal())
	case compareLoss:
		heal := func() error {
			var errs []error
			for _, n := range l.Nodes {
				errs = append(errs, n.Heal(context.Background()))
			}
			return errors.Join(errs...)
		}
		for _, n := range l.Nodes {
			if err := n.DropRandom(ctx, compareLossShare); err != nil {
				return heal, err
			}
		}
		err := wait()
		return noop, errors.Join(err, heal())
	}
	return noop, fmt.Errorf("unknown fault scenario %q", s)
}

// compareFaultProbeInterval is the client's ping interval in the fault
// scenarios, which last up to a minute: the outages they look for are
// hundreds of milliseconds or more.
const compareFaultProbeInterval = lab.DefaultInterval
