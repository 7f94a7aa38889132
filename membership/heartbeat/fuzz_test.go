package heartbeat

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzKey is the key of the encrypted packets in testdata/fuzz.
var fuzzKey = []byte("0123456789abcdef0123456789abcdef")

// marshaler is every message.
type marshaler interface {
	Marshal(p []byte) (int, error)
}

// decode parses an opened packet as the message its type says.
func decode(p []byte) (marshaler, error) {
	t, err := PacketType(p)
	if err != nil {
		return nil, err
	}
	switch t {
	case TypeBeat:
		var b Beat
		return &b, b.Unmarshal(p)
	case TypeMetaRequest:
		var r MetaRequest
		return &r, r.Unmarshal(p)
	default:
		var r MetaReply
		return &r, r.Unmarshal(p)
	}
}

// seedPackets returns sealed packets of every type and a few broken ones.
func seedPackets(t testing.TB, s *Sealer) [][]byte {
	h := Header{Sender: ID("web1"), Process: uint64(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).UnixNano()), Counter: 1 << 40}
	msgs := []marshaler{
		&Beat{Header: h, MetaVersion: 3, Interval: 5 * time.Millisecond},
		func() marshaler { b := lateBeat(MaxLate, true); b.Header = h; return &b }(),
		&MetaRequest{Header: h, Version: 3},
		&MetaReply{Header: h, Version: 3, EchoProcess: 9, EchoCounter: 10, Meta: []byte("metadata")},
		&MetaReply{Header: h, Version: 3, EchoProcess: 9, EchoCounter: 10, Meta: bytes.Repeat([]byte{7}, MaxMeta)},
	}
	var out [][]byte
	for i, m := range msgs {
		p := make([]byte, MaxPacketLen)
		n, err := m.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		h.Counter++
		if err := s.Seal(p[:n], uint32(i)); err != nil {
			t.Fatal(err)
		}
		out = append(out, p[:n])
	}
	out = append(out, out[0][:BeatLen-1], nil, []byte{FormatVersion, byte(TypeBeat)})
	return out
}

// FuzzOpen feeds the receive path (Open, then Unmarshal) what anyone on
// the network might send. Nothing panics, Open never changes its input,
// every refusal is one of the drop reasons, and what is accepted is
// exactly what a sender with the key would have sent: marshalled and
// sealed again, the message gives back the very bytes received. So no
// byte of an accepted packet goes unchecked (no malleable reserved byte,
// no second encoding of the same message).
func FuzzOpen(f *testing.F) {
	sealers := []*Sealer{mustSealer(f, "wackamole", fuzzKey), mustSealer(f, "wackamole", nil)}
	for _, s := range sealers {
		for _, p := range seedPackets(f, s) {
			f.Add(p)
		}
	}
	dst := make([]byte, 0, MaxPacketLen)
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		for _, s := range sealers {
			op, err := s.Open(dst, data)
			if !bytes.Equal(data, orig) {
				t.Fatal("Open modified its input")
			}
			switch err {
			case nil:
			case ErrMalformed, ErrLabel, ErrKey, ErrCorrupt:
				continue
			default:
				t.Fatalf("Open: unexpected error %v", err)
			}
			if len(op) != len(data) {
				t.Fatalf("opened %d bytes into %d", len(data), len(op))
			}
			m, err := decode(op)
			if err != nil {
				if err != ErrMalformed {
					t.Fatalf("Unmarshal: unexpected error %v", err)
				}
				continue
			}
			again := make([]byte, len(data))
			n, err := m.Marshal(again)
			if err != nil || n != len(data) {
				t.Fatalf("an accepted %T does not marshal again: %d, %v", m, n, err)
			}
			if err := s.Seal(again, binary.BigEndian.Uint32(data[offSalt:])); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, data) {
				t.Fatalf("accepted a packet a sender would not have sent (encrypted %v):\n got %x\nsent %x", s.Encrypted(), data, again)
			}
		}
	})
}

// FuzzUnmarshal feeds the decoders opened packets directly, as if the
// key were the attacker's. What they accept marshals back to the same
// bytes, but for the fields Seal owns (seal mode, label tag, salt) and
// the trailer.
func FuzzUnmarshal(f *testing.F) {
	s := mustSealer(f, "wackamole", nil)
	for _, p := range seedPackets(f, s) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decode(data)
		if err != nil {
			if err != ErrMalformed {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again := make([]byte, len(data))
		if n, err := m.Marshal(again); err != nil || n != len(data) {
			t.Fatalf("an accepted %T does not marshal again: %d, %v", m, n, err)
		}
		want := bytes.Clone(data)
		clear(want[offSeal:offCounter])
		clear(want[len(want)-TrailerLen:])
		if !bytes.Equal(again, want) {
			t.Fatalf("accepted a non-canonical %T:\n got %x\nwant %x", m, data, again)
		}
	})
}

// TestCorpus opens the sealed packets of the seed corpus, which were made
// once and are kept as bytes: a change of the wire format or of the key
// derivation breaks it (and then needs a new FormatVersion).
func TestCorpus(t *testing.T) {
	s := mustSealer(t, "wackamole", fuzzKey)
	clearText := mustSealer(t, "wackamole", nil)
	for _, tt := range []struct {
		file string
		s    *Sealer
		want Type
	}{
		{"beat-aes256", s, TypeBeat},
		{"beat-late-overflow-aes256", s, TypeBeat},
		{"meta-request-aes256", s, TypeMetaRequest},
		{"meta-reply-aes256", s, TypeMetaReply},
		{"meta-reply-1024-aes256", s, TypeMetaReply},
		{"beat-clear", clearText, TypeBeat},
		{"meta-reply-clear", clearText, TypeMetaReply},
	} {
		p := readCorpus(t, filepath.Join("testdata", "fuzz", "FuzzOpen", tt.file))
		op, err := tt.s.Open(nil, p)
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		m, err := decode(op)
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		var h Header
		switch m := m.(type) {
		case *Beat:
			h = m.Header
		case *MetaRequest:
			h = m.Header
		case *MetaReply:
			h = m.Header
		}
		if h.Type != tt.want || h.Sender != ID("web1") {
			t.Errorf("%s: header %+v", tt.file, h)
		}
	}
}

// readCorpus reads a file of Go's fuzz corpus format holding one []byte.
func readCorpus(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("%s: not a one-value corpus file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}
