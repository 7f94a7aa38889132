package heartbeat

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
)

// Seal modes (byte 2 of every packet).
const (
	sealClear  = 0 // CRC-32C over label and packet, no authenticity
	sealAESGCM = 1 // AES-GCM, 16-byte tag
)

// Errors Open returns, one per drop reason. They are values, not wrapped,
// so that the receive path compares them without allocating.
var (
	// ErrLabel reports a packet of another group: its label tag is not
	// this Sealer's.
	ErrLabel = errors.New("heartbeat: packet of another group (label)")
	// ErrKey reports a packet that none of the keys opens: another or a
	// stale key, a forgery, corruption in transit, or a packet sealed in
	// the other mode (clear text to an encrypted group or back).
	ErrKey = errors.New("heartbeat: packet not sealed with a key of this group")
	// ErrCorrupt reports a clear-text packet that fails its checksum.
	ErrCorrupt = errors.New("heartbeat: clear-text packet fails its checksum")
)

// The nonce is the salt and the counter, adjacent in the header so that
// Seal and Open slice it out of the packet instead of copying it.
const offNonceEnd = offCounter + 8

var _ [12 - (offNonceEnd - offSalt)]struct{} // the nonce is 12 bytes
var _ [(offNonceEnd - offSalt) - 12]struct{}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// A Sealer seals and opens the packets of one group: its label and its
// keys. It is immutable and safe for concurrent use; a key change makes a
// new Sealer.
type Sealer struct {
	label []byte
	tag   [4]byte
	aeads []cipher.AEAD // aeads[0] seals, all open; none: clear text
}

// NewSealer returns a Sealer for the group called label. The primary key
// seals; it and the others open. Keys are raw AES keys of 16, 24 or 32
// bytes, as memberlist takes them. No keys at all (nil primary, no others)
// means clear text with a checksum: packets are protected against
// corruption, not forgery.
//
// Each raw key K is not used as is: the AES-GCM key is
// HKDF-SHA256(K, info = "wackamole heartbeat v1" 0x00 label) (RFC 5869),
// as long as K. This binds the full label to every packet (two groups
// sharing a key and a network cannot open each other's packets), and keeps
// this protocol's nonces apart from memberlist's, which uses the same raw
// key with random nonces of its own. Each AEAD is built here, once per key.
func NewSealer(label string, primary []byte, others [][]byte) (*Sealer, error) {
	s := &Sealer{label: []byte(label)}
	tag := sha256.Sum256(append([]byte("wackamole heartbeat label\x00"), label...))
	copy(s.tag[:], tag[:])
	if primary == nil {
		if len(others) != 0 {
			return nil, errors.New("heartbeat: keys to accept but no primary key to send with")
		}
		return s, nil
	}
	keys := [][]byte{primary}
	for _, k := range others {
		if !slices.ContainsFunc(keys, func(h []byte) bool { return string(h) == string(k) }) {
			keys = append(keys, k)
		}
	}
	for i, k := range keys {
		switch len(k) {
		case 16, 24, 32:
		default:
			return nil, fmt.Errorf("heartbeat: key %d is %d bytes, want 16, 24 or 32", i, len(k))
		}
		dk, err := hkdf.Key(sha256.New, k, nil, "wackamole heartbeat v1\x00"+label, len(k))
		if err != nil {
			return nil, fmt.Errorf("heartbeat: derive key %d: %w", i, err)
		}
		block, err := aes.NewCipher(dk)
		if err != nil {
			return nil, fmt.Errorf("heartbeat: key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("heartbeat: key %d: %w", i, err)
		}
		s.aeads = append(s.aeads, aead)
	}
	return s, nil
}

// Encrypted reports whether the Sealer has keys.
func (s *Sealer) Encrypted() bool { return len(s.aeads) > 0 }

// Label returns the group's label.
func (s *Sealer) Label() string { return string(s.label) }

// Seal seals, in place, a packet that a Marshal method wrote: it fills in
// the seal mode, the label tag and the salt, then encrypts the body and
// writes the tag (AES-GCM with the primary key, the header as additional
// data, salt and counter as the nonce), or writes the checksum (clear
// text). The caller guarantees that (salt, counter) never repeats for a
// key (see the package documentation); Seal cannot check it.
func (s *Sealer) Seal(p []byte, salt uint32) error {
	if err := checkLen(p); err != nil {
		return fmt.Errorf("heartbeat: seal a %d-byte packet: %w", len(p), err)
	}
	p[offSeal] = sealClear
	if s.Encrypted() {
		p[offSeal] = sealAESGCM
	}
	copy(p[offLabel:offSalt], s.tag[:])
	binary.BigEndian.PutUint32(p[offSalt:], salt)
	end := len(p) - TrailerLen
	if !s.Encrypted() {
		clear(p[end:])
		binary.BigEndian.PutUint32(p[end:], s.checksum(p[:end]))
		return nil
	}
	s.aeads[0].Seal(p[HeaderLen:HeaderLen], p[offSalt:offNonceEnd], p[HeaderLen:end], p[:HeaderLen])
	return nil
}

// Open checks a received packet and appends it, opened, to dst[:0]: the
// same layout and length, the body in clear text. It returns the opened
// packet, or an error that says why the packet is dropped: ErrMalformed
// (wrong size for its type, unknown version or type), ErrLabel, ErrKey or
// ErrCorrupt. p is not modified. With a dst of capacity MaxPacketLen, Open
// does not allocate.
//
// Open authenticates; it does not check freshness (that is the replay
// window's job) nor the body (that is Unmarshal's).
func (s *Sealer) Open(dst, p []byte) ([]byte, error) {
	if err := checkLen(p); err != nil {
		return nil, err
	}
	if [4]byte(p[offLabel:offSalt]) != s.tag {
		return nil, ErrLabel
	}
	if cap(dst) < len(p) {
		dst = make([]byte, 0, len(p))
	}
	end := len(p) - TrailerLen
	switch p[offSeal] {
	case sealClear:
		if s.Encrypted() {
			return nil, ErrKey
		}
		if binary.BigEndian.Uint32(p[end:]) != s.checksum(p[:end]) || !zero(p[end+4:]) {
			return nil, ErrCorrupt
		}
		return append(dst[:0], p...), nil
	case sealAESGCM:
		if !s.Encrypted() {
			return nil, ErrKey
		}
		out := append(dst[:0], p[:HeaderLen]...)
		for _, aead := range s.aeads {
			// Not in place: a failed Open may overwrite its output, and
			// the next key needs the ciphertext intact.
			if _, err := aead.Open(out[HeaderLen:HeaderLen], p[offSalt:offNonceEnd], p[HeaderLen:], p[:HeaderLen]); err == nil {
				out = out[:end]
				return append(out, p[end:]...), nil
			}
		}
		return nil, ErrKey
	default:
		return nil, ErrMalformed
	}
}

func (s *Sealer) checksum(p []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, s.label), castagnoli, p)
}

// checkLen refuses packets whose size is not one their type allows.
func checkLen(p []byte) error {
	t, err := PacketType(p)
	if err != nil {
		return err
	}
	switch t {
	case TypeBeat:
		if len(p) == BeatLen {
			return nil
		}
	case TypeMetaRequest:
		if len(p) == MetaRequestLen {
			return nil
		}
	case TypeMetaReply:
		if len(p) >= MinMetaReplyLen && len(p) <= MaxPacketLen {
			return nil
		}
	}
	return ErrMalformed
}
