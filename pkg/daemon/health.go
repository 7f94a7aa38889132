package daemon

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/health"
)

// checks runs the node's health checks and swaps them on reload. A new
// Monitor starts unhealthy (a node must not take VIPs before its service
// answers), so the running one is kept when a reload leaves the checks as
// they were: otherwise every SIGHUP would hand the node's VIPs over.
type checks struct {
	log  *slog.Logger
	wake func()

	mu      sync.Mutex
	ctx     context.Context
	current []config.Check
	monitor *health.Monitor
	stop    context.CancelFunc
	done    chan struct{}
}

func newChecks(cs []config.Check, log *slog.Logger, wake func()) *checks {
	c := &checks{log: log, wake: wake, current: cs}
	c.monitor = health.New(cs, log, wake)
	return c
}

// run starts the monitor; it stops when ctx ends.
func (c *checks) run(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ctx = ctx
	c.startLocked()
}

func (c *checks) startLocked() {
	ctx, stop := context.WithCancel(c.ctx)
	done := make(chan struct{})
	m := c.monitor
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	c.stop, c.done = stop, done
}

// set replaces the checks if they changed.
func (c *checks) set(cs []config.Check) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sameChecks(c.current, cs) {
		return
	}
	c.log.Info("health checks changed: the new ones must pass before this node takes VIPs again", "checks", len(cs))
	c.current = cs
	c.monitor = health.New(cs, c.log, c.wake)
	if c.ctx != nil {
		c.stop()
		<-c.done
		c.startLocked()
	}
	c.wake()
}

// wait stops the monitor and waits for it.
func (c *checks) wait() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stop != nil {
		c.stop()
		<-c.done
	}
}

func (c *checks) Healthy() bool {
	c.mu.Lock()
	m := c.monitor
	c.mu.Unlock()
	return m.Healthy()
}

func (c *checks) Status() []health.CheckStatus {
	c.mu.Lock()
	m := c.monitor
	c.mu.Unlock()
	return m.Status()
}

// sameChecks compares checks ignoring where they are in the file.
func sameChecks(a, b []config.Check) bool {
	return slices.EqualFunc(a, b, func(x, y config.Check) bool {
		x.Line, y.Line = 0, 0
		return x.Name == y.Name && x.Kind == y.Kind && x.URL == y.URL && x.ExpectStatus == y.ExpectStatus &&
			slices.Equal(x.Command, y.Command) && x.Address == y.Address && x.Interval == y.Interval &&
			x.Timeout == y.Timeout && x.Rise == y.Rise && x.Fall == y.Fall
	})
}
