package main

import (
	"context"
	"crypto/rand"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

func init() {
	register(&command{
		Name:    "bench-compare",
		Args:    "[-bgp [-router bird|frr]] [-runs N] [-tools LIST] [-scenarios LIST] [-partition D] [-stall D] [-flap D] [-starve D] [-cut D] [-loss D] [-keepalived-min D] [-wackamole BIN] [-prefix P] [-out FILE] [-v]",
		Summary: "failover side by side with keepalived and ucarp (-bgp: with ExaBGP behind a router): outage, takeover, split brain, faults",
		Help:    benchCompareHelp,
		Run:     runBenchCompare,
	})
}

const benchCompareHelp = `DESCRIPTION
    Measures the same failovers with wackamole and with the tools it
    replaces, each in a namespace lab of its own: three nodes sharing three
    VIPs, a client pinging the VIP under test every 2 ms, the holders of
    every VIP read from the nodes' interfaces every 10 ms (netlink). The
    tools run one after another, so they never compete for the CPU. It
    prints a line per run and, at the end, a table with the date, every
    tool's settings, the versions of the programs and the machine's load.

    Tools (-tools):
      wackamole-lan    wackamole built from this tree, timing = "lan"
      wackamole-fast   the same, timing = "fast"
      keepalived-1     keepalived (VRRPv2), advert_int 1
      keepalived-min   keepalived (VRRPv3), advert_int of -keepalived-min
                       (default 10ms: 0.01, the smallest keepalived accepts)
      ucarp-1          ucarp, advbase 1 (its smallest: whole seconds only)
      wackamole-lan-rt, wackamole-fast-rt
                       wackamole with realtime = true (not in the default
                       list)

    keepalived and ucarp are set up the standard way to share N VIPs over N
    nodes: one VRRP/CARP instance per VIP, node K preferred for VIP K.
    keepalived: one vrrp_instance per VIP in one process per node, state
    MASTER and priority 150 on the preferred node, 100 and 50 on the others
    (rotated), preemption on, multicast advertisements without
    authentication, VIP 198.18.0.10x/32 dev eth0, garp_master_delay 0 (one
    burst of gratuitous ARPs on becoming master) and garp_master_refresh 10;
    run as "keepalived --vrrp --dont-fork --log-console --log-detail
    --no-syslog" with its own configuration and pid files. ucarp: one
    process per VIP per node, advskew 0, 50 and 100 rotated, --preempt (or
    a node that comes back never takes its VIP back), --shutdown (or a
    stopped ucarp leaves the address on the interface), up and down
    scripts that run "ip addr add/del VIP/32 dev eth0".

    Scenarios (-scenarios), each -runs times per tool, on the current owner
    of a VIP (the node that has the address; another VIP each run):
      crash      all its daemons are killed (SIGKILL) and its link taken
                 down, as in a power failure
      graceful   its daemons get SIGTERM
      partition  it is cut off from the other nodes at the switch (no IP
                 packet either way, ARP still flows) for -partition, while
                 the client still reaches every node; then healed. The cut
                 is made with nftables on the lab's bridge, not on the node,
                 because ucarp's libpcap sockets bypass a node's firewall.
    Fault scenarios (not in the default list; issue 11), on the owner too:
      stall      its daemons stopped (SIGSTOP) for -stall (3s), then
                 continued: a VM paused for live migration
      flap       its switch port down 1 s, up 1 s, for -flap (20s)
      starve     its daemons capped at 2 % of a CPU (a cgroup quota) for
                 -starve (20s)
      cut        the path between it and the next node cut at the switch
                 (no IP between them, ARP flowing, both reach the others
                 and the client) for -cut (20s)
      loss       10 % of every node's IP packets dropped at random, each
                 way, for -loss (60s); nftables on the nodes, which ucarp's
                 libpcap sockets bypass
    A fault run measures, from the fault until 5 s after it, the
    ownership changes of the VIP (every time a node started to hold it),
    the client's longest outage, the time two nodes or more held it, and
    the time the client went without replies after the fault ended.

    Per run it records the client-visible outage (the longest time without
    an echo reply), the takeover time (from the fault until another node
    has the address) and every period in which two nodes held one VIP: a
    brief overlap when the nodes could hear each other and it lasted at
    most 1 s (a make-before-break hand-over, or two masters sorting
    themselves out), a split brain otherwise, with whether it outlived the
    partition. Between runs the owner comes back (after a crash: link up
    and the VIPs its killed daemon left removed, as by a reboot), daemons
    are restarted and the initial state must hold for 1 s: wackamole
    converged, keepalived and ucarp with every node master of its own VIP.

    The figures depend on the machine's load: the table records the load
    average before and after. Run nothing heavy beside it.

BGP SECTION (-bgp)
    The same failovers beyond one L2 segment, in a table of their own: the
    nodes announce the VIPs as host routes over eBGP to one router (a
    namespace with a leg on the nodes' bridge and one on the client's,
    running BIRD 2, or FRR with -router frr: every node a neighbour in an
    AS of its own, ECMP into its kernel table, BFD 100 ms x 3 with the
    nodes that run BFD). The client is behind the router and pings the VIP
    under test every 10 ms; who the router forwards each VIP to is read
    from its kernel table every 10 ms (netlink). Every node runs a web
    service answering its name, which its health check asks on 127.0.0.1
    and which tells which node the client's flow reaches.

    Tools (-tools, default all three):
      wackamole-bgp-owner  wackamole, mode = "bgp", announce = "owner": the
                           owner's ordinary path, the successor's standby
                           path (its AS prepended 3 times); BFD 100 ms x 3
      wackamole-bgp-all    the same with announce = "all" (ECMP)
      exabgp               ExaBGP with its healthcheck on every node, the
                           classic anycast set-up: every node announces
                           every VIP while its web service answers (curl,
                           every 1 s); no BFD (ExaBGP has none), hold time
                           3 s, the least BGP allows

    Scenarios (-scenarios, default crash,graceful,drain,partition), on the
    node the client's flow reaches (the VIP's owner, or with ECMP the node
    the router hashes the client to):
      crash      its link taken down, then its daemons killed: nobody
                 tells the router (a daemon killed on a live host would
                 have its kernel close the BGP session)
      graceful   SIGTERM (ExaBGP killed if it has not exited after 10 s)
      drain      wackatrl drain; ExaBGP: its healthcheck's disable file
      partition  cut off at the switch from the other nodes for
                 -partition; the router and the client still reach it

    Per run it records the outage, the lost probes and the reroute time
    (from the fault until the VIP's route no longer leads to the node).
    The report checks the issue's targets: owner crash median outage at
    most 350 ms, no lost probe in graceful stops and drains, no worse than
    ExaBGP in any scenario.

OPTIONS
    -runs N              runs per tool and scenario (default 3)
    -bgp                 run the BGP section instead (see above)
    -router KIND         the BGP section's router: bird (default) or frr
    -tools LIST          comma-separated (default wackamole-lan,
                         wackamole-fast,keepalived-1,keepalived-min,ucarp-1;
                         with -bgp wackamole-bgp-owner,wackamole-bgp-all,
                         exabgp)
    -scenarios LIST      comma-separated (default crash,graceful,partition;
                         with -bgp crash,graceful,drain,partition)
    -partition D         how long a partition lasts (default 8s; longer than
                         every tool's takeover, about 3.6 s for keepalived-1)
    -stall, -flap, -starve, -cut, -loss D
                         how long each fault scenario lasts (defaults 3s,
                         20s, 20s, 20s, 60s)
    -keepalived-min D    advert_int of keepalived-min (default 10ms; 10ms
                         to 1s in steps of 10ms)
    -prefix P            namespace prefix: tool number I runs in namespaces
                         PI-br, PI-cl, PI-n1, ... (default "wk" and 6 random
                         hex digits)
    -wackamole BIN       measure the prebuilt daemon BIN instead of building
                         this tree's (an older release, for before/after
                         figures; its version is in the table)
    -out FILE            also write the table to FILE
    -v                   print every change of holders during each run,
                         in milliseconds from the fault

REQUIREMENTS
    root, iproute2, nftables, and the Debian packages keepalived and ucarp
    for their rows; with -bgp bird2 (or frr), exabgp and curl ("make deps"
    installs them).

EXIT STATUS
    0 when every run succeeded, 1 when one failed (the table says which and
    why), 2 on a bad command line, 130 when interrupted.
`

// compareConfig is a parsed bench-compare command line.
type compareConfig struct {
	Runs      int
	Tools     []compareTool
	Scenarios []compareScenario
	Hold      time.Duration
	Faults    compareFaultLengths
	Settle    time.Duration
	Prefix    string
	Out       string
	Verbose   bool
	// BGP selects the BGP section, Router its router.
	BGP    bool
	Router cluster.RouterKind
	// Wackamole is a prebuilt daemon to measure instead of this tree's.
	Wackamole string
}

func parseCompareArgs(args []string) (compareConfig, error) {
	fs := flag.NewFlagSet("bench-compare", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runs := fs.Int("runs", 3, "")
	tools := fs.String("tools", "", "")
	scenarios := fs.String("scenarios", "", "")
	bgp := fs.Bool("bgp", false, "")
	routerKind := fs.String("router", string(cluster.BIRD), "")
	hold := fs.Duration("partition", 8*time.Second, "")
	fl := defaultFaultLengths()
	fs.DurationVar(&fl.Stall, "stall", fl.Stall, "")
	fs.DurationVar(&fl.Flap, "flap", fl.Flap, "")
	fs.DurationVar(&fl.Starve, "starve", fl.Starve, "")
	fs.DurationVar(&fl.Cut, "cut", fl.Cut, "")
	fs.DurationVar(&fl.Loss, "loss", fl.Loss, "")
	kaMin := fs.Duration("keepalived-min", 10*time.Millisecond, "")
	prefix := fs.String("prefix", "", "")
	out := fs.String("out", "", "")
	verbose := fs.Bool("v", false, "")
	prebuilt := fs.String("wackamole", "", "")
	if err := fs.Parse(args); err != nil {
		return compareConfig{}, err
	}
	if fs.NArg() > 0 {
		return compareConfig{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	// The defaults of -tools and -scenarios depend on -bgp.
	orDefault := func(name, val, def string) string {
		if !given[name] {
			return def
		}
		return val
	}
	cfg := compareConfig{Runs: *runs, Hold: *hold, Faults: fl, Settle: compareSettle, Prefix: *prefix, Out: *out, Verbose: *verbose, BGP: *bgp, Router: cluster.RouterKind(*routerKind)}
	if *prebuilt != "" {
		abs, err := filepath.Abs(*prebuilt)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			return cfg, fmt.Errorf("-wackamole %q: %v", *prebuilt, err)
		}
		cfg.Wackamole = abs
	}
	if cfg.Runs < 1 {
		return cfg, fmt.Errorf("-runs %d: want at least 1", cfg.Runs)
	}
	if cfg.Hold < time.Second {
		return cfg, fmt.Errorf("-partition %v: want at least 1s", cfg.Hold)
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"stall", fl.Stall}, {"starve", fl.Starve}, {"cut", fl.Cut}, {"loss", fl.Loss}, {"flap", fl.Flap}} {
		if f.d < time.Second || f.name == "flap" && f.d < compareFlapPeriod {
			return cfg, fmt.Errorf("-%s %v: want at least 1s (flap: %v)", f.name, f.d, compareFlapPeriod)
		}
	}
	if *kaMin < 10*time.Millisecond || *kaMin > time.Second || *kaMin%(10*time.Millisecond) != 0 {
		return cfg, fmt.Errorf("-keepalived-min %v: want 10ms to 1s in steps of 10ms", *kaMin)
	}
	var err error
	switch {
	case cfg.BGP:
		if cfg.Router != cluster.BIRD && cfg.Router != cluster.FRR {
			return cfg, fmt.Errorf("-router %q: want bird or frr", cfg.Router)
		}
		if cfg.Tools, err = parseBGPTools(orDefault("tools", *tools, defaultBGPTools)); err != nil {
			return cfg, fmt.Errorf("-tools: %w", err)
		}
		if cfg.Scenarios, err = parseBGPScenarios(orDefault("scenarios", *scenarios, "crash,graceful,drain,partition")); err != nil {
			return cfg, fmt.Errorf("-scenarios: %w", err)
		}
	default:
		if cfg.Router != cluster.BIRD {
			return cfg, errors.New("-router: only with -bgp")
		}
		if cfg.Tools, err = parseCompareTools(orDefault("tools", *tools, defaultCompareTools), *kaMin); err != nil {
			return cfg, fmt.Errorf("-tools: %w", err)
		}
		if cfg.Scenarios, err = parseCompareScenarios(orDefault("scenarios", *scenarios, "crash,graceful,partition")); err != nil {
			return cfg, fmt.Errorf("-scenarios: %w", err)
		}
	}
	if cfg.Prefix == "" {
		b := make([]byte, 3)
		rand.Read(b)
		cfg.Prefix = "wk" + hex.EncodeToString(b)
	}
	// The lab adds a digit and "-br" and so on; keep to its rules.
	if len(cfg.Prefix) > 30 || strings.Trim(cfg.Prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		return cfg, fmt.Errorf("-prefix %q: want at most 30 letters, digits, '_' or '-'", cfg.Prefix)
	}
	return cfg, nil
}

func runBenchCompare(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseCompareArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "wackalab bench-compare: %v\nusage: wackalab bench-compare %s\n", err, commands["bench-compare"].Args)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var date time.Time
	var format func() string
	if cfg.BGP {
		var rep bgpReport
		rep, err = compareBGP(ctx, cfg, stdout)
		date, format = rep.Date, rep.format
	} else {
		var rep compareReport
		rep, err = compare(ctx, cfg, stdout)
		date, format = rep.Date, rep.format
	}
	if date.IsZero() && ctx.Err() == nil {
		// Nothing ran.
		fmt.Fprintln(stderr, "wackalab bench-compare:", err)
		return exitFail
	}
	if date.IsZero() {
		fmt.Fprintln(stderr, "wackalab bench-compare: interrupted")
		return 130
	}
	table := format()
	fmt.Fprint(stdout, "\n"+table)
	if cfg.Out != "" {
		if werr := os.WriteFile(cfg.Out, []byte(table), 0o644); werr != nil {
			fmt.Fprintln(stderr, "wackalab bench-compare:", werr)
			return exitFail
		}
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "wackalab bench-compare: interrupted")
		return 130
	case err != nil:
		fmt.Fprintln(stderr, "wackalab bench-compare:", err)
		return exitFail
	}
	return exitOK
}

