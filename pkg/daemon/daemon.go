// Package daemon wires a wackamole node together: configuration, gossip
// group, interface binder, ARP announcer and listener, the reconcile agent
// and the control socket. cmd/wackamole only parses flags and signals.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"

	"github.com/wackamole/wackamole/arp"
	"github.com/wackamole/wackamole/membership"
	"github.com/wackamole/wackamole/membership/heartbeat"
	"github.com/wackamole/wackamole/pkg/agent"
	"github.com/wackamole/wackamole/pkg/bgp/remote"
	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/control"
	"github.com/wackamole/wackamole/pkg/hooks"
	"github.com/wackamole/wackamole/pkg/metrics"
	"github.com/wackamole/wackamole/vip"
)

// Daemon is one running node.
type Daemon struct {
	cfg      *config.Config
	log      *slog.Logger
	agent    *agent.Agent
	group    *membership.Group
	binder   *vip.Binder
	announce *arp.Announcer
	listener *arp.Listener  // nil in bgp mode
	speaker  *remote.Client // nil in l2 mode
	// tieBreaker is nil without tie_breaker (or without two voters).
	tieBreaker *tieBreaker
	control    *control.Server
	metrics    *metrics.Server // nil unless metrics_listen is set
	checks     *checks
	hooks      *hooks.Runner
	notify     *notifier // systemd's notify protocol (systemd.go)

	reloadMu sync.Mutex // SIGHUP and the control socket may reload at once
}

// Timing is a node's timing: its profile with the [membership] overrides.
// The group and the agent are both given this one value.
func Timing(c *config.Config) (membership.Timing, error) {
	t, err := membership.Profile(c.Timing)
	if err != nil {
		return t, err
	}
	return t.Override(membership.Timing{
		HeartbeatInterval: c.Membership.HeartbeatInterval,
		FailureTimeout:    c.Membership.FailureTimeout,
		RejoinInterval:    c.Membership.RejoinInterval,
		GossipInterval:    c.Membership.GossipInterval,
	}), nil
}

// MembershipConfig derives the gossip settings from a node's configuration.
func MembershipConfig(c *config.Config, log *slog.Logger) (membership.Config, error) {
	mc := membership.DefaultConfig()
	mc.Name = c.NodeName
	mc.Logger = log
	bind, err := membership.ParseHostPort(c.Bind)
	if err != nil {
		return mc, fmt.Errorf("bind: %w", err)
	}
	mc.Bind = bind
	if c.Advertise != "" {
		if mc.Advertise, err = membership.ParseHostPort(c.Advertise); err != nil {
			return mc, fmt.Errorf("advertise: %w", err)
		}
	}
	mc.Seeds = c.Peers
	if !c.Insecure {
		mc.Key, mc.OldKeys = c.SecretKey, c.SecondaryKeys
	}
	if mc.Timing, err = Timing(c); err != nil {
		return mc, err
	}
	if c.Membership.HeartbeatPort != 0 {
		mc.HeartbeatBind = netip.AddrPortFrom(bind.Addr(), uint16(c.Membership.HeartbeatPort))
	}
	if c.Realtime {
		mc.Sched = heartbeat.Sched{Policy: heartbeat.PolicyFIFO, Priority: c.RealtimePriority}
	}
	for _, v := range c.VIPs {
		for _, a := range v.Addresses {
			mc.Exclude = append(mc.Exclude, a.Prefix.Addr())
		}
	}
	return mc, nil
}

