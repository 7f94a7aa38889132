package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// compareReport is everything the comparison prints at the end.
type compareReport struct {
	Date time.Time
	Runs int
	// Hold is how long each partition lasted, Faults each fault scenario.
	Hold      time.Duration
	Faults    compareFaultLengths
	Tools     []compareTool
	Scenarios []compareScenario
	Results   []compareRun
	// Versions are one line per program ("keepalived: Keepalived v2.2.7").
	Versions []string
	// Machine describes CPUs and load, which color every figure.
	Machine string
	// Aborted lists the tools whose runs stopped early, with the reason.
	Aborted []string
}

// durationStats are the median, minimum and maximum of some durations.
type durationStats struct {
	N                int
	Median, Min, Max time.Duration
}

func summarizeDurations(ds []time.Duration) durationStats {
	if len(ds) == 0 {
		return durationStats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return durationStats{N: len(s), Median: med, Min: s[0], Max: s[len(s)-1]}
}

// String formats the stats as "median (min-max)" in milliseconds, or just
// the value for one run.
func (s durationStats) String() string {
	if s.N == 0 {
		return "-"
	}
	m := func(d time.Duration) int64 { return d.Round(time.Millisecond).Milliseconds() }
	if s.N == 1 || s.Min == s.Max {
		return fmt.Sprint(m(s.Median))
	}
	return fmt.Sprintf("%d (%d-%d)", m(s.Median), m(s.Min), m(s.Max))
}

// compareRow is the summary of one tool and scenario.
type compareRow struct {
	Tool       string
	Scenario   compareScenario
	OK, Total  int
	Outage     durationStats
	Takeover   durationStats
	NoTakeover int // runs in which nobody took the VIP over
	Lost       []int
	HandOver   time.Duration
	// SplitRuns counts runs with a split brain; Split is the longest,
	// SplitVIPs the most VIPs affected in one run, UntilHeal the runs in
	// which it outlived the partition and AfterHeal the longest it then
	// went on.
	SplitRuns, SplitVIPs, UntilHeal int
	Split, AfterHeal                time.Duration
	// Fault scenarios: the ownership changes of each run, and the stats
	// of the two-holder time and the dark time after the fault.
	Moves                 []int
	TwoHolders, DarkAfter durationStats
	Errors                []string
}

// rows groups results by tool and scenario, in the report's order.
func (rep compareReport) rows() []compareRow {
	var out []compareRow
	for _, t := range rep.Tools {
		for _, s := range rep.Scenarios {
			row := compareRow{Tool: t.Name, Scenario: s}
			var outages, takeovers, twos, darks []time.Duration
			for _, r := range rep.Results {
				if r.Tool != t.Name || r.Scenario != s {
					continue
				}
				row.Total++
				if r.Err != nil {
					row.Errors = append(row.Errors, fmt.Sprintf("run %d: %v", r.Run, r.Err))
					continue
				}
				row.OK++
				outages = append(outages, r.Outage)
				if s.isFault() {
					row.Moves = append(row.Moves, r.Faulted.Moves)
					twos = append(twos, r.Faulted.TwoHolders)
					darks = append(darks, r.Faulted.DarkAfter)
				}
				row.Lost = append(row.Lost, r.Lost)
				if r.TookOver {
					takeovers = append(takeovers, r.Takeover)
				} else {
					row.NoTakeover++
				}
				row.HandOver = max(row.HandOver, r.HandOver)
				if r.SplitVIPs > 0 {
					row.SplitRuns++
					row.SplitVIPs = max(row.SplitVIPs, r.SplitVIPs)
					row.Split = max(row.Split, r.Split)
					if r.UntilHeal {
						row.UntilHeal++
						row.AfterHeal = max(row.AfterHeal, r.AfterHeal)
					}
				}
			}
			if row.Total == 0 {
				continue
			}
			row.Outage, row.Takeover = summarizeDurations(outages), summarizeDurations(takeovers)
			row.TwoHolders, row.DarkAfter = summarizeDurations(twos), summarizeDurations(darks)
			out = append(out, row)
		}
	}
	return out
}

func (row compareRow) takeoverText() string {
	s := row.Takeover.String()
	if row.NoTakeover > 0 {
		if row.Takeover.N == 0 {
			return "none"
		}
		s += fmt.Sprintf(", %d none", row.NoTakeover)
	}
	return s
}

func (row compareRow) splitText() string {
	if row.OK == 0 {
		return "-"
	}
	if row.SplitRuns == 0 {
		return "no"
	}
	s := fmt.Sprintf("%d/%d runs, %d VIP(s), up to %d ms", row.SplitRuns, row.OK, row.SplitVIPs, row.Split.Round(time.Millisecond).Milliseconds())
	if row.UntilHeal > 0 {
		s += fmt.Sprintf(", until healed (+%d ms)", row.AfterHeal.Round(time.Millisecond).Milliseconds())
	} else if row.Scenario == comparePartition {
		s += ", ended before healing"
	}
	return s
}

func intsText(ns []int) string {
	if len(ns) == 0 {
		return "-"
	}
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, " ")
}

func (row compareRow) lostText() string {
	if len(row.Lost) == 0 {
		return "-"
	}
	parts := make([]string, len(row.Lost))
	for i, n := range row.Lost {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, " ")
}

