package membership

import (
	"bytes"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestHeartbeatRoundTrip(t *testing.T) {
	meta, _ := Meta{State: Mature, Healthy: true, Held: NewBitmap(3), Leaving: NewBitmap(3)}.MarshalBinary()
	v := metaVersion{start: 1700000000000000000, counter: 7}
	name, got, m, err := decodeHeartbeat(encodeHeartbeat("web1", v, meta))
	if err != nil || name != "web1" || got != v || !bytes.Equal(m, meta) {
		t.Fatalf("round trip: %q %+v %x %v", name, got, m, err)
	}
	good := encodeHeartbeat("web1", v, meta)
	for _, bad := range [][]byte{nil, {msgHeartbeat}, {msgHeartbeat, 1, 1, 'a'}, good[:len(good)-1], append(append([]byte(nil), good...), 0), {msgHeartbeat, heartbeatFormat, 0}} {
		if _, _, _, err := decodeHeartbeat(bad); err == nil {
			t.Errorf("accepted %x", bad)
		}
	}
	if !(metaVersion{2, 0}).newer(metaVersion{1, 9}) || (metaVersion{1, 9}).newer(metaVersion{2, 0}) || !(metaVersion{1, 2}).newer(metaVersion{1, 1}) || (metaVersion{1, 1}).newer(metaVersion{1, 1}) {
		t.Error("version order")
	}
}

// FuzzHeartbeat feeds heartbeats as anyone with the key (or anyone, without
// one) might send them: nothing panics, and a heartbeat from a stranger
// changes nothing.
func FuzzHeartbeat(f *testing.F) {
	meta, _ := Meta{State: Mature, Healthy: true, Held: NewBitmap(3), Leaving: NewBitmap(3)}.MarshalBinary()
	f.Add(encodeHeartbeat("web1", metaVersion{1, 1}, meta))
	f.Add([]byte{msgHeartbeat, heartbeatFormat, 4, 'w', 'e', 'b', '1'})
	f.Fuzz(func(t *testing.T, b []byte) {
		g := &Group{cfg: Config{Name: "self"}, members: map[string]*peer{"web1": {}}, shares: map[string]share{}, changed: make(chan struct{}, 1)}
		(*delegate)(g).NotifyMsg(b)
		if len(g.members) != 1 {
			t.Fatal("a heartbeat added a member")
		}
	})
}

// A member restarted while this node was cut off: memberlist still offers
// the old process's metadata (its incarnation is higher than the new
// process's), the heartbeats carry the new one with a version that orders
// across restarts, and the heartbeats win.
func TestHeartbeatMetadataWinsOverMemberlist(t *testing.T) {
	g := &Group{cfg: Config{Name: "self", Timing: Timing{FailureTimeout: time.Second}}, members: map[string]*peer{}, lost: map[string]lostPeer{}, changed: make(chan struct{}, 1), log: testLogger(t)}
	claims := func(vip int) []byte {
		m := Meta{State: Mature, Healthy: true, Held: NewBitmap(3), Leaving: NewBitmap(3)}
		if vip >= 0 {
			m.Held.Set(vip)
		}
		b, _ := m.MarshalBinary()
		return b
	}
	held := func() int {
		for _, m := range g.View().Members {
			if m.Name == "web1" {
				return m.Meta.Held.Count()
			}
		}
		return -1
	}
	node := &memberlist.Node{Name: "web1", Addr: []byte{198, 18, 0, 11}, Port: 7946, Meta: claims(0)}
	(*events)(g).NotifyJoin(node)
	if held() != 1 {
		t.Fatal("memberlist's metadata is used before any heartbeat")
	}
	// The old process, then the new one (a later start) which holds nothing.
	(*delegate)(g).NotifyMsg(encodeHeartbeat("web1", metaVersion{start: 100, counter: 9}, claims(0)))
	(*delegate)(g).NotifyMsg(encodeHeartbeat("web1", metaVersion{start: 200, counter: 1}, claims(-1)))
	if held() != 0 {
		t.Fatal("the restarted process's metadata is not used")
	}
	if m := g.View().Members[1]; m.Name != "web1" || m.Process != 200 {
		t.Fatalf("the view does not tell the new process: %+v", m)
	}
	// A late heartbeat of the old process, and memberlist's stale view.
	(*delegate)(g).NotifyMsg(encodeHeartbeat("web1", metaVersion{start: 100, counter: 10}, claims(1)))
	(*events)(g).NotifyUpdate(node)
	(*events)(g).NotifyJoin(node)
	if held() != 0 {
		t.Fatal("stale metadata replaced the newest")
	}
}
