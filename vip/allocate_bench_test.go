package vip

import (
	"fmt"
	"testing"
)

// BenchmarkAllocate measures Allocate for N members and V VIPs, from a cold
// start (nothing held: every VIP is an orphan, the worst case) and in the
// steady state (every VIP held by its owner: the common case, run on every
// membership change).
func BenchmarkAllocate(b *testing.B) {
	for _, n := range []int{3, 10, 100, 1000} {
		for _, v := range []int{3, 100, 1000, 10000} {
			cold := stableView(nil, n, v)
			p := Allocate(cold)
			steady := Input{VIPs: cold.VIPs, Quorum: true}
			for _, m := range cold.Members {
				m.Holds = p.Owned(m.Name)
				steady.Members = append(steady.Members, m)
			}
			for _, c := range []struct {
				name string
				in   Input
			}{{"cold", cold}, {"steady", steady}} {
				b.Run(fmt.Sprintf("N=%d/V=%d/%s", n, v, c.name), func(b *testing.B) {
					for b.Loop() {
						Allocate(c.in)
					}
					b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
				})
			}
		}
	}
}