// compare runs the comparison. It returns an error when a run failed or a
// tool could not be measured; the report then holds what was measured (a
// zero Date if nothing ran).
func compare(ctx context.Context, cfg compareConfig, progress io.Writer) (compareReport, error) {
	if err := checkCompareDeps(cfg); err != nil {
		return compareReport{}, err
	}
	dir, err := os.MkdirTemp("", "wackalab-compare-")
	if err != nil {
		return compareReport{}, err
	}
	defer os.RemoveAll(dir)
	var wackamole string
	switch {
	case cfg.Wackamole != "":
		wackamole = cfg.Wackamole
	case slices.ContainsFunc(cfg.Tools, func(t compareTool) bool { return t.Kind == "wackamole" }):
		bins, err := buildTools(ctx, dir, "cmd/wackamole")
		if err != nil {
			return compareReport{}, err
		}
		wackamole = bins["wackamole"]
	}
	rep := compareReport{
		Date:      time.Now(),
		Runs:      cfg.Runs,
		Hold:      cfg.Hold,
		Faults:    cfg.Faults,
		Tools:     cfg.Tools,
		Scenarios: cfg.Scenarios,
		Versions:  compareVersions(ctx, cfg.Tools, wackamole, cfg.Wackamole != ""),
	}
	loadBefore := loadAverages()
	var errs []error
	for i, t := range cfg.Tools {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(progress, "== %s: %s\n", t.Name, t.settings())
		c, err := newCompareSystem(ctx, t, dir, cfg.Prefix+strconv.Itoa(i+1), wackamole, nil)
		if err != nil {
			rep.Aborted = append(rep.Aborted, fmt.Sprintf("%s: %v", t.Name, err))
			errs = append(errs, fmt.Errorf("%s: %w", t.Name, err))
			continue
		}
		results, err := runCompareTool(ctx, c, t.Name, compareOpts{Runs: cfg.Runs, Scenarios: cfg.Scenarios, Hold: cfg.Hold, Faults: cfg.Faults, Settle: cfg.Settle, Dir: dir, Out: progress, Verbose: cfg.Verbose})
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
			fmt.Fprintf(progress, "%s daemon logs:\n%s", t.Name, c.Logs(20))
		}
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: removing the lab: %w", t.Name, err))
		}
	}
	rep.Machine = fmt.Sprintf("%d CPUs (%s), load average %s before, %s after", runtime.NumCPU(), kernelRelease(), loadBefore, loadAverages())
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return rep, errors.Join(errs...)
}

