package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
	"github.com/wackamole/wackamole/pkg/internal/lab"
)

func init() {
	register(&command{
		Name:    "bench-scale",
		Args:    "[-nodes 3,10,25,50] [-timings lan,fast] [-fast-max N] [-runs N] [-idle D] [-converge D] [-settle D] [-profile] [-extra TOML] [-logs DIR] [-out FILE]",
		Summary: "cold start, failover and idle cost per node for groups of 3 to 50 nodes",
		Help:    benchScaleHelp,
		Run:     runBenchScale,
	})
}

const benchScaleHelp = `DESCRIPTION
    Measures how wackamole scales with the size of the group. For each
    group size of -nodes and each timing profile it builds a namespace lab
    of that many nodes on one bridge, with one VIP per node, runs the
    daemon (built without the race detector) on every node, and measures:

      converge   a cold start: every daemon started at once (one after
                 another as fast as they can be spawned), until every VIP
                 has exactly one holder (read from the nodes' interfaces
                 every 20 ms through netlink) and every node's control
                 socket shows quorum and all the nodes alive; measured
                 from the first start
      crash      the link of a VIP's owner taken down and its daemon
                 killed (SIGKILL), while a client pings that VIP every
                 10 ms: the largest gap between replies from the last one
                 before the fault on, -runs times
      graceful   the owner stopped with SIGTERM (it hands over), the same
      idle       over -idle with no fault: CPU time of every daemon (% of
                 one core; median and maximum over the nodes; summed over
                 its threads' /proc/PID/task/TID/schedstat, to the
                 nanosecond, where /proc/PID/stat counts 10 ms ticks),
                 its memory
                 (VmRSS, and from /proc/PID/smaps_rollup its proportional
                 share PSS and its private pages: the 37 MB binary is
                 mapped by every daemon and counted by each VmRSS), bytes
                 and packets per second sent and received by each node
                 (its bridge port's counters), and any ownership change
                 (a false failover)

    The nodes have permanent ARP entries for each other (lab option
    StaticNeighbors): every namespace of the machine shares one neighbour
    table, which holds 1024 dynamic entries, and N nodes that talk to each
    other need N(N-1); beyond about 30 nodes it overflows and drops
    packets (of other labs on the machine too). The client's entries, and
    the nodes' entries of the client, stay dynamic. The tables count the
    overflows seen anyway (/proc/net/stat/arp_cache).

    Then the heartbeat cost, the part of a node's work that grows with the
    group: each node sends one heartbeat to each of the N-1 others every
    interval and receives N-1, so the group as a whole carries N(N-1)
    heartbeats per interval. The table compares the packets counted with
    that figure.

    And the allocator's share of a reconcile round. The daemon does not
    time its rounds; instead the tool times vip.Allocate (every round),
    and vip.Successors (bgp mode only) for the same N nodes and N VIPs,
    in the steady state (every VIP held by its owner) and cold (every VIP
    an orphan), the way a Go benchmark does (testing.Benchmark), before
    any lab runs. With -profile every daemon also writes a CPU profile;
    the tool stops the daemons gracefully at the end of each group, merges
    their profiles and prints the share of the daemons' CPU time spent in
    reconcile rounds, in vip.Allocate and in the heartbeat path.

    Other work on the machine colours every figure: the tables give the
    load average (1 minute) around each measurement, and for the idle
    period the machine's CPU use by everything but the lab's daemons.

    A group that does not converge within -converge is reported as such,
    with what was missing, and the next group is measured.

OPTIONS
    -nodes LIST        group sizes, comma-separated (default 3,10,25,50;
                       at most 64 nodes)
    -timings LIST      timing profiles, comma-separated (default lan,fast)
    -fast-max N        run the fast profile only for groups of at most N
                       nodes (default 10; 0: every size)
    -runs N            crash and graceful runs per group (default 3; 0
                       skips them, e.g. to profile the idle group)
    -idle D            idle measurement per group (default 30s)
    -converge D        how long a cold start may take before it counts as
                       not converged (default 60s)
    -settle D          wait D before each failover run (default 0: one
                       after the other). The start of a node (the one the
                       previous run brought back: its joins, everyone's
                       announcements, a rebalance) loads every node, and a
                       node whose heartbeat loop ran late is more tolerant
                       of silence for 10-20 s afterwards (membership's
                       local health), which lengthens a failover that
                       comes right after; with -settle 25s each crash
                       meets a quiet group
    -profile           CPU profiles of the daemons (see above)
    -extra TOML        append TOML to every node's configuration, for
                       experiments (e.g. '[balance]\nmax_moves = "all"'
                       written with a real newline); the table says so
    -logs DIR          keep every daemon's log (and profile) under
                       DIR/NODES-TIMING/; by default they are removed
    -out FILE          also write the tables to FILE
`

