package config

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"slices"
	"strings"
)

// QuorumNeeded returns the number of live members, this node included,
// needed to take orphaned VIPs or rebalance: Quorum when set, otherwise a
// strict majority of Peers (len/2+1), and at least 1.
func (c *Config) QuorumNeeded() int {
	if c.Quorum > 0 {
		return c.Quorum
	}
	return len(c.Peers)/2 + 1
}

// Fingerprint summarises what must be identical on every node of a group:
// the VIP names, their address prefixes, their prefer lists,
// balance.max_moves and, in bgp mode, mode and bgp.announce. It is 16 hex digits (64 bits of SHA-256 over a
// canonical, length-prefixed encoding).
//
// It does not depend on the order of the VIPs or of a VIP's addresses
// (both are sets), nor on interfaces, which may differ from node to node;
// the order of a prefer list matters.
//
// In bgp mode it also covers the mode and bgp.announce: a node announcing
// over BGP and one sending ARP, or a node announcing every VIP and one
// announcing only its own, would not serve the same group. The rest of
// [bgp] (AS numbers, router ID, peers, timers, BFD, passwords, interface)
// is node-local: nodes in different racks peer with different routers,
// often from ASes of their own. An l2 configuration's fingerprint is the
// same as before bgp mode existed, so that a group can be upgraded one
// node at a time.
func (c *Config) Fingerprint() string {
	h := sha256.New()
	writeString(h, "wackamole config fingerprint v1")
	writeUint(h, uint64(int64(c.Balance.MaxMoves)))
	if c.Mode == ModeBGP {
		writeString(h, c.Mode)
		writeString(h, c.BGP.Announce)
	}

	vips := make([]*VIP, len(c.VIPs))
	for i := range c.VIPs {
		vips[i] = &c.VIPs[i]
	}
	slices.SortStableFunc(vips, func(a, b *VIP) int { return strings.Compare(a.Name, b.Name) })
	writeUint(h, uint64(len(vips)))
	for _, v := range vips {
		writeString(h, v.Name)
		prefixes := make([]string, len(v.Addresses))
		for i, a := range v.Addresses {
			prefixes[i] = a.Prefix.String()
		}
		slices.Sort(prefixes)
		writeUint(h, uint64(len(prefixes)))
		for _, p := range prefixes {
			writeString(h, p)
		}
		writeUint(h, uint64(len(v.Prefer)))
		for _, n := range v.Prefer {
			writeString(h, n)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func writeUint(h hash.Hash, n uint64) {
	h.Write(binary.AppendUvarint(nil, n))
}

func writeString(h hash.Hash, s string) {
	writeUint(h, uint64(len(s)))
	h.Write([]byte(s))
}
