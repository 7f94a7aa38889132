package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
	"github.com/wackamole/wackamole/pkg/internal/lab"
	"github.com/wackamole/wackamole/pkg/internal/router"
)

// The BGP section (bench-compare -bgp) measures the same kind of
// failovers in a fabric (package cluster): three nodes announcing three
// VIPs as host routes to one router (BIRD 2 or FRR, eBGP to every node,
// ECMP into its kernel table), the client behind the router pinging the
// VIP under test every 10 ms, and who the router forwards each VIP to
// read from its kernel table every 10 ms (netlink). wackamole in bgp
// mode, announce = "owner" and "all", runs against ExaBGP with its
// healthcheck, the classic anycast set-up.

// compareDrain takes the node out of service on purpose: wackatrl drain,
// or ExaBGP's maintenance (its healthcheck's disable file). BGP section
// only: the L2 comparison's table has no such row.
const compareDrain compareScenario = "drain"

// bgpScenarios are the BGP section's scenarios, in table order.
var bgpScenarios = []compareScenario{compareCrash, compareGraceful, compareDrain, comparePartition}

// defaultBGPTools is -tools' default with -bgp.
const defaultBGPTools = "wackamole-bgp-owner,wackamole-bgp-all,exabgp"

// Kinds of the BGP section's tools (compareTool.Kind).
const (
	kindWackamoleBGP = "wackamole-bgp"
	kindExaBGP       = "exabgp"
)

// bgpBFD is the BFD setting of the section: the target's 100 ms x 3, on
// both sides of every session that has BFD.
const (
	bgpBFDInterval   = 100 * time.Millisecond
	bgpBFDMultiplier = 3
)

// exabgpStopTimeout is how long a graceful stop waits for ExaBGP to exit
// before killing it (cluster.ErrStopKilled; systemd would wait 90 s).
const exabgpStopTimeout = 10 * time.Second

// bgpCheckInterval separates the nodes' health checks of their web
// service (wackamole's http check, ExaBGP's healthcheck).
const bgpCheckInterval = time.Second

// parseBGPScenarios parses -scenarios with -bgp.
func parseBGPScenarios(list string) ([]compareScenario, error) {
	var out []compareScenario
	for _, f := range strings.Split(list, ",") {
		s := compareScenario(strings.TrimSpace(f))
		if !slices.Contains(bgpScenarios, s) {
			return nil, fmt.Errorf("unknown scenario %q (want crash, graceful, drain or partition)", s)
		}
		if slices.Contains(out, s) {
			return nil, fmt.Errorf("scenario %q given twice", s)
		}
		out = append(out, s)
	}
	return out, nil
}

// parseBGPTools parses -tools with -bgp.
func parseBGPTools(list string) ([]compareTool, error) {
	var out []compareTool
	for _, f := range strings.Split(list, ",") {
		name := strings.TrimSpace(f)
		var t compareTool
		switch name {
		case "wackamole-bgp-owner", "wackamole-bgp-all":
			t = compareTool{Kind: kindWackamoleBGP, Timing: "lan", Announce: strings.TrimPrefix(name, "wackamole-bgp-")}
		case "exabgp":
			t = compareTool{Kind: kindExaBGP, Command: "exabgp"}
		default:
			return nil, fmt.Errorf("unknown tool %q (want some of %s)", name, defaultBGPTools)
		}
		t.Name = name
		if slices.ContainsFunc(out, func(o compareTool) bool { return o.Name == name }) {
			return nil, fmt.Errorf("tool %q given twice", name)
		}
		out = append(out, t)
	}
	return out, nil
}

// bgpSettings describes how the BGP section configures t.
func (t compareTool) bgpSettings() string {
	switch t.Kind {
	case kindWackamoleBGP:
		s := fmt.Sprintf("mode = \"bgp\", announce = %q, timing = %q, mature = 1s, majority quorum, BFD %v x %d, hold time 9s, http check of the node's web service every %v (rise 2, fall 2)",
			t.Announce, t.Timing, bgpBFDInterval, bgpBFDMultiplier, bgpCheckInterval)
		if t.Announce == "owner" {
			s += "; each VIP's successor announces a standby path (AS path prepended 3 times)"
		}
		return s
	case kindExaBGP:
		return cluster.ExaBGPOptions{Interval: bgpCheckInterval}.Describe()
	}
	return ""
}