// scaleOpts are bench-scale's settings.
type scaleOpts struct {
	nodes    []int
	timings  []string
	fastMax  int
	runs     int
	idle     time.Duration
	converge time.Duration
	settle   time.Duration
	profile  bool
	logs     string
	out      string
	extra    string
}

// maxScaleNodes bounds -nodes: the holder watcher keeps one bit per node.
const maxScaleNodes = 64

const scaleUsage = "usage: wackalab bench-scale [-nodes 3,10,25,50] [-timings lan,fast] [-fast-max N] [-runs N] [-idle D] [-converge D] [-settle D] [-profile] [-logs DIR] [-out FILE]"

// parseScaleArgs parses bench-scale's command line.
func parseScaleArgs(args []string, stderr io.Writer) (scaleOpts, error) {
	fs := flag.NewFlagSet("bench-scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodes := fs.String("nodes", "3,10,25,50", "")
	timings := fs.String("timings", "lan,fast", "")
	o := scaleOpts{}
	fs.IntVar(&o.fastMax, "fast-max", 10, "")
	fs.IntVar(&o.runs, "runs", 3, "")
	fs.DurationVar(&o.idle, "idle", 30*time.Second, "")
	fs.DurationVar(&o.converge, "converge", time.Minute, "")
	fs.DurationVar(&o.settle, "settle", 0, "")
	fs.BoolVar(&o.profile, "profile", false, "")
	fs.StringVar(&o.logs, "logs", "", "")
	fs.StringVar(&o.out, "out", "", "")
	fs.StringVar(&o.extra, "extra", "", "")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, f := range strings.Split(*nodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > min(maxScaleNodes, lab.MaxNodes, lab.NumVIPs) {
			return o, fmt.Errorf("-nodes %q: %q is not a group size from 1 to %d", *nodes, f, min(maxScaleNodes, lab.MaxNodes, lab.NumVIPs))
		}
		if !slices.Contains(o.nodes, n) {
			o.nodes = append(o.nodes, n)
		}
	}
	for _, f := range strings.Split(*timings, ",") {
		t := strings.TrimSpace(f)
		if t != "lan" && t != "fast" && t != "wan" {
			return o, fmt.Errorf("-timings %q: %q is not a timing profile (lan, fast or wan)", *timings, f)
		}
		if !slices.Contains(o.timings, t) {
			o.timings = append(o.timings, t)
		}
	}
	switch {
	case o.fastMax < 0:
		return o, fmt.Errorf("-fast-max %d: want 0 or more", o.fastMax)
	case o.runs < 0:
		return o, fmt.Errorf("-runs %d: want 0 or more", o.runs)
	case o.idle <= 0:
		return o, fmt.Errorf("-idle %v: want a positive duration", o.idle)
	case o.converge <= 0:
		return o, fmt.Errorf("-converge %v: want a positive duration", o.converge)
	case o.settle < 0:
		return o, fmt.Errorf("-settle %v: want 0 or more", o.settle)
	}
	return o, nil
}

// scaleCase is one group to measure.
type scaleCase struct {
	nodes  int
	timing string
}

// cases lists the groups to measure, by size, then timing.
func (o scaleOpts) cases() []scaleCase {
	var out []scaleCase
	for _, n := range o.nodes {
		for _, t := range o.timings {
			if t == "fast" && o.fastMax > 0 && n > o.fastMax {
				continue
			}
			out = append(out, scaleCase{nodes: n, timing: t})
		}
	}
	return out
}

func runBenchScale(args []string, stdout, stderr io.Writer) int {
	o, err := parseScaleArgs(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "wackalab: bench-scale:", err)
		}
		fmt.Fprintln(stderr, scaleUsage)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bins, dir, err := buildInTemp(ctx, "wackalab-scale-", "cmd/wackamole")
	if err != nil {
		fmt.Fprintln(stderr, "wackalab:", err)
		return exitFail
	}
	defer os.RemoveAll(dir)

	rep := scaleReport{Date: time.Now().UTC(), Machine: machine(), Runs: o.runs, Idle: o.idle, Extra: o.extra, Settle: o.settle}
	// The allocator first, while no lab competes for the CPU.
	for _, n := range o.nodes {
		c := allocatorCost(n, n)
		rep.Alloc = append(rep.Alloc, c)
		fmt.Fprintf(stdout, "allocator N=%d V=%d: Allocate %.1f us (cold %.1f us), Successors %.1f us\n", n, n, us(c.Steady), us(c.Cold), us(c.Successors))
	}
	for _, sc := range o.cases() {
		if ctx.Err() != nil {
			break
		}
		caseDir := filepath.Join(dir, fmt.Sprintf("%d-%s", sc.nodes, sc.timing))
		if err := os.Mkdir(caseDir, 0o755); err != nil {
			fmt.Fprintln(stderr, "wackalab:", err)
			return exitFail
		}
		fmt.Fprintf(stdout, "== %d nodes, %s (load average %s)\n", sc.nodes, sc.timing, loadAverages())
		r := measureScale(ctx, bins["wackamole"], caseDir, sc, o, stdout)
		if ctx.Err() != nil {
			break // what failed, failed for the interruption
		}
		if r.Err != "" {
			fmt.Fprintf(stdout, "%d nodes %s: %s\n", sc.nodes, sc.timing, r.Err)
		}
		rep.Results = append(rep.Results, r)
		if o.logs != "" {
			if err := keepLogs(caseDir, filepath.Join(o.logs, filepath.Base(caseDir))); err != nil {
				fmt.Fprintln(stderr, "wackalab:", err)
			}
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "wackalab: interrupted; the labs are removed")
		return 130
	}
	rep.MachineAfter = loadAverages()
	table := formatScale(rep)
	fmt.Fprint(stdout, "\n"+table)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(table), 0o644); err != nil {
			fmt.Fprintln(stderr, "wackalab:", err)
			return exitFail
		}
	}
	return exitOK
}

