package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// Timing of a run.
const (
	// pollInterval is how often the watcher reads every node's addresses.
	holderPollInterval = 10 * time.Millisecond
	// steadyFor is how long the initial state must hold before a run.
	compareSteadyFor = time.Second
	// steadyTimeout bounds the wait for the initial state.
	compareSteadyTimeout = 90 * time.Second
	// recoverTimeout bounds the wait for the client to reach the VIP again.
	compareRecoverTimeout = 60 * time.Second
	// settleAfter is how long the watch goes on once the client reaches
	// the VIP again (crash, graceful) or after healing (partition): late
	// second owners and late gaps show up too.
	compareSettle = 3 * time.Second
)

// compareRun is one measured run.
type compareRun struct {
	Tool     string
	Scenario compareScenario
	Run      int
	VIP      netip.Addr
	From     string
	// Outage is the longest time the client went without a reply; Lost and
	// Sent count its probes.
	Outage     time.Duration
	Lost, Sent int
	runAnalysis
	// Faulted are the figures of a fault scenario.
	Faulted faultFigures
	// PollGap is the longest time between two holder polls: the resolution
	// of Takeover and of the overlaps.
	PollGap time.Duration
	// Err is why the run failed, if it did.
	Err error

	// The raw material, for -v.
	fault   compareFault
	samples []holderSample
	vips    []netip.Addr
}

// compareOpts are the comparison's knobs.
type compareOpts struct {
	Runs      int
	Scenarios []compareScenario
	// Hold is how long a partition lasts; Faults how long each fault
	// scenario does.
	Hold   time.Duration
	Faults compareFaultLengths
	// Settle is how long the watch goes on once the client is served
	// again (partition: after healing); settleAfter if 0.
	Settle time.Duration
	// Dir receives nft scripts.
	Dir string
	Out io.Writer // progress lines
	// Verbose adds each run's timeline of holders to the progress lines.
	Verbose bool
}

// runCompareTool runs every scenario opts.Runs times on c. It stops early (with
// an error) only when c cannot be brought back to its initial state; a
// failed run is recorded in its result.
func runCompareTool(ctx context.Context, c compareSystem, name string, opts compareOpts) ([]compareRun, error) {
	var out []compareRun
	nvips := len(c.VIPs())
	if nvips == 0 {
		return nil, fmt.Errorf("%s: no VIPs to measure", name)
	}
	i := 0
	for _, s := range opts.Scenarios {
		for run := 1; run <= opts.Runs; run++ {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			if err := waitInitialState(ctx, c); err != nil {
				return out, fmt.Errorf("%s %s run %d: %w", name, s, run, err)
			}
			v := c.VIPs()[i%nvips]
			i++
			measure := measureFailover
			if s.isFault() {
				measure = measureFault
			}
			r, restore := measure(ctx, c, s, v, opts)
			r.Tool, r.Run = name, run
			out = append(out, r)
			fmt.Fprintln(opts.Out, r.line(opts.Runs))
			if opts.Verbose {
				fmt.Fprint(opts.Out, r.timeline())
			}
			if err := restore(); err != nil {
				return out, fmt.Errorf("%s %s run %d: restoring: %w", name, s, run, err)
			}
		}
	}
	return out, waitInitialState(ctx, c)
}

