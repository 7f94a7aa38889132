package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
	"github.com/wackamole/wackamole/pkg/internal/lab"
)

func init() {
	register(&command{
		Name:    "bench-failover",
		Args:    "[-runs N] [-timings lan,fast] [-scenarios crash,graceful] [-idle D] [-out FILE]",
		Summary: "client-visible outage on owner crash and graceful stop, median/min/max",
		Help:    benchFailoverHelp,
		Run:     runBenchFailover,
	})
}

const benchFailoverHelp = `DESCRIPTION
    Builds wackamole (without the race detector), starts three nodes in a
    namespace lab, and for each timing profile and scenario makes the owner
    of a VIP go away RUNS times while a client pings that VIP every 10 ms.
    The outage is the largest gap between two replies the client got. After
    each run the node comes back and the group converges again.

    Scenarios:
      crash     the owner's link is taken down and its daemon killed
                (SIGKILL): the host is gone as if its power failed
      graceful  the owner's daemon gets SIGTERM and hands its VIPs over

    Then it watches the idle group for -idle (no fault at all): any
    ownership change would be a false failover. And it reads each daemon's
    resident memory and CPU time over that idle period.

OPTIONS
    -runs N            runs per timing and scenario (default 5)
    -timings LIST      timing profiles, comma-separated (default lan,fast)
    -scenarios LIST    scenarios, comma-separated (default crash,graceful)
    -idle D            idle watch per timing (default 30s; 0 skips it)
    -out FILE          also write the table to FILE
`

type benchRow struct {
	timing   string
	scenario cluster.Scenario
	stats    cluster.Stats
	lost     []int
}

func runBenchFailover(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-failover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runs := fs.Int("runs", 5, "")
	timings := fs.String("timings", "lan,fast", "")
	scenarios := fs.String("scenarios", "crash,graceful", "")
	idle := fs.Duration("idle", 30*time.Second, "")
	out := fs.String("out", "", "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *runs < 1 {
		fmt.Fprintln(stderr, "usage: wackalab bench-failover [-runs N] [-timings lan,fast] [-scenarios crash,graceful] [-idle D] [-out FILE]")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bins, dir, err := buildInTemp(ctx, "wackalab-bench-", "cmd/wackamole")
	if err != nil {
		fmt.Fprintln(stderr, "wackalab:", err)
		return exitFail
	}
	defer os.RemoveAll(dir)

	var rows []benchRow
	var notes []string
	for _, timing := range strings.Split(*timings, ",") {
		c, err := cluster.New(ctx, cluster.Options{Binary: bins["wackamole"], Dir: dir, Nodes: 3, Timing: timing})
		if err != nil {
			fmt.Fprintln(stderr, "wackalab:", err)
			return exitFail
		}
		rs, note, err := benchTiming(ctx, c, timing, strings.Split(*scenarios, ","), *runs, *idle, stdout)
		c.Close()
		if err != nil {
			fmt.Fprintf(stderr, "wackalab: %s: %v\n", timing, err)
			return exitFail
		}
		rows = append(rows, rs...)
		notes = append(notes, note...)
	}
	table := formatBench(rows, notes)
	fmt.Fprint(stdout, "\n"+table)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(table), 0o644); err != nil {
			fmt.Fprintln(stderr, "wackalab:", err)
			return exitFail
		}
	}
	return exitOK
}

