package membership

import (
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func TestShareRoundTrip(t *testing.T) {
	s := share{seq: 7, hosts: []Neighbor{
		{Addr: netip.MustParseAddr("198.18.0.2"), MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}},
		{Addr: netip.MustParseAddr("2001:2::5")},
	}}
	name, got, rest, err := decodeShare(encodeShare("web1", s))
	if err != nil || name != "web1" || got.seq != 7 || !reflect.DeepEqual(got.hosts, s.hosts) || len(rest) != 0 {
		t.Fatalf("round trip: %q %+v %v %v", name, got, rest, err)
	}
	for _, bad := range [][]byte{nil, {msgNeighbors}, {msgNeighbors, 2, 0, 0, 0, 1, 1, 'a', 0}, {msgNeighbors, 1, 0, 0, 0, 1, 0}, {msgNeighbors, 1, 0, 0, 0, 1, 1, 'a', 1, 5, 1, 2, 3, 4, 5}, {msgNeighbors, 1, 0, 0, 0, 1, 1, 'a', 1, 4, 1, 2, 3, 4, 3, 1, 2, 3}, {msgNeighbors, 1, 0, 0, 0, 1, 1, 'a', 200}} {
		if _, _, _, err := decodeShare(bad); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
}

// FuzzShare feeds neighbour shares and push/pull states as anyone might
// send them: nothing panics.
func FuzzShare(f *testing.F) {
	f.Add(encodeShare("web1", share{seq: 1, hosts: []Neighbor{{Addr: netip.MustParseAddr("198.18.0.2"), MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}}}))
	f.Add([]byte{0, 5, msgNeighbors, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeShare(b)
		g := &Group{cfg: Config{Name: "self"}, shares: map[string]share{}}
		g.mergeState(b)
		g.SharedNeighbors()
	})
}

func TestNeighboursAreShared(t *testing.T) {
	gs := cluster(t, 3, sameKey)
	eventually(t, 5*time.Second, "group formed", func() bool { return len(aliveNames(gs[2])) == 3 })
	want := []Neighbor{{Addr: netip.MustParseAddr("198.18.0.2"), MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}, {Addr: netip.MustParseAddr("198.18.0.3")}}
	gs[0].SetNeighbors(want)
	eventually(t, 5*time.Second, "node2 learns node0's neighbours", func() bool {
		return reflect.DeepEqual(gs[2].SharedNeighbors(), want)
	})
	// A node that joins later learns them through push/pull.
	late := namedCluster(t, "late", 1, sameKey)[0]
	late.ml.Join([]string{gs[0].View().Members[0].Addr.String()})
	eventually(t, 5*time.Second, "a late joiner learns them", func() bool {
		return reflect.DeepEqual(late.SharedNeighbors(), want)
	})
}
