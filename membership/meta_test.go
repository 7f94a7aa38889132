package membership

import (
	"bytes"
	"errors"
	"testing"
)

func TestMetaRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 100, MaxVIPs} {
		m := Meta{State: Draining, Healthy: true, Fingerprint: 0x0123456789abcdef, Damped: n%2 == 1, Penalty: uint16(n), DampedFor: 30, Witness: n%3 == 0, Held: NewBitmap(n), Leaving: NewBitmap(n)}
		for i := 0; i < n; i += 3 {
			m.Held.Set(i)
		}
		for i := 0; i < n; i += 7 {
			m.Leaving.Set(i)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("%d VIPs: %v", n, err)
		}
		if len(b) > MetaMaxSize {
			t.Fatalf("%d VIPs: %d bytes, over memberlist's limit", n, len(b))
		}
		var got Meta
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%d VIPs: decode: %v", n, err)
		}
		b2, _ := got.MarshalBinary()
		if !bytes.Equal(b, b2) || got.State != m.State || got.Healthy != m.Healthy || got.Fingerprint != m.Fingerprint || got.Damped != m.Damped || got.Witness != m.Witness || got.Penalty != m.Penalty || got.DampedFor != m.DampedFor {
			t.Fatalf("%d VIPs: round trip changed the metadata", n)
		}
		for i := 0; i < n; i++ {
			if got.Held.Has(i) != (i%3 == 0) || got.Leaving.Has(i) != (i%7 == 0) {
				t.Fatalf("%d VIPs: bit %d changed", n, i)
			}
		}
	}
}

func TestMetaRejects(t *testing.T) {
	good, _ := Meta{State: Mature, Healthy: true, Held: NewBitmap(9), Leaving: NewBitmap(9)}.MarshalBinary()
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMetaLength},
		{"short header", good[:5], ErrMetaLength},
		{"future version", mutate(func(b []byte) []byte { b[0] = 9; return b }), ErrMetaVersion},
		{"truncated bitmap", good[:len(good)-1], ErrMetaLength},
		{"trailing byte", append(append([]byte(nil), good...), 0), ErrMetaLength},
		{"unknown state", mutate(func(b []byte) []byte { b[1] = 7; return b }), nil},
		{"unknown flags", mutate(func(b []byte) []byte { b[2] = 0x30; return b }), nil},
		{"unknown flag 3", mutate(func(b []byte) []byte { b[2] = 0x08; return b }), nil},
		{"bit beyond count", mutate(func(b []byte) []byte { b[len(b)-1] = 0x80; return b }), nil},
		{"count over max", mutate(func(b []byte) []byte { b[15], b[16] = 0xff, 0xff; return b }), ErrMetaLength},
		{"version 1", mutate(func(b []byte) []byte { b[0] = 1; return b }), ErrMetaVersion},
	}
	for _, tt := range tests {
		var m Meta
		err := m.UnmarshalBinary(tt.b)
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := (Meta{Held: NewBitmap(MaxVIPs + 1), Leaving: NewBitmap(MaxVIPs + 1)}).MarshalBinary(); err == nil {
		t.Error("more than MaxVIPs encoded")
	}
	if _, err := (Meta{Held: NewBitmap(3), Leaving: NewBitmap(4)}).MarshalBinary(); err == nil {
		t.Error("bitmaps of different lengths encoded")
	}
}

// FuzzMeta feeds metadata as a stranger or a newer version might send it:
// decoding never panics, and what decodes encodes back to the same bytes.
func FuzzMeta(f *testing.F) {
	good, _ := Meta{State: Mature, Healthy: true, Fingerprint: 42, Held: NewBitmap(20), Leaving: NewBitmap(20)}.MarshalBinary()
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Meta
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded metadata does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip changed %x into %x", b, out)
		}
	})
}
