package heartbeat

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// FormatVersion is the version of the wire format this package writes and
// reads (byte 0 of every packet). A packet of another version is malformed.
const FormatVersion = 1

// Sizes on the wire, in bytes. See the package documentation for the
// layout.
const (
	// HeaderLen is the clear-text header every packet starts with.
	HeaderLen = 36
	// TrailerLen is the authentication tag (AES-GCM) or the checksum and
	// its padding (clear text) every packet ends with.
	TrailerLen = 16
	// BeatLen is the size of every heartbeat.
	BeatLen = 256
	// MetaRequestLen is the size of every metadata request.
	MetaRequestLen = 64
	// MaxMeta is the most metadata a MetaReply carries.
	MaxMeta = 1024
	// MinMetaReplyLen is the size of a MetaReply with no metadata.
	MinMetaReplyLen = HeaderLen + replyFixed + TrailerLen
	// MaxPacketLen is the largest packet: a MetaReply with MaxMeta bytes.
	// It fits the IPv6 minimum MTU (1280) with IP and UDP headers, so no
	// packet is ever fragmented.
	MaxPacketLen = MinMetaReplyLen + MaxMeta
	// MaxLate is the number of entries a beat's late list holds.
	MaxLate = 16
	// MaxLateAge is the largest silence a late entry expresses; longer
	// silences are sent as MaxLateAge.
	MaxLateAge = 65535 * time.Millisecond
	// MaxInterval is the largest send interval a beat expresses.
	MaxInterval = 65535 * time.Millisecond
)

// Header field offsets.
const (
	offVersion  = 0
	offType     = 1
	offSeal     = 2
	offReserved = 3
	offLabel    = 4
	offSalt     = 8 // salt and counter are the AES-GCM nonce, in this order
	offCounter  = 12
	offSender   = 20
	offProcess  = 28
)

// Beat body offsets, from the end of the header.
const (
	beatMetaVersion = 0
	beatInterval    = 8
	beatFlags       = 10
	beatNumLate     = 11
	beatLateFlags   = 12
	beatLate        = 16
	lateEntryLen    = 10
	beatLateEnd     = beatLate + MaxLate*lateEntryLen
	beatBodyLen     = BeatLen - HeaderLen - TrailerLen

	lateOverflow = 1 << 0
)

// MetaRequest and MetaReply body offsets, from the end of the header.
const (
	reqVersion = 0
	reqBodyLen = MetaRequestLen - HeaderLen - TrailerLen

	replyVersion      = 0
	replyEchoProcess  = 8
	replyEchoCounter  = 16
	replyMetaLen      = 24
	replyFixed        = 28 // version, echo (16), length (2), reserved (2)
	replyMetaStartOff = HeaderLen + replyFixed
)

// ErrMalformed reports a packet that is not a well-formed message of this
// format version: wrong size for its type, an unknown type or version, a
// reserved byte that is not zero, a count out of range.
var ErrMalformed = errors.New("heartbeat: malformed packet")

// Type is the kind of a message (byte 1 of every packet).
type Type uint8

// Message types.
const (
	TypeBeat        Type = 1
	TypeMetaRequest Type = 2
	TypeMetaReply   Type = 3
)

var typeNames = [...]string{TypeBeat: "beat", TypeMetaRequest: "meta-request", TypeMetaReply: "meta-reply"}

