package cluster

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// timeline builds a Timeline of one VIP from (offset ms, holders, client
// MAC owner) steps; it ends at end ms.
func timeline(t0 time.Time, end int, steps ...any) (*Timeline, netip.Addr) {
	v := netip.MustParseAddr("198.18.0.100")
	tl := &Timeline{VIPs: []netip.Addr{v}, MACs: map[string]string{"n1": "m1", "n2": "m2", "n3": "m3"}, Start: t0, End: t0.Add(time.Duration(end) * time.Millisecond)}
	for i := 0; i+2 < len(steps); i += 3 {
		at := t0.Add(time.Duration(steps[i].(int)) * time.Millisecond)
		var hs []string
		if s := steps[i+1].(string); s != "" {
			hs = strings.Split(s, ",")
		}
		nb := map[netip.Addr]string{}
		if m := steps[i+2].(string); m != "" {
			nb[v] = tl.MACs[m]
		}
		tl.add(Sample{At: at, Holders: map[netip.Addr][]string{v: hs}, Neigh: nb})
	}
	return tl, v
}

func TestTimeline(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	ms := func(d int) time.Time { return t0.Add(time.Duration(d) * time.Millisecond) }
	// n1 holds; stalled, n2 takes it at 1000 and the client follows; n1
	// wins the contest at 3000, n2 lets go at 3050, and the client stays
	// on n2 until 5000: a black hole from 4050 (1 s grace) to 5000.
	tl, v := timeline(t0, 6000,
		0, "n1", "n1",
		10, "n1", "n1", // unchanged: not kept
		1000, "n1,n2", "n1",
		1010, "n1,n2", "n2",
		3050, "n1", "n2",
		5000, "n1", "n1",
	)
	if len(tl.Samples) != 5 || tl.Polls != 6 {
		t.Fatalf("%d samples, %d polls", len(tl.Samples), tl.Polls)
	}
	acq := tl.Acquisitions(v, time.Time{}, time.Time{})
	if len(acq) != 1 || acq[0].Node != "n2" || !acq[0].At.Equal(ms(1000)) {
		t.Errorf("acquisitions %v", acq)
	}
	if two := tl.TwoHolders(v, time.Time{}, time.Time{}); len(two) != 1 || two[0].Duration() != 2050*time.Millisecond {
		t.Errorf("two holders %v", two)
	}
	// Clipped to a period.
	if two := Total(tl.TwoHolders(v, ms(2000), ms(3000))); two != time.Second {
		t.Errorf("two holders in [2000, 3000): %v", two)
	}
	if u := tl.Unheld(v, time.Time{}, time.Time{}); len(u) != 0 {
		t.Errorf("unheld %v", u)
	}
	bh := tl.BlackHoles(v, time.Time{}, time.Time{}, time.Second)
	if len(bh) != 1 || !bh[0].From.Equal(ms(4050)) || !bh[0].To.Equal(ms(5000)) {
		t.Errorf("black holes %v", bh)
	}
	// After the last change + grace only: from 4500 on, 500 ms.
	if bh := tl.BlackHoles(v, ms(4500), time.Time{}, time.Second); Total(bh) != 500*time.Millisecond {
		t.Errorf("black holes from 4500: %v", bh)
	}
	if mis := tl.Misdirected(v, time.Time{}, time.Time{}, false); Total(mis) != 1950*time.Millisecond {
		t.Errorf("misdirected %v", mis)
	}
	if f := tl.Final(); !slices.Equal(f.Holders[v], []string{"n1"}) {
		t.Errorf("final %v", f)
	}
	if d := tl.Describe(v, t0); !strings.Contains(d, "+3.050s  198.18.0.100 held by n1, client sends to n2 (m2)") {
		t.Errorf("describe:\n%s", d)
	}

	// Nobody holds it for 800 ms; an unresolved entry while held counts
	// as a black hole, not while unheld.
	tl, v = timeline(t0, 4000,
		0, "n1", "n1",
		1000, "", "",
		1800, "n2", "",
		3500, "n2", "n2",
	)
	if u := Longest(tl.Unheld(v, time.Time{}, time.Time{})); u.Duration() != 800*time.Millisecond {
		t.Errorf("longest unheld %v", u)
	}
	if bh := tl.BlackHoles(v, time.Time{}, time.Time{}, time.Second); len(bh) != 1 || !bh[0].From.Equal(ms(2800)) || bh[0].Duration() != 700*time.Millisecond {
		t.Errorf("black holes %v", bh)
	}
	acq = tl.Acquisitions(v, time.Time{}, time.Time{})
	if len(acq) != 1 || acq[0].Node != "n2" {
		t.Errorf("acquisitions %v", acq)
	}
}