// waitInitialState waits until c's initial state has held for
// compareSteadyFor.
func waitInitialState(ctx context.Context, c compareSystem) error {
	ctx, cancel := context.WithTimeout(ctx, compareSteadyTimeout)
	defer cancel()
	var since time.Time
	last := "no poll yet"
	for {
		h, err := c.Holders(ctx)
		ok := false
		if err == nil {
			ok, last = c.Steady(h)
		} else {
			last = err.Error()
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
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// measureFailover makes the owner of v go away as s says while the client pings
// v and the watcher polls the holders. It returns the result and a function
// that brings the owner back.
// compareProbeInterval is the client's ping interval in the failover
// scenarios: fine enough that a failover of about 10 ms (wackamole's fast
// profile) loses probes and shows in the longest gap.
const compareProbeInterval = 2 * time.Millisecond

func measureFailover(ctx context.Context, c compareSystem, s compareScenario, v netip.Addr, opts compareOpts) (compareRun, func() error) {
	r := compareRun{Scenario: s, VIP: v}
	noop := func() error { return nil }
	fail := func(err error) (compareRun, func() error) {
		r.Err = err
		return r, noop
	}
	l := c.Lab()
	vi := -1
	for i, a := range c.VIPs() {
		if a == v {
			vi = i
		}
	}
	h, err := c.Holders(ctx)
	if err != nil {
		return fail(err)
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
		return fail(fmt.Errorf("%s has no single owner: %v", v, h[v]))
	}
	ownerHost := l.Nodes[owner]
	r.From = ownerHost.Name
	port := ""
	if s == comparePartition {
		if port, err = bridgePortOf(ctx, l, ownerHost); err != nil {
			return fail(err)
		}
	}

	w, err := watchHolders(l.Nodes, c.VIPs(), holderPollInterval)
	if err != nil {
		return fail(err)
	}
	p, err := l.Client.Ping(ctx, v, compareProbeInterval)
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

	f := compareFault{Scenario: s, VIP: vi, Owner: owner, At: time.Now()}
	restore := noop
	var ferr error
	switch s {
	case compareCrash:
		// The link first: killed first, the owner's kernel would go on
		// answering for the VIP while the kill and ip(8) run (30-300 ms),
		// and hide a failover faster than that.
		ferr = errors.Join(c.LinkDown(ctx, owner), c.Kill(owner))
		restore = func() error { return rebootNode(ctx, c, owner) }
	case compareGraceful:
		ferr = c.Stop(owner)
		restore = func() error { return c.Start(owner) }
	case comparePartition:
		ferr = nftInBridge(ctx, l, opts.Dir, partitionScript(port, l.Client.Addr))
		restore = func() error { return healSwitch(ctx, l, opts.Dir) } // in case healing below failed
	default:
		ferr = fmt.Errorf("unknown scenario %q", s)
	}
	if ferr != nil {
		stopAll()
		r.Err = fmt.Errorf("%s of %s: %w", s, ownerHost.Name, ferr)
		return r, restore
	}

	if s == comparePartition {
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
	if err == nil && s != comparePartition {
		// The client is served again; give a late second owner or a late
		// gap the time to show.
		select {
		case <-ctx.Done():
		case <-time.After(settle):
		}
	} else if err == nil {
		// The settling time counts from the healing.
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(f.Healed.Add(settle))):
		}
	}
	pr, wr := stopAll()
	if err != nil {
		r.Err = fmt.Errorf("%s not reachable again after %s of %s: %w", v, s, ownerHost.Name, err)
	}
	if wr.Polls == 0 {
		r.Err = errors.Join(r.Err, fmt.Errorf("no holder poll succeeded: %v", wr.LastErr))
	}
	r.Outage, r.Lost, r.Sent = pr.MaxGap, pr.Lost(), pr.Sent
	r.runAnalysis = analyzeRun(wr.Samples, wr.End, f)
	r.fault, r.samples, r.vips = f, wr.Samples, c.VIPs()
	r.PollGap = wr.MaxPollGap
	return r, restore
}

// rebootNode brings a crashed node back as after a reboot: without the VIPs
// its killed daemon left on the interface (a rebooted host has none), link
// up, daemon started.
func rebootNode(ctx context.Context, c compareSystem, k int) error {
	h := c.Lab().Nodes[k]
	for _, v := range c.VIPs() {
		has, err := h.HasAddr(ctx, v)
		if err != nil {
			return err
		}
		if has {
			if err := h.DelAddr(ctx, netip.PrefixFrom(v, 32)); err != nil {
				return err
			}
		}
	}
	if err := c.LinkUp(ctx, k); err != nil {
		return err
	}
	return c.Start(k)
}

// line is the progress line of a run.
func (r compareRun) line(runs int) string {
	head := fmt.Sprintf("%-14s %-9s run %d/%d: %s %s", r.Tool, r.Scenario, r.Run, runs, r.VIP, r.From)
	if r.Err != nil {
		return head + ": FAILED: " + r.Err.Error()
	}
	s := head
	if r.Scenario.isFault() {
		return s + fmt.Sprintf(": %d ownership changes, outage %s, two holders %s, dark after the fault %s, %d of %d probes lost",
			r.Faulted.Moves, fmtMillis(r.Outage), fmtMillis(r.Faulted.TwoHolders), fmtMillis(r.Faulted.DarkAfter), r.Lost, r.Sent)
	}
	if r.TookOver {
		s += fmt.Sprintf(" -> %s after %s", r.To, fmtMillis(r.Takeover))
	} else {
		s += " -> nobody"
	}
	s += fmt.Sprintf(": outage %s, %d of %d probes lost", fmtMillis(r.Outage), r.Lost, r.Sent)
	if r.HandOver > 0 {
		s += fmt.Sprintf(", brief overlap %s", fmtMillis(r.HandOver))
	}
	if r.SplitVIPs > 0 {
		s += fmt.Sprintf(", split brain on %d VIP(s) up to %s", r.SplitVIPs, fmtMillis(r.Split))
		if r.UntilHeal {
			s += fmt.Sprintf(" (until healed, +%s)", fmtMillis(r.AfterHeal))
		}
	}
	return s
}

// timeline describes the fault, every change of holders during the run
// and the healing, relative to the fault, one line each.
func (r compareRun) timeline() string {
	return holderTimeline(r.Scenario, r.fault, r.From, r.samples, r.vips, "on")
}

// holderTimeline describes the fault (scenario s of from), every change
// of holders in samples ("VIP on n1,n2", verb being "on") and the
// healing, relative to the fault, one line each.
func holderTimeline(s compareScenario, fault compareFault, from string, samples []holderSample, vips []netip.Addr, verb string) string {
	type event struct {
		at   time.Duration
		what string
	}
	events := []event{{0, fmt.Sprintf("%s of %s", s, from)}}
	if !fault.Healed.IsZero() {
		events = append(events, event{fault.Healed.Sub(fault.At), "healed"})
	}
	var prev []holderSet
	for _, sample := range samples {
		var changes []string
		for i, h := range sample.Holders {
			if i < len(prev) && prev[i] == h || i >= len(vips) {
				continue
			}
			names := strings.Join(h.names(), ",")
			if names == "" {
				names = "nobody"
			}
			changes = append(changes, fmt.Sprintf("%s %s %s", vips[i], verb, names))
		}
		if len(changes) > 0 {
			events = append(events, event{sample.At.Sub(fault.At), strings.Join(changes, ", ")})
		}
		prev = sample.Holders
	}
	slices.SortStableFunc(events, func(a, b event) int { return cmp.Compare(a.at, b.at) })
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "    %+7d ms  %s\n", e.at.Milliseconds(), e.what)
	}
	return b.String()
}

// fmtMillis formats a duration in whole milliseconds.
func fmtMillis(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}
