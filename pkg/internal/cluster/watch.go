package cluster

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// A Watcher records who holds which VIP and where the client sends each
// VIP's packets (its neighbour entry), polled over netlink, for a test to
// analyse afterwards (see Timeline). Start the client pinging every VIP so
// that its entries exist.
type Watcher struct {
	r    *addrReader
	tl   Timeline
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
}

// Watch starts a Watcher polling every poll (10 ms if 0).
func (c *Cluster) Watch(poll time.Duration) (*Watcher, error) {
	if poll <= 0 {
		poll = 10 * time.Millisecond
	}
	r, err := newAddrReader(c)
	if err != nil {
		return nil, err
	}
	w := &Watcher{r: r, stop: make(chan struct{}), done: make(chan struct{})}
	w.tl.VIPs = slices.Clone(c.VIPs)
	w.tl.MACs = map[string]string{}
	for _, n := range c.Nodes {
		w.tl.MACs[n.Name] = n.Host.MAC.String()
	}
	w.tl.Start = time.Now()
	go w.run(poll)
	return w, nil
}

func (w *Watcher) run(poll time.Duration) {
	defer close(w.done)
	defer w.r.Close()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		at := time.Now()
		h, err := w.r.read()
		var nb map[netip.Addr]string
		if err == nil {
			nb, err = w.r.neighbours()
		}
		w.mu.Lock()
		if err != nil {
			w.tl.Errors++
			w.tl.LastErr = err
		} else {
			w.tl.add(Sample{At: at, Holders: h, Neigh: nb})
		}
		w.mu.Unlock()
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
	}
}

// Stop ends the watch and returns what it saw.
func (w *Watcher) Stop() *Timeline {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	tl := w.tl
	tl.End = time.Now()
	return &tl
}

// A Sample is what one poll saw.
type Sample struct {
	At time.Time
	// Holders maps every VIP to the nodes that have it on their interface.
	Holders map[netip.Addr][]string
	// Neigh maps VIPs to the MAC of the client's neighbour entry (VIPs
	// without a resolved entry are missing).
	Neigh map[netip.Addr]string
}

func (s Sample) same(o Sample) bool {
	if !maps.Equal(s.Neigh, o.Neigh) || len(s.Holders) != len(o.Holders) {
		return false
	}
	for v, hs := range s.Holders {
		if !slices.Equal(hs, o.Holders[v]) {
			return false
		}
	}
	return true
}

// A Timeline is a watch's record: the first sample and every sample that
// differed from the one before. Each state lasts from its sample until the
// next (the last one until End). Its analysis methods take a period
// [from, to); a zero from means the start, a zero to the end.
type Timeline struct {
	VIPs []netip.Addr
	// MACs maps node names to their eth0's MAC.
	MACs       map[string]string
	Start, End time.Time
	Samples    []Sample
	// Polls counts the polls, Errors the failed ones.
	Polls, Errors int
	LastErr       error
	// MaxPollGap is the longest time between two successful polls.
	MaxPollGap time.Duration
	lastPoll   time.Time
}

func (tl *Timeline) add(s Sample) {
	tl.Polls++
	if !tl.lastPoll.IsZero() {
		tl.MaxPollGap = max(tl.MaxPollGap, s.At.Sub(tl.lastPoll))
	}
	tl.lastPoll = s.At
	for v, hs := range s.Holders {
		slices.Sort(hs)
		s.Holders[v] = hs
	}
	if n := len(tl.Samples); n > 0 && tl.Samples[n-1].same(s) {
		return
	}
	tl.Samples = append(tl.Samples, s)
}

// span is one state of the timeline clipped to a period.
type span struct {
	Sample
	from, to time.Time
}

// spans returns the states overlapping [from, to), clipped to it.
func (tl *Timeline) spans(from, to time.Time) []span {
	if from.IsZero() {
		from = tl.Start
	}
	if to.IsZero() {
		to = tl.End
	}
	var out []span
	for i, s := range tl.Samples {
		end := tl.End
		if i+1 < len(tl.Samples) {
			end = tl.Samples[i+1].At
		}
		a, b := s.At, end
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if b.After(a) {
			out = append(out, span{Sample: s, from: a, to: b})
		}
	}
	return out
}

// An Acquisition is a node starting to hold a VIP.
type Acquisition struct {
	At   time.Time
	VIP  netip.Addr
	Node string
}

func (a Acquisition) String() string {
	return fmt.Sprintf("%s took %s at %s", a.Node, a.VIP, a.At.Format("15:04:05.000"))
}

// Acquisitions returns every time a node started to hold v within the
// period: the ownership changes (a VIP that moves once is one
// acquisition, a VIP taken and given back two).
func (tl *Timeline) Acquisitions(v netip.Addr, from, to time.Time) []Acquisition {
	var out []Acquisition
	var prev []string
	for i, s := range tl.spans(from, to) {
		hs := s.Holders[v]
		if i > 0 {
			for _, n := range hs {
				if !slices.Contains(prev, n) {
					out = append(out, Acquisition{At: s.from, VIP: v, Node: n})
				}
			}
		}
		prev = hs
	}
	return out
}

