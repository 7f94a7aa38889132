package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// A compareScenario is a way for the owner of a VIP to go away.
type compareScenario string

const (
	compareCrash     compareScenario = "crash"
	compareGraceful  compareScenario = "graceful"
	comparePartition compareScenario = "partition"
)

var compareScenarios = []compareScenario{compareCrash, compareGraceful, comparePartition, compareStall, compareFlap, compareStarve, compareCut, compareLoss}

// parseCompareScenarios parses a comma-separated list of scenarios.
func parseCompareScenarios(list string) ([]compareScenario, error) {
	var out []compareScenario
	for _, f := range strings.Split(list, ",") {
		s := compareScenario(strings.TrimSpace(f))
		if !slices.Contains(compareScenarios, s) {
			return nil, fmt.Errorf("unknown scenario %q (want crash, graceful, partition, stall, flap, starve, cut or loss)", s)
		}
		if slices.Contains(out, s) {
			return nil, fmt.Errorf("scenario %q given twice", s)
		}
		out = append(out, s)
	}
	return out, nil
}

// A compareTool is one failover tool with one setting, as the comparison
// runs it.
type compareTool struct {
	// Name is the name on the command line and in the table.
	Name string
	// Kind is "wackamole", or a cluster.RivalKind.
	Kind string
	// Timing is wackamole's timing profile; Realtime runs its heartbeats
	// under SCHED_FIFO (realtime = true).
	Timing   string
	Realtime bool
	// Advert is keepalived's advert_int or ucarp's advbase.
	Advert time.Duration
	// Announce is wackamole's [bgp] announce policy (BGP section).
	Announce string
	// Command is the program that must be installed.
	Command string
}

// defaultCompareTools is the -tools default: every tool the comparison knows.
const defaultCompareTools = "wackamole-lan,wackamole-fast,keepalived-1,keepalived-min,ucarp-1"

// parseCompareTools parses a comma-separated list of tool names; kaMin is the
// advert_int of keepalived-min.
func parseCompareTools(list string, kaMin time.Duration) ([]compareTool, error) {
	var out []compareTool
	for _, f := range strings.Split(list, ",") {
		name := strings.TrimSpace(f)
		var t compareTool
		switch name {
		case "wackamole-lan", "wackamole-fast":
			t = compareTool{Kind: "wackamole", Timing: strings.TrimPrefix(name, "wackamole-")}
		case "wackamole-lan-rt", "wackamole-fast-rt":
			t = compareTool{Kind: "wackamole", Timing: strings.TrimSuffix(strings.TrimPrefix(name, "wackamole-"), "-rt"), Realtime: true}
		case "keepalived-1":
			t = compareTool{Kind: string(cluster.Keepalived), Advert: time.Second, Command: "keepalived"}
		case "keepalived-min":
			t = compareTool{Kind: string(cluster.Keepalived), Advert: kaMin, Command: "keepalived"}
		case "ucarp-1":
			t = compareTool{Kind: string(cluster.Ucarp), Advert: time.Second, Command: "ucarp"}
		default:
			return nil, fmt.Errorf("unknown tool %q (want some of %s, wackamole-lan-rt, wackamole-fast-rt)", name, defaultCompareTools)
		}
		t.Name = name
		if slices.ContainsFunc(out, func(o compareTool) bool { return o.Name == name }) {
			return nil, fmt.Errorf("tool %q given twice", name)
		}
		out = append(out, t)
	}
	return out, nil
}

// settings describes how the comparison configures t, for the report.
func (t compareTool) settings() string {
	switch t.Kind {
	case "wackamole":
		rt := ""
		if t.Realtime {
			rt = ", realtime = true"
		}
		return fmt.Sprintf("timing = %q%s, mature = 1s, 3 VIPs as /32, majority quorum", t.Timing, rt)
	case string(cluster.Keepalived):
		adv, version := fmt.Sprintf("%g", t.Advert.Seconds()), 2
		if t.Advert%time.Second != 0 {
			version = 3
		}
		return fmt.Sprintf("VRRPv%d, advert_int %s, one vrrp_instance per VIP, priorities 150/100/50 rotated, preempt, multicast, no auth, garp_master_delay 0, garp_master_refresh 10", version, adv)
	case string(cluster.Ucarp):
		return fmt.Sprintf("advbase %d, advskew 0/50/100 rotated, --preempt --shutdown, one process per VIP, multicast, up/down scripts run ip addr add/del", int(t.Advert/time.Second))
	}
	return ""
}

// A compareSystem is a tool running on the nodes of a lab. Nodes are numbered
// from 0 here (node k is lab node k+1, "n<k+1>").
type compareSystem interface {
	Lab() *lab.Lab
	VIPs() []netip.Addr
	// Holders reads who holds each VIP (nodes whose link is down left out).
	Holders(ctx context.Context) (map[netip.Addr][]string, error)
	// Steady reports whether holders is the state every run starts from,
	// and every daemon runs; otherwise it says what is off.
	Steady(holders map[netip.Addr][]string) (bool, string)
	Start(k int) error
	Kill(k int) error
	Stop(k int) error
	LinkDown(ctx context.Context, k int) error
	LinkUp(ctx context.Context, k int) error
	// Pause stops node k's daemons (SIGSTOP), Resume continues them.
	Pause(k int) error
	Resume(k int) error
	// LimitCPU caps node k's daemons at percent of a CPU; lift removes it.
	LimitCPU(k int, percent float64) (lift func() error, err error)
	Logs(lines int) string
	Close() error
}

// compareStopTimeout bounds a graceful stop.
const compareStopTimeout = 30 * time.Second

