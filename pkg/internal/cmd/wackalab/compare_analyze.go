package main

import (
	"slices"
	"time"
)

// briefOverlapMax is the longest time two nodes that can hear each other may
// both hold a VIP and still count as a hand-over (make-before-break, or two
// backups racing for an orphan until one yields). Longer, or between nodes
// cut off from each other, it is a split brain.
const briefOverlapMax = time.Second

// A compareFault says what the analysis needs to know about one run.
type compareFault struct {
	Scenario compareScenario
	// VIP is the index of the VIP under test, Owner the index of the node
	// that held it (node Owner+1).
	VIP, Owner int
	// At is when the fault began.
	At time.Time
	// Healed is when a partition was healed (zero if it never was, or for
	// other scenarios).
	Healed time.Time
}

// A holderOverlap is a period during which two or more nodes held one VIP.
type holderOverlap struct {
	VIP        int
	Nodes      holderSet // every node that held it during the period
	Start, End time.Time
	// Open means it was still going when the watch ended.
	Open bool
	// Split marks a split brain rather than a hand-over.
	Split bool
}

// Duration returns the length of the overlap.
func (o holderOverlap) Duration() time.Duration { return o.End.Sub(o.Start) }

// runAnalysis is what a run's holder timeline shows.
type runAnalysis struct {
	// TookOver tells whether another node took the VIP after the fault;
	// Takeover is when (from the fault) and To who.
	TookOver bool
	Takeover time.Duration
	To       string
	Overlaps []holderOverlap
	// HandOver is the longest hand-over overlap.
	HandOver time.Duration
	// Split is the longest split brain and SplitVIPs the number of VIPs
	// that had one.
	Split     time.Duration
	SplitVIPs int
	// UntilHeal tells whether a split brain outlived the partition;
	// AfterHeal is how long the last one went on after healing.
	UntilHeal bool
	AfterHeal time.Duration
}

// analyzeRun derives takeover and overlaps from the samples of a run that
// ended at end. After a crash the owner's holdings no longer count: its
// link is down and nobody can reach what it still has configured.
func analyzeRun(samples []holderSample, end time.Time, f compareFault) runAnalysis {
	samples = withBoundary(samples, f.At)
	ownerBit := holderSet(1) << f.Owner
	effective := func(s holderSample, i int) holderSet {
		h := s.Holders[i]
		if f.Scenario == compareCrash && !s.At.Before(f.At) {
			h &^= ownerBit
		}
		return h
	}
	var a runAnalysis
	for _, s := range samples {
		if s.At.Before(f.At) || f.VIP >= len(s.Holders) {
			continue
		}
		if other := effective(s, f.VIP) &^ ownerBit; other != 0 {
			a.TookOver, a.Takeover, a.To = true, s.At.Sub(f.At), other.names()[0]
			break
		}
	}
	nvips := 0
	if len(samples) > 0 {
		nvips = len(samples[0].Holders)
	}
	splitVIPs := map[int]bool{}
	for i := 0; i < nvips; i++ {
		var cur *holderOverlap
		for _, s := range samples {
			if i >= len(s.Holders) {
				continue
			}
			h := effective(s, i)
			switch {
			case h.count() >= 2 && cur == nil:
				cur = &holderOverlap{VIP: i, Nodes: h, Start: s.At}
			case h.count() >= 2:
				cur.Nodes |= h
			case cur != nil:
				cur.End = s.At
				a.Overlaps = append(a.Overlaps, *cur)
				cur = nil
			}
		}
		if cur != nil {
			cur.End, cur.Open = end, true
			a.Overlaps = append(a.Overlaps, *cur)
		}
	}
	for j := range a.Overlaps {
		o := &a.Overlaps[j]
		// Split brain: begun while the owner was cut off from the other
		// nodes, or too long for a hand-over.
		partitioned := f.Scenario == comparePartition && !o.Start.Before(f.At) && (f.Healed.IsZero() || o.Start.Before(f.Healed))
		o.Split = partitioned || o.Duration() > briefOverlapMax
		if !o.Split {
			a.HandOver = max(a.HandOver, o.Duration())
			continue
		}
		splitVIPs[o.VIP] = true
		a.Split = max(a.Split, o.Duration())
		if partitioned && (f.Healed.IsZero() || o.End.After(f.Healed)) {
			a.UntilHeal = true
			if !f.Healed.IsZero() {
				a.AfterHeal = max(a.AfterHeal, o.End.Sub(f.Healed))
			}
		}
	}
	a.SplitVIPs = len(splitVIPs)
	return a
}

// withBoundary returns samples with one more at t, a copy of the holders
// current then, so that a change of what counts (the owner's crash) starts
// a segment of its own.
func withBoundary(samples []holderSample, t time.Time) []holderSample {
	i, found := slices.BinarySearchFunc(samples, t, func(s holderSample, t time.Time) int { return s.At.Compare(t) })
	if found || i == 0 {
		return samples
	}
	out := make([]holderSample, 0, len(samples)+1)
	out = append(out, samples[:i]...)
	out = append(out, holderSample{At: t, Holders: samples[i-1].Holders})
	return append(out, samples[i:]...)
}
