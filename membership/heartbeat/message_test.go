package heartbeat

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestID(t *testing.T) {
	sum := sha256.Sum256([]byte("web1"))
	if got, want := ID("web1"), binary.BigEndian.Uint64(sum[:8]); got != want {
		t.Fatalf("ID(web1) = %016x, want %016x", got, want)
	}
	if ID("web1") == ID("web2") || ID("") == ID("web1") {
		t.Fatal("different names share an ID")
	}
}

func testHeader() Header {
	return Header{Sender: ID("web1"), Process: 1_700_000_000_000_000_000, Counter: 42}
}

// fullLate returns a beat with n late entries.
func lateBeat(n int, overflow bool) Beat {
	b := Beat{Header: testHeader(), MetaVersion: 7, Flags: 0xa5, Interval: 5 * time.Millisecond}
	for i := range n {
		b.AddLate(uint64(1000+i), time.Duration(i+1)*time.Second)
	}
	if overflow {
		b.AddLate(99, time.Second)
	}
	return b
}

func TestBeatRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   Beat
		want Beat // in, as a receiver sees it
	}{
		{"no late list", lateBeat(0, false), lateBeat(0, false)},
		{"one late", lateBeat(1, false), lateBeat(1, false)},
		{"sixteen late", lateBeat(16, false), lateBeat(16, false)},
		{"overflow", lateBeat(16, true), lateBeat(16, true)},
		{
			"ages and interval in whole milliseconds, ages capped",
			Beat{Header: testHeader(), Interval: 2500 * time.Microsecond, NumLate: 2,
				Late: [MaxLate]Late{{ID: 1, Age: 1500 * time.Microsecond}, {ID: 2, Age: time.Hour}}},
			Beat{Header: testHeader(), Interval: 2 * time.Millisecond, NumLate: 2,
				Late: [MaxLate]Late{{ID: 1, Age: time.Millisecond}, {ID: 2, Age: MaxLateAge}}},
		},
		{
			"largest values",
			Beat{Header: Header{Sender: ^uint64(0), Process: ^uint64(0), Counter: ^uint64(0)}, MetaVersion: ^uint64(0), Flags: 0xff, Interval: MaxInterval},
			Beat{Header: Header{Sender: ^uint64(0), Process: ^uint64(0), Counter: ^uint64(0)}, MetaVersion: ^uint64(0), Flags: 0xff, Interval: MaxInterval},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := make([]byte, BeatLen+10)
			n, err := tt.in.Marshal(p)
			if err != nil || n != BeatLen {
				t.Fatalf("Marshal = %d, %v", n, err)
			}
			var got Beat
			got.Late[MaxLate-1] = Late{ID: 5} // must be cleared
			if err := got.Unmarshal(p[:n]); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			tt.want.Type = TypeBeat
			if got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
			if len(got.LateList()) != tt.want.NumLate {
				t.Fatalf("LateList has %d entries, want %d", len(got.LateList()), tt.want.NumLate)
			}
		})
	}
}

func TestAddLate(t *testing.T) {
	var b Beat
	for i := range MaxLate {
		if !b.AddLate(uint64(i), time.Second) || b.LateOverflow {
			t.Fatalf("entry %d refused", i)
		}
	}
	if b.AddLate(100, time.Second) || !b.LateOverflow || b.NumLate != MaxLate {
		t.Fatalf("17th entry: NumLate %d overflow %v", b.NumLate, b.LateOverflow)
	}
	b.ResetLate()
	if b.NumLate != 0 || b.LateOverflow || len(b.LateList()) != 0 {
		t.Fatal("ResetLate left entries")
	}
	b.NumLate = 99
	if len(b.LateList()) != MaxLate {
		t.Fatal("LateList not clamped")
	}
}

// TestBeatWireFormat pins the layout the package documentation describes.
func TestBeatWireFormat(t *testing.T) {
	b := Beat{
		Header:      Header{Sender: 0x0102030405060708, Process: 0x1112131415161718, Counter: 0x2122232425262728},
		MetaVersion: 0x3132333435363738, Flags: 0x41, Interval: 0x0506 * time.Millisecond,
	}
	b.AddLate(0x5152535455565758, 0x0607*time.Millisecond)
	p := make([]byte, BeatLen)
	if _, err := b.Marshal(p); err != nil {
		t.Fatal(err)
	}
	want := "01" + "01" + "00" + "00" + "00000000" + "00000000" + "2122232425262728" + // version, type, seal, reserved, label, salt, counter
		"0102030405060708" + "1112131415161718" + // sender, process
		"3132333435363738" + "0506" + "41" + "01" + "00" + "000000" + // meta version, interval, flags, late count, late flags, reserved
		"5152535455565758" + "0607" // late[0]
	got := hex.EncodeToString(p)
	if !strings.HasPrefix(got, want) || strings.Trim(got[len(want):], "0") != "" {
		t.Fatalf("wire bytes\n got %s\nwant %s then zeros", got, want)
	}
}