// newCompareSystem builds t's lab in dir and starts its daemons.
func newCompareSystem(ctx context.Context, t compareTool, dir, prefix, wackamole string, logf func(string, ...any)) (compareSystem, error) {
	dir = filepath.Join(dir, t.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var c compareSystem
	switch t.Kind {
	case "wackamole":
		extra := ""
		if t.Realtime {
			extra = "realtime = true\n"
		}
		cl, err := cluster.New(ctx, cluster.Options{Binary: wackamole, Dir: dir, Nodes: 3, Timing: t.Timing, Prefix: prefix, Logf: logf, Extra: extra})
		if err != nil {
			return nil, err
		}
		c = wackamoleContender{cl}
	default:
		r, err := cluster.NewRivals(ctx, cluster.RivalOptions{Kind: cluster.RivalKind(t.Kind), Dir: dir, Nodes: 3, Advert: t.Advert, Prefix: prefix, Logf: logf})
		if err != nil {
			return nil, err
		}
		c = rivalContender{r}
	}
	for k := range c.Lab().Nodes {
		if err := c.Start(k); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// wackamoleContender runs wackamole through package cluster.
type wackamoleContender struct{ c *cluster.Cluster }

func (w wackamoleContender) Lab() *lab.Lab         { return w.c.Lab }
func (w wackamoleContender) VIPs() []netip.Addr    { return w.c.VIPs }
func (w wackamoleContender) Start(k int) error     { return w.c.Start(w.c.Nodes[k]) }
func (w wackamoleContender) Kill(k int) error      { return w.c.Kill(w.c.Nodes[k]) }
func (w wackamoleContender) Stop(k int) error      { return w.c.Stop(w.c.Nodes[k], compareStopTimeout) }
func (w wackamoleContender) Logs(lines int) string { return w.c.Logs(lines) }
func (w wackamoleContender) Close() error          { return w.c.Close() }
func (w wackamoleContender) LinkDown(ctx context.Context, k int) error {
	return w.c.LinkDown(ctx, w.c.Nodes[k])
}
func (w wackamoleContender) LinkUp(ctx context.Context, k int) error {
	return w.c.LinkUp(ctx, w.c.Nodes[k])
}
func (w wackamoleContender) Holders(ctx context.Context) (map[netip.Addr][]string, error) {
	return w.c.Holders(ctx)
}
func (w wackamoleContender) Pause(k int) error  { return w.c.Pause(w.c.Nodes[k]) }
func (w wackamoleContender) Resume(k int) error { return w.c.Resume(w.c.Nodes[k]) }
func (w wackamoleContender) LimitCPU(k int, percent float64) (func() error, error) {
	lim, err := w.c.LimitCPU(w.c.Nodes[k], percent)
	if err != nil {
		return nil, err
	}
	return lim.Remove, nil
}

// Steady: converged (one holder per VIP, balanced) with every daemon up.
func (w wackamoleContender) Steady(h map[netip.Addr][]string) (bool, string) {
	for _, n := range w.c.Nodes {
		if !n.Running() {
			return false, "wackamole " + n.Name + " is not running"
		}
	}
	return cluster.Converged(h, cluster.Names(w.c.Nodes...))
}

// rivalContender runs keepalived or ucarp through package cluster.
type rivalContender struct{ r *cluster.Rivals }

func (c rivalContender) Lab() *lab.Lab         { return c.r.Lab }
func (c rivalContender) VIPs() []netip.Addr    { return c.r.VIPs }
func (c rivalContender) Start(k int) error     { return c.r.Start(c.r.Nodes[k]) }
func (c rivalContender) Kill(k int) error      { return c.r.Kill(c.r.Nodes[k]) }
func (c rivalContender) Stop(k int) error      { return c.r.Stop(c.r.Nodes[k], compareStopTimeout) }
func (c rivalContender) Logs(lines int) string { return c.r.Logs(lines) }
func (c rivalContender) Close() error          { return c.r.Close() }
func (c rivalContender) LinkDown(ctx context.Context, k int) error {
	return c.r.LinkDown(ctx, c.r.Nodes[k])
}
func (c rivalContender) LinkUp(ctx context.Context, k int) error {
	return c.r.LinkUp(ctx, c.r.Nodes[k])
}
func (c rivalContender) Holders(ctx context.Context) (map[netip.Addr][]string, error) {
	return c.r.Holders(ctx)
}

// Pause stops every process of node k (ucarp runs one per VIP).
func (c rivalContender) Pause(k int) error {
	var errs []error
	for _, p := range c.r.Nodes[k].Processes() {
		errs = append(errs, p.Pause())
	}
	return errors.Join(errs...)
}

func (c rivalContender) Resume(k int) error {
	var errs []error
	for _, p := range c.r.Nodes[k].Processes() {
		errs = append(errs, p.Resume())
	}
	return errors.Join(errs...)
}

// LimitCPU caps each process of node k (and its workers) at percent.
func (c rivalContender) LimitCPU(k int, percent float64) (func() error, error) {
	var lims []*lab.CPULimit
	lift := func() error {
		var errs []error
		for _, l := range lims {
			errs = append(errs, l.Remove())
		}
		return errors.Join(errs...)
	}
	for _, p := range c.r.Nodes[k].Processes() {
		l, err := p.LimitCPU(percent)
		if err != nil {
			return nil, errors.Join(err, lift())
		}
		lims = append(lims, l)
	}
	return lift, nil
}

// Steady: every VIP on its preferred node only, with every daemon up.
func (c rivalContender) Steady(h map[netip.Addr][]string) (bool, string) {
	for _, n := range c.r.Nodes {
		if !n.Running() {
			return false, fmt.Sprintf("%s %s is not running", c.r.Kind, n.Name)
		}
	}
	return c.r.Preferred(h)
}
