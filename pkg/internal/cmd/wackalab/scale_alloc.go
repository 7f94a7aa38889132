package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/wackamole/wackamole/vip"
)

// allocCost is the allocator's cost for one group, per call.
type allocCost struct {
	Nodes, VIPs int
	// Steady is vip.Allocate with every VIP held by its owner (the input
	// of most rounds), Cold with every VIP an orphan (a cold start),
	// Successors vip.Successors on the steady plan (bgp mode's rounds).
	Steady, Cold, Successors time.Duration
}

// scaleInput is the view the bench's groups have: n eligible nodes named
// as the lab names them, v VIPs named as the cluster names them, nothing
// held.
func scaleInput(n, v int) vip.Input {
	in := vip.Input{Quorum: true, MaxMoves: 1}
	for k := 1; k <= n; k++ {
		in.Members = append(in.Members, vip.Member{Name: fmt.Sprintf("n%d", k), Eligible: true})
	}
	for i := 0; i < v; i++ {
		in.VIPs = append(in.VIPs, vip.Spec{Name: fmt.Sprintf("vip-%02d", i+1)})
	}
	return in
}

// settled returns in with every VIP held by the owner Allocate gives it.
func settled(in vip.Input) vip.Input {
	p := vip.Allocate(in)
	out := in
	out.Members = nil
	for _, m := range in.Members {
		m.Holds = p.Owned(m.Name)
		out.Members = append(out.Members, m)
	}
	return out
}

// allocatorCost times the allocator the way a Go benchmark does.
func allocatorCost(n, v int) allocCost {
	cold := scaleInput(n, v)
	steady := settled(cold)
	plan := vip.Allocate(steady)
	per := func(f func()) time.Duration {
		r := testing.Benchmark(func(b *testing.B) {
			for b.Loop() {
				f()
			}
		})
		if r.N == 0 {
			return 0
		}
		return r.T / time.Duration(r.N)
	}
	return allocCost{
		Nodes: n, VIPs: v,
		Steady:     per(func() { vip.Allocate(steady) }),
		Cold:       per(func() { vip.Allocate(cold) }),
		Successors: per(func() { vip.Successors(steady, plan) }),
	}
}