// keepLogs copies the files of dir (logs, profiles) into to.
func keepLogs(dir, to string) error {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(to, e.Name()), data, 0o644)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// scaleResult is what was measured of one group.
type scaleResult struct {
	Nodes  int
	Timing string
	// Err says what ended the measurement early ("" if nothing did).
	Err      string
	Converge convergence
	// Crash and Graceful are the failover runs, with the 1-minute load
	// average before and after them.
	Crash, Graceful         []cluster.Outage
	CrashLoad, GracefulLoad string
	Idle                    *idleUsage
	Profile                 *profileShares
	// Overflows counts the machine's neighbour table overflows while the
	// group ran (-1: unknown).
	Overflows int64
}

// measureScale measures one group; failures end up in Err, with what was
// measured until then.
func measureScale(ctx context.Context, binary, dir string, sc scaleCase, o scaleOpts, w io.Writer) (r scaleResult) {
	r = scaleResult{Nodes: sc.nodes, Timing: sc.timing, Overflows: -1}
	if before, err := neighborOverflows(); err == nil {
		defer func() {
			if after, err := neighborOverflows(); err == nil {
				r.Overflows = int64(after - before)
			}
		}()
	}
	c, err := cluster.New(ctx, cluster.Options{Binary: binary, Dir: dir, Nodes: sc.nodes, Timing: sc.timing, LogLevel: "info", CPUProfile: o.profile, StaticNeighbors: true, Extra: o.extra})
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer c.Close()
	if o.profile {
		// Also after a failure: the profiles of a group that does not
		// converge are the interesting ones.
		defer func() {
			shares, err := stopAndProfile(ctx, c, binary, dir)
			if err != nil {
				fmt.Fprintf(w, "%d nodes %s: profile: %v\n", sc.nodes, sc.timing, err)
			}
			if shares.Profiles > 0 {
				r.Profile = &shares
			}
		}()
	}

	conv, err := measureConvergence(ctx, c, o.converge)
	r.Converge = conv
	if err != nil {
		r.Err = err.Error()
		return r
	}
	fmt.Fprintf(w, "%d nodes %s: converged in %v (every VIP held once after %v, every view full after %v; daemons spawned within %v)\n",
		sc.nodes, sc.timing, ms(conv.Took), ms(conv.VIPsHeld), ms(conv.ViewsFull), ms(conv.Spawned))

	for _, s := range []cluster.Scenario{cluster.Crash, cluster.Graceful} {
		if o.runs == 0 {
			break
		}
		load := loadAverage1()
		var outs []cluster.Outage
		for i := 0; i < o.runs; i++ {
			select {
			case <-ctx.Done():
				r.Err = ctx.Err().Error()
				return r
			case <-time.After(o.settle):
			}
			run, cancel := context.WithTimeout(ctx, 3*time.Minute)
			out, err := c.Failover(run, s, c.VIPs[i%len(c.VIPs)], lab.DefaultInterval)
			cancel()
			if err != nil {
				r.Err = fmt.Sprintf("%s run %d: %v", s, i+1, err)
				return r
			}
			gap := ""
			if !out.GapStart.IsZero() {
				gap = fmt.Sprintf(" (from fault%+v to fault%+v)", ms(out.GapStart.Sub(out.Fault)), ms(out.GapEnd.Sub(out.Fault)))
			}
			fmt.Fprintf(w, "%s %d nodes %s %-8s run %d/%d: %s %s -> %s: outage %v%s, %d of %d probes lost, load %s\n",
				out.Fault.Format("15:04:05.000"), sc.nodes, sc.timing, s, i+1, o.runs, out.VIP, out.From, out.To, ms(out.Gap), gap, out.Lost, out.Sent, loadAverage1())
			outs = append(outs, out)
		}
		load += "-" + loadAverage1()
		if s == cluster.Crash {
			r.Crash, r.CrashLoad = outs, load
		} else {
			r.Graceful, r.GracefulLoad = outs, load
		}
	}

	// Let the last restarted daemon finish its start before measuring.
	select {
	case <-ctx.Done():
		r.Err = ctx.Err().Error()
		return r
	case <-time.After(3 * time.Second):
	}
	idle, err := measureIdle(ctx, c, o.idle)
	if err != nil {
		r.Err = "idle: " + err.Error()
		return r
	}
	r.Idle = &idle
	fmt.Fprintf(w, "%d nodes %s idle: CPU %% of a core per node median %.2f max %.2f; sent %.0f B/s, %.0f packets/s per node (median); %d ownership changes\n",
		sc.nodes, sc.timing, idle.CPU.Median, idle.CPU.Max, idle.TxBytes.Median, idle.TxPackets.Median, len(idle.Changes))
	return r
}

// stopAndProfile stops every daemon with SIGTERM (so that each writes its
// CPU profile) and reads the merged profiles.
func stopAndProfile(ctx context.Context, c *cluster.Cluster, binary, dir string) (profileShares, error) {
	var wg sync.WaitGroup
	errs := make([]error, len(c.Nodes))
	for i, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Stop(n, time.Minute)
		}()
	}
	wg.Wait()
	// A daemon that did not stop cleanly wrote no profile: the others
	// still count.
	stopErr := errors.Join(errs...)
	var files []string
	for _, n := range c.Nodes {
		for _, p := range n.ProfilePaths() {
			if st, err := os.Stat(p); err == nil && st.Size() > 0 {
				files = append(files, p)
			}
		}
	}
	shares, err := readProfiles(ctx, binary, files, filepath.Join(dir, "profile-top.txt"))
	return shares, errors.Join(err, stopErr)
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
