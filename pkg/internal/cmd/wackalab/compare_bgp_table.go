package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// bgpReport is everything the BGP section prints at the end.
type bgpReport struct {
	Date      time.Time
	Runs      int
	Hold      time.Duration
	Router    string // how the router is set up
	Tools     []compareTool
	Scenarios []compareScenario
	Results   []bgpRun
	Versions  []string
	Machine   string
	Aborted   []string
}

// bgpRow is the summary of one tool and scenario.
type bgpRow struct {
	Tool        string
	Scenario    compareScenario
	OK, Total   int
	Outage      durationStats
	Reroute     durationStats
	NotRerouted int
	Lost        []int
	Errors      []string
	outages     []time.Duration
}

func (rep bgpReport) rows() []bgpRow {
	var out []bgpRow
	for _, t := range rep.Tools {
		for _, s := range rep.Scenarios {
			row := bgpRow{Tool: t.Name, Scenario: s}
			var reroutes []time.Duration
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
				row.outages = append(row.outages, r.Outage)
				row.Lost = append(row.Lost, r.Lost)
				if r.Rerouted {
					reroutes = append(reroutes, r.Reroute)
				} else {
					row.NotRerouted++
				}
			}
			if row.Total == 0 {
				continue
			}
			row.Outage, row.Reroute = summarizeDurations(row.outages), summarizeDurations(reroutes)
			out = append(out, row)
		}
	}
	return out
}

func (row bgpRow) rerouteText() string {
	if row.NotRerouted > 0 {
		if row.Reroute.N == 0 {
			return "none"
		}
		return row.Reroute.String() + fmt.Sprintf(", %d none", row.NotRerouted)
	}
	return row.Reroute.String()
}

func (row bgpRow) lostText() string {
	if len(row.Lost) == 0 {
		return "-"
	}
	parts := make([]string, len(row.Lost))
	for i, n := range row.Lost {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, " ")
}

func (row bgpRow) maxLost() int {
	m := 0
	for _, n := range row.Lost {
		m = max(m, n)
	}
	return m
}

