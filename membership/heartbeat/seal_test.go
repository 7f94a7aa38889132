package heartbeat

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

var (
	key1 = bytes.Repeat([]byte{1}, 32)
	key2 = bytes.Repeat([]byte{2}, 16)
	key3 = bytes.Repeat([]byte{3}, 24)
)

func mustSealer(t testing.TB, label string, primary []byte, others ...[]byte) *Sealer {
	t.Helper()
	s, err := NewSealer(label, primary, others)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sealedBeat returns a beat sealed by s.
func sealedBeat(t testing.TB, s *Sealer, counter uint64) []byte {
	t.Helper()
	b := lateBeat(2, false)
	b.Counter = counter
	p := make([]byte, BeatLen)
	if _, err := b.Marshal(p); err != nil {
		t.Fatal(err)
	}
	if err := s.Seal(p, 0xcafef00d); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSealOpen(t *testing.T) {
	for _, tt := range []struct {
		name    string
		primary []byte
	}{{"clear text", nil}, {"AES-128", key2}, {"AES-192", key3}, {"AES-256", key1}} {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSealer(t, "wackamole", tt.primary)
			if s.Encrypted() != (tt.primary != nil) || s.Label() != "wackamole" {
				t.Fatalf("Encrypted %v, label %q", s.Encrypted(), s.Label())
			}
			p := sealedBeat(t, s, 42)
			if got := binary.BigEndian.Uint32(p[offSalt:]); got != 0xcafef00d {
				t.Fatalf("salt %08x", got)
			}
			if got := binary.BigEndian.Uint64(p[offCounter:]); got != 42 {
				t.Fatalf("counter %d", got)
			}
			plain := make([]byte, BeatLen)
			lateBeatPlain := lateBeat(2, false)
			if _, err := lateBeatPlain.Marshal(plain); err != nil {
				t.Fatal(err)
			}
			encrypted := !bytes.Equal(p[HeaderLen:BeatLen-TrailerLen], plain[HeaderLen:BeatLen-TrailerLen])
			if encrypted != s.Encrypted() {
				t.Fatalf("body encrypted: %v, want %v", encrypted, s.Encrypted())
			}
			orig := bytes.Clone(p)
			op, err := s.Open(make([]byte, 0, MaxPacketLen), p)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(p, orig) {
				t.Fatal("Open modified its input")
			}
			var b Beat
			if err := b.Unmarshal(op); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			want := lateBeat(2, false)
			want.Type = TypeBeat
			if b != want {
				t.Fatalf("got %+v\nwant %+v", b, want)
			}
			// A small dst is replaced, not overrun.
			if op, err := s.Open(nil, p); err != nil || len(op) != BeatLen {
				t.Fatalf("Open with nil dst: %d bytes, %v", len(op), err)
			}
		})
	}
}

func TestOpenKeys(t *testing.T) {
	p1 := sealedBeat(t, mustSealer(t, "wackamole", key1), 1)
	tests := []struct {
		name string
		s    *Sealer
		want error
	}{
		{"the same key", mustSealer(t, "wackamole", key1), nil},
		{"another key", mustSealer(t, "wackamole", key2), ErrKey},
		{"the key among others", mustSealer(t, "wackamole", key2, key3, key1), nil},
		{"the key dropped", mustSealer(t, "wackamole", key2, key3), ErrKey},
		{"clear text", mustSealer(t, "wackamole", nil), ErrKey},
		{"another label", mustSealer(t, "other", key1), ErrLabel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.s.Open(nil, p1); err != tt.want {
				t.Fatalf("Open = %v, want %v", err, tt.want)
			}
		})
	}
	clearPkt := sealedBeat(t, mustSealer(t, "wackamole", nil), 1)
	if _, err := mustSealer(t, "wackamole", key1).Open(nil, clearPkt); err != ErrKey {
		t.Fatalf("encrypted group opened a clear-text packet: %v", err)
	}
}

