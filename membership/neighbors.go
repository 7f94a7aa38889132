package membership

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/hashicorp/memberlist"
)

// MaxNeighbors bounds the hosts one member shares, so that a share fits in
// one gossip packet (40 IPv6 hosts with MACs: 960 bytes).
const MaxNeighbors = 40

// Neighbor is a host a member talks to: its address and MAC (nil if
// unknown).
type Neighbor struct {
	Addr netip.Addr
	MAC  net.HardwareAddr
}

// maxShares bounds how many members' shares a node keeps.
const maxShares = 1024

// maxUnion bounds SharedNeighbors.
const maxUnion = 256

const msgNeighbors = 'N'

// share is one member's list of neighbours, newest seq wins.
type share struct {
	seq   uint32
	hosts []Neighbor
}

// SetNeighbors shares this node's neighbours (the hosts it talks to on its
// VIP interfaces) with the group, up to MaxNeighbors of them. A node taking
// over a VIP announces it to every shared neighbour by unicast, so that
// hosts that were talking to the old owner learn the new MAC at once.
func (g *Group) SetNeighbors(hosts []Neighbor) {
	if len(hosts) > MaxNeighbors {
		hosts = hosts[:MaxNeighbors]
	}
	g.mu.Lock()
	own := g.shares[g.cfg.Name]
	if slices.EqualFunc(own.hosts, hosts, func(a, b Neighbor) bool { return a.Addr == b.Addr && bytes.Equal(a.MAC, b.MAC) }) {
		g.mu.Unlock()
		return
	}
	own = share{seq: own.seq + 1, hosts: slices.Clone(hosts)}
	g.shares[g.cfg.Name] = own
	msg := encodeShare(g.cfg.Name, own)
	g.mu.Unlock()
	g.broadcasts.QueueBroadcast(&shareBroadcast{name: g.cfg.Name, msg: msg})
}

// SharedNeighbors returns the union of every member's shared neighbours,
// this node's included, and of members that have failed since (their
// clients are the ones a takeover must reach), up to 256 hosts, one entry
// per address.
func (g *Group) SharedNeighbors() []Neighbor {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Neighbor
	for _, s := range g.shares {
		out = append(out, s.hosts...)
	}
	slices.SortStableFunc(out, func(a, b Neighbor) int { return a.Addr.Compare(b.Addr) })
	out = slices.CompactFunc(out, func(a, b Neighbor) bool { return a.Addr == b.Addr })
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

// encodeShare: 'N', version 1, seq, name length, name, count, then per host
// its address length (4 or 16) and bytes, its MAC length (0 or 6) and bytes.
func encodeShare(name string, s share) []byte {
	b := []byte{msgNeighbors, 1}
	b = binary.BigEndian.AppendUint32(b, s.seq)
	b = append(b, byte(len(name)))
	b = append(b, name...)
	b = append(b, byte(len(s.hosts)))
	for _, h := range s.hosts {
		raw := h.Addr.AsSlice()
		b = append(b, byte(len(raw)))
		b = append(b, raw...)
		mac := h.MAC
		if len(mac) != 6 {
			mac = nil
		}
		b = append(b, byte(len(mac)))
		b = append(b, mac...)
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
		if (l != 4 && l != 16) || len(b) < 2+l {
			return "", s, nil, errShare
		}
		a, _ := netip.AddrFromSlice(b[1 : 1+l])
		b = b[1+l:]
		m := int(b[0])
		if (m != 0 && m != 6) || len(b) < 1+m {
			return "", s, nil, errShare
		}
		var mac net.HardwareAddr
		if m == 6 {
			mac = net.HardwareAddr(slices.Clone(b[1:7]))
		}
		s.hosts = append(s.hosts, Neighbor{Addr: a, MAC: mac})
		b = b[1+m:]
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