// format renders the report: the table, what the columns mean, the
// targets, the settings, the versions and the machine.
func (rep bgpReport) format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "BGP failover comparison, 3 nodes announcing 3 VIPs to one router, client behind the router pinging every 10 ms, %d run(s) per row (%s)\n\n",
		rep.Runs, rep.Date.UTC().Format("2006-01-02 15:04 MST"))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "tool\tscenario\truns\toutage ms\treroute ms\tlost probes")
	var errs []string
	rows := rep.rows()
	for _, row := range rows {
		runs := fmt.Sprint(row.OK)
		if row.OK != row.Total {
			runs = fmt.Sprintf("%d/%d", row.OK, row.Total)
		}
		outage := row.Outage.String()
		if row.OK == 0 {
			outage = "failed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", row.Tool, row.Scenario, runs, outage, row.rerouteText(), row.lostText())
		for _, e := range row.Errors {
			errs = append(errs, fmt.Sprintf("%s %s %s", row.Tool, row.Scenario, e))
		}
	}
	tw.Flush()
	b.WriteString(`
Figures are "median (min-max)" over the runs.
  outage ms    the longest time the client went without an echo reply from
               the VIP, from before the fault until 3 s after it was served
               again (partition: 3 s after healing); without a lost probe
               it is the probe's own 10 ms rhythm, which only this
               program's scheduling stretches (see the route polls below)
  reroute ms   from the fault to the first poll of the router's kernel table
               (every 10 ms, netlink) in which the VIP's route no longer led
               to the node at fault; "none": it never stopped leading there
Scenarios, on the node the client's flow reached (the VIP's owner; with
ECMP the node the router hashed the client to), a different VIP each run:
  crash       its link taken down, then all its daemons killed (SIGKILL), as
              in a power failure: nobody tells the router
  graceful    SIGTERM to its daemons
  drain       wackatrl drain; ExaBGP: its healthcheck's disable file created
`)
	fmt.Fprintf(&b, "  partition   cut off at the switch from the other nodes for %v (no IP\n", rep.Hold)
	b.WriteString(`              either way; ARP, the router and the client still reach it);
              then healed
Between runs: link up (the VIP addresses a killed daemon left on lo are
removed, as by a reboot), daemons restarted or undrained, and the initial
state held for 1 s: every session established (BFD up where the tool has
it) and the router forwarding each VIP to its owner (announce = "owner")
or to every node (announce = "all", ExaBGP).
`)
	if t := rep.targets(rows); t != "" {
		b.WriteString("\nTargets (issue 13):\n" + t)
	}
	b.WriteString("\nSettings:\n")
	if rep.Router != "" {
		fmt.Fprintf(&b, "  %-20s %s\n", "router", rep.Router)
	}
	for _, t := range rep.Tools {
		fmt.Fprintf(&b, "  %-20s %s\n", t.Name, t.bgpSettings())
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
		fmt.Fprintf(&b, "Route polls: every 10 ms, at worst %d ms apart (the resolution of reroute)\n", pollGap.Round(time.Millisecond).Milliseconds())
	}
	var notes []string
	for _, r := range rep.Results {
		if r.Note != "" && r.Err == nil {
			notes = append(notes, fmt.Sprintf("%s %s run %d: %s", r.Tool, r.Scenario, r.Run, r.Note))
		}
	}
	if len(notes) > 0 {
		b.WriteString("Notes:\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	if len(errs) > 0 || len(rep.Aborted) > 0 {
		b.WriteString("Failures:\n")
		for _, e := range append(errs, rep.Aborted...) {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	return b.String()
}

// bgpCrashTarget is the target for an owner crash with BFD at
// 100 ms x 3 in announce = "owner": the router's BFD detection plus its
// FIB update.
const bgpCrashTarget = 350 * time.Millisecond

// targets checks the targets against the rows, one line each:
// owner crash median at most 350 ms (announce = "owner"); no lost probe
// in graceful stops and drains; no worse than ExaBGP in any scenario
// (median outage, and most probes lost in a run).
func (rep bgpReport) targets(rows []bgpRow) string {
	find := func(tool string, s compareScenario) (bgpRow, bool) {
		i := slices.IndexFunc(rows, func(r bgpRow) bool { return r.Tool == tool && r.Scenario == s && r.OK > 0 })
		if i < 0 {
			return bgpRow{}, false
		}
		return rows[i], true
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	var b strings.Builder
	if row, ok := find("wackamole-bgp-owner", compareCrash); ok {
		fmt.Fprintf(&b, "  %s: owner crash, median outage %d ms <= %d ms\n", verdict(row.Outage.Median <= bgpCrashTarget),
			row.Outage.Median.Round(time.Millisecond).Milliseconds(), bgpCrashTarget.Milliseconds())
	}
	for _, t := range rep.Tools {
		if t.Kind != kindWackamoleBGP {
			continue
		}
		for _, s := range []compareScenario{compareGraceful, compareDrain} {
			if row, ok := find(t.Name, s); ok {
				fmt.Fprintf(&b, "  %s: %s %s, no lost probe (lost: %s)\n", verdict(row.maxLost() == 0), t.Name, s, row.lostText())
			}
		}
		for _, s := range rep.Scenarios {
			ours, ok1 := find(t.Name, s)
			theirs, ok2 := find("exabgp", s)
			if !ok1 || !ok2 {
				continue
			}
			// Outages within a probe interval of each other are equal.
			// Where neither lost a probe in any run, the client saw no
			// outage from either: the longest gap between replies is
			// then the probe's own rhythm, stretched only by this
			// program's scheduling (see the route polls' worst gap).
			both := ours.maxLost() == 0 && theirs.maxLost() == 0
			ok := both || ours.Outage.Median <= theirs.Outage.Median+lab.DefaultInterval && ours.maxLost() <= theirs.maxLost()
			note := ""
			if both {
				note = ", no probe lost by either"
			}
			fmt.Fprintf(&b, "  %s: %s %s no worse than exabgp (median outage %d vs %d ms, most lost %d vs %d%s)\n", verdict(ok), t.Name, s,
				ours.Outage.Median.Round(time.Millisecond).Milliseconds(), theirs.Outage.Median.Round(time.Millisecond).Milliseconds(),
				ours.maxLost(), theirs.maxLost(), note)
		}
	}
	return b.String()
}
