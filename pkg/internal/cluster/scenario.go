package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// Scenario is a way for the owner of a VIP to go away.
type Scenario string

// Scenarios the failover benchmark measures.
const (
	// Crash takes the owner's link down and kills its daemon (SIGKILL):
	// the host is gone as if its power failed.
	Crash Scenario = "crash"
	// Graceful stops the owner's daemon with SIGTERM: it hands its VIPs
	// over before leaving.
	Graceful Scenario = "graceful"
)

// Outage is one measured failover.
type Outage struct {
	Scenario Scenario
	VIP      netip.Addr
	From, To string
	// Gap is the longest time between two replies the client got from
	// the last reply before the fault on: what a user of the VIP saw.
	// What came before the fault (the client's first ARP resolution, say)
	// is not the failover's doing and does not count.
	Gap time.Duration
	// Lost is the number of probes without a reply.
	Lost, Sent int
	// Fault is when the fault began (just before the kill or the
	// SIGTERM); GapStart and GapEnd bound the gap of Gap (the last reply
	// before it and the first after).
	Fault, GapStart, GapEnd time.Time
}

// Failover makes the owner of VIP v go away as the scenario says, while
// the client pings v every interval, and measures what the client saw. It
// then brings the node back and waits until the group is converged again,
// so that it can be called in a loop.
func (c *Cluster) Failover(ctx context.Context, s Scenario, v netip.Addr, interval time.Duration) (Outage, error) {
	h, err := c.WaitConverged(ctx, Names(c.Nodes...))
	if err != nil {
		return Outage{}, err
	}
	owner := c.Node(Owner(h, v))
	if owner == nil {
		return Outage{}, fmt.Errorf("cluster: %s has no single owner", v)
	}
	p, err := c.Lab.Client.Ping(ctx, v, interval)
	if err != nil {
		return Outage{}, err
	}
	defer p.Stop()
	if err := p.WaitReplies(ctx, 20); err != nil {
		return Outage{}, fmt.Errorf("cluster: client does not reach %s before the failover: %w", v, err)
	}
	fault := time.Now()
	switch s {
	case Crash:
		// The link first: a host that lost its power answers nothing
		// from that instant. Killed first, its kernel would still answer
		// for the VIP while the kill and ip(8) run (30 ms and more): the
		// others would notice the silence of its heartbeats meanwhile,
		// and a failover faster than that would not show at all.
		if err := c.LinkDown(ctx, owner); err != nil {
			return Outage{}, err
		}
		if err := c.Kill(owner); err != nil {
			return Outage{}, err
		}
	case Graceful:
		if err := c.Stop(owner, 30*time.Second); err != nil {
			return Outage{}, err
		}
	default:
		return Outage{}, fmt.Errorf("cluster: unknown scenario %q", s)
	}
	// Reachable again, then a little more so that a late second gap would
	// show up too.
	if err := p.WaitReplies(ctx, 50); err != nil {
		return Outage{}, fmt.Errorf("cluster: %s not reachable again after %s of %s: %w", v, s, owner.Name, err)
	}
	r := p.Stop()
	survivors := slices.DeleteFunc(slices.Clone(c.Nodes), func(n *Node) bool { return n == owner })
	h, err = c.WaitConverged(ctx, Names(survivors...))
	if err != nil {
		return Outage{}, err
	}
	o := Outage{Scenario: s, VIP: v, From: owner.Name, To: Owner(h, v), Lost: r.Lost(), Sent: r.Sent, Fault: fault}
	o.Gap, o.GapStart, o.GapEnd = faultGap(r, fault)

	// Bring the node back for the next round.
	if s == Crash {
		if err := c.LinkUp(ctx, owner); err != nil {
			return o, err
		}
	}
	if err := c.Start(owner); err != nil {
		return o, err
	}
	_, err = c.WaitConverged(ctx, Names(c.Nodes...))
	return o, err
}

// faultGap is the longest time without a reply in r from the fault on:
// between the last reply before the fault (or the start) and the next
// reply, or between two later replies, or from the last reply to the end.
func faultGap(r lab.Result, fault time.Time) (gap time.Duration, from, to time.Time) {
	replies := slices.Clone(r.Replies)
	slices.SortFunc(replies, func(a, b lab.Reply) int { return a.Received.Compare(b.Received) })
	prev := r.Start
	consider := func(t time.Time) {
		if d := t.Sub(prev); t.After(fault) && d > gap {
			gap, from, to = d, prev, t
		}
		prev = t
	}
	for _, rp := range replies {
		consider(rp.Received)
	}
	consider(r.End)
	return gap, from, to
}

// Stats summarises outages: median, minimum and maximum gap.
type Stats struct {
	Runs             int
	Median, Min, Max time.Duration
}

// Summarize computes Stats over outages.
func Summarize(os []Outage) Stats {
	if len(os) == 0 {
		return Stats{}
	}
	gaps := make([]time.Duration, len(os))
	for i, o := range os {
		gaps[i] = o.Gap
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	med := gaps[len(gaps)/2]
	if len(gaps)%2 == 0 {
		med = (gaps[len(gaps)/2-1] + gaps[len(gaps)/2]) / 2
	}
	return Stats{Runs: len(gaps), Median: med, Min: gaps[0], Max: gaps[len(gaps)-1]}
}

// String formats the stats in milliseconds.
func (s Stats) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("median %s ms, min %s ms, max %s ms (%d runs)", ms(s.Median), ms(s.Min), ms(s.Max), s.Runs)
}

// Idle watches the converged group for d without touching it and returns
// every ownership change seen: on a quiet network there must be none (a
// change would be a false failover).
func (c *Cluster) Idle(ctx context.Context, d time.Duration) ([]string, error) {
	start, err := c.WaitConverged(ctx, Names(c.Nodes...))
	if err != nil {
		return nil, err
	}
	var changes []string
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return changes, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		h, err := c.Holders(ctx)
		if err != nil {
			return changes, err
		}
		for v, hs := range h {
			if !slices.Equal(hs, start[v]) {
				changes = append(changes, fmt.Sprintf("%s: %s -> %s", time.Now().Format(time.TimeOnly), v, strings.Join(hs, ",")))
				start[v] = hs
			}
		}
	}
	return changes, nil
}
