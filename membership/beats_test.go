package membership

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/wackamole/wackamole/membership/heartbeat"
)

// bareGroup is a Group without memberlist or loops: a roster fed by hand
// through the memberlist event and heartbeat handler paths, and a real
// heartbeat transport on loopback (for its ID and the metadata requests).
func bareGroup(t *testing.T, timing Timing) *Group {
	t.Helper()
	g := &Group{
		cfg:     Config{Name: "self", Timing: timing},
		log:     testLogger(t),
		changed: make(chan struct{}, 1),
		members: map[string]*peer{},
		lost:    map[string]lostPeer{},
		shares:  map[string]share{},
		ids:     map[uint64]string{},
		health:  newLocalHealth(timing, time.Now()),
	}
	tc := heartbeat.DefaultConfig()
	tc.Name, tc.Bind = "self", netip.MustParseAddrPort("127.0.0.1:0")
	tr, err := heartbeat.Listen(tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	g.tr = tr
	return g
}

func metaHolding(vips ...int) []byte {
	m := Meta{State: Mature, Healthy: true, Held: NewBitmap(3), Leaving: NewBitmap(3)}
	for _, v := range vips {
		m.Held.Set(v)
	}
	b, _ := m.MarshalBinary()
	return b
}

// join adds a member as memberlist would, with its metadata in an
// envelope of version v.
func join(g *Group, name string, v metaVersion, meta []byte) {
	(*events)(g).NotifyJoin(&memberlist.Node{Name: name, Addr: []byte{198, 18, 0, 11}, Port: 7946, Meta: encodeEnvelope(v, 7947, meta)})
}

func beatFrom(name string, process, version uint64, late ...heartbeat.Late) *heartbeat.Beat {
	b := &heartbeat.Beat{Header: heartbeat.Header{Sender: heartbeat.ID(name), Process: process, Counter: 1}, MetaVersion: version}
	for _, l := range late {
		b.AddLate(l.ID, l.Age)
	}
	return b
}

var from = netip.MustParseAddrPort("198.18.0.11:7947")

func member(v View, name string) Member {
	for _, m := range v.Members {
		if m.Name == name {
			return m
		}
	}
	return Member{}
}

func TestEnvelope(t *testing.T) {
	meta := metaHolding(1)
	v := metaVersion{start: 1700000000000000000, counter: 7}
	got, port, m, err := decodeEnvelope(encodeEnvelope(v, 7947, meta))
	if err != nil || got != v || port != 7947 || !bytes.Equal(m, meta) {
		t.Fatalf("round trip: %+v %d %x %v", got, port, m, err)
	}
	good := encodeEnvelope(v, 7947, meta)
	for _, bad := range [][]byte{nil, good[:envelopeLen-1], append([]byte{9}, good[1:]...), encodeEnvelope(metaVersion{}, 7947, meta), encodeEnvelope(v, 0, meta),
		encodeEnvelope(v, 7947, make([]byte, MetaMaxSize+1))} {
		if _, _, _, err := decodeEnvelope(bad); err == nil {
			t.Errorf("accepted %x", bad)
		}
	}
	if !(metaVersion{2, 0}).newer(metaVersion{1, 9}) || (metaVersion{1, 9}).newer(metaVersion{2, 0}) || !(metaVersion{1, 2}).newer(metaVersion{1, 1}) || (metaVersion{1, 1}).newer(metaVersion{1, 1}) {
		t.Error("version order")
	}
}

// A member restarted while this node was cut off: memberlist may still
// offer the old process's metadata, the heartbeats come from the new
// process; until the new process's metadata arrives (a pull, or gossip),
// the member claims nothing, and stale metadata never replaces newer.
func TestRestartedMemberMetadata(t *testing.T) {
	g := bareGroup(t, LAN())
	join(g, "web1", metaVersion{start: 100, counter: 9}, metaHolding(0))
	if m := member(g.View(), "web1"); m.MetaErr != nil || m.Meta.Held.Count() != 1 {
		t.Fatalf("memberlist's metadata is not used before any heartbeat: %+v", m)
	}
	(*beats)(g).OnBeat(from, beatFrom("web1", 200, 1), time.Now())
	m := member(g.View(), "web1")
	if m.MetaErr == nil || m.Process != 200 || !m.Alive {
		t.Fatalf("a member whose new process's metadata has not come yet: %+v, want alive, process 200, metadata pending", m)
	}
	(*beats)(g).OnMetaReply(from, &heartbeat.MetaReply{Header: heartbeat.Header{Sender: heartbeat.ID("web1"), Process: 200, Counter: 2}, Version: 1, Meta: metaHolding()}, time.Now())
	if m := member(g.View(), "web1"); m.MetaErr != nil || m.Meta.Held.Count() != 0 || m.Process != 200 || m.MetaVersion != 1 {
		t.Fatalf("the new process's metadata is not used: %+v", m)
	}
	// Memberlist's stale view, and a late reply of the old process.
	join(g, "web1", metaVersion{start: 100, counter: 10}, metaHolding(1))
	(*beats)(g).OnMetaReply(from, &heartbeat.MetaReply{Header: heartbeat.Header{Sender: heartbeat.ID("web1"), Process: 100, Counter: 3}, Version: 11, Meta: metaHolding(2)}, time.Now())
	if m := member(g.View(), "web1"); m.Meta.Held.Count() != 0 {
		t.Fatal("stale metadata replaced the newest")
	}
	// Gossip of the new process's newer metadata is taken.
	join(g, "web1", metaVersion{start: 200, counter: 2}, metaHolding(2))
	if m := member(g.View(), "web1"); !m.Meta.Held.Has(2) {
		t.Fatal("newer gossiped metadata not taken")
	}
}

// Only the path between this node and n2 is cut: n3 still hears n2 and
// says so in its heartbeats. n2 stays in the view, unreachable from here
// but not failed. When n3 no longer hears it either (a crash), it fails.
func TestMembersHeardByOthersStay(t *testing.T) {
	g := bareGroup(t, LAN())
	join(g, "n2", metaVersion{start: 1, counter: 1}, metaHolding(1))
	join(g, "n3", metaVersion{start: 1, counter: 1}, metaHolding(2))
	now := time.Now()
	start := now.Add(-3 * time.Second)
	(*beats)(g).OnBeat(from, beatFrom("n2", 1, 1), start)
	(*beats)(g).OnBeat(from, beatFrom("n3", 1, 1), start)
	// n2 silent here for 3 s; n3 heard it 5 ms before its last beat.
	(*beats)(g).OnBeat(from, beatFrom("n3", 1, 1, heartbeat.Late{ID: heartbeat.ID("n2"), Age: 5 * time.Millisecond}), now)
	m := member(g.View(), "n2")
	if !m.Alive || !m.Fresh || m.Direct {
		t.Fatalf("n2, heard by n3: alive %v fresh %v direct %v, want alive, fresh, not direct", m.Alive, m.Fresh, m.Direct)
	}
	// n3's later beats say it has not heard n2 for 1.5 s: n2 crashed.
	g2 := bareGroup(t, LAN())
	join(g2, "n2", metaVersion{start: 1, counter: 1}, metaHolding(1))
	join(g2, "n3", metaVersion{start: 1, counter: 1}, metaHolding(2))
	(*beats)(g2).OnBeat(from, beatFrom("n2", 1, 1), start)
	(*beats)(g2).OnBeat(from, beatFrom("n3", 1, 1, heartbeat.Late{ID: heartbeat.ID("n2"), Age: 1500 * time.Millisecond}), now)
	if m := member(g2.View(), "n2"); m.Alive {
		t.Fatal("n2, heard by nobody for 1.5 s, is alive")
	}
	// Reports of "never heard" (MaxLateAge) are no evidence.
	g3 := bareGroup(t, LAN())
	join(g3, "n2", metaVersion{start: 1, counter: 1}, metaHolding(1))
	join(g3, "n3", metaVersion{start: 1, counter: 1}, metaHolding(2))
	(*beats)(g3).OnBeat(from, beatFrom("n3", 1, 1, heartbeat.Late{ID: heartbeat.ID("n2"), Age: heartbeat.MaxLateAge}), now)
	if m := member(g3.View(), "n2"); m.Alive {
		t.Fatal("a member nobody ever heard is alive")
	}
}

// A beat from a sender outside the roster changes nothing.
func TestBeatFromAStranger(t *testing.T) {
	g := bareGroup(t, LAN())
	join(g, "n2", metaVersion{start: 1, counter: 1}, metaHolding(1))
	(*beats)(g).OnBeat(from, beatFrom("stranger", 1, 1, heartbeat.Late{ID: heartbeat.ID("n2"), Age: time.Millisecond}), time.Now())
	if len(g.members) != 1 {
		t.Fatal("a stranger's beat added a member")
	}
	if m := member(g.View(), "n2"); m.Alive {
		t.Fatal("a stranger's report kept a member alive")
	}
}

func TestPickLate(t *testing.T) {
	mk := func(n int, f func(i int) late) []late {
		var out []late
		for i := 0; i < n; i++ {
			out = append(out, f(i))
		}
		return out
	}
	ms := time.Millisecond
	// Few members: every one is reported.
	if got := pickLate(mk(16, func(i int) late { return late{id: uint64(i), age: ms} }), 250*ms); len(got) != 16 {
		t.Fatalf("16 members: %d reported", len(got))
	}
	// Many: own suspects (longest silent first), then others' suspects
	// best heard first.
	all := mk(40, func(i int) late {
		switch {
		case i < 3:
			return late{id: uint64(i), age: time.Duration(300+i) * ms}
		case i < 10:
			return late{id: uint64(i), age: time.Duration(i) * ms, suspected: true}
		}
		return late{id: uint64(i), age: ms}
	})
	got := pickLate(all, 250*ms)
	if len(got) != heartbeat.MaxLate || got[0].id != 2 || got[1].id != 1 || got[2].id != 0 || got[3].id != 3 || got[9].id != 9 {
		t.Fatalf("picked %v", got)
	}
	// More own suspects than half: half of them, then the evidence.
	all = mk(40, func(i int) late {
		if i < 30 {
			return late{id: uint64(i), age: time.Duration(300+i) * ms}
		}
		return late{id: uint64(i), age: ms, suspected: true}
	})
	got = pickLate(all, 250*ms)
	evidence := 0
	for _, l := range got {
		if l.suspected {
			evidence++
		}
	}
	if len(got) != heartbeat.MaxLate || evidence != heartbeat.MaxLate/2 {
		t.Fatalf("%d of the others' suspects picked, want %d: %v", evidence, heartbeat.MaxLate/2, got)
	}
}

// FuzzEnvelope feeds node metadata as memberlist might deliver it from a
// stranger or a newer version: decoding never panics and what decodes
// encodes back to the same bytes.
func FuzzEnvelope(f *testing.F) {
	f.Add(encodeEnvelope(metaVersion{1, 1}, 7947, metaHolding(1)))
	f.Add([]byte{envelopeFormat})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, port, meta, err := decodeEnvelope(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeEnvelope(v, port, meta), b) {
			t.Fatal("round trip changed the envelope")
		}
		g := &Group{cfg: Config{Name: "self"}, members: map[string]*peer{}, lost: map[string]lostPeer{}, ids: map[uint64]string{}, changed: make(chan struct{}, 1), log: testLogger(t)}
		(*events)(g).NotifyJoin(&memberlist.Node{Name: "web1", Addr: []byte{198, 18, 0, 11}, Port: 7946, Meta: b})
		g.View()
	})
}

