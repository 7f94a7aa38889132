package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
	"github.com/wackamole/wackamole/pkg/internal/cluster/checker"
)

func init() {
	register(&command{
		Name:    "soak",
		Args:    "[-minutes M] [-seed S] [-topology five|witness|tiebreaker] [-dir DIR] [-timing lan|fast] [-quiet D] [-tolerance D] [-max-overlap D] [-prefix PREFIX] [-v]",
		Summary: "random faults on 5 nodes (or two-node topologies) for M minutes while invariants are checked",
		Help:    soakHelp,
		Run:     runSoak,
	})
}

const soakHelp = `DESCRIPTION
    Builds wackamole with the race detector, starts five nodes with five
    VIPs in a namespace lab (or a two-node topology: -topology), and
    injects a random schedule of faults for M minutes while a checker reads
    every node's addresses (every 50 ms, over netlink) and watches the
    daemons' processes.

    Faults (at most two nodes faulty at once, so that a majority exists,
    except in the quorum-loss episodes; see Topologies for two nodes):
      kill            SIGKILL, "wackamole cleanup" (systemd's ExecStopPost),
                      restart after 1-10 s
      term            SIGTERM (graceful: hand-over, leave), restart after
                      1-10 s
      flap            link down for 1-5 s, then up
      isolate         one node cut off from the gossip port, ARP still
                      flowing, for 2-12 s
      split           two nodes against three (all IP traffic between the
                      sides dropped, ARP flowing) for 2-12 s
      quorum-kill     three nodes killed at once: the two left have no
                      quorum; 3-10 s
      quorum-isolate  every node cut off from the gossip port; 3-10 s
      pause           one daemon stalled (SIGSTOP), resumed (SIGCONT) after
                      1-6 s: a VM paused for live migration
      flapping        one node's switch port down for a second, up for a
                      second, and so on, for 5-20 s
      starve          one daemon limited to 2 % of a CPU (a cgroup quota)
                      for 5-20 s
      loss            10 % of one node's IP packets dropped at random, each
                      way (nft numgen), for 10-30 s
      cut             the path between two nodes cut at the switch (no IP
                      between them, ARP flowing, both still reach the
                      others and the client) for 5-20 s
    Faults on different nodes overlap, which makes combinations (one node
    killed while another is isolated, a flap during a graceful stop, ...).

    Topologies (-topology):
      five        five identical nodes, five VIPs (the default)
      witness     two web nodes, n1 and n2, and a witness, n3 (witness =
                  true: a member for quorum that never holds a VIP); four
                  VIPs. Majority quorum of the three: at most one node
                  faulty at once; a split is one node against the other
                  two, a quorum-kill two nodes, and a cut path is alone
                  (the third node is all that joins its two ends)
      tiebreaker  two web nodes with the client as their tie-breaker
                  (tie_breaker = [client], the gateway of a real set-up);
                  four VIPs. One node faulty at a time; no split and no
                  quorum loss; a cut path (or an isolation) cuts the two
                  from each other while both reach the client

    Invariants (a violation of any makes the exit status 1):
      duplicate          once converged, no VIP is on two nodes for more
                         than the tolerance (a make-before-break hand-over
                         shows a VIP on two nodes for a few ms)
      unheld, stray      once converged, with a majority up and connected,
                         every VIP is on exactly one live member of it
      unbalanced         once converged, the majority's loads differ by at
                         most one VIP
      minority-acquired  a node cut off from the majority (isolated, on the
                         smaller side, alone behind a down link, or when the
                         majority is lost) never gains a VIP it did not hold
                         when it was cut off (except within 750 ms: quorum
                         counts members heard within half the failure
                         timeout)
      leftover-address   no address stays on a node whose daemon exited
                         after SIGTERM (or after SIGKILL and the cleanup)
      daemon-died        no daemon exits unless killed or stopped (one that
                         does is cleaned up and restarted, and the run goes
                         on)
      stop-failed        SIGTERM makes a daemon exit 0 within 15 s
      log                no daemon log shows "panic", "fatal error" or a
                         data race
      long-overlap       only with -max-overlap D: no VIP is on two
                         reachable nodes for longer than D, faults or not
      dark               no VIP is on no reachable node for longer than
                         the failure timeout + 1 s while a node with quorum
                         could take it (a running, connected member of the
                         majority for 2 s, not stalled, starved, flapping
                         or possibly damped), faults or not
      black-hole         with no fault active, the client's neighbour entry
                         for every VIP (ip neigh in its namespace; the
                         client pings every VIP every 50 ms) points at a
                         node that holds it, from 1 s (+ the tolerance)
                         after the last change of its holders or the end
                         of the last fault
      witness-held       (witness) the witness never holds a VIP address,
                         at any time
    With a witness, the majority is two of the three; the witness counts
    for quorum, but never as a node that could take an unheld VIP (dark)
    nor for the balance. With a tie-breaker, a connected node that does not
    hear the other (the other down or behind a down link, an isolation, a
    cut path) acts as if it had quorum, as the daemons do when they reach
    the tie-breaker: it may acquire, must take what is unheld (dark), and
    once converged every VIP is on exactly one of the two (duplicate,
    unheld); the balance is not checked while they do not hear each other
    (the VIPs are split by a rendezvous hash). A node whose link is down
    reaches no tie-breaker: it must not acquire.
    A stalled daemon cannot let go of what the others took meanwhile: the
    group is not converged while one is paused. A node whose link went down
    or flapped may be damped for 32 s after it: the balance is checked
    without it meanwhile.
    Converged means no fault injected or undone for the quiet time (-quiet,
    default 5 s: twice the failure timeout + mature + settle of the lan
    profile).

    It prints one line per fault (time, fault, nodes, outcome), each
    violation as it is found, a status line every minute, and at the end the
    counts of faults by kind and of violations by kind, the seed and the
    total time. The daemons' logs, configurations, the schedule and the
    report stay in the log directory, which is printed. On a violation it
    prints each one (what, when, the holders at that moment) and the tail
    of the daemons' logs. When a violation is found, or a daemon is still
    running 3.5 s after SIGTERM, every daemon's own view (its control-socket
    status: members, plan, why a VIP waits) is saved to status-*.txt in
    the log directory, while it lasts. The summary also lists the longest
    periods a VIP was on two reachable nodes, faults or not.

OPTIONS
    -minutes M         length of the fault schedule (default 30; fractions
                       allowed); the run ends about 30 s later
    -seed S            replay the schedule of seed S (default: random; the
                       seed is printed)
    -topology T        five (default), witness or tiebreaker: see
                       Topologies
    -dir DIR           log directory (default: a new /tmp/wackalab-soak-*)
    -timing lan|fast   the daemons' timing profile (default lan)
    -quiet D           convergence window (default 5s)
    -tolerance D       how long a converged group may show a VIP twice or
                       not at all (default 200ms)
    -max-overlap D     make a VIP on two reachable nodes for longer than D
                       a violation even during faults (default 0: off)
    -prefix PREFIX     namespace prefix (default: wk + 6 random hex digits)
    -v                 print the lab's progress messages to standard error

EXAMPLES
    sudo make soak MINUTES=10
    sudo go run ./pkg/internal/cmd/wackalab soak -minutes 2 -seed 1
    sudo go run ./pkg/internal/cmd/wackalab soak -minutes 2 -topology witness
`