// Periods returns the periods within [from, to) in which cond held for v's
// holders and the client's neighbour entry (mac, "" if none), merged.
func (tl *Timeline) Periods(v netip.Addr, from, to time.Time, cond func(holders []string, mac string) bool) []Period {
	var out []Period
	for _, s := range tl.spans(from, to) {
		if !cond(s.Holders[v], s.Neigh[v]) {
			continue
		}
		if n := len(out); n > 0 && out[n-1].To.Equal(s.from) {
			out[n-1].To = s.to
			continue
		}
		out = append(out, Period{From: s.from, To: s.to})
	}
	return out
}

// A Period is a stretch of a timeline.
type Period struct{ From, To time.Time }

// Duration is the period's length.
func (p Period) Duration() time.Duration { return p.To.Sub(p.From) }

func (p Period) String() string {
	return fmt.Sprintf("%v from %s", p.Duration().Round(time.Millisecond), p.From.Format("15:04:05.000"))
}

// Longest returns the longest of ps (zero if none).
func Longest(ps []Period) Period {
	var l Period
	for _, p := range ps {
		if p.Duration() > l.Duration() {
			l = p
		}
	}
	return l
}

// Total returns the summed length of ps.
func Total(ps []Period) time.Duration {
	var d time.Duration
	for _, p := range ps {
		d += p.Duration()
	}
	return d
}

// Unheld returns the periods in which no node held v.
func (tl *Timeline) Unheld(v netip.Addr, from, to time.Time) []Period {
	return tl.Periods(v, from, to, func(hs []string, _ string) bool { return len(hs) == 0 })
}

// TwoHolders returns the periods in which v was on more than one node.
func (tl *Timeline) TwoHolders(v netip.Addr, from, to time.Time) []Period {
	return tl.Periods(v, from, to, func(hs []string, _ string) bool { return len(hs) > 1 })
}

// Misdirected returns the periods in which the client's neighbour entry
// for v held a MAC of no node that holds v: its packets to v went to a
// node without it (or nowhere, while v had a holder and the entry had no
// MAC, if unresolved is set).
func (tl *Timeline) Misdirected(v netip.Addr, from, to time.Time, unresolved bool) []Period {
	return tl.Periods(v, from, to, func(hs []string, mac string) bool {
		if len(hs) == 0 {
			return false
		}
		if mac == "" {
			return unresolved
		}
		return !slices.ContainsFunc(hs, func(n string) bool { return tl.MACs[n] == mac })
	})
}

// BlackHoles returns the periods within [from, to) in which the client was
// sent to the wrong MAC for v, or to none while v had a holder (see
// Misdirected), later than grace after the last change of v's holders:
// what the new holder's gratuitous ARP should have fixed.
func (tl *Timeline) BlackHoles(v netip.Addr, from, to time.Time, grace time.Duration) []Period {
	changes := tl.holderChanges(v)
	var out []Period
	for _, s := range tl.spans(from, to) {
		hs, mac := s.Holders[v], s.Neigh[v]
		if len(hs) == 0 || mac != "" && slices.ContainsFunc(hs, func(n string) bool { return tl.MACs[n] == mac }) {
			continue
		}
		// Holders change only at samples: the last change at or before the
		// span's start holds for the whole span.
		start := s.from
		i, found := slices.BinarySearchFunc(changes, s.from, func(c, t time.Time) int { return c.Compare(t) })
		if found {
			i++
		}
		if i > 0 && changes[i-1].Add(grace).After(start) {
			start = changes[i-1].Add(grace)
		}
		if !s.to.After(start) {
			continue
		}
		if n := len(out); n > 0 && out[n-1].To.Equal(start) {
			out[n-1].To = s.to
			continue
		}
		out = append(out, Period{From: start, To: s.to})
	}
	return out
}

// holderChanges returns the times v's set of holders changed.
func (tl *Timeline) holderChanges(v netip.Addr) []time.Time {
	var out []time.Time
	for i, s := range tl.Samples {
		if i > 0 && !slices.Equal(s.Holders[v], tl.Samples[i-1].Holders[v]) {
			out = append(out, s.At)
		}
	}
	return out
}

// Final returns the last sample (zero if none).
func (tl *Timeline) Final() Sample {
	if len(tl.Samples) == 0 {
		return Sample{}
	}
	return tl.Samples[len(tl.Samples)-1]
}

// Describe lists the changes of v's holders and of the client's entry for
// it, relative to t0, one line each: for a failing test's log.
func (tl *Timeline) Describe(v netip.Addr, t0 time.Time) string {
	var b strings.Builder
	var prevH []string
	prevM := "?"
	owner := map[string]string{}
	for n, m := range tl.MACs {
		owner[m] = n
	}
	for i, s := range tl.Samples {
		hs, mac := s.Holders[v], s.Neigh[v]
		if i > 0 && slices.Equal(hs, prevH) && mac == prevM {
			continue
		}
		who := "nobody"
		if len(hs) > 0 {
			who = strings.Join(hs, ",")
		}
		to := "unresolved"
		if mac != "" {
			to = mac
			if n := owner[mac]; n != "" {
				to = n + " (" + mac + ")"
			}
		}
		fmt.Fprintf(&b, "  %+8.3fs  %s held by %s, client sends to %s\n", s.At.Sub(t0).Seconds(), v, who, to)
		prevH, prevM = hs, mac
	}
	return b.String()
}