func benchTiming(ctx context.Context, c *cluster.Cluster, timing string, scenarios []string, runs int, idle time.Duration, w io.Writer) ([]benchRow, []string, error) {
	if err := c.StartAll(); err != nil {
		return nil, nil, err
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := c.WaitConverged(wait, cluster.Names(c.Nodes...)); err != nil {
		return nil, nil, err
	}
	var rows []benchRow
	for _, s := range scenarios {
		row := benchRow{timing: timing, scenario: cluster.Scenario(s)}
		var outages []cluster.Outage
		for i := 0; i < runs; i++ {
			run, cancel := context.WithTimeout(ctx, 2*time.Minute)
			o, err := c.Failover(run, cluster.Scenario(s), c.VIPs[i%len(c.VIPs)], lab.DefaultInterval)
			cancel()
			if err != nil {
				return nil, nil, fmt.Errorf("%s run %d: %w", s, i+1, err)
			}
			fmt.Fprintf(w, "%-5s %-9s run %d/%d: %s %s -> %s: outage %v, %d of %d probes lost\n",
				timing, s, i+1, runs, o.VIP, o.From, o.To, o.Gap.Round(time.Millisecond), o.Lost, o.Sent)
			outages = append(outages, o)
			row.lost = append(row.lost, o.Lost)
		}
		row.stats = cluster.Summarize(outages)
		rows = append(rows, row)
	}
	var notes []string
	if idle > 0 {
		// Let restarted daemons finish starting before measuring.
		time.Sleep(3 * time.Second)
		before, txBefore := usage(c), txBytes(ctx, c)
		changes, err := c.Idle(ctx, idle)
		if err != nil {
			return nil, nil, err
		}
		after, txAfter := usage(c), txBytes(ctx, c)
		notes = append(notes, fmt.Sprintf("%s: %d ownership changes in %v idle (false failovers)", timing, len(changes), idle))
		for _, ch := range changes {
			notes = append(notes, "  "+ch)
		}
		var maxRSS float64
		var maxCPU float64
		for pid, a := range after {
			b, ok := before[pid]
			if !ok {
				continue
			}
			maxRSS = max(maxRSS, a.rssMB)
			maxCPU = max(maxCPU, 100*(a.cpu-b.cpu).Seconds()/idle.Seconds())
		}
		notes = append(notes, fmt.Sprintf("%s: daemon RSS at most %.1f MB, idle CPU at most %.2f %% of one core", timing, maxRSS, maxCPU))
		var maxTx float64
		for name, a := range txAfter {
			maxTx = max(maxTx, float64(a-txBefore[name])/idle.Seconds())
		}
		notes = append(notes, fmt.Sprintf("%s: at most %.0f bytes/s sent per node while idle (gossip, heartbeats, ARP refresh)", timing, maxTx))
	}
	return rows, notes, nil
}

func formatBench(rows []benchRow, notes []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "wackamole failover, 3 nodes, client ping every 10 ms (%s)\n", time.Now().UTC().Format("2006-01-02"))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "timing\tscenario\truns\tmedian ms\tmin ms\tmax ms\tlost probes per run")
	for _, r := range rows {
		ms := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%v\n", r.timing, r.scenario, r.stats.Runs, ms(r.stats.Median), ms(r.stats.Min), ms(r.stats.Max), r.lost)
	}
	tw.Flush()
	for _, n := range notes {
		b.WriteString(n + "\n")
	}
	return b.String()
}

// procUsage is one process's resident memory and CPU time so far.
type procUsage struct {
	rssMB float64
	cpu   time.Duration
}

// usage reads every running daemon's memory and CPU time from /proc.
func usage(c *cluster.Cluster) map[int]procUsage {
	out := map[int]procUsage{}
	for _, n := range c.Nodes {
		p := n.Process()
		if p == nil || p.Exited() {
			continue
		}
		var u procUsage
		if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid())); err == nil {
			for _, line := range strings.Split(string(status), "\n") {
				var kb float64
				if _, err := fmt.Sscanf(line, "VmRSS: %f kB", &kb); err == nil {
					u.rssMB = kb / 1024
				}
			}
		}
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid())); err == nil {
			// Fields after the command name (which may contain spaces):
			// utime and stime are the 12th and 13th.
			s := string(stat)
			if i := strings.LastIndexByte(s, ')'); i > 0 {
				f := strings.Fields(s[i+1:])
				if len(f) > 12 {
					var ut, st int64
					fmt.Sscan(f[11], &ut)
					fmt.Sscan(f[12], &st)
					u.cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ
				}
			}
		}
		out[p.Pid()] = u
	}
	return out
}

// txBytes reads how many bytes each node's eth0 has sent.
func txBytes(ctx context.Context, c *cluster.Cluster) map[string]uint64 {
	out := map[string]uint64{}
	for _, n := range c.Nodes {
		data, err := n.Host.Run(ctx, "cat", "/sys/class/net/eth0/statistics/tx_bytes")
		if err != nil {
			continue
		}
		var v uint64
		if _, err := fmt.Sscan(strings.TrimSpace(data), &v); err == nil {
			out[n.Name] = v
		}
	}
	return out
}