type soakOptions struct {
	minutes   float64
	seed      int64
	seedSet   bool
	topology  cluster.Topology
	dir       string
	timing    string
	quiet     time.Duration
	tolerance time.Duration
	overlap   time.Duration
	prefix    string
	verbose   bool
}

// parseSoak parses the soak command line; the error is a usage error.
func parseSoak(args []string) (soakOptions, error) {
	fs := flag.NewFlagSet("wackalab soak", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	opt := soakOptions{}
	fs.Float64Var(&opt.minutes, "minutes", 30, "")
	fs.Int64Var(&opt.seed, "seed", 0, "")
	topology := fs.String("topology", string(cluster.TopologyFive), "")
	fs.StringVar(&opt.dir, "dir", "", "")
	fs.StringVar(&opt.timing, "timing", "lan", "")
	fs.DurationVar(&opt.quiet, "quiet", checker.DefaultQuiet, "")
	fs.DurationVar(&opt.tolerance, "tolerance", checker.DefaultTolerance, "")
	fs.DurationVar(&opt.overlap, "max-overlap", 0, "")
	fs.StringVar(&opt.prefix, "prefix", "", "")
	fs.BoolVar(&opt.verbose, "v", false, "")
	if err := fs.Parse(args); err != nil {
		return opt, err
	}
	if fs.NArg() > 0 {
		return opt, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { opt.seedSet = opt.seedSet || f.Name == "seed" })
	t, err := cluster.ParseTopology(*topology)
	if err == nil && *topology == "" {
		err = errors.New("want five, witness or tiebreaker")
	}
	if err != nil {
		return opt, fmt.Errorf("-topology: %v", err)
	}
	opt.topology = t
	switch {
	case !(opt.minutes > 0) || opt.minutes > 7*24*60:
		return opt, fmt.Errorf("-minutes %v: want more than 0 (and at most a week)", opt.minutes)
	case opt.timing != "lan" && opt.timing != "fast":
		return opt, fmt.Errorf("-timing %q: want lan or fast", opt.timing)
	case opt.quiet <= 0:
		return opt, fmt.Errorf("-quiet %v: want a positive duration", opt.quiet)
	case opt.tolerance <= 0:
		return opt, fmt.Errorf("-tolerance %v: want a positive duration", opt.tolerance)
	case opt.overlap < 0:
		return opt, fmt.Errorf("-max-overlap %v: want a positive duration, or 0 for none", opt.overlap)
	}
	if !opt.seedSet {
		var b [8]byte
		rand.Read(b[:])
		opt.seed = int64(binary.BigEndian.Uint64(b[:]) >> 1) // positive: easier to copy
	}
	return opt, nil
}

func runSoak(args []string, stdout, stderr io.Writer) int {
	opt, err := parseSoak(args)
	if err != nil {
		fmt.Fprintf(stderr, "wackalab soak: %v\nRun 'wackalab soak --help' for usage.\n", err)
		return exitUsage
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "wackalab soak: network namespaces need root: run it with sudo (sudo make soak)")
		return exitFail
	}
	// Ctrl-C cancels ctx: the run stops, and the lab and the processes are
	// removed before the program exits.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := soak(ctx, opt, stdout, stderr)
	if ctx.Err() != nil {
		fmt.Fprintln(stdout, "\nInterrupted: the lab is removed.")
		return 130
	}
	return code
}

