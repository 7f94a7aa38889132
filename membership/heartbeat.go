package membership

import (
	"encoding/binary"
	"errors"
)

// A heartbeat says "I am alive" and carries the sender's current metadata
// with its version. memberlist spreads metadata too, but orders it by its
// incarnation numbers, which a restarted member starts again from low: a
// member that missed the restart (it was cut off at the time) then ignores
// the new process's metadata until a full state exchange, up to 30 s
// later, and plans with claims that are no longer true. A version made of
// the process's start time and a counter orders metadata across restarts,
// and a heartbeat brings it within one heartbeat interval.
//
// Layout: 'H', 2 (format), name length, name, start (8 bytes, Unix nanos),
// counter (8), metadata length (2), metadata.

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

const heartbeatFormat = 2

var errHeartbeat = errors.New("malformed heartbeat")

func encodeHeartbeat(name string, v metaVersion, meta []byte) []byte {
	b := make([]byte, 0, 3+len(name)+18+len(meta))
	b = append(b, msgHeartbeat, heartbeatFormat, byte(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint64(b, v.start)
	b = binary.BigEndian.AppendUint64(b, v.counter)
	b = binary.BigEndian.AppendUint16(b, uint16(len(meta)))
	return append(b, meta...)
}

// decodeHeartbeat parses a heartbeat; it trusts nothing.
func decodeHeartbeat(b []byte) (name string, v metaVersion, meta []byte, err error) {
	if len(b) < 3 || b[0] != msgHeartbeat || b[1] != heartbeatFormat {
		return "", v, nil, errHeartbeat
	}
	n := int(b[2])
	b = b[3:]
	if n == 0 || len(b) < n+18 {
		return "", v, nil, errHeartbeat
	}
	name, b = string(b[:n]), b[n:]
	v.start = binary.BigEndian.Uint64(b)
	v.counter = binary.BigEndian.Uint64(b[8:])
	m := int(binary.BigEndian.Uint16(b[16:]))
	b = b[18:]
	if m > MetaMaxSize || len(b) != m {
		return "", v, nil, errHeartbeat
	}
	return name, v, append([]byte(nil), b...), nil
}
