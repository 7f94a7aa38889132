package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
	"github.com/wackamole/wackamole/pkg/internal/lab"
	"github.com/wackamole/wackamole/pkg/internal/router"
)

// bgpSteadyPoll is how often the wait for the initial state reads the
// router's routes and sessions (birdc or vtysh each time: slower than
// the netlink polls of a run).
const bgpSteadyPoll = 50 * time.Millisecond

// bgpRun is one measured run of the BGP section.
type bgpRun struct {
	Tool     string
	Scenario compareScenario
	Run      int
	VIP      netip.Addr
	// From is the node the client's flow reached before the fault: the
	// VIP's owner, or with ECMP the node the router hashed the client to.
	From string
	// Outage is the longest time the client went without a reply; Lost
	// and Sent count its probes.
	Outage     time.Duration
	Lost, Sent int
	bgpAnalysis
	// PollGap is the longest time between two route polls: the
	// resolution of Reroute.
	PollGap time.Duration
	// Note says what went differently from the scenario, such as a
	// graceful stop that ended in a kill.
	Note string
	Err  error

	fault   compareFault
	samples []holderSample
	vips    []netip.Addr
}

// bgpAnalysis is what a run's timeline of the router's routes shows.
type bgpAnalysis struct {
	// Rerouted tells whether the router stopped forwarding the VIP to the
	// node after the fault (and still forwards it somewhere); Reroute is
	// when, from the fault, and To where it forwards it then.
	Rerouted bool
	Reroute  time.Duration
	To       string
}

// analyzeBGPRun finds when the router stopped forwarding the VIP under
// test to the node at fault.
func analyzeBGPRun(samples []holderSample, f compareFault) bgpAnalysis {
	samples = withBoundary(samples, f.At)
	bit := holderSet(1) << f.Owner
	for _, s := range samples {
		if s.At.Before(f.At) || f.VIP >= len(s.Holders) {
			continue
		}
		if h := s.Holders[f.VIP]; h != 0 && h&bit == 0 {
			return bgpAnalysis{Rerouted: true, Reroute: s.At.Sub(f.At), To: strings.Join(h.names(), ",")}
		}
	}
	return bgpAnalysis{}
}

// runBGPTool runs every scenario opts.Runs times on s. It stops early
// (with an error) only when s cannot be brought back to its initial
// state; a failed run is recorded in its result.
func runBGPTool(ctx context.Context, s bgpSystem, name string, opts compareOpts) ([]bgpRun, error) {
	var out []bgpRun
	nvips := len(s.VIPs())
	if nvips == 0 {
		return nil, fmt.Errorf("%s: no VIPs to measure", name)
	}
	i := 0
	for _, sc := range opts.Scenarios {
		for run := 1; run <= opts.Runs; run++ {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			if err := waitSteadyBGP(ctx, s); err != nil {
				return out, fmt.Errorf("%s %s run %d: %w", name, sc, run, err)
			}
			v := s.VIPs()[i%nvips]
			i++
			r, restore := measureBGPFailover(ctx, s, sc, v, opts)
			r.Tool, r.Run = name, run
			out = append(out, r)
			fmt.Fprintln(opts.Out, r.line(opts.Runs))
			if opts.Verbose {
				fmt.Fprint(opts.Out, holderTimeline(r.Scenario, r.fault, r.From, r.samples, r.vips, "via"))
			}
			if err := restore(); err != nil {
				return out, fmt.Errorf("%s %s run %d: restoring: %w", name, sc, run, err)
			}
		}
	}
	return out, waitSteadyBGP(ctx, s)
}

// waitSteadyBGP waits until s's initial state has held for
// compareSteadyFor: every session established (with BFD up where the
// tool has it) and the routes as s.Steady wants them.
func waitSteadyBGP(ctx context.Context, s bgpSystem) error {
	ctx, cancel := context.WithTimeout(ctx, compareSteadyTimeout)
	defer cancel()
	var since time.Time
	last := "no poll yet"
	for {
		ok, why := steadyBGP(ctx, s)
		if !ok && ctx.Err() == nil {
			last = why
		}
		switch {
		case !ok:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= compareSteadyFor:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not back in the initial state after %v: %s", compareSteadyTimeout, last)
		case <-time.After(bgpSteadyPoll):
		}
	}
}

func steadyBGP(ctx context.Context, s bgpSystem) (bool, string) {
	l := s.Lab()
	ss, err := s.Router().Sessions(ctx)
	if err != nil {
		return false, err.Error()
	}
	for _, n := range l.Nodes {
		se, ok := router.SessionWith(ss, n.Addr)
		switch {
		case !ok || !se.Established:
			return false, fmt.Sprintf("the router has no session with %s (%+v)", n.Name, se)
		case s.BFD() && se.BFD != "up":
			return false, fmt.Sprintf("the router's BFD session with %s is %q", n.Name, se.BFD)
		}
	}
	routes, err := s.Router().Routes(ctx)
	if err != nil {
		return false, err.Error()
	}
	return s.Steady(cluster.RouteHolders(routes, s.VIPs(), l.Nodes))
}

