package membership

import (
	"encoding/binary"
	"errors"
)

// The node metadata memberlist gossips is an envelope around the agent's
// metadata: the metadata's version and this member's heartbeat port. The
// version travels with the bytes, so that whichever path brings a
// member's metadata (memberlist's gossip, which a member this node cannot
// reach directly still gets through, or a direct pull over the heartbeat
// transport) the newest wins. memberlist's own ordering, by incarnation
// numbers that a restarted member starts again from low, cannot tell a
// restarted member's metadata from its previous process's.
//
// Layout: format (1 byte, envelopeFormat), process start (8, Unix nanos),
// counter (8), heartbeat port (2), then the metadata.
const (
	envelopeFormat = 1
	envelopeLen    = 1 + 8 + 8 + 2
)

// metaVersion orders one member's metadata: a later process start wins,
// then a higher counter.
type metaVersion struct {
	start, counter uint64
}

func (v metaVersion) newer(than metaVersion) bool {
	if v.start != than.start {
		return v.start > than.start
	}
	return v.counter > than.counter
}

var errEnvelope = errors.New("malformed node metadata envelope")

func encodeEnvelope(v metaVersion, port uint16, meta []byte) []byte {
	b := make([]byte, 0, envelopeLen+len(meta))
	b = append(b, envelopeFormat)
	b = binary.BigEndian.AppendUint64(b, v.start)
	b = binary.BigEndian.AppendUint64(b, v.counter)
	b = binary.BigEndian.AppendUint16(b, port)
	return append(b, meta...)
}

// decodeEnvelope parses an envelope; it trusts nothing. meta aliases b.
func decodeEnvelope(b []byte) (v metaVersion, port uint16, meta []byte, err error) {
	if len(b) < envelopeLen || b[0] != envelopeFormat || len(b) > envelopeLen+MetaMaxSize {
		return v, 0, nil, errEnvelope
	}
	v.start = binary.BigEndian.Uint64(b[1:])
	v.counter = binary.BigEndian.Uint64(b[9:])
	port = binary.BigEndian.Uint16(b[17:])
	if v.start == 0 || port == 0 {
		return metaVersion{}, 0, nil, errEnvelope
	}
	return v, port, b[envelopeLen:], nil
}
