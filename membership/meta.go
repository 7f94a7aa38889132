package membership

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// State is a member's own account of where it is in its life cycle.
type State uint8

// Member states.
const (
	// Joining members are new: they take no VIPs until they are mature.
	Joining State = iota
	// Mature members may be given VIPs.
	Mature
	// Draining members hand their VIPs over and take none; they stay in
	// the group (wackatrl drain) or are about to leave (graceful stop).
	Draining
)

var stateNames = [...]string{Joining: "joining", Mature: "mature", Draining: "draining"}

// String returns the state's name.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// MetaVersion is the version of the metadata encoding this code writes.
// Version 2 added flap damping.
const MetaVersion = 2

// MetaMaxSize is the most metadata a member may publish: memberlist's
// limit on node metadata, 512 bytes, less the envelope (see envelope.go).
const MetaMaxSize = 512 - envelopeLen

// metaHeader is version, state, flags, fingerprint (8), damping penalty
// (2), damped-for (2, seconds) and the VIP count (2).
const metaHeader = 1 + 1 + 1 + 8 + 2 + 2 + 2

// MaxVIPs is the largest VIP list the metadata can describe: two bits per
// VIP (held, leaving) must fit in MetaMaxSize.
const MaxVIPs = (MetaMaxSize - metaHeader) / 2 * 8

const (
	flagUnhealthy = 1 << 0
	flagDamped    = 1 << 1
	flagWitness   = 1 << 2
)

// Meta is what a member says about itself in the group.
type Meta struct {
	State State
	// Healthy is false when the member's health checks fail or a VIP
	// interface is down; it then takes no VIPs.
	Healthy bool
	// Fingerprint identifies the member's VIP configuration; members with
	// another fingerprint are not eligible for VIPs.
	Fingerprint uint64
	// Damped: the member flapped (its link, health or quorum) and holds
	// itself out of VIP ownership for a while (see pkg/policy/damping).
	// Penalty is its damping penalty and DampedFor how long it expected to
	// stay damped, both as of when it published this metadata: for
	// operators; only Damped decides anything.
	Damped    bool
	Penalty   uint16
	DampedFor uint16 // seconds
	// Witness: the member counts for quorum and never holds a VIP.
	Witness bool
	// Held and Leaving are bitmaps over the configured VIPs in name order:
	// bit i set means the member holds, or is handing over, VIP i.
	Held, Leaving Bitmap
}

// MarshalBinary encodes the metadata; it fails if the bitmaps describe
// more than MaxVIPs VIPs or differ in length.
func (m Meta) MarshalBinary() ([]byte, error) {
	n := m.Held.Len()
	if m.Leaving.Len() != n {
		return nil, fmt.Errorf("meta: held bitmap covers %d VIPs, leaving bitmap %d", n, m.Leaving.Len())
	}
	if n > MaxVIPs {
		return nil, fmt.Errorf("meta: %d VIPs, at most %d fit in the group metadata", n, MaxVIPs)
	}
	b := make([]byte, 0, metaHeader+2*len(m.Held.bits))
	var flags byte
	if !m.Healthy {
		flags |= flagUnhealthy
	}
	if m.Damped {
		flags |= flagDamped
	}
	if m.Witness {
		flags |= flagWitness
	}
	b = append(b, MetaVersion, byte(m.State), flags)
	b = binary.BigEndian.AppendUint64(b, m.Fingerprint)
	b = binary.BigEndian.AppendUint16(b, m.Penalty)
	b = binary.BigEndian.AppendUint16(b, m.DampedFor)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = append(b, m.Held.bits...)
	b = append(b, m.Leaving.bits...)
	return b, nil
}

// Errors of UnmarshalBinary.
var (
	ErrMetaVersion = errors.New("meta: unknown version")
	ErrMetaLength  = errors.New("meta: wrong length")
)

// UnmarshalBinary decodes metadata written by MarshalBinary. It accepts
// nothing else: a wrong version, a length that does not match the VIP
// count, an unknown state or flag, or bits beyond the VIP count are errors.
func (m *Meta) UnmarshalBinary(b []byte) error {
	if len(b) < metaHeader {
		return fmt.Errorf("%w: %d bytes, header is %d", ErrMetaLength, len(b), metaHeader)
	}
	if b[0] != MetaVersion {
		return fmt.Errorf("%w %d (this node speaks %d)", ErrMetaVersion, b[0], MetaVersion)
	}
	state := State(b[1])
	if state > Draining {
		return fmt.Errorf("meta: unknown state %d", b[1])
	}
	if b[2]&^(flagUnhealthy|flagDamped|flagWitness) != 0 {
		return fmt.Errorf("meta: unknown flags %#x", b[2])
	}
	n := int(binary.BigEndian.Uint16(b[15:17]))
	size := (n + 7) / 8
	if n > MaxVIPs || len(b) != metaHeader+2*size {
		return fmt.Errorf("%w: %d bytes for %d VIPs", ErrMetaLength, len(b), n)
	}
	held := Bitmap{n: n, bits: append([]byte(nil), b[metaHeader:metaHeader+size]...)}
	leaving := Bitmap{n: n, bits: append([]byte(nil), b[metaHeader+size:]...)}
	if !held.clean() || !leaving.clean() {
		return fmt.Errorf("meta: bits set beyond VIP %d", n)
	}
	*m = Meta{
		State:       state,
		Healthy:     b[2]&flagUnhealthy == 0,
		Fingerprint: binary.BigEndian.Uint64(b[3:11]),
		Damped:      b[2]&flagDamped != 0,
		Witness:     b[2]&flagWitness != 0,
		Penalty:     binary.BigEndian.Uint16(b[11:13]),
		DampedFor:   binary.BigEndian.Uint16(b[13:15]),
		Held:        held,
		Leaving:     leaving,
	}
	return nil
}

// Bitmap is a set of VIP positions in the ordered VIP list.
type Bitmap struct {
	n    int
	bits []byte
}

// NewBitmap returns an empty bitmap over n VIPs.
func NewBitmap(n int) Bitmap {
	return Bitmap{n: n, bits: make([]byte, (n+7)/8)}
}

// Len is the number of VIPs the bitmap covers.
func (b Bitmap) Len() int { return b.n }

// Set adds VIP i; out of range is ignored.
func (b Bitmap) Set(i int) {
	if i >= 0 && i < b.n {
		b.bits[i/8] |= 1 << (i % 8)
	}
}

// Has reports whether VIP i is in the set.
func (b Bitmap) Has(i int) bool {
	return i >= 0 && i < b.n && b.bits[i/8]&(1<<(i%8)) != 0
}

// Count is the number of VIPs in the set.
func (b Bitmap) Count() int {
	c := 0
	for _, x := range b.bits {
		c += bits.OnesCount8(x)
	}
	return c
}

// clean reports whether no bit beyond n is set.
func (b Bitmap) clean() bool {
	if r := b.n % 8; r != 0 && len(b.bits) > 0 {
		return b.bits[len(b.bits)-1]>>r == 0
	}
	return true
}
