package control

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// The human output of wackatrl: aligned tables that answer "who owns what"
// at a glance. Machine readers use the JSON instead; these formats may
// change.

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
}

// WriteStatus writes the node's summary, then the members and VIPs tables.
func WriteStatus(w io.Writer, s Status, now time.Time) error {
	t := newTable(w)
	health := "healthy"
	if !s.Healthy {
		health = "UNHEALTHY"
	}
	fmt.Fprintf(t, "node\t%s (%s, %s)\n", orDash(s.Node), orDash(s.State), health)
	fmt.Fprintf(t, "quorum\t%s\n", quorum(s.Quorum))
	fp := s.Fingerprint
	if len(fp) > 12 {
		fp = fp[:12]
	}
	fmt.Fprintf(t, "config\t%s (timing %s)\n", orDash(fp), orDash(s.Timing))
	fmt.Fprintf(t, "up\t%s (gossip health %d%s)\n", Age(s.Started, now), s.GossipHealth, gossipHint(s.GossipHealth))
	if d := s.Damping; d.Damped || d.Penalty > 0 {
		fmt.Fprintf(t, "damping\t%s\n", damping(d, now))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := WriteMembers(w, Members{Node: s.Node, Quorum: s.Quorum, Members: s.Members}, now); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := WriteVIPs(w, VIPs{Node: s.Node, VIPs: s.VIPs}, now); err != nil {
		return err
	}
	if s.BGP == nil {
		return nil
	}
	fmt.Fprintln(w)
	return WriteBGP(w, *s.BGP)
}

// WriteBGP writes the BGP sessions and the routes this node announces.
func WriteBGP(w io.Writer, b BGP) error {
	if b.Error != "" {
		fmt.Fprintf(w, "BGP speaker: %s\n", b.Error)
	}
	t := newTable(w)
	fmt.Fprintln(t, "BGP PEER\tASN\tSTATE\tUP\tBFD\tADVERTISED\tFLAPS\tLAST ERROR")
	for _, p := range b.Peers {
		fmt.Fprintf(t, "%s\t%d\t%s\t%s\t%s\t%d\t%d\t%s\n", p.Address, p.ASN, p.State, p.Uptime, p.BFD, p.Advertised, p.Flaps, orDash(p.LastError))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t = newTable(w)
	fmt.Fprintln(t, "ROUTE\tPATH")
	for _, r := range b.Routes {
		path := "owner"
		if r.Standby {
			path = "standby (longer AS path)"
		}
		fmt.Fprintf(t, "%s\t%s\n", r.Prefix, path)
	}
	if len(b.Routes) == 0 {
		fmt.Fprintln(t, "-\tnothing announced")
	}
	return t.Flush()
}

func quorum(q Quorum) string {
	s := fmt.Sprintf("%d/%d", q.Have, q.Need)
	if q.TieBreaker {
		return s + " ok by the tie-breaker (the other voter is out of reach)"
	}
	if q.OK {
		return s + " ok"
	}
	return s + " LOST: takes no orphan VIP and does no rebalance"
}

// damping describes a node's flap damping.
func damping(d Damping, now time.Time) string {
	s := fmt.Sprintf("penalty %d after %d flaps", d.Penalty, d.Flaps)
	if d.Damped {
		return "DAMPED (flapping): takes no VIPs for " + until(d.Until, now) + ", " + s
	}
	return s + ", not damped"
}

// until says how long until t, rounded to the second.
func until(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return max(t.Sub(now), 0).Round(time.Second).String()
}

func gossipHint(score int) string {
	if score > 0 {
		return ", lagging: this node is slow to answer the group"
	}
	return ""
}

// WriteMembers writes the members table. The answering node is marked
// with a star.
func WriteMembers(w io.Writer, m Members, now time.Time) error {
	t := newTable(w)
	fmt.Fprintln(t, "MEMBER\tADDRESS\tSTATE\tHEALTH\tALIVE\tELIGIBLE\tAGE\tVIPS")
	for _, ms := range m.Members {
		name := ms.Name
		if ms.Self {
			name += " *"
		}
		health := "healthy"
		if !ms.Healthy {
			health = "unhealthy"
		}
		if ms.State == "" {
			health = "-"
		}
		alive := "yes"
		switch {
		case !ms.Alive:
			alive = "NO"
		case ms.Unreachable:
			alive = "yes, not from here"
		}
		if ms.Damped {
			health += ", damped"
		}
		if ms.Witness {
			name += " (witness)"
		}
		eligible := "yes"
		if !ms.Eligible {
			eligible = "no"
			if ms.Why != "" {
				eligible += ": " + ms.Why
			}
		}
		vips := strings.Join(ms.Held, ",")
		if len(ms.Leaving) > 0 {
			vips = strings.TrimPrefix(vips+" (handing over "+strings.Join(ms.Leaving, ",")+")", " ")
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, orDash(ms.Addr), orDash(ms.State), health, alive, eligible, Age(ms.Since, now), orDash(vips))
	}
	return t.Flush()
}

// WriteVIPs writes the VIPs table. HAND-OVER shows the planned owner while
// a VIP is moving, and what the move waits for.
func WriteVIPs(w io.Writer, v VIPs, now time.Time) error {
	t := newTable(w)
	fmt.Fprintln(t, "VIP\tADDRESSES\tOWNER\tSINCE\tHAND-OVER")
	for _, vs := range v.VIPs {
		owner := orDash(vs.Owner)
		if others := slices.DeleteFunc(slices.Clone(vs.Holders), func(h string) bool { return h == vs.Owner }); len(others) > 0 {
			owner += " (also held by " + strings.Join(others, ",") + ")"
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", vs.Name, orDash(strings.Join(vs.Addresses, ",")), owner, Age(vs.Since, now), handover(vs))
	}
	return t.Flush()
}

// handover describes a VIP's move, "-" when none is under way.
func handover(vs VIP) string {
	if vs.Planned == vs.Owner {
		if vs.Owner == "" && vs.Reason != "" {
			return "none: " + vs.Reason + waits(vs.Waiting)
		}
		return "-"
	}
	to := vs.Planned
	if to == "" {
		to = "nobody"
	}
	s := "to " + to
	if vs.Reason != "" {
		s += " (" + vs.Reason + ")"
	}
	return s + waits(vs.Waiting)
}

func waits(why string) string {
	if why == "" {
		return ""
	}
	return "; waits: " + why
}

// WriteResult writes a command's outcome in a sentence.
func WriteResult(w io.Writer, r Result) error {
	elapsed := (time.Duration(r.ElapsedMS) * time.Millisecond).String()
	var err error
	switch {
	case r.Command == "drain" && r.OK:
		_, err = fmt.Fprintf(w, "%s drained in %s: holds no VIP, stays in the group ineligible (state %s). Run 'wackatrl undrain' to take VIPs again.\n", r.Node, elapsed, r.State)
	case r.Command == "drain" && r.TimedOut:
		_, err = fmt.Fprintf(w, "%s: drain timed out after %s, still holding %s; the node stays draining and keeps handing over.\n", r.Node, elapsed, list(r.Held))
	case r.Command == "undrain" && r.OK:
		_, err = fmt.Fprintf(w, "%s undrained: eligible for VIPs again (state %s); VIPs come back as the group rebalances.\n", r.Node, r.State)
	case r.Command == "reload" && r.OK:
		_, err = fmt.Fprintf(w, "%s reloaded its configuration (state %s, holding %s).\n", r.Node, r.State, list(r.Held))
	case r.OK:
		_, err = fmt.Fprintf(w, "%s: %s done in %s.\n", r.Node, r.Command, elapsed)
	default:
		_, err = fmt.Fprintf(w, "%s: %s failed after %s: %s (state %s, holding %s)\n", orDash(r.Node), r.Command, elapsed, r.Error, orDash(r.State), list(r.Held))
	}
	return err
}

// DrainLine describes a drain in progress in one line, from a status.
// elapsed is how long the drain has run.
func DrainLine(s Status, elapsed time.Duration) string {
	var moving []string
	mine := held(s)
	for _, v := range s.VIPs {
		if !slices.Contains(mine, v.Name) {
			continue
		}
		d := v.Name
		if v.Planned != "" && v.Planned != s.Node {
			d += " to " + v.Planned
		} else {
			d += " (no taker yet)"
		}
		if v.Waiting != "" {
			d += " waiting: " + v.Waiting
		}
		moving = append(moving, d)
	}
	elapsed = elapsed.Round(100 * time.Millisecond)
	if len(moving) == 0 {
		return fmt.Sprintf("draining %s (%s): holds no VIP", s.Node, elapsed)
	}
	return fmt.Sprintf("draining %s (%s): handing over %s", s.Node, elapsed, strings.Join(moving, "; "))
}

func list(s []string) string {
	if len(s) == 0 {
		return "no VIP"
	}
	return strings.Join(s, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Age formats how long ago t was, compactly: 42s, 5m12s, 3h05m, 2d03h.
// The zero time is "-".
func Age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}