// String returns the type's name.
func (t Type) String() string {
	if t >= TypeBeat && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// ID returns the sender ID of the member called name: the first 8 bytes of
// SHA-256 of the name, big-endian. Two names share an ID with probability
// 2^-64; a group should still check that its members' IDs differ. A pure
// function, safe for concurrent use.
func ID(name string) uint64 {
	sum := sha256.Sum256([]byte(name))
	return binary.BigEndian.Uint64(sum[:8])
}

// Header is what every message says about its sender. A Transport fills it
// in when it sends and checks it when it receives.
type Header struct {
	// Type is the message type; Marshal writes the message's own type
	// whatever this says.
	Type Type
	// Sender is the sender's ID (see ID).
	Sender uint64
	// Process identifies the sender's process: Unix nanoseconds of its
	// start. Never zero.
	Process uint64
	// Counter numbers the process's packets; it only increases. Never
	// zero.
	Counter uint64
}

// put writes the header fields a message owns; the seal byte, label tag
// and salt are zeroed for Seal to fill in.
func (h *Header) put(p []byte, t Type) {
	p[offVersion] = FormatVersion
	p[offType] = byte(t)
	clear(p[offSeal:offCounter])
	binary.BigEndian.PutUint64(p[offCounter:], h.Counter)
	binary.BigEndian.PutUint64(p[offSender:], h.Sender)
	binary.BigEndian.PutUint64(p[offProcess:], h.Process)
}

// parse reads the header of an opened packet of type t and wants length n.
func (h *Header) parse(p []byte, t Type, n int) error {
	if len(p) != n || p[offVersion] != FormatVersion || Type(p[offType]) != t || p[offReserved] != 0 {
		return ErrMalformed
	}
	h.Type = t
	h.Counter = binary.BigEndian.Uint64(p[offCounter:])
	h.Sender = binary.BigEndian.Uint64(p[offSender:])
	h.Process = binary.BigEndian.Uint64(p[offProcess:])
	if h.Counter == 0 || h.Process == 0 {
		return ErrMalformed
	}
	return nil
}

// PacketType returns the type a packet claims, checking only its version
// and minimum length. A pure function, safe for concurrent use.
func PacketType(p []byte) (Type, error) {
	if len(p) < HeaderLen+TrailerLen || p[offVersion] != FormatVersion {
		return 0, ErrMalformed
	}
	t := Type(p[offType])
	if t < TypeBeat || t > TypeMetaReply {
		return 0, ErrMalformed
	}
	return t, nil
}

// Late names a member the sender has not heard for a while.
type Late struct {
	// ID is the silent member's ID.
	ID uint64
	// Age is how long the sender has not heard it, in whole milliseconds
	// on the wire, at most MaxLateAge.
	Age time.Duration
}

// Beat is a heartbeat: "I am alive, my metadata is at this version, and
// these are the members I have not heard lately".
//
// Messages (Beat, MetaRequest, MetaReply) are plain values: their methods
// read and write only the message and the buffer they are given, so they
// are safe for concurrent use on different messages and buffers, not on
// the same one.
type Beat struct {
	Header
	// MetaVersion counts the sender's metadata changes: a receiver that
	// holds an older version asks for the metadata (MetaRequest).
	MetaVersion uint64
	// Flags are eight booleans for the user of the package; the transport
	// does not interpret them.
	Flags uint8
	// Interval is the sender's heartbeat interval, in whole milliseconds
	// on the wire, at most MaxInterval.
	Interval time.Duration
	// Late[:NumLate] are the members the sender has not heard for a
	// while, with their silence.
	Late    [MaxLate]Late
	NumLate int
	// LateOverflow says that more members than MaxLate were late; Late
	// then holds MaxLate of them.
	LateOverflow bool
	// Proven is set on received beats only, never sent: the sender's
	// process has answered a MetaRequest of this Transport's process and
	// this beat was sealed after that answer, so it cannot be a replay of
	// a packet recorded before this process started (see the package
	// documentation on the replay window).
	Proven bool
}

// LateList returns the late entries, Late[:NumLate] (clamped to the array).
func (b *Beat) LateList() []Late {
	return b.Late[:min(max(b.NumLate, 0), MaxLate)]
}

// AddLate appends a late entry. When the list is full it sets LateOverflow
// instead and returns false.
func (b *Beat) AddLate(id uint64, age time.Duration) bool {
	if b.NumLate >= MaxLate {
		b.LateOverflow = true
		return false
	}
	b.Late[b.NumLate] = Late{ID: id, Age: age}
	b.NumLate++
	return true
}

// ResetLate empties the late list.
func (b *Beat) ResetLate() {
	b.NumLate = 0
	b.LateOverflow = false
}

// Marshal writes the beat as an unsealed packet into p[:BeatLen] and
// returns BeatLen. p must hold BeatLen bytes. It fails without writing if
// a field is out of range. The packet must then be sealed (Sealer.Seal)
// before it is sent.
func (b *Beat) Marshal(p []byte) (int, error) {
	if len(p) < BeatLen {
		return 0, fmt.Errorf("heartbeat: beat needs a %d-byte buffer, got %d", BeatLen, len(p))
	}
	if b.Interval < 0 || b.Interval > MaxInterval {
		return 0, fmt.Errorf("heartbeat: interval %v is outside 0..%v", b.Interval, MaxInterval)
	}
	if b.NumLate < 0 || b.NumLate > MaxLate {
		return 0, fmt.Errorf("heartbeat: %d late entries, at most %d", b.NumLate, MaxLate)
	}
	if b.LateOverflow && b.NumLate != MaxLate {
		return 0, fmt.Errorf("heartbeat: late list overflows with only %d of %d entries", b.NumLate, MaxLate)
	}
	for _, l := range b.Late[:b.NumLate] {
		if l.Age < 0 {
			return 0, fmt.Errorf("heartbeat: late entry %016x has negative age %v", l.ID, l.Age)
		}
	}
	if err := b.Header.check(); err != nil {
		return 0, err
	}
	p = p[:BeatLen]
	b.put(p, TypeBeat)
	body := p[HeaderLen : BeatLen-TrailerLen]
	clear(body)
	clear(p[BeatLen-TrailerLen:])
	binary.BigEndian.PutUint64(body[beatMetaVersion:], b.MetaVersion)
	binary.BigEndian.PutUint16(body[beatInterval:], uint16(b.Interval/time.Millisecond))
	body[beatFlags] = b.Flags
	body[beatNumLate] = byte(b.NumLate)
	if b.LateOverflow {
		body[beatLateFlags] = lateOverflow
	}
	for i, l := range b.Late[:b.NumLate] {
		e := body[beatLate+i*lateEntryLen:]
		binary.BigEndian.PutUint64(e, l.ID)
		binary.BigEndian.PutUint16(e[8:], uint16(min(l.Age, MaxLateAge)/time.Millisecond))
	}
	return BeatLen, nil
}

// Unmarshal parses an opened beat (Sealer.Open). It accepts only what
// Marshal writes: the exact size, zero reserved bytes, zero unused late
// entries.
func (b *Beat) Unmarshal(p []byte) error {
	var h Header
	if err := h.parse(p, TypeBeat, BeatLen); err != nil {
		return err
	}
	body := p[HeaderLen : BeatLen-TrailerLen]
	n := int(body[beatNumLate])
	lf := body[beatLateFlags]
	if n > MaxLate || lf&^lateOverflow != 0 || (lf&lateOverflow != 0 && n != MaxLate) ||
		!zero(body[beatLateFlags+1:beatLate]) || !zero(body[beatLate+n*lateEntryLen:]) {
		return ErrMalformed
	}
	b.Header = h
	b.MetaVersion = binary.BigEndian.Uint64(body[beatMetaVersion:])
	b.Interval = time.Duration(binary.BigEndian.Uint16(body[beatInterval:])) * time.Millisecond
	b.Flags = body[beatFlags]
	b.NumLate = n
	b.LateOverflow = lf&lateOverflow != 0
	b.Proven = false
	for i := range n {
		e := body[beatLate+i*lateEntryLen:]
		b.Late[i] = Late{ID: binary.BigEndian.Uint64(e), Age: time.Duration(binary.BigEndian.Uint16(e[8:])) * time.Millisecond}
	}
	clear(b.Late[n:])
	return nil
}

// MetaRequest asks a member for its metadata. See Beat on concurrent use.
type MetaRequest struct {
	Header
	// Version is the metadata version the requester learnt of (from a
	// beat); the answer carries the current version, which may be newer.
	Version uint64
}

// Marshal writes the request as an unsealed packet into
// p[:MetaRequestLen] and returns MetaRequestLen.
func (r *MetaRequest) Marshal(p []byte) (int, error) {
	if len(p) < MetaRequestLen {
		return 0, fmt.Errorf("heartbeat: meta request needs a %d-byte buffer, got %d", MetaRequestLen, len(p))
	}
	if err := r.Header.check(); err != nil {
		return 0, err
	}
	p = p[:MetaRequestLen]
	r.put(p, TypeMetaRequest)
	clear(p[HeaderLen:])
	binary.BigEndian.PutUint64(p[HeaderLen+reqVersion:], r.Version)
	return MetaRequestLen, nil
}

// Unmarshal parses an opened request.
func (r *MetaRequest) Unmarshal(p []byte) error {
	var h Header
	if err := h.parse(p, TypeMetaRequest, MetaRequestLen); err != nil {
		return err
	}
	body := p[HeaderLen : MetaRequestLen-TrailerLen]
	if !zero(body[reqVersion+8:]) {
		return ErrMalformed
	}
	r.Header = h
	r.Version = binary.BigEndian.Uint64(body[reqVersion:])
	return nil
}

// MetaReply answers a MetaRequest with the sender's metadata. See Beat on
// concurrent use.
type MetaReply struct {
	Header
	// Version is the version of Meta.
	Version uint64
	// EchoProcess and EchoCounter are the Process and Counter of the
	// request this answers: they prove to the requester that the reply
	// was made after its request.
	EchoProcess, EchoCounter uint64
	// Meta is the metadata, at most MaxMeta bytes. After Unmarshal it
	// aliases the packet: copy it to keep it.
	Meta []byte
	// Proven is set on received replies only, never sent: the reply
	// echoes a request of this Transport's process, so it was made after
	// this process started, and every later packet of the replier's
	// process is Proven too (see Beat.Proven).
	Proven bool
}

// Len returns the size of the reply's packet.
func (r *MetaReply) Len() int { return MinMetaReplyLen + len(r.Meta) }

// Marshal writes the reply as an unsealed packet into p[:r.Len()] and
// returns r.Len().
func (r *MetaReply) Marshal(p []byte) (int, error) {
	if len(r.Meta) > MaxMeta {
		return 0, fmt.Errorf("heartbeat: metadata is %d bytes, at most %d", len(r.Meta), MaxMeta)
	}
	n := r.Len()
	if len(p) < n {
		return 0, fmt.Errorf("heartbeat: meta reply needs a %d-byte buffer, got %d", n, len(p))
	}
	if err := r.Header.check(); err != nil {
		return 0, err
	}
	p = p[:n]
	r.put(p, TypeMetaReply)
	body := p[HeaderLen:]
	binary.BigEndian.PutUint64(body[replyVersion:], r.Version)
	binary.BigEndian.PutUint64(body[replyEchoProcess:], r.EchoProcess)
	binary.BigEndian.PutUint64(body[replyEchoCounter:], r.EchoCounter)
	binary.BigEndian.PutUint16(body[replyMetaLen:], uint16(len(r.Meta)))
	clear(body[replyMetaLen+2 : replyFixed])
	copy(body[replyFixed:], r.Meta)
	clear(p[n-TrailerLen:])
	return n, nil
}

// Unmarshal parses an opened reply. r.Meta aliases p.
func (r *MetaReply) Unmarshal(p []byte) error {
	if len(p) < MinMetaReplyLen || len(p) > MaxPacketLen {
		return ErrMalformed
	}
	m := int(binary.BigEndian.Uint16(p[HeaderLen+replyMetaLen:]))
	var h Header
	if err := h.parse(p, TypeMetaReply, MinMetaReplyLen+m); err != nil {
		return err
	}
	body := p[HeaderLen:]
	if !zero(body[replyMetaLen+2 : replyFixed]) {
		return ErrMalformed
	}
	r.Header = h
	r.Version = binary.BigEndian.Uint64(body[replyVersion:])
	r.EchoProcess = binary.BigEndian.Uint64(body[replyEchoProcess:])
	r.EchoCounter = binary.BigEndian.Uint64(body[replyEchoCounter:])
	r.Meta = body[replyFixed : replyFixed+m : replyFixed+m]
	r.Proven = false
	return nil
}

// check refuses headers a receiver would refuse.
func (h *Header) check() error {
	if h.Process == 0 || h.Counter == 0 {
		return fmt.Errorf("heartbeat: header needs a process and a counter, got %d and %d", h.Process, h.Counter)
	}
	return nil
}

func zero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
