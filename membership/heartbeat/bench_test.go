package heartbeat

import (
	"net/netip"
	"testing"
)

var benchKeys = []struct {
	name string
	key  []byte
}{{"clear", nil}, {"aes128", key2}, {"aes256", key1}}

// BenchmarkSealBeat is the sender's work per beat: marshal and seal.
func BenchmarkSealBeat(b *testing.B) {
	for _, k := range benchKeys {
		b.Run(k.name, func(b *testing.B) {
			s := mustSealer(b, "wackamole", k.key)
			beat := lateBeat(MaxLate, true)
			p := make([]byte, BeatLen)
			b.ReportAllocs()
			b.SetBytes(BeatLen)
			for b.Loop() {
				beat.Counter++
				if _, err := beat.Marshal(p); err != nil {
					b.Fatal(err)
				}
				if err := s.Seal(p, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpenBeat is the receiver's work per beat: open and unmarshal.
// "aes256-third-key" opens with the third key of three (a rotation in
// progress): two failed attempts first.
func BenchmarkOpenBeat(b *testing.B) {
	cases := append(benchKeys, struct {
		name string
		key  []byte
	}{"aes256-third-key", key1})
	for _, k := range cases {
		b.Run(k.name, func(b *testing.B) {
			s := mustSealer(b, "wackamole", k.key)
			p := sealedBeat(b, s, 1)
			if k.name == "aes256-third-key" {
				s = mustSealer(b, "wackamole", key2, key3, key1)
			}
			dst := make([]byte, 0, MaxPacketLen)
			var beat Beat
			b.ReportAllocs()
			b.SetBytes(BeatLen)
			for b.Loop() {
				op, err := s.Open(dst, p)
				if err != nil {
					b.Fatal(err)
				}
				if err := beat.Unmarshal(op); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSendBeat49 is one heartbeat round of a 50-node group seen from
// one sender: a beat sealed once and sent to 49 peers on the loopback
// interface (one sendmmsg), ns/op per round.
func BenchmarkSendBeat49(b *testing.B) {
	for _, k := range benchKeys {
		b.Run(k.name, func(b *testing.B) {
			a := listen(b, config("a", nil, k.key))
			to := sinks(b, 49)
			beat := lateBeat(4, false)
			if err := a.SendBeat(&beat, to); err != nil { // sizes the batch
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := a.SendBeat(&beat, to); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/49, "ns/datagram")
		})
	}
}

// BenchmarkRoundTrip is one beat from a sender to a receiver's handler
// through the kernel and back to the benchmark: the latency of one beat
// and the CPU of both ends.
func BenchmarkRoundTrip(b *testing.B) {
	for _, k := range benchKeys {
		b.Run(k.name, func(b *testing.B) {
			sig := &signal{ch: make(chan struct{}, 1)}
			a, r := listen(b, config("a", nil, k.key)), listen(b, config("b", sig, k.key))
			to := []netip.AddrPort{r.LocalAddr()}
			beat := lateBeat(4, false)
			b.ReportAllocs()
			for b.Loop() {
				if err := a.SendBeat(&beat, to); err != nil {
					b.Fatal(err)
				}
				<-sig.ch
			}
		})
	}
}