// checkCompareDeps fails early, before the build, when a program the
// selected tools and scenarios need is missing.
func checkCompareDeps(cfg compareConfig) error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root")
	}
	need := []string{"ip"}
	if cfg.BGP {
		need = append(need, bgpDeps(cfg.Tools, cfg.Router)...)
	}
	for _, t := range cfg.Tools {
		if t.Command != "" && !slices.Contains(need, t.Command) {
			need = append(need, t.Command)
		}
	}
	if slices.ContainsFunc(cfg.Scenarios, func(s compareScenario) bool {
		return s == comparePartition || s == compareCut || s == compareLoss
	}) {
		need = append(need, "nft")
	}
	var missing []string
	for _, c := range need {
		if _, err := exec.LookPath(c); err != nil {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s not found: install them (make deps)", strings.Join(missing, ", "))
	}
	return nil
}

// compareVersions describes the programs compared: one line each.
func compareVersions(ctx context.Context, tools []compareTool, wackamole string, prebuilt bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range tools {
		if seen[t.Kind] {
			continue
		}
		seen[t.Kind] = true
		switch t.Kind {
		case "wackamole":
			if prebuilt {
				// Not this tree: only what the binary says of itself.
				out = append(out, "wackamole: "+wackamoleVersion(ctx, wackamole, false)+", prebuilt "+wackamole)
				continue
			}
			out = append(out, "wackamole: "+wackamoleVersion(ctx, wackamole, true))
		case "keepalived":
			out = append(out, "keepalived: "+firstNonEmptyLine(commandOutput(ctx, "keepalived", "--version"))+debVersion(ctx, "keepalived"))
		case "ucarp":
			out = append(out, "ucarp: "+firstNonEmptyLine(commandOutput(ctx, "ucarp", "--help"))+debVersion(ctx, "ucarp"))
		}
	}
	return out
}

