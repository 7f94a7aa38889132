// Package health runs a node's local health checks ([[check]] in the
// configuration) and says whether the node is healthy: only a healthy node
// takes VIPs.
//
// Each check is an exec (a program, exit status 0 passes), http (a GET
// that must answer the expected status) or tcp (a connection that must be
// accepted) probe, run every interval with a timeout.
//
// An exec check runs without a shell, in "/", with only
// PATH=/usr/sbin:/usr/bin:/sbin:/bin and WACKAMOLE_CHECK=<name> in its
// environment, in a process group of its own: on timeout the group is
// killed, and so is whatever the program left running when it exits. Its
// output is discarded but for the first line of stderr, which goes into
// the error. An http check follows no redirect, uses no proxy, opens a new
// connection each time and, for https, verifies the certificate.
//
// A Tracker adds
// hysteresis: a check becomes healthy after rise consecutive passes and
// unhealthy after fall consecutive failures. Checks start unhealthy, so a
// node that just started takes no VIP before its service answers; a node
// without checks is always healthy.
//
// Monitor runs all checks of a node, each in its own goroutine, and calls
// back when one changes state, so that the reconcile loop reacts at once
// instead of at its next tick.
package health

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wackamole/wackamole/pkg/config"
)

// CheckStatus is the state of one check, for status reports.
type CheckStatus struct {
	// Name and Kind are the check's, from the configuration.
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Healthy is the check's state after rise and fall.
	Healthy bool `json:"healthy"`
	// LastError is the error of the last run, empty when it passed or
	// none ran yet.
	LastError string `json:"last_error,omitempty"`
	// LastCheck is when the last run ended; zero before the first.
	LastCheck time.Time `json:"last_check"`
	// LastChange is when Healthy last changed; zero while it never did
	// (the check is still in its initial unhealthy state).
	LastChange time.Time `json:"last_change"`
	// Successes and Failures are the consecutive passes and failures up
	// to the last run (one of them is 0).
	Successes int `json:"successes"`
	Failures  int `json:"failures"`
}

// Monitor runs a node's health checks. Its methods are safe for
// concurrent use.
type Monitor struct {
	log      *slog.Logger
	onChange func()
	checks   []*checkRun
	notify   chan struct{} // a pending onChange call
	running  atomic.Bool

	mu sync.Mutex // guards the state in checks
}

// checkRun is one check and its state.
type checkRun struct {
	cfg   config.Check
	probe prober

	// Guarded by Monitor.mu.
	tracker    Tracker
	lastErr    string
	lastCheck  time.Time
	lastChange time.Time
	warned     bool // the first failure before ever passing was logged
}

// New returns a Monitor of checks; Run runs them. Until they pass, a
// Monitor with checks is unhealthy; one without is healthy.
//
// onChange, when not nil, is called after any check changed state. It is
// called from a goroutine of its own, never from Healthy or Status, so it
// may call them; calls are coalesced (one call may stand for several
// changes), and it should return quickly, like a non-blocking send on a
// wake-up channel, because Run waits for it before returning.
//
// The checks are normally a validated configuration's; should a value be
// out of range anyway, New repairs it rather than fail: an interval that
// is not positive becomes config.DefaultCheckInterval, a timeout that is
// not positive or not shorter than the interval becomes half the interval,
// and rise and fall below 1 become 1. A nil logger means slog.Default().
func New(checks []config.Check, logger *slog.Logger, onChange func()) *Monitor {
	if logger == nil {
		logger = slog.Default()
	}
	m := &Monitor{
		log:      logger,
		onChange: onChange,
		notify:   make(chan struct{}, 1),
	}
	for _, c := range checks {
		if c.Interval <= 0 {
			c.Interval = config.DefaultCheckInterval
		}
		if c.Timeout <= 0 || c.Timeout >= c.Interval {
			c.Timeout = c.Interval / 2
		}
		c.Command = append([]string(nil), c.Command...)
		m.checks = append(m.checks, &checkRun{
			cfg:     c,
			probe:   newProber(c),
			tracker: NewTracker(c.Rise, c.Fall),
		})
	}
	return m
}