func TestBeatMarshalErrors(t *testing.T) {
	ok := lateBeat(1, false)
	tests := []struct {
		name   string
		mutate func(*Beat)
		buf    int
		want   string
	}{
		{"short buffer", func(*Beat) {}, BeatLen - 1, "buffer"},
		{"negative interval", func(b *Beat) { b.Interval = -1 }, BeatLen, "interval"},
		{"interval too long", func(b *Beat) { b.Interval = MaxInterval + time.Millisecond }, BeatLen, "interval"},
		{"negative late count", func(b *Beat) { b.NumLate = -1 }, BeatLen, "late entries"},
		{"17 late", func(b *Beat) { b.NumLate = MaxLate + 1 }, BeatLen, "late entries"},
		{"overflow without a full list", func(b *Beat) { b.LateOverflow = true }, BeatLen, "overflows"},
		{"negative age", func(b *Beat) { b.Late[0].Age = -time.Millisecond }, BeatLen, "negative age"},
		{"no process", func(b *Beat) { b.Process = 0 }, BeatLen, "process"},
		{"no counter", func(b *Beat) { b.Counter = 0 }, BeatLen, "counter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ok
			tt.mutate(&b)
			p := bytes.Repeat([]byte{0xee}, tt.buf)
			n, err := b.Marshal(p)
			if err == nil || n != 0 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Marshal = %d, %v; want an error about %q", n, err, tt.want)
			}
			if !bytes.Equal(p, bytes.Repeat([]byte{0xee}, tt.buf)) {
				t.Fatal("a failed Marshal wrote into the buffer")
			}
		})
	}
}

// TestBeatUnmarshalRejects changes one thing at a time in a good opened
// beat; each must be refused.
func TestBeatUnmarshalRejects(t *testing.T) {
	good := make([]byte, BeatLen)
	b := lateBeat(3, false)
	if _, err := b.Marshal(good); err != nil {
		t.Fatal(err)
	}
	body := HeaderLen
	tests := []struct {
		name   string
		mutate func([]byte) []byte
	}{
		{"one byte short", func(p []byte) []byte { return p[:BeatLen-1] }},
		{"one byte long", func(p []byte) []byte { return append(p, 0) }},
		{"empty", func(p []byte) []byte { return nil }},
		{"format version 2", func(p []byte) []byte { p[offVersion] = 2; return p }},
		{"type request", func(p []byte) []byte { p[offType] = byte(TypeMetaRequest); return p }},
		{"reserved header byte", func(p []byte) []byte { p[offReserved] = 1; return p }},
		{"counter zero", func(p []byte) []byte { clear(p[offCounter : offCounter+8]); return p }},
		{"process zero", func(p []byte) []byte { clear(p[offProcess : offProcess+8]); return p }},
		{"17 late", func(p []byte) []byte { p[body+beatNumLate] = 17; return p }},
		{"late count beyond the entries written", func(p []byte) []byte { p[body+beatNumLate] = 2; return p }},
		{"overflow with 3 entries", func(p []byte) []byte { p[body+beatLateFlags] = lateOverflow; return p }},
		{"unknown late flag", func(p []byte) []byte { p[body+beatLateFlags] = 2; return p }},
		{"reserved after late flags", func(p []byte) []byte { p[body+beatLateFlags+1] = 1; return p }},
		{"unused late entry set", func(p []byte) []byte { p[body+beatLate+3*lateEntryLen] = 1; return p }},
		{"reserved tail", func(p []byte) []byte { p[BeatLen-TrailerLen-1] = 1; return p }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.mutate(bytes.Clone(good))
			var got Beat
			if err := got.Unmarshal(p); err != ErrMalformed {
				t.Fatalf("Unmarshal = %v, want ErrMalformed", err)
			}
		})
	}
	var got Beat
	if err := got.Unmarshal(good); err != nil {
		t.Fatalf("the good beat: %v", err)
	}
}

