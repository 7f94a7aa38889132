// Package daemon wires a wackamole node together: configuration, gossip
// group, interface binder, ARP announcer and listener, the reconcile agent
// and the control socket. cmd/wackamole only parses flags and signals.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/wackamole/wackamole/arp"
	"github.com/wackamole/wackamole/membership"
	"github.com/wackamole/wackamole/pkg/agent"
	"github.com/wackamole/wackamole/pkg/config"
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
	listener *arp.Listener
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
		mc.Key = c.SecretKey
	}
	t, err := membership.Profile(c.Timing)
	if err != nil {
		return mc, err
	}
	mc.Timing = t.Override(membership.Timing{
		HeartbeatInterval: c.Membership.HeartbeatInterval,
		FailureTimeout:    c.Membership.FailureTimeout,
		RejoinInterval:    c.Membership.RejoinInterval,
		GossipInterval:    c.Membership.GossipInterval,
	})
	for _, v := range c.VIPs {
		for _, a := range v.Addresses {
			mc.Exclude = append(mc.Exclude, a.Prefix.Addr())
		}
	}
	return mc, nil
}

// New builds a node from its configuration; Run starts it.
func New(c *config.Config, log *slog.Logger) (*Daemon, error) {
	d := &Daemon{cfg: c, log: log}
	var err error
	d.binder, err = vip.NewBinder(vip.BinderConfig{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	d.announce = arp.NewAnnouncer(log)
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
	d.agent, err = agent.New(agent.Options{
		Config: c, Group: d.group, Binder: d.binder, Announcer: d.announce, Logger: log,
	})
	if err != nil {
		d.group.Shutdown()
		d.close()
		return nil, err
	}
	d.listener = arp.NewListener(log, d.agent.Watched, func(cl arp.Claim) {
		d.agent.Conflict(cl.Interface, cl.Addr, cl.MAC.String())
	})
	d.listener.SetInterfaces(agent.Interfaces(c))
	return d, nil
}

// Agent is the node's reconcile loop, for the control socket.
func (d *Daemon) Agent() *agent.Agent { return d.agent }

// Run runs the node until ctx ends, then stops it gracefully: VIPs handed
// over, group left, addresses removed.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.close()
	side, stopSide := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := d.listener.Run(side); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Error("ARP listener stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := d.binder.Watch(side, d.agent.Wake); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Warn("watching addresses and links failed; relying on the periodic resync", "err", err)
		}
	}()
	err := d.agent.Run(ctx)
	stopSide()
	wg.Wait()
	return err
}

// Reload loads the configuration file again and applies it; an invalid
// file changes nothing.
func (d *Daemon) Reload(ctx context.Context) error {
	c, err := config.Load(d.cfg.Path)
	if err != nil {
		return err
	}
	if err := d.agent.Reload(ctx, c); err != nil {
		return err
	}
	d.listener.SetInterfaces(agent.Interfaces(c))
	d.cfg = c
	return nil
}

func (d *Daemon) close() {
	if d.announce != nil {
		d.announce.Close()
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