// soak runs the soak test and returns the exit status.
func soak(ctx context.Context, opt soakOptions, stdout, stderr io.Writer) int {
	started := time.Now()
	dir := opt.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "wackalab-soak-")
		if err != nil {
			fmt.Fprintln(stderr, "wackalab soak:", err)
			return exitFail
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(stderr, "wackalab soak:", err)
		return exitFail
	}
	binDir, err := os.MkdirTemp("", "wackalab-soak-bin-")
	if err != nil {
		fmt.Fprintln(stderr, "wackalab soak:", err)
		return exitFail
	}
	defer os.RemoveAll(binDir)

	// Progress goes to stdout and to the report file in the log directory.
	var out bytes.Buffer
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		line := fmt.Sprintf(format, args...)
		fmt.Fprintln(stdout, line)
		out.WriteString(line + "\n")
	}
	minutes := time.Duration(opt.minutes * float64(time.Minute)).Round(time.Second)
	say("wackalab soak: %s, timing %s, %v of faults, seed %d", opt.topology.Describe(), opt.timing, minutes, opt.seed)
	replay := ""
	if opt.topology != cluster.TopologyFive {
		replay = " -topology " + string(opt.topology)
	}
	say("replay with: wackalab soak%s -seed %d -minutes %v", replay, opt.seed, opt.minutes)
	say("logs: %s", dir)
	say("load average before: %s (%d CPUs)", cluster.LoadAvg(), runtime.NumCPU())

	say("building wackamole with the race detector ...")
	bin, err := buildRace(ctx, binDir)
	if err != nil {
		fmt.Fprintln(stderr, "wackalab soak:", err)
		return exitFail
	}
	logf := func(string, ...any) {}
	if opt.verbose {
		logf = func(format string, args ...any) { fmt.Fprintf(stderr, "lab: "+format+"\n", args...) }
	}
	c, err := cluster.New(ctx, cluster.Options{Binary: bin, Dir: dir, Nodes: opt.topology.Nodes(), VIPs: opt.topology.VIPs(), Timing: opt.timing, Prefix: opt.prefix, Logf: logf})
	if err != nil {
		fmt.Fprintln(stderr, "wackalab soak:", err)
		return exitFail
	}
	say("lab %s; starting the daemons", c.Lab.Prefix)
	rep, err := c.Soak(ctx, cluster.SoakOptions{
		Topology:   opt.topology,
		Duration:   minutes,
		Seed:       opt.seed,
		Quiet:      opt.quiet,
		Tolerance:  opt.tolerance,
		MaxOverlap: opt.overlap,
		Progress:   func(line string) { say("%s", line) },
	})
	tails := ""
	if err != nil || len(rep.Violations) > 0 {
		tails = c.Logs(40)
	}
	if cerr := c.Close(); cerr != nil {
		fmt.Fprintf(stderr, "wackalab soak: removing the lab: %v\n", cerr)
	}
	if ctx.Err() != nil {
		return exitFail // the caller says it was interrupted
	}

	say("")
	if len(rep.Violations) > 0 {
		say("VIOLATIONS:")
		for i, v := range rep.Violations {
			say("  %d. %s", i+1, v)
		}
		say("")
	}
	say("%s", strings.TrimRight(rep.Summary(), "\n"))
	say("load average after: %s; wall time %v", cluster.LoadAvg(), time.Since(started).Round(time.Second))
	writeSoakFiles(dir, rep, out.String(), say)
	switch {
	case err != nil:
		fmt.Fprintf(stdout, "\nFAILED: %v\n\nThe daemons' last log lines:\n%s", err, indent(tails, "    "))
		return exitFail
	case len(rep.Violations) > 0:
		fmt.Fprintf(stdout, "\nFAILED: %d violations (seed %d). The daemons' last log lines:\n%s", len(rep.Violations), rep.Seed, indent(tails, "    "))
		fmt.Fprintf(stdout, "Logs: %s\n", dir)
		return exitFail
	}
	fmt.Fprintf(stdout, "\nPASS: no violation (seed %d). Logs: %s\n", rep.Seed, dir)
	return exitOK
}

// writeSoakFiles saves the schedule and the report next to the logs.
func writeSoakFiles(dir string, rep *cluster.SoakReport, report string, say func(string, ...any)) {
	var sched strings.Builder
	for _, f := range rep.Schedule {
		sched.WriteString(f.String() + "\n")
	}
	for name, data := range map[string]string{"schedule.txt": sched.String(), "report.txt": report} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			say("writing %s: %v", name, err)
		}
	}
}

// buildRace builds the daemon with the race detector into dir and returns
// its path.
func buildRace(ctx context.Context, dir string) (string, error) {
	goBin, err := goTool()
	if err != nil {
		return "", err
	}
	root, err := moduleRoot(ctx, goBin)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "wackamole")
	cmd := exec.CommandContext(ctx, goBin, "build", "-race", "-o", bin, "./cmd/wackamole")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if strings.Contains(msg, "-race requires cgo") || strings.Contains(msg, "CGO_ENABLED") {
			msg += "\n(the race detector needs cgo and a C compiler: install gcc)"
		}
		return "", errors.New("go build -race ./cmd/wackamole: " + err.Error() + "\n" + msg)
	}
	return bin, nil
}