// A bgpSystem is a tool announcing VIPs from the nodes of a fabric.
// Nodes are numbered from 0 here (node k is lab node k+1).
type bgpSystem interface {
	Lab() *lab.Lab
	Router() router.Router
	VIPs() []netip.Addr
	// BFD tells whether the router runs BFD with the nodes.
	BFD() bool
	// Steady reports whether holders (who the router forwards each VIP
	// to) is the state every run starts from, with every daemon up;
	// otherwise it says what is off.
	Steady(holders map[netip.Addr][]string) (bool, string)
	Start(ctx context.Context, k int) error
	Kill(k int) error
	Stop(k int) error
	// Drain takes node k out of service on purpose; Undrain puts it back.
	Drain(ctx context.Context, k int) error
	Undrain(ctx context.Context, k int) error
	LinkDown(ctx context.Context, k int) error
	LinkUp(ctx context.Context, k int) error
	Logs(lines int) string
	Close() error
}

// bgpFabric is the router of the section.
func bgpFabric(kind cluster.RouterKind, bfd bool) cluster.FabricOptions {
	o := cluster.FabricOptions{Router: kind}
	if bfd {
		o.BFD, o.BFDInterval, o.BFDMultiplier = true, bgpBFDInterval, bgpBFDMultiplier
	}
	return o
}

// bgpCheck is the http check the wackamole nodes run, the same as
// ExaBGP's healthcheck: the node's web service on 127.0.0.1.
func bgpCheck() string {
	return fmt.Sprintf("\n[[check]]\nname = \"web\"\nkind = \"http\"\nurl = \"http://127.0.0.1:%d/\"\ninterval = %q\ntimeout = \"500ms\"\nrise = 2\nfall = 2\n",
		cluster.WebPort, bgpCheckInterval.String())
}