// Healthy reports whether every check is healthy; true without checks.
func (m *Monitor) Healthy() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.checks {
		if !c.tracker.Healthy() {
			return false
		}
	}
	return true
}

// Status returns the state of every check, in configuration order.
func (m *Monitor) Status() []CheckStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := make([]CheckStatus, len(m.checks))
	for i, c := range m.checks {
		st[i] = CheckStatus{
			Name:       c.cfg.Name,
			Kind:       c.cfg.Kind,
			Healthy:    c.tracker.Healthy(),
			LastError:  c.lastErr,
			LastCheck:  c.lastCheck,
			LastChange: c.lastChange,
			Successes:  c.tracker.Successes(),
			Failures:   c.tracker.Failures(),
		}
	}
	return st
}

// Run runs the checks until ctx is done, then waits for the running
// probes (they are cancelled with ctx: exec checks' processes are killed)
// and for a running onChange, and returns. A probe interrupted by ctx
// counts as neither pass nor failure. Run may be called again after it
// returned, keeping the checks' states; a call while Run is running
// returns at once.
func (m *Monitor) Run(ctx context.Context) {
	if !m.running.CompareAndSwap(false, true) {
		m.log.Error("health: Run called while running; ignored")
		return
	}
	defer m.running.Store(false)
	var wg sync.WaitGroup
	for _, c := range m.checks {
		wg.Go(func() { m.loop(ctx, c) })
	}
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-m.notify:
				if m.onChange != nil {
					m.onChange()
				}
			}
		}
	})
	wg.Wait()
}

// loop runs one check every interval, starting after a random delay so
// that checks started together do not stay in step.
func (m *Monitor) loop(ctx context.Context, c *checkRun) {
	delay := time.NewTimer(jitter(c.cfg.Interval))
	defer delay.Stop()
	select {
	case <-ctx.Done():
		return
	case <-delay.C:
	}
	// A ticker keeps the interval between starts; as the timeout is
	// shorter than the interval, runs never overlap (and a late tick is
	// dropped rather than queued).
	tick := time.NewTicker(c.cfg.Interval)
	defer tick.Stop()
	for {
		err := c.probe(ctx)
		if ctx.Err() != nil {
			return
		}
		m.record(c, err)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// record applies one result to c, logs what changed and schedules
// onChange.
func (m *Monitor) record(c *checkRun, err error) {
	m.mu.Lock()
	changed := c.tracker.Observe(err == nil)
	now := time.Now()
	c.lastCheck = now
	c.lastErr = ""
	if err != nil {
		c.lastErr = err.Error()
	}
	if changed {
		c.lastChange = now
	}
	healthy := c.tracker.Healthy()
	// A check that has never passed does not change state when it fails,
	// so without this the first failures would go unlogged.
	firstFailure := err != nil && !healthy && c.lastChange.IsZero() && !c.warned
	if firstFailure {
		c.warned = true
	}
	successes, failures := c.tracker.Successes(), c.tracker.Failures()
	m.mu.Unlock()

	attrs := []any{"check", c.cfg.Name, "kind", c.cfg.Kind}
	switch {
	case changed && healthy:
		m.log.Info("health check passing", append(attrs, "successes", successes)...)
	case changed:
		m.log.Warn("health check failing", append(attrs, "failures", failures, "error", err)...)
	case firstFailure:
		m.log.Warn("health check not passing yet; the node takes no VIPs until it does", append(attrs, "error", err)...)
	}
	if changed {
		select {
		case m.notify <- struct{}{}:
		default: // a call is pending already and will see this change
		}
	}
}

// jitter returns a random delay in [0, d/2].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return 0
	}
	return rand.N(d/2 + 1)
}
