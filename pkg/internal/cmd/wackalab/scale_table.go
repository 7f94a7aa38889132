package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wackamole/wackamole/membership"
	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

// scaleReport is everything bench-scale prints at the end.
type scaleReport struct {
	Date         time.Time
	Machine      string // CPUs, kernel and load average at the start
	MachineAfter string // load average at the end
	Runs         int
	Idle         time.Duration
	Extra        string // appended to every node's configuration
	Settle       time.Duration
	Alloc        []allocCost
	Results      []scaleResult
}

func formatScale(rep scaleReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "wackamole bench-scale, %s\n", rep.Date.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Machine: %s before, %s after.\n", rep.Machine, rep.MachineAfter)
	fmt.Fprintf(&b, "One VIP per node, daemons built without the race detector (log level info, mature 1s), %d runs per\n", rep.Runs)
	b.WriteString("failover scenario; a client pings the VIP every 10 ms. load: the 1-minute load average before-after\n")
	b.WriteString("the measurement (the lab's own daemons included).\n")
	if rep.Settle > 0 {
		fmt.Fprintf(&b, "Each failover run waited %v with the group converged first (-settle).\n", rep.Settle)
	}
	if rep.Extra != "" {
		fmt.Fprintf(&b, "Every node's configuration has in addition: %q\n", rep.Extra)
	}

	b.WriteString("\nTime: cold start to convergence (every VIP held once, every node with quorum and all nodes alive;\n")
	b.WriteString("in parentheses when the VIPs were held, and when the last view was full), and the longest gap\n")
	b.WriteString("between replies when a VIP's owner crashes (link down, then SIGKILL) or stops (SIGTERM), ms.\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "nodes\ttiming\tconverge ms\tload\tcrash ms\tlost\tload\tgraceful ms\tlost\tload")
	for _, r := range rep.Results {
		conv := "-"
		if r.Converge.Took > 0 {
			conv = fmt.Sprintf("%d (%d/%d)", r.Converge.Took.Milliseconds(), r.Converge.VIPsHeld.Milliseconds(), r.Converge.ViewsFull.Milliseconds())
		} else if r.Err != "" {
			conv = "not converged"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Nodes, r.Timing, conv, dash(r.Converge.Load),
			outageCell(r.Crash), lostCell(r.Crash), dash(r.CrashLoad),
			outageCell(r.Graceful), lostCell(r.Graceful), dash(r.GracefulLoad))
	}
	tw.Flush()

	fmt.Fprintf(&b, "\nCost per node over %v idle: CPU %% of one core, memory MB (VmRSS; PSS, the proportional share\n", rep.Idle)
	b.WriteString("of pages mapped by several daemons, such as the binary's; private pages), traffic per second as the\n")
	b.WriteString("node's bridge port counts it; median/max over the nodes. changes: ownership changes (false\n")
	b.WriteString("failovers). machine: the whole machine's busy CPU % (of one core) = the lab's daemons + softirq +\n")
	b.WriteString("everything else (other users, this tool).\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "nodes\ttiming\tCPU %\tVmRSS MB\tPSS MB\tprivate MB\tsent B/s\tsent pkt/s\trcvd pkt/s\tchanges\tload\tmachine = daemons + softirq + others")
	for _, r := range rep.Results {
		u := r.Idle
		if u == nil {
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%.2f/%.2f\t%.1f/%.1f\t%.1f/%.1f\t%.1f/%.1f\t%.0f/%.0f\t%.0f/%.0f\t%.0f/%.0f\t%d\t%s\t%.0f = %.0f + %.0f + %.0f\n",
			r.Nodes, r.Timing, u.CPU.Median, u.CPU.Max, u.RSS.Median, u.RSS.Max, u.PSS.Median, u.PSS.Max, u.Private.Median, u.Private.Max,
			u.TxBytes.Median, u.TxBytes.Max, u.TxPackets.Median, u.TxPackets.Max, u.RxPackets.Median, u.RxPackets.Max,
			len(u.Changes), u.Load, u.Machine, u.Daemons, u.SoftIRQ, u.Others)
	}
	tw.Flush()
	for _, r := range rep.Results {
		if r.Idle == nil {
			continue
		}
		for _, ch := range r.Idle.Changes {
			fmt.Fprintf(&b, "  %d nodes %s: %s\n", r.Nodes, r.Timing, ch)
		}
	}

	b.WriteString("\nThe O(N^2) part: heartbeats are all-to-all. Each node sends one beat to each of the N-1 others per\n")
	b.WriteString("interval (one sendmmsg call) and receives N-1: O(N) per node, N(N-1) per interval for the group.\n")
	b.WriteString("Each beat names at most 16 late members, so handling one costs O(1). Measured: packets per second\n")
	b.WriteString("per node (median) against the heartbeats alone; the rest is memberlist's gossip and probes and ARP.\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "nodes\ttiming\tinterval\tbeats sent/s (N-1)/interval\tsent pkt/s\trcvd pkt/s\tgroup beats/s N(N-1)/interval\tgroup pkt/s\tCPU % median")
	for _, r := range rep.Results {
		u := r.Idle
		if u == nil {
			continue
		}
		iv := heartbeatInterval(r.Timing)
		per := float64(r.Nodes-1) / iv.Seconds()
		fmt.Fprintf(tw, "%d\t%s\t%v\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.2f\n", r.Nodes, r.Timing, iv, per, u.TxPackets.Median, u.RxPackets.Median,
			per*float64(r.Nodes), u.GroupPackets, u.CPU.Median)
	}
	tw.Flush()

	b.WriteString("\nThe allocator, per call, timed like a Go benchmark (testing.Benchmark) in this tool before any lab\n")
	b.WriteString("ran, not inside the daemon (it does not time its rounds): vip.Allocate runs in every reconcile\n")
	b.WriteString("round, steady = every VIP held by its owner, cold = every VIP an orphan; vip.Successors runs in\n")
	b.WriteString("bgp mode only (one Allocate per owner).\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "nodes\tVIPs\tAllocate steady us\tAllocate cold us\tSuccessors us")
	for _, a := range rep.Alloc {
		fmt.Fprintf(tw, "%d\t%d\t%.1f\t%.1f\t%.1f\n", a.Nodes, a.VIPs, us(a.Steady), us(a.Cold), us(a.Successors))
	}
	tw.Flush()

	var profiled []scaleResult
	for _, r := range rep.Results {
		if r.Profile != nil {
			profiled = append(profiled, r)
		}
	}
	if len(profiled) > 0 {
		b.WriteString("\nShares of the daemons' CPU time, from their CPU profiles merged (the whole run of each group:\n")
		b.WriteString("cold start, failovers, idle, stop), % of the total; a part counts every sample with one of its\n")
		b.WriteString("functions on the stack.\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		head := "nodes\ttiming\tprofiles\tCPU s"
		for _, p := range profileParts {
			head += "\t" + p.name + " %"
		}
		fmt.Fprintln(tw, head)
		for _, r := range profiled {
			p := r.Profile
			fmt.Fprintf(tw, "%d\t%s\t%d\t%.1f", r.Nodes, r.Timing, p.Profiles, p.Total.Seconds())
			for _, part := range profileParts {
				share := 0.0
				if p.Total > 0 {
					share = 100 * float64(p.Parts[part.name]) / float64(p.Total)
				}
				fmt.Fprintf(tw, "\t%.2f", share)
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}

	var overflowed []string
	for _, r := range rep.Results {
		if r.Overflows > 0 {
			overflowed = append(overflowed, fmt.Sprintf("  %d nodes %s: %d", r.Nodes, r.Timing, r.Overflows))
		}
	}
	if len(overflowed) > 0 {
		b.WriteString("\nThe machine's neighbour table (shared by every namespace, other labs included) overflowed while\n")
		b.WriteString("these groups ran; packets were dropped, the figures are not the daemon's alone:\n")
		b.WriteString(strings.Join(overflowed, "\n") + "\n")
	}

	var failed []string
	for _, r := range rep.Results {
		if r.Err != "" {
			failed = append(failed, fmt.Sprintf("  %d nodes %s: %s", r.Nodes, r.Timing, r.Err))
		}
	}
	if len(failed) > 0 {
		b.WriteString("\nNot measured to the end:\n" + strings.Join(failed, "\n") + "\n")
	}
	return b.String()
}

func heartbeatInterval(timing string) time.Duration {
	t, err := membership.Profile(timing)
	if err != nil {
		return 0
	}
	return t.HeartbeatInterval
}

func outageCell(os []cluster.Outage) string {
	if len(os) == 0 {
		return "-"
	}
	s := cluster.Summarize(os)
	return fmt.Sprintf("%d (%d-%d)", s.Median.Milliseconds(), s.Min.Milliseconds(), s.Max.Milliseconds())
}

func lostCell(os []cluster.Outage) string {
	if len(os) == 0 {
		return "-"
	}
	var ls []string
	for _, o := range os {
		ls = append(ls, fmt.Sprint(o.Lost))
	}
	return strings.Join(ls, " ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