// newBGPSystem builds t's fabric in dir and starts its daemons.
func newBGPSystem(ctx context.Context, t compareTool, kind cluster.RouterKind, dir, prefix string, bins map[string]string, logf func(string, ...any)) (bgpSystem, error) {
	dir = filepath.Join(dir, t.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var s bgpSystem
	switch t.Kind {
	case kindWackamoleBGP:
		c, err := cluster.New(ctx, cluster.Options{
			Binary: bins["wackamole"], Dir: dir, Nodes: 3, Timing: t.Timing, Prefix: prefix, Logf: logf,
			Extra: bgpCheck(),
			BGP:   &cluster.BGPOptions{FabricOptions: bgpFabric(kind, true), Announce: t.Announce},
		})
		if err != nil {
			return nil, err
		}
		w := wackamoleBGP{c: c, wackatrl: bins["wackatrl"], all: t.Announce == "all"}
		for _, n := range c.Nodes {
			if err := cluster.ServeName(n.Host, cluster.WebPort); err != nil {
				c.Close()
				return nil, err
			}
		}
		s = w
	case kindExaBGP:
		f, err := cluster.NewExaBGPFleet(ctx, cluster.ExaBGPOptions{Dir: dir, Nodes: 3, Interval: bgpCheckInterval, Router: kind, Prefix: prefix, Logf: logf})
		if err != nil {
			return nil, err
		}
		s = exabgpContender{f}
	default:
		return nil, fmt.Errorf("%s is not a tool of the BGP section", t.Name)
	}
	for k := range s.Lab().Nodes {
		if err := s.Start(ctx, k); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// wackamoleBGP runs wackamole in bgp mode through package cluster.
type wackamoleBGP struct {
	c        *cluster.Cluster
	wackatrl string
	all      bool
}

func (w wackamoleBGP) Lab() *lab.Lab                        { return w.c.Lab }
func (w wackamoleBGP) Router() router.Router                { return w.c.Router }
func (w wackamoleBGP) VIPs() []netip.Addr                   { return w.c.VIPs }
func (w wackamoleBGP) BFD() bool                            { return true }
func (w wackamoleBGP) Start(_ context.Context, k int) error { return w.c.Start(w.c.Nodes[k]) }
func (w wackamoleBGP) Kill(k int) error                     { return w.c.Kill(w.c.Nodes[k]) }
func (w wackamoleBGP) Stop(k int) error                     { return w.c.Stop(w.c.Nodes[k], compareStopTimeout) }
func (w wackamoleBGP) Logs(lines int) string                { return w.c.Logs(lines) }
func (w wackamoleBGP) Close() error                         { return w.c.Close() }
func (w wackamoleBGP) LinkDown(ctx context.Context, k int) error {
	return w.c.LinkDown(ctx, w.c.Nodes[k])
}
func (w wackamoleBGP) LinkUp(ctx context.Context, k int) error { return w.c.LinkUp(ctx, w.c.Nodes[k]) }

// Drain runs wackatrl drain, which returns once the node's VIPs are
// handed over.
func (w wackamoleBGP) Drain(ctx context.Context, k int) error {
	_, err := runOut(ctx, w.wackatrl, "-s", w.c.Nodes[k].Socket, "drain", "--timeout", "30s")
	return err
}

func (w wackamoleBGP) Undrain(ctx context.Context, k int) error {
	_, err := runOut(ctx, w.wackatrl, "-s", w.c.Nodes[k].Socket, "undrain")
	return err
}

// Steady: every daemon up; owner: one node per VIP, balanced; all: every
// node for every VIP.
func (w wackamoleBGP) Steady(h map[netip.Addr][]string) (bool, string) {
	for _, n := range w.c.Nodes {
		if !n.Running() {
			return false, "wackamole " + n.Name + " is not running"
		}
	}
	names := cluster.Names(w.c.Nodes...)
	if w.all {
		return everyNode(h, names)
	}
	return cluster.Converged(h, names)
}

// everyNode reports whether the router forwards every VIP to every one
// of names (ECMP), or says what is off.
func everyNode(h map[netip.Addr][]string, names []string) (bool, string) {
	var off []string
	for _, v := range sortedVIPs(h) {
		if !slices.Equal(h[v], names) {
			off = append(off, fmt.Sprintf("%s via %v", v, h[v]))
		}
	}
	if len(off) > 0 {
		return false, "want every VIP via " + strings.Join(names, ",") + ": " + strings.Join(off, "; ")
	}
	return true, ""
}

func sortedVIPs(h map[netip.Addr][]string) []netip.Addr {
	var vs []netip.Addr
	for v := range h {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, netip.Addr.Compare)
	return vs
}

// exabgpContender runs ExaBGP with its healthcheck through package
// cluster.
type exabgpContender struct{ f *cluster.ExaBGPFleet }

func (e exabgpContender) Lab() *lab.Lab         { return e.f.Lab }
func (e exabgpContender) Router() router.Router { return e.f.Router }
func (e exabgpContender) VIPs() []netip.Addr    { return e.f.VIPs }
func (e exabgpContender) BFD() bool             { return false }
func (e exabgpContender) Start(ctx context.Context, k int) error {
	return e.f.Start(ctx, e.f.Nodes[k])
}
func (e exabgpContender) Kill(k int) error      { return e.f.Kill(e.f.Nodes[k]) }
func (e exabgpContender) Stop(k int) error      { return e.f.Stop(e.f.Nodes[k], exabgpStopTimeout) }
func (e exabgpContender) Logs(lines int) string { return e.f.Logs(lines) }
func (e exabgpContender) Close() error          { return e.f.Close() }
func (e exabgpContender) LinkDown(ctx context.Context, k int) error {
	return e.f.LinkDown(ctx, e.f.Nodes[k])
}
func (e exabgpContender) LinkUp(ctx context.Context, k int) error {
	return e.f.LinkUp(ctx, e.f.Nodes[k])
}
func (e exabgpContender) Drain(_ context.Context, k int) error {
	return e.f.SetMaintenance(e.f.Nodes[k], true)
}
func (e exabgpContender) Undrain(_ context.Context, k int) error {
	return e.f.SetMaintenance(e.f.Nodes[k], false)
}

// Steady: ExaBGP up on every node, every VIP via every node.
func (e exabgpContender) Steady(h map[netip.Addr][]string) (bool, string) {
	var names []string
	for _, n := range e.f.Nodes {
		if !n.Running() {
			return false, "exabgp " + n.Name + " is not running"
		}
		names = append(names, n.Name)
	}
	return everyNode(h, names)
}

// bgpDeps are the programs the BGP section needs besides ip and nft.
func bgpDeps(tools []compareTool, kind cluster.RouterKind) []string {
	need := []string{"bird", "birdc"}
	if kind == cluster.FRR {
		need = []string{"vtysh"}
	}
	for _, t := range tools {
		if t.Command != "" && !slices.Contains(need, t.Command) {
			need = append(need, t.Command)
		}
		if t.Kind == kindExaBGP && !slices.Contains(need, "curl") {
			need = append(need, "curl") // its healthcheck's command
		}
	}
	return need
}

// bgpVersions describes the programs of the BGP section: one line each.
func bgpVersions(ctx context.Context, tools []compareTool, kind cluster.RouterKind, wackamole string) []string {
	var out []string
	if slices.ContainsFunc(tools, func(t compareTool) bool { return t.Kind == kindWackamoleBGP }) {
		out = append(out, "wackamole: "+wackamoleVersion(ctx, wackamole, true)+", GoBGP v4.8.0 in its speaker, wackamole-bgp")
	}
	switch kind {
	case cluster.FRR:
		out = append(out, "router: FRR "+strings.TrimPrefix(firstNonEmptyLine(commandOutput(ctx, "/usr/lib/frr/bgpd", "--version")), "bgpd version ")+debVersion(ctx, "frr"))
	default:
		out = append(out, "router: "+firstNonEmptyLine(commandOutput(ctx, "bird", "--version"))+debVersion(ctx, "bird2"))
	}
	if slices.ContainsFunc(tools, func(t compareTool) bool { return t.Kind == kindExaBGP }) {
		out = append(out, "exabgp: "+firstNonEmptyLine(commandOutput(ctx, "exabgp", "--version"))+debVersion(ctx, "exabgp"))
	}
	return out
}

// compareBGP runs the BGP section. It returns an error when a run failed
// or a tool could not be measured; the report then holds what was
// measured (a zero Date if nothing ran).
func compareBGP(ctx context.Context, cfg compareConfig, progress io.Writer) (bgpReport, error) {
	if err := checkCompareDeps(cfg); err != nil {
		return bgpReport{}, err
	}
	dir, err := os.MkdirTemp("", "wackalab-compare-bgp-")
	if err != nil {
		return bgpReport{}, err
	}
	defer os.RemoveAll(dir)
	bins := map[string]string{}
	if slices.ContainsFunc(cfg.Tools, func(t compareTool) bool { return t.Kind == kindWackamoleBGP }) {
		if bins, err = buildTools(ctx, dir, "cmd/wackamole", "cmd/wackatrl"); err != nil {
			return bgpReport{}, err
		}
	}
	rep := bgpReport{
		Date:      time.Now(),
		Runs:      cfg.Runs,
		Hold:      cfg.Hold,
		Router:    bgpRouterSettings(cfg.Router),
		Tools:     cfg.Tools,
		Scenarios: cfg.Scenarios,
		Versions:  bgpVersions(ctx, cfg.Tools, cfg.Router, bins["wackamole"]),
	}
	loadBefore := loadAverages()
	var errs []error
	for i, t := range cfg.Tools {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(progress, "== %s: %s\n", t.Name, t.bgpSettings())
		s, err := newBGPSystem(ctx, t, cfg.Router, dir, cfg.Prefix+strconv.Itoa(i+1), bins, nil)
		if err != nil {
			rep.Aborted = append(rep.Aborted, fmt.Sprintf("%s: %v", t.Name, err))
			errs = append(errs, fmt.Errorf("%s: %w", t.Name, err))
			continue
		}
		results, err := runBGPTool(ctx, s, t.Name, compareOpts{Runs: cfg.Runs, Scenarios: cfg.Scenarios, Hold: cfg.Hold, Settle: cfg.Settle, Dir: dir, Out: progress, Verbose: cfg.Verbose})
		rep.Results = append(rep.Results, results...)
		failed := err != nil
		for _, r := range results {
			if r.Err != nil {
				failed = true
				errs = append(errs, fmt.Errorf("%s %s run %d: %w", t.Name, r.Scenario, r.Run, r.Err))
			}
		}
		if err != nil && ctx.Err() == nil {
			rep.Aborted = append(rep.Aborted, fmt.Sprintf("%s: %v", t.Name, err))
			errs = append(errs, fmt.Errorf("%s: %w", t.Name, err))
		}
		if failed && ctx.Err() == nil {
			fmt.Fprintf(progress, "%s daemon logs:\n%s", t.Name, s.Logs(20))
		}
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: removing the lab: %w", t.Name, err))
		}
	}
	rep.Machine = fmt.Sprintf("%d CPUs (%s), load average %s before, %s after", runtime.NumCPU(), kernelRelease(), loadBefore, loadAverages())
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return rep, errors.Join(errs...)
}

// bgpRouterSettings describes the section's router.
func bgpRouterSettings(kind cluster.RouterKind) string {
	return bgpFabric(kind, true).Describe() + " (BFD only with the nodes that run it: ExaBGP has none)"
}