// New builds a node from its configuration; Run starts it.
func New(c *config.Config, log *slog.Logger) (*Daemon, error) {
	d := &Daemon{cfg: c, log: log, notify: newNotifier(log)}
	var err error
	if c.Realtime {
		// Every thread, before the group starts: the heartbeat threads
		// depend on the runtime's other threads (see
		// heartbeat.ScheduleProcess), which run one priority below them.
		s := heartbeat.Sched{Policy: heartbeat.PolicyFIFO, Priority: max(1, c.RealtimePriority-1)}
		if err := heartbeat.ScheduleProcess(s); err != nil {
			return nil, fmt.Errorf("realtime: %w", err)
		}
	}
	// The sockets first: a second daemon on this host must stop here,
	// before it touches addresses or the group.
	if err := d.listen(); err != nil {
		d.close()
		return nil, err
	}
	if c.LockMemory {
		if err := heartbeat.LockMemory(); err != nil {
			d.close()
			return nil, fmt.Errorf("lock_memory: %w", err)
		}
	}
	d.binder, err = vip.NewBinder(vip.BinderConfig{Logger: log})
	if err != nil {
		d.close()
		return nil, fmt.Errorf("netlink: %w", err)
	}
	var router agent.Router
	if c.Mode == config.ModeBGP {
		// No ARP in bgp mode: the VIPs are host routes.
		if d.speaker, err = startSpeaker(c); err != nil {
			d.close()
			return nil, err
		}
		router = routes{d.speaker}
	} else if !c.Witness {
		// A witness holds no VIP: no ARP, no CAP_NET_RAW.
		d.announce = arp.NewAnnouncer(log)
	}
	mc, err := MembershipConfig(c, log)
	if err != nil {
		d.close()
		return nil, err
	}
	meta, err := membership.Meta{
		State:       membership.Joining,
		Healthy:     true,
		Fingerprint: agent.Fingerprint(c),
		Held:        membership.NewBitmap(len(c.VIPs)),
		Leaving:     membership.NewBitmap(len(c.VIPs)),
	}.MarshalBinary()
	if err != nil {
		d.close()
		return nil, err
	}
	d.group, err = membership.Start(mc, meta)
	if err != nil {
		d.close()
		return nil, err
	}
	var wake func()
	d.checks = newChecks(c.Checks, log, func() {
		if wake != nil {
			wake()
		}
	})
	d.hooks = hooks.New(c.Hooks, log)
	o := agent.Options{
		Config: c, Timing: mc.Timing, Group: d.group, Binder: d.binder, Logger: log,
		Health: d.checks, Hooks: d.hooks, OnRound: d.notify.round,
	}
	var self netip.AddrPort
	for _, m := range d.group.View().Members {
		if m.Self {
			self = m.Addr
		}
	}
	if d.tieBreaker = newTieBreaker(c, mc.Timing, self, log); d.tieBreaker != nil {
		o.TieBreaker = d.tieBreaker
	}
	switch {
	case router != nil:
		o.Router = router
	case d.announce != nil:
		o.Announcer = d.announce
		o.Neighbors = func(ifname string) ([]arp.Host, error) {
			return arp.Neighbors(ifname, membership.MaxNeighbors, d.agent.Watched)
		}
	}
	d.agent, err = agent.New(o)
	if err != nil {
		d.group.Shutdown()
		d.close()
		return nil, err
	}
	wake = d.agent.Wake
	if d.tieBreaker != nil {
		d.tieBreaker.wake = d.agent.Wake
	}
	if d.announce != nil {
		d.listener = arp.NewListener(log, d.agent.Watched, func(cl arp.Claim) {
			d.agent.Conflict(cl.Interface, cl.Addr, cl.MAC.String())
		})
		d.listener.SetInterfaces(agent.Interfaces(c))
	}
	return d, nil
}

// Agent is the node's reconcile loop, for the control socket.
func (d *Daemon) Agent() *agent.Agent { return d.agent }

// listen creates the control socket and the metrics listener; Run serves
// them.
func (d *Daemon) listen() error {
	var err error
	d.control, err = control.Listen(control.Options{
		Path: d.cfg.ControlSocket, Group: d.cfg.ControlGroup, Backend: d, Logger: d.log,
	})
	if err != nil {
		return err
	}
	if d.cfg.MetricsListen != "" {
		if d.metrics, err = metrics.Listen(d.cfg.MetricsListen, d, d.log); err != nil {
			return err
		}
	}
	return nil
}

// serve answers the control socket and metrics until close.
func (d *Daemon) serve() {
	go func() {
		if err := d.control.Serve(); err != nil {
			d.log.Error("control socket stopped; wackatrl cannot reach this daemon", "err", err)
		}
	}()
	if d.metrics != nil {
		d.log.Info("serving metrics", "addr", d.metrics.Addr().String(), "path", "/metrics")
		go func() {
			if err := d.metrics.Serve(); err != nil {
				d.log.Error("metrics listener stopped", "err", err)
			}
		}()
	}
}

// Drain hands every VIP over and keeps the node in the group, ineligible.
func (d *Daemon) Drain(ctx context.Context) error { return d.agent.Drain(ctx) }

// Undrain makes the node eligible again.
func (d *Daemon) Undrain(ctx context.Context) error { return d.agent.Undrain(ctx) }