// format renders the report: the table, then what the columns mean, the
// settings of every tool, the versions and the machine.
func (rep compareReport) format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Failover comparison, 3 nodes sharing 3 VIPs, client ping every %d ms, %d run(s) per row (%s)\n\n",
		compareProbeInterval.Milliseconds(),
		rep.Runs, rep.Date.UTC().Format("2006-01-02 15:04 MST"))
	var errs []string
	var failRows, faultRows []compareRow
	for _, row := range rep.rows() {
		if row.Scenario.isFault() {
			faultRows = append(faultRows, row)
		} else {
			failRows = append(failRows, row)
		}
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	if len(failRows) > 0 {
		fmt.Fprintln(tw, "tool\tscenario\truns\toutage ms\ttakeover ms\tlost probes\tbrief overlap ms\tsplit brain")
	}
	for _, row := range failRows {
		runs := fmt.Sprint(row.OK)
		if row.OK != row.Total {
			runs = fmt.Sprintf("%d/%d", row.OK, row.Total)
		}
		hand := "-"
		if row.HandOver > 0 {
			hand = fmt.Sprint(row.HandOver.Round(time.Millisecond).Milliseconds())
		}
		outage := row.Outage.String()
		if row.OK == 0 {
			outage = "failed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.Tool, row.Scenario, runs, outage, row.takeoverText(), row.lostText(), hand, row.splitText())
		for _, e := range row.Errors {
			errs = append(errs, fmt.Sprintf("%s %s %s", row.Tool, row.Scenario, e))
		}
	}
	tw.Flush()
	if len(faultRows) > 0 {
		fmt.Fprintf(&b, "\nFaults (on the owner of the VIP under test, client ping every %d ms; from the fault until 5 s after it):\n\n", compareFaultProbeInterval.Milliseconds())
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "tool\tscenario\truns\townership changes\tlongest outage ms\ttwo holders ms\tdark after ms\tlost probes")
		for _, row := range faultRows {
			runs := fmt.Sprint(row.OK)
			if row.OK != row.Total {
				runs = fmt.Sprintf("%d/%d", row.OK, row.Total)
			}
			outage := row.Outage.String()
			if row.OK == 0 {
				outage = "failed"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.Tool, row.Scenario, runs, intsText(row.Moves), outage, row.TwoHolders, row.DarkAfter, row.lostText())
			for _, e := range row.Errors {
				errs = append(errs, fmt.Sprintf("%s %s %s", row.Tool, row.Scenario, e))
			}
		}
		tw.Flush()
		fl := rep.Faults
		fmt.Fprintf(&b, `
  ownership     every time a node started to hold a VIP, any VIP (one
  changes       figure per run, in run order)
  longest       the longest time the client went without an echo reply
  outage        from the VIP under test
  two holders   the time two nodes or more held a VIP, summed over the
                VIPs
  dark after    the time the client went without replies after the fault
                ended
  stall   its daemons stopped (SIGSTOP) for %v, then continued
  flap    its switch port down 1 s, up 1 s, for %v
  starve  its daemons capped at 2 %% of a CPU for %v
  cut     the path between it and the next node cut at the switch for %v
  loss    10 %% of every node's IP packets lost at random, each way, for %v
`, fl.Stall, fl.Flap, fl.Starve, fl.Cut, fl.Loss)
	}
	b.WriteString(`
Figures are "median (min-max)" over the runs.
  outage ms     the longest time the client went without an echo reply from
                the VIP, from before the fault until 3 s after it was served
                again (partition: 3 s after healing)
  takeover ms   from the fault to the first poll (every 10 ms, netlink) that
                found the VIP on another node
  brief         the longest time two nodes that could hear each other both
  overlap       held one VIP, if at most 1 s: a make-before-break hand-over,
                or two masters sorting themselves out within an advertisement
  split brain   two nodes holding one VIP while cut off from each other, or
                for more than 1 s; "until healed" means it lasted the whole
                partition and the time given is how long it went on after
                healing
Scenarios (on the owner of the VIP under test, a different VIP each run):
  crash       all its daemons killed (SIGKILL) and its link taken down; a
              crashed node's addresses no longer count
  graceful    SIGTERM to its daemons
`)
	fmt.Fprintf(&b, "  partition   cut off at the switch from the other nodes for %v (no IP\n", rep.Hold)
	b.WriteString(`              either way, ARP still flows), the client still reaching every
              node; then healed
Between runs: link up (the VIPs a killed daemon left are removed, as by a
reboot), daemons restarted, and the initial state held for 1 s (wackamole:
converged; keepalived and ucarp: every node master of its own VIP).
`)
	b.WriteString("\nSettings:\n")
	for _, t := range rep.Tools {
		fmt.Fprintf(&b, "  %-15s %s\n", t.Name, t.settings())
	}
	if len(rep.Versions) > 0 {
		b.WriteString("Versions:\n")
		for _, v := range rep.Versions {
			fmt.Fprintf(&b, "  %s\n", v)
		}
	}
	if rep.Machine != "" {
		fmt.Fprintf(&b, "Machine: %s\n", rep.Machine)
	}
	var pollGap time.Duration
	for _, r := range rep.Results {
		pollGap = max(pollGap, r.PollGap)
	}
	if pollGap > 0 {
		fmt.Fprintf(&b, "Holder polls: every 10 ms, at worst %d ms apart (the resolution of takeover and overlaps)\n", pollGap.Round(time.Millisecond).Milliseconds())
	}
	if len(errs) > 0 || len(rep.Aborted) > 0 {
		b.WriteString("Failures:\n")
		for _, e := range append(errs, rep.Aborted...) {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	return b.String()
}
