package agent

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/wackamole/wackamole/pkg/config"
)

// command runs on the loop goroutine.
type command struct {
	run func(a *Agent)
}

// do runs f on the loop goroutine and waits for it.
func (a *Agent) do(ctx context.Context, f func(a *Agent)) error {
	done := make(chan struct{})
	select {
	case a.commands <- command{run: func(a *Agent) { f(a); close(done) }}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Drain hands every VIP this node holds over to other members
// (make-before-break) and keeps the node in the group, ineligible. It
// returns when nothing is left, or with an error naming the VIPs nobody
// could take, or when ctx ends (the node stays draining).
func (a *Agent) Drain(ctx context.Context) error {
	done := make(chan error, 1)
	err := a.do(ctx, func(a *Agent) {
		if !a.draining {
			a.log.Info("draining: handing every VIP over", "held", a.heldNames())
		}
		a.draining = true
		a.drainWaiter = append(a.drainWaiter, done)
	})
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		st := a.Status()
		return fmt.Errorf("drain not finished, still holding %s: %w", strings.Join(st.held(st.Node), ", "), ctx.Err())
	}
}

// Undrain makes the node eligible again.
func (a *Agent) Undrain(ctx context.Context) error {
	var err error
	derr := a.do(ctx, func(a *Agent) {
		if a.stopping {
			err = fmt.Errorf("the daemon is stopping")
			return
		}
		if a.draining {
			a.log.Info("undrained: eligible for VIPs again")
		}
		a.draining = false
	})
	if derr != nil {
		return derr
	}
	return err
}

// Reload replaces the configuration. Settings that only take effect at
// start (see CheckReload) must not change; if they do, nothing changes and
// the error says which. VIPs that were removed or whose addresses changed
// are released first. Gossip keys are the daemon's to apply (they belong
// to the group).
func (a *Agent) Reload(ctx context.Context, c *config.Config) error {
	var err error
	derr := a.do(ctx, func(a *Agent) { err = a.reload(c) })
	if derr != nil {
		return derr
	}
	return err
}

func (a *Agent) reload(c *config.Config) error {
	old := a.cfg
	if err := CheckReload(old, c); err != nil {
		return err
	}
	for _, name := range a.heldNames() {
		ov, _ := findVIP(old, name)
		nv, ok := findVIP(c, name)
		if !ok || !slices.Equal(addrList(ov), addrList(nv)) {
			a.release(name, "reconfigured", "configuration changed")
		}
	}
	a.setConfig(c) // a changed arp.refresh or arp.cache is re-armed by the next round
	a.log.Info("configuration reloaded", "file", c.Path, "vips", len(c.VIPs), "fingerprint", c.Fingerprint()[:16])
	return nil
}

// CheckReload reports whether a running node can move from configuration
// old to new: node name, gossip addresses, timing, encryption on or off,
// control socket and metrics address only take effect at start. It changes
// nothing.
func CheckReload(old, new *config.Config) error {
	var fixed []string
	check := func(name string, same bool) {
		if !same {
			fixed = append(fixed, name)
		}
	}
	check("node_name", old.NodeName == new.NodeName)
	check("bind", old.Bind == new.Bind)
	check("advertise", old.Advertise == new.Advertise)
	check("insecure", old.Insecure == new.Insecure)
	check("timing", old.Timing == new.Timing && old.Membership == new.Membership)
	check("control_socket", old.ControlSocket == new.ControlSocket && old.ControlGroup == new.ControlGroup)
	check("metrics_listen", old.MetricsListen == new.MetricsListen)
	check("mode", old.Mode == new.Mode)
	// The speaker's sessions are set up at start.
	check("bgp", reflect.DeepEqual(old.BGP, new.BGP))
	check("realtime", old.Realtime == new.Realtime && old.RealtimePriority == new.RealtimePriority && old.LockMemory == new.LockMemory)
	if len(fixed) > 0 {
		return fmt.Errorf("reload refused: %s cannot change without a restart; nothing was changed", strings.Join(fixed, ", "))
	}
	return nil
}

// held returns the VIPs the named member holds.
func (s Status) held(node string) []string {
	var out []string
	for _, v := range s.VIPs {
		if slices.Contains(v.Holders, node) {
			out = append(out, v.Name)
		}
	}
	return out
}

// SetHooks replaces the hook runner (after a reload changed the hooks).
func (a *Agent) SetHooks(h Hooks) {
	_ = a.do(context.Background(), func(a *Agent) { a.hooks = h })
}