// Run runs the node until ctx ends, then stops it gracefully: VIPs handed
// over, group left, addresses removed.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.close()
	d.serve()
	side, stopSide := context.WithCancel(context.Background())
	d.checks.run(side)
	var wg sync.WaitGroup
	wg.Add(1)
	if d.listener != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.listener.Run(side); err != nil && !errors.Is(err, context.Canceled) {
				d.log.Error("ARP listener stopped", "err", err)
			}
		}()
	}
	if d.tieBreaker != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.tieBreaker.run(side)
		}()
	}
	if wd := d.notify.watchdog; wd > 0 {
		// Only a wake-up: the beat itself comes from the round it
		// causes, so a stuck loop still stops beating.
		wg.Add(1)
		go func() {
			defer wg.Done()
			wakeEvery(side, wd/4, d.agent.Wake)
		}()
	}
	go func() {
		defer wg.Done()
		changed := func() {
			d.agent.Wake()
			if d.listener != nil {
				d.listener.Resync()
			}
			d.group.Rejoin() // a link that came back may reach dropped members
		}
		if err := d.binder.Watch(side, changed); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Warn("watching addresses and links failed; relying on the periodic resync", "err", err)
		}
	}()
	err := d.agent.Run(ctx)
	stopSide()
	wg.Wait()
	d.checks.wait()
	d.hooks.Close()
	return err
}

// Reload loads the configuration file again and applies it; an invalid
// file changes nothing.
func (d *Daemon) Reload(ctx context.Context) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.notify.reloading()
	defer d.notify.reloaded()
	c, err := config.Load(d.cfg.Path)
	if err != nil {
		return err
	}
	// All or nothing: what the agent would refuse is refused before the
	// keys change.
	if err := agent.CheckReload(d.cfg, c); err != nil {
		return err
	}
	if !c.Insecure && !keysEqual(d.cfg, c) {
		if err := d.group.SetKeys(c.SecretKey, c.SecondaryKeys); err != nil {
			return err
		}
	}
	if err := d.agent.Reload(ctx, c); err != nil {
		return err
	}
	if !hooksEqual(d.cfg.Hooks, c.Hooks) {
		old := d.hooks
		d.hooks = hooks.New(c.Hooks, d.log)
		d.agent.SetHooks(d.hooks)
		go old.Close()
	}
	d.checks.set(c.Checks)
	if d.listener != nil {
		d.listener.SetInterfaces(agent.Interfaces(c))
	}
	d.cfg = c
	return nil
}

func keysEqual(a, b *config.Config) bool {
	return slices.Equal(a.SecretKey, b.SecretKey) && slices.EqualFunc(a.SecondaryKeys, b.SecondaryKeys, slices.Equal)
}

func hooksEqual(a, b config.Hooks) bool { return a == b }

func (d *Daemon) close() {
	if d.control != nil {
		if err := d.control.Close(); err != nil {
			d.log.Warn("closing the control socket", "err", err)
		}
	}
	if d.metrics != nil {
		if err := d.metrics.Close(); err != nil {
			d.log.Warn("closing the metrics listener", "err", err)
		}
	}
	if d.announce != nil {
		d.announce.Close()
	}
	if d.speaker != nil {
		// Withdraws what is left, then says goodbye to the routers.
		if err := d.speaker.Close(); err != nil {
			d.log.Warn("closing the BGP speaker", "err", err)
		}
	}
	if d.binder != nil {
		d.binder.Close()
	}
}

// Cleanup removes every VIP address of the configuration, and every address
// carrying wackamole's label, from this host: what a systemd ExecStopPost
// runs after a crash.
func Cleanup(c *config.Config, log *slog.Logger) error {
	b, err := vip.NewBinder(vip.BinderConfig{Logger: log})
	if err != nil {
		return err
	}
	defer b.Close()
	seen := map[vip.Bound]bool{}
	var errs []error
	remove := func(bd vip.Bound) {
		if seen[bd] {
			return
		}
		seen[bd] = true
		if ok, err := b.Has(bd.Interface, bd.Prefix); err != nil || !ok {
			return
		}
		if err := b.Remove(bd.Interface, bd.Prefix); err != nil {
			errs = append(errs, err)
			return
		}
		log.Info("removed", "addr", bd)
	}
	labelled, err := b.Labelled()
	if err != nil {
		errs = append(errs, err)
	}
	for _, bd := range labelled {
		remove(bd)
	}
	for _, v := range c.VIPs {
		for _, a := range v.Addresses {
			remove(vip.Bound{Interface: a.Interface, Prefix: a.Prefix})
		}
	}
	return errors.Join(errs...)
}