// memberlist calls NotifyUpdate when only a member's incarnation changed,
// or with metadata the heartbeats' pull brought already: the view is the
// same and waiting rounds must not be woken for it.
func TestUpdateSignalsOnlyChanges(t *testing.T) {
	g := bareGroup(t, LAN())
	join(g, "web1", metaVersion{start: 100, counter: 1}, metaHolding(0))
	changed := func() bool {
		select {
		case <-g.changed:
			return true
		default:
			return false
		}
	}
	changed()
	update := func(addr []byte, v metaVersion, hbPort uint16, meta []byte) {
		(*events)(g).NotifyUpdate(&memberlist.Node{Name: "web1", Addr: addr, Port: 7946, Meta: encodeEnvelope(v, hbPort, meta)})
	}
	addr := []byte{198, 18, 0, 11}
	update(addr, metaVersion{start: 100, counter: 1}, 7947, metaHolding(0))
	if changed() {
		t.Error("an update that changes nothing (a refuted suspicion) signalled a change")
	}
	// Newer metadata that the heartbeats' pull brought first.
	(*beats)(g).OnMetaReply(from, &heartbeat.MetaReply{Header: heartbeat.Header{Sender: heartbeat.ID("web1"), Process: 100, Counter: 2}, Version: 2, Meta: metaHolding(1)}, time.Now())
	if !changed() {
		t.Fatal("newer metadata from a reply signalled no change")
	}
	update(addr, metaVersion{start: 100, counter: 2}, 7947, metaHolding(1))
	if changed() {
		t.Error("gossip of metadata already held signalled a change")
	}
	for _, tt := range []struct {
		name string
		addr []byte
		v    metaVersion
		port uint16
	}{
		{"newer metadata", addr, metaVersion{start: 100, counter: 3}, 7947},
		{"another heartbeat port", addr, metaVersion{start: 100, counter: 3}, 7950},
		{"another address", []byte{198, 18, 0, 21}, metaVersion{start: 100, counter: 3}, 7950},
	} {
		update(tt.addr, tt.v, tt.port, metaHolding(2))
		if !changed() {
			t.Errorf("%s: no change signalled", tt.name)
		}
	}
	if m := member(g.View(), "web1"); !m.Meta.Held.Has(2) || m.Addr != netip.MustParseAddrPort("198.18.0.21:7946") {
		t.Errorf("view after the updates: %+v", m)
	}
}
