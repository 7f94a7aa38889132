package heartbeat

import "testing"

func TestReplayWindow(t *testing.T) {
	type pkt struct {
		typ              Type
		process, counter uint64
		want             bool
	}
	tests := []struct {
		name string
		seq  []pkt
	}{
		{"in order", []pkt{{TypeBeat, 10, 1, true}, {TypeBeat, 10, 2, true}, {TypeBeat, 10, 5, true}}},
		{"duplicate", []pkt{{TypeBeat, 10, 1, true}, {TypeBeat, 10, 1, false}}},
		{"reordered: the older one is dropped", []pkt{{TypeBeat, 10, 1, true}, {TypeBeat, 10, 3, true}, {TypeBeat, 10, 2, false}, {TypeBeat, 10, 4, true}}},
		{"a newer process starts over", []pkt{{TypeBeat, 10, 100, true}, {TypeBeat, 11, 1, true}, {TypeBeat, 11, 2, true}}},
		{"an older process is refused", []pkt{{TypeBeat, 11, 5, true}, {TypeBeat, 10, 500, false}, {TypeBeat, 11, 6, true}}},
		{"an older process is refused in every type", []pkt{{TypeBeat, 11, 5, true}, {TypeMetaReply, 10, 500, false}, {TypeMetaRequest, 10, 501, false}}},
		{"types have their own windows", []pkt{
			{TypeBeat, 10, 2, true},
			{TypeMetaReply, 10, 1, true}, // sealed before the beat, arrived after it
			{TypeMetaReply, 10, 1, false},
			{TypeMetaRequest, 10, 3, true},
			{TypeBeat, 10, 2, false},
		}},
		{"a new process resets every type", []pkt{{TypeMetaReply, 10, 9, true}, {TypeBeat, 11, 1, true}, {TypeMetaReply, 11, 2, true}, {TypeMetaReply, 10, 10, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReplayTable(10)
			for i, p := range tt.seq {
				h := Header{Type: p.typ, Sender: 1, Process: p.process, Counter: p.counter}
				v, _ := r.admit(&h)
				if (v == admitted) != p.want {
					t.Fatalf("packet %d %+v: verdict %d, want admitted=%v", i, p, v, p.want)
				}
			}
		})
	}
}

func TestReplayTableSenders(t *testing.T) {
	r := newReplayTable(2)
	for id := uint64(1); id <= 2; id++ {
		if v, _ := r.admit(&Header{Type: TypeBeat, Sender: id, Process: 1, Counter: 5}); v != admitted {
			t.Fatalf("sender %d: %d", id, v)
		}
	}
	if v, _ := r.admit(&Header{Type: TypeBeat, Sender: 3, Process: 1, Counter: 1}); v != tableFull {
		t.Fatalf("third sender: %d, want tableFull", v)
	}
	// A known sender still gets in, and a refused one leaves no trace.
	if v, _ := r.admit(&Header{Type: TypeBeat, Sender: 1, Process: 1, Counter: 6}); v != admitted || r.len() != 2 {
		t.Fatalf("known sender: %d, %d senders", v, r.len())
	}
	r.forget(1)
	if v, _ := r.admit(&Header{Type: TypeBeat, Sender: 3, Process: 1, Counter: 1}); v != admitted {
		t.Fatalf("after forget: %d", v)
	}
	// Forgetting also lets an older process in again.
	r.forget(2)
	if v, _ := r.admit(&Header{Type: TypeBeat, Sender: 2, Process: 1, Counter: 1}); v != admitted {
		t.Fatalf("forgotten sender, replayed packet: %d", v)
	}
}

func TestReplayProven(t *testing.T) {
	r := newReplayTable(10)
	beat := func(process, counter uint64) bool {
		v, proven := r.admit(&Header{Type: TypeBeat, Sender: 1, Process: process, Counter: counter})
		if v != admitted {
			t.Fatalf("beat %d/%d refused", process, counter)
		}
		return proven
	}
	if beat(10, 1) {
		t.Fatal("proven before any reply")
	}
	reply := Header{Type: TypeMetaReply, Sender: 1, Process: 10, Counter: 5}
	if v, _ := r.admit(&reply); v != admitted {
		t.Fatal("reply refused")
	}
	r.prove(&reply)
	if beat(10, 4) {
		t.Fatal("a beat sealed before the proof counts as proven")
	}
	if !beat(10, 6) {
		t.Fatal("a beat after the proof is not proven")
	}
	if beat(11, 1) {
		t.Fatal("a new process inherited the proof")
	}
	r.prove(&reply) // of the old process: ignored
	if beat(11, 7) {
		t.Fatal("a proof of the old process applied to the new one")
	}
}