// TestLabelBound checks that the label is bound by the key derivation
// (and the clear-text checksum), not only by the 4-byte tag: a packet of
// another label whose tag collides with this label's does not open.
func TestLabelBound(t *testing.T) {
	for _, key := range [][]byte{key1, nil} {
		other := mustSealer(t, "cluster-b", key)
		mine := mustSealer(t, "cluster-a", key)
		if _, err := mine.Open(nil, sealedBeat(t, other, 1)); err != ErrLabel {
			t.Fatalf("key %v: Open = %v, want ErrLabel", key != nil, err)
		}
		other.tag = mine.tag // a tag collision (or a forged tag)
		want := ErrKey
		if key == nil {
			want = ErrCorrupt
		}
		if _, err := mine.Open(nil, sealedBeat(t, other, 1)); err != want {
			t.Fatalf("key %v, colliding tag: Open = %v, want %v", key != nil, err, want)
		}
	}
}

// TestTamper flips every bit of a sealed packet, one at a time: no
// result opens, in either mode (clear text: the checksum finds it).
func TestTamper(t *testing.T) {
	for _, key := range [][]byte{key1, nil} {
		s := mustSealer(t, "wackamole", key)
		good := sealedBeat(t, s, 9)
		dst := make([]byte, 0, MaxPacketLen)
		for i := range good {
			for bit := range 8 {
				p := bytes.Clone(good)
				p[i] ^= 1 << bit
				if _, err := s.Open(dst, p); err == nil {
					t.Fatalf("key %v: flipping bit %d of byte %d still opens", key != nil, bit, i)
				}
			}
		}
	}
}

func TestOpenSizes(t *testing.T) {
	s := mustSealer(t, "wackamole", key1)
	good := sealedBeat(t, s, 1)
	for n := range BeatLen {
		if _, err := s.Open(nil, good[:n]); err != ErrMalformed {
			t.Fatalf("beat truncated to %d bytes: %v, want ErrMalformed", n, err)
		}
	}
	if _, err := s.Open(nil, append(bytes.Clone(good), 0)); err != ErrMalformed {
		t.Fatalf("beat one byte long: %v", err)
	}
	big := make([]byte, MaxPacketLen+1)
	big[offVersion], big[offType] = FormatVersion, byte(TypeMetaReply)
	if _, err := s.Open(nil, big); err != ErrMalformed {
		t.Fatalf("oversize reply: %v", err)
	}
	unknown := bytes.Clone(good)
	unknown[offSeal] = 7
	if _, err := s.Open(nil, unknown); err != ErrMalformed {
		t.Fatalf("unknown seal mode: %v", err)
	}
	if err := s.Seal(make([]byte, 10), 0); err == nil {
		t.Fatal("sealed a 10-byte packet")
	}
}

func TestNewSealerErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		primary []byte
		others  [][]byte
		want    string
	}{
		"others without primary": {nil, [][]byte{key1}, "no primary"},
		"short primary":          {make([]byte, 15), nil, "key 0 is 15 bytes"},
		"bad other":              {key1, [][]byte{make([]byte, 33)}, "key 1 is 33 bytes"},
		"empty primary":          {[]byte{}, nil, "key 0 is 0 bytes"},
	} {
		if _, err := NewSealer("wackamole", tt.primary, tt.others); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tt.want)
		}
	}
	s := mustSealer(t, "wackamole", key1, key1, key2, key2)
	if len(s.aeads) != 2 {
		t.Fatalf("duplicate keys kept: %d AEADs", len(s.aeads))
	}
}

func TestSealOpenAllocs(t *testing.T) {
	for _, key := range [][]byte{key1, nil} {
		s := mustSealer(t, "wackamole", key)
		p := sealedBeat(t, s, 1)
		dst := make([]byte, 0, MaxPacketLen)
		if a := testing.AllocsPerRun(100, func() {
			if err := s.Seal(p, 1); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Open(dst, p); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Fatalf("key %v: Seal+Open %v allocations, want 0", key != nil, a)
		}
	}
	// The last key of three: two failed attempts first.
	s := mustSealer(t, "wackamole", key2, key3, key1)
	p := sealedBeat(t, mustSealer(t, "wackamole", key1), 1)
	dst := make([]byte, 0, MaxPacketLen)
	if a := testing.AllocsPerRun(100, func() {
		if _, err := s.Open(dst, p); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("Open with the third key: %v allocations, want 0", a)
	}
}