// measureBGPFailover takes the node that serves the client's flow to v
// away as sc says, while the client pings v and the watcher polls the
// router's routes. It returns the result and a function that brings the
// node back.
func measureBGPFailover(ctx context.Context, s bgpSystem, sc compareScenario, v netip.Addr, opts compareOpts) (bgpRun, func() error) {
	r := bgpRun{Scenario: sc, VIP: v, vips: s.VIPs()}
	noop := func() error { return nil }
	fail := func(err error) (bgpRun, func() error) {
		r.Err = err
		return r, noop
	}
	l := s.Lab()
	vi := slices.Index(s.VIPs(), v)
	// The node the client reaches: its web service says its name.
	gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	name, err := l.Client.HTTPGet(gctx, fmt.Sprintf("http://%s:%d/", v, cluster.WebPort))
	cancel()
	if err != nil {
		return fail(fmt.Errorf("which node serves %s: %w", v, err))
	}
	victim := slices.IndexFunc(l.Nodes, func(h *lab.Host) bool { return h.Name == name })
	if victim < 0 || vi < 0 {
		return fail(fmt.Errorf("%s is served by %q, not a node", v, name))
	}
	host := l.Nodes[victim]
	r.From = host.Name
	port := ""
	if sc == comparePartition {
		if port, err = bridgePortOf(ctx, l, host); err != nil {
			return fail(err)
		}
	}

	w, err := watchRoutes(l.Router, l.Nodes, s.VIPs(), holderPollInterval)
	if err != nil {
		return fail(err)
	}
	p, err := l.Client.Ping(ctx, v, lab.DefaultInterval)
	if err != nil {
		w.Stop()
		return fail(err)
	}
	stopAll := func() (lab.Result, holderWatch) {
		pr := p.Stop()
		return pr, w.Stop()
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = p.WaitReplies(wctx, 20)
	cancel()
	if err != nil {
		stopAll()
		return fail(fmt.Errorf("the client does not reach %s before the fault: %w", v, err))
	}

	f := compareFault{Scenario: sc, VIP: vi, Owner: victim, At: time.Now()}
	restore := noop
	var ferr error
	switch sc {
	case compareCrash:
		// The link first: a daemon killed on a live host has its kernel
		// close the BGP session, which tells the router at once; a host
		// that dies tells nobody.
		ferr = errors.Join(s.LinkDown(ctx, victim), s.Kill(victim))
		restore = func() error { return rebootBGPNode(ctx, s, victim) }
	case compareGraceful:
		ferr = s.Stop(victim)
		if errors.Is(ferr, cluster.ErrStopKilled) {
			r.Note = fmt.Sprintf("did not exit within %v of SIGTERM: killed", exabgpStopTimeout)
			ferr = nil
		}
		restore = func() error { return s.Start(ctx, victim) }
	case compareDrain:
		ferr = s.Drain(ctx, victim)
		restore = func() error { return s.Undrain(ctx, victim) }
	case comparePartition:
		ferr = nftInBridge(ctx, l, opts.Dir, partitionScript(port, l.Client.Addr, l.Router.Addr))
		restore = func() error { return healSwitch(ctx, l, opts.Dir) } // in case healing below failed
	default:
		ferr = fmt.Errorf("unknown scenario %q", sc)
	}
	if ferr != nil {
		stopAll()
		r.Err = fmt.Errorf("%s of %s: %w", sc, host.Name, ferr)
		return r, restore
	}
	if sc == comparePartition {
		select {
		case <-ctx.Done():
		case <-time.After(opts.Hold):
		}
		f.Healed = time.Now()
		if err := healSwitch(ctx, l, opts.Dir); err != nil {
			stopAll()
			r.Err = err
			return r, restore
		}
		restore = noop
	}
	settle := opts.Settle
	if settle <= 0 {
		settle = compareSettle
	}
	rctx, cancel := context.WithTimeout(ctx, compareRecoverTimeout)
	err = p.WaitReplies(rctx, 50)
	cancel()
	if err == nil {
		from := time.Now()
		if !f.Healed.IsZero() {
			from = f.Healed
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(from.Add(settle))):
		}
	}
	pr, wr := stopAll()
	if err != nil {
		r.Err = fmt.Errorf("%s not reachable again after %s of %s: %w", v, sc, host.Name, err)
	}
	if wr.Polls == 0 {
		r.Err = errors.Join(r.Err, fmt.Errorf("no route poll succeeded: %v", wr.LastErr))
	}
	r.Outage, r.Lost, r.Sent = pr.MaxGap, pr.Lost(), pr.Sent
	r.bgpAnalysis = analyzeBGPRun(wr.Samples, f)
	r.fault, r.samples = f, wr.Samples
	r.PollGap = wr.MaxPollGap
	return r, restore
}

// rebootBGPNode brings a crashed node back as after a reboot: without the
// VIP addresses its killed daemons left on lo, link up, daemons started.
func rebootBGPNode(ctx context.Context, s bgpSystem, k int) error {
	h := s.Lab().Nodes[k]
	ps, err := h.Addrs(ctx, cluster.BGPInterface)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if slices.Contains(s.VIPs(), p.Addr()) {
			if _, err := h.Run(ctx, "ip", "addr", "del", p.String(), "dev", cluster.BGPInterface); err != nil {
				return err
			}
		}
	}
	if err := s.LinkUp(ctx, k); err != nil {
		return err
	}
	return s.Start(ctx, k)
}

// line is the progress line of a run.
func (r bgpRun) line(runs int) string {
	head := fmt.Sprintf("%-19s %-9s run %d/%d: %s %s", r.Tool, r.Scenario, r.Run, runs, r.VIP, r.From)
	if r.Err != nil {
		return head + ": FAILED: " + r.Err.Error()
	}
	s := head
	if r.Rerouted {
		s += fmt.Sprintf(" -> %s after %s", r.To, fmtMillis(r.Reroute))
	} else {
		s += " -> not rerouted"
	}
	s += fmt.Sprintf(": outage %s, %d of %d probes lost", fmtMillis(r.Outage), r.Lost, r.Sent)
	if r.Note != "" {
		s += " (" + r.Note + ")"
	}
	return s
}
