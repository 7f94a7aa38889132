package membership

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/hashicorp/memberlist"
)

// MaxNeighbors bounds the hosts one member shares, so that a share fits in
// one gossip packet (48 IPv6 addresses: 816 bytes).
const MaxNeighbors = 48

// maxShares bounds how many members' shares a node keeps.
const maxShares = 1024

// maxUnion bounds SharedNeighbors.
const maxUnion = 256

const msgNeighbors = 'N'

// share is one member's list of neighbours, newest seq wins.
type share struct {
	seq   uint32
	addrs []netip.Addr
}

// SetNeighbors shares this node's neighbours (the hosts it talks to on its
// VIP interfaces) with the group, up to MaxNeighbors of them. A node taking
// over a VIP announces it to every shared neighbour by unicast, so that
// hosts that were talking to the old owner learn the new MAC at once.
func (g *Group) SetNeighbors(addrs []netip.Addr) {
	if len(addrs) > MaxNeighbors {
		addrs = addrs[:MaxNeighbors]
	}
	g.mu.Lock()
	own := g.shares[g.cfg.Name]
	if slices.Equal(own.addrs, addrs) {
		g.mu.Unlock()
		return
	}
	own = share{seq: own.seq + 1, addrs: slices.Clone(addrs)}
	g.shares[g.cfg.Name] = own
	msg := encodeShare(g.cfg.Name, own)
	g.mu.Unlock()
	g.broadcasts.QueueBroadcast(&shareBroadcast{name: g.cfg.Name, msg: msg})
}

// SharedNeighbors returns the union of every member's shared neighbours,
// this node's included, and of members that have failed since (their
// clients are the ones a takeover must reach), up to 256 addresses.
func (g *Group) SharedNeighbors() []netip.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []netip.Addr
	for _, s := range g.shares {
		out = append(out, s.addrs...)
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	out = slices.Compact(out)
	if len(out) > maxUnion {
		out = out[:maxUnion]
	}
	return out
}

// mergeShare keeps a received share if it is newer than the one known.
func (g *Group) mergeShare(name string, s share) {
	if name == g.cfg.Name {
		return // nobody knows our neighbours better than we do
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	old, ok := g.shares[name]
	if ok && old.seq >= s.seq {
		return
	}
	if !ok && len(g.shares) >= maxShares {
		return
	}
	g.shares[name] = s
}

// encodeShare: 'N', version 1, seq, name length, name, count, then per
// address its length (4 or 16) and bytes.
func encodeShare(name string, s share) []byte {
	b := []byte{msgNeighbors, 1}
	b = binary.BigEndian.AppendUint32(b, s.seq)
	b = append(b, byte(len(name)))
	b = append(b, name...)
	b = append(b, byte(len(s.addrs)))
	for _, a := range s.addrs {
		raw := a.AsSlice()
		b = append(b, byte(len(raw)))
		b = append(b, raw...)
	}
	return b
}

var errShare = errors.New("malformed neighbour share")

// decodeShare parses one share from the start of b and returns the rest.
// It trusts nothing: lengths are checked, counts bounded.
func decodeShare(b []byte) (name string, s share, rest []byte, err error) {
	if len(b) < 7 || b[0] != msgNeighbors || b[1] != 1 {
		return "", s, nil, errShare
	}
	s.seq = binary.BigEndian.Uint32(b[2:6])
	n := int(b[6])
	b = b[7:]
	if n == 0 || n > maxNameLen || len(b) < n+1 {
		return "", s, nil, errShare
	}
	name, b = string(b[:n]), b[n:]
	count := int(b[0])
	b = b[1:]
	if count > MaxNeighbors {
		return "", s, nil, fmt.Errorf("%w: %d neighbours", errShare, count)
	}
	for i := 0; i < count; i++ {
		if len(b) < 1 {
			return "", s, nil, errShare
		}
		l := int(b[0])
		if (l != 4 && l != 16) || len(b) < 1+l {
			return "", s, nil, errShare
		}
		a, _ := netip.AddrFromSlice(b[1 : 1+l])
		s.addrs = append(s.addrs, a)
		b = b[1+l:]
	}
	return name, s, b, nil
}

// shareBroadcast is a share queued for gossip; a newer share of the same
// member replaces it.
type shareBroadcast struct {
	name string
	msg  []byte
}

func (b *shareBroadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(*shareBroadcast)
	return ok && o.name == b.name
}
func (b *shareBroadcast) Message() []byte { return b.msg }
func (b *shareBroadcast) Finished()       {}

// localState is every share this node knows, for memberlist's push/pull:
// a node that joins (or a healed partition) learns them all at once.
func (g *Group) localState() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []byte
	for name, s := range g.shares {
		msg := encodeShare(name, s)
		out = binary.BigEndian.AppendUint16(out, uint16(len(msg)))
		out = append(out, msg...)
	}
	return out
}

// mergeState applies a push/pull state; malformed parts are dropped.
func (g *Group) mergeState(b []byte) {
	for len(b) >= 2 {
		l := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+l {
			return
		}
		if name, s, _, err := decodeShare(b[2 : 2+l]); err == nil {
			g.mergeShare(name, s)
		}
		b = b[2+l:]
	}
}