// wackamoleVersion is the binary's --version and the commit it was built
// from: the one go build stamped, or else (builds with -buildvcs=false)
// what git says of the source tree.
func wackamoleVersion(ctx context.Context, bin string, thisTree bool) string {
	v := strings.TrimSpace(strings.TrimPrefix(firstNonEmptyLine(commandOutput(ctx, bin, "--version")), "wackamole"))
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	switch {
	case rev != "":
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += ", commit " + rev
		if modified == "true" {
			v += " with uncommitted changes"
		}
	case thisTree:
		if desc := gitDescribe(ctx); desc != "" {
			v += ", source tree at " + desc + " (git describe --always --dirty)"
		}
	}
	return v + ", " + info.GoVersion
}

// gitDescribe describes the wackamole source tree's commit, "" if git
// cannot.
func gitDescribe(ctx context.Context) string {
	goBin, err := goTool()
	if err != nil {
		return ""
	}
	root, err := moduleRoot(ctx, goBin)
	if err != nil {
		return ""
	}
	out, err := exec.CommandContext(ctx, "git", "-C", root, "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// commandOutput runs a command briefly and returns its output, or the error.
func commandOutput(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if len(strings.TrimSpace(string(out))) == 0 && err != nil {
		return err.Error()
	}
	return string(out)
}

// firstNonEmptyLine returns the first non-empty line of s, trimmed.
func firstNonEmptyLine(s string) string {
	for line := range strings.Lines(s) {
		if t := strings.TrimSpace(line); t != "" {
			return t
		}
	}
	return "?"
}

// debVersion returns ", Debian package VERSION" if dpkg knows pkg.
func debVersion(ctx context.Context, pkg string) string {
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f", "${Version}", pkg).Output()
	if err != nil || len(out) == 0 {
		return ""
	}
	return ", Debian package " + strings.TrimSpace(string(out))
}

// loadAverages returns the 1, 5 and 15 minute load averages.
func loadAverages() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// kernelRelease returns the running kernel's release.
func kernelRelease() string {
	data, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "Linux"
	}
	return "Linux " + strings.TrimSpace(string(data))
}