func TestMetaRequestRoundTrip(t *testing.T) {
	r := MetaRequest{Header: testHeader(), Version: 99}
	p := make([]byte, MetaRequestLen)
	if n, err := r.Marshal(p); err != nil || n != MetaRequestLen {
		t.Fatalf("Marshal = %d, %v", n, err)
	}
	var got MetaRequest
	if err := got.Unmarshal(p); err != nil {
		t.Fatal(err)
	}
	r.Type = TypeMetaRequest
	if got != r {
		t.Fatalf("got %+v, want %+v", got, r)
	}
	for name, bad := range map[string][]byte{
		"short":    p[:MetaRequestLen-1],
		"long":     append(bytes.Clone(p), 0),
		"reserved": func() []byte { q := bytes.Clone(p); q[HeaderLen+8] = 1; return q }(),
		"as beat":  func() []byte { q := bytes.Clone(p); q[offType] = byte(TypeBeat); return q }(),
	} {
		if err := got.Unmarshal(bad); err != ErrMalformed {
			t.Errorf("%s: Unmarshal = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := r.Marshal(make([]byte, MetaRequestLen-1)); err == nil {
		t.Error("Marshal into a short buffer")
	}
}

func TestMetaReplyRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 512, MaxMeta} {
		r := MetaReply{Header: testHeader(), Version: 5, EchoProcess: 77, EchoCounter: 78, Meta: bytes.Repeat([]byte{0xab}, size)}
		p := make([]byte, MaxPacketLen+1)
		n, err := r.Marshal(p)
		if err != nil || n != MinMetaReplyLen+size || n != r.Len() {
			t.Fatalf("%d bytes: Marshal = %d, %v", size, n, err)
		}
		var got MetaReply
		if err := got.Unmarshal(p[:n]); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if got.Header != (Header{Type: TypeMetaReply, Sender: r.Sender, Process: r.Process, Counter: r.Counter}) ||
			got.Version != 5 || got.EchoProcess != 77 || got.EchoCounter != 78 || !bytes.Equal(got.Meta, r.Meta) || got.Proven {
			t.Fatalf("%d bytes: got %+v", size, got)
		}
		if cap(got.Meta) != len(got.Meta) {
			t.Fatal("Meta can be appended to over the packet")
		}
		for name, bad := range map[string][]byte{
			"short by one": p[:n-1],
			"long by one":  p[:n+1],
			"reserved":     func() []byte { q := bytes.Clone(p[:n]); q[HeaderLen+replyMetaLen+2] = 1; return q }(),
			"length+1": func() []byte {
				q := bytes.Clone(p[:n])
				binary.BigEndian.PutUint16(q[HeaderLen+replyMetaLen:], uint16(size+1))
				return q
			}(),
		} {
			if err := got.Unmarshal(bad); err != ErrMalformed {
				t.Errorf("%d bytes, %s: Unmarshal = %v, want ErrMalformed", size, name, err)
			}
		}
	}
	var got MetaReply
	if err := got.Unmarshal(make([]byte, MaxPacketLen+1)); err != ErrMalformed {
		t.Errorf("oversize reply: %v", err)
	}
	big := MetaReply{Header: testHeader(), Meta: make([]byte, MaxMeta+1)}
	if _, err := big.Marshal(make([]byte, 2*MaxPacketLen)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("Marshal of %d bytes of metadata: %v", MaxMeta+1, err)
	}
	small := MetaReply{Header: testHeader(), Meta: make([]byte, 10)}
	if _, err := small.Marshal(make([]byte, MinMetaReplyLen+9)); err == nil {
		t.Error("Marshal into a short buffer")
	}
}

func TestTypeString(t *testing.T) {
	for typ, want := range map[Type]string{TypeBeat: "beat", TypeMetaRequest: "meta-request", TypeMetaReply: "meta-reply", 0: "type(0)", 9: "type(9)"} {
		if typ.String() != want {
			t.Errorf("%d: %q, want %q", uint8(typ), typ.String(), want)
		}
	}
}

func TestCodecAllocs(t *testing.T) {
	b := lateBeat(16, true)
	p := make([]byte, BeatLen)
	var out Beat
	if a := testing.AllocsPerRun(100, func() {
		if _, err := b.Marshal(p); err != nil {
			t.Fatal(err)
		}
		if err := out.Unmarshal(p); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("beat Marshal+Unmarshal: %v allocations, want 0", a)
	}
	r := MetaReply{Header: testHeader(), Meta: make([]byte, MaxMeta)}
	q := make([]byte, MaxPacketLen)
	var rout MetaReply
	if a := testing.AllocsPerRun(100, func() {
		n, _ := r.Marshal(q)
		if err := rout.Unmarshal(q[:n]); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("reply Marshal+Unmarshal: %v allocations, want 0", a)
	}
}
