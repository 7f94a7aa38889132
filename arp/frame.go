package arp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	marp "github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// Values of Claim.Op.
const (
	OpRequest    = "request"    // ARP request from the address ("who-has X tell addr")
	OpReply      = "reply"      // ARP reply ("addr is-at MAC")
	OpGratuitous = "gratuitous" // ARP request or reply with sender IP = target IP
	OpNA         = "na"         // IPv6 Neighbor Advertisement for the address
	OpNS         = "ns"         // IPv6 Neighbor Solicitation sent from the address
)

// Claim is an ARP/NDP packet seen on the wire in which some host says it
// has Addr.
type Claim struct {
	// Interface is the name of the interface the packet arrived on.
	Interface string
	// Addr is the claimed address: the ARP sender IP, the NA target, or the
	// NS source. IPv4 addresses are always 4-byte (never IPv4-mapped).
	Addr netip.Addr
	// MAC is the hardware address the claim binds Addr to: the ARP sender
	// hardware address, or the NDP link-layer address option (the frame's
	// Ethernet source when the option is absent).
	MAC net.HardwareAddr
	// Op is one of OpRequest, OpReply, OpGratuitous, OpNA and OpNS.
	Op string
	// Reply reports whether an ARP packet was a reply (opcode 2). It tells
	// the two gratuitous forms apart; it is false for NDP.
	Reply bool
}

// Ethernet and protocol constants for the parsers; the values are fixed by
// the wire formats (RFC 826, RFC 8200, RFC 4861).
const (
	ethHeaderLen = 14
	arpLen       = 28 // Ethernet/IPv4 ARP body
	ipv6HdrLen   = 40
	ndMinLen     = 24 // ICMPv6 header + flags/reserved + target address

	protoICMPv6   = 58
	icmpTypeNS    = 135
	icmpTypeNA    = 136
	ndOptSLLA     = 1
	ndOptTLLA     = 2
	ndHopLimit    = 255
	arpHTEthernet = 1
)

// parseClaim extracts the claim in an Ethernet frame carrying ARP or an IPv6
// Neighbor Advertisement/Solicitation. ok is false for anything that claims
// nothing: other protocols, malformed or truncated packets, probes and DAD.
// It never panics and does not retain frame.
func parseClaim(frame []byte) (c Claim, ok bool) {
	if len(frame) < ethHeaderLen {
		return Claim{}, false
	}
	switch ethernet.EtherType(binary.BigEndian.Uint16(frame[12:14])) {
	case ethernet.EtherTypeARP:
		return parseARP(frame)
	case ethernet.EtherTypeIPv6:
		return parseND(frame)
	}
	return Claim{}, false
}

// parseARP extracts the claim in an Ethernet frame carrying an Ethernet/IPv4
// ARP packet: its sender says "I have the sender IP at the sender MAC".
// Probes (sender IP 0.0.0.0, RFC 5227) claim nothing. VLAN-tagged frames are
// refused: a tag means another broadcast domain than the interface's own.
func parseARP(frame []byte) (Claim, bool) {
	if len(frame) < ethHeaderLen+arpLen ||
		ethernet.EtherType(binary.BigEndian.Uint16(frame[12:14])) != ethernet.EtherTypeARP {
		return Claim{}, false
	}
	b := frame[ethHeaderLen:]
	if binary.BigEndian.Uint16(b[0:2]) != arpHTEthernet ||
		ethernet.EtherType(binary.BigEndian.Uint16(b[2:4])) != ethernet.EtherTypeIPv4 ||
		b[4] != 6 || b[5] != 4 {
		return Claim{}, false
	}
	var reply bool
	switch marp.Operation(binary.BigEndian.Uint16(b[6:8])) {
	case marp.OperationRequest:
	case marp.OperationReply:
		reply = true
	default:
		return Claim{}, false
	}
	sha := b[8:14]
	spa := netip.AddrFrom4([4]byte(b[14:18]))
	tpa := netip.AddrFrom4([4]byte(b[24:28]))
	if spa.IsUnspecified() || !usableMAC(sha) {
		return Claim{}, false
	}
	op := OpRequest
	switch {
	case spa == tpa:
		op = OpGratuitous
	case reply:
		op = OpReply
	}
	return Claim{
		Addr:  spa,
		MAC:   cloneMAC(sha),
		Op:    op,
		Reply: reply,
	}, true
}

// parseND extracts the claim in an Ethernet frame carrying an IPv6 Neighbor
// Advertisement (the target is claimed) or Neighbor Solicitation (the source
// is claimed, as in an ARP request; DAD solicitations from :: claim
// nothing). Packets that a receiver must discard under RFC 4861 (hop limit
// not 255, ICMP code not 0, extension headers, zero-length options) claim
// nothing either, since no neighbour cache acts on them.
func parseND(frame []byte) (Claim, bool) {
	if len(frame) < ethHeaderLen+ipv6HdrLen+ndMinLen ||
		ethernet.EtherType(binary.BigEndian.Uint16(frame[12:14])) != ethernet.EtherTypeIPv6 {
		return Claim{}, false
	}
	ip := frame[ethHeaderLen:]
	if ip[0]>>4 != 6 || ip[6] != protoICMPv6 || ip[7] != ndHopLimit {
		return Claim{}, false
	}
	plen := int(binary.BigEndian.Uint16(ip[4:6]))
	if plen < ndMinLen || plen > len(ip)-ipv6HdrLen {
		return Claim{}, false // short, or truncated on capture
	}
	src := netip.AddrFrom16([16]byte(ip[8:24]))
	icmp := ip[ipv6HdrLen : ipv6HdrLen+plen]
	if icmp[1] != 0 {
		return Claim{}, false
	}
	target := netip.AddrFrom16([16]byte(icmp[8:24]))
	if !ndClaimable(target) {
		return Claim{}, false
	}

	var c Claim
	var want byte
	switch icmp[0] {
	case icmpTypeNA:
		dst := netip.AddrFrom16([16]byte(ip[24:40]))
		if dst.IsMulticast() && icmp[4]&0x40 != 0 {
			return Claim{}, false // solicited flag on a multicast NA: invalid
		}
		c.Op, c.Addr, want = OpNA, target, ndOptTLLA
	case icmpTypeNS:
		if !ndClaimable(src) {
			return Claim{}, false
		}
		c.Op, c.Addr, want = OpNS, src, ndOptSLLA
	default:
		return Claim{}, false
	}

	lla, ok := findLLA(icmp[ndMinLen:], want)
	if !ok {
		return Claim{}, false
	}
	if lla == nil {
		lla = frame[6:12]
	}
	if !usableMAC(lla) {
		return Claim{}, false
	}
	c.MAC = cloneMAC(lla)
	return c, true
}

// ndClaimable reports whether an NDP packet can claim a: a unicast IPv6
// address. IPv4-mapped addresses (::ffff:a.b.c.d) never appear on the wire
// (RFC 4291 2.5.5.2) and no VIP can be one, so a packet naming one is
// forged or broken and claims nothing; left in, it would also compare
// unequal to the IPv4 VIP it resembles and confuse the reader.
func ndClaimable(a netip.Addr) bool {
	return !a.IsUnspecified() && !a.IsMulticast() && !a.Is4In6()
}

// findLLA walks NDP options and returns the Ethernet link-layer address in
// the first option of type want (nil when there is none). ok is false when
// the options are malformed, which makes receivers drop the whole packet.
func findLLA(opts []byte, want byte) (lla []byte, ok bool) {
	for len(opts) > 0 {
		if len(opts) < 2 {
			return nil, false
		}
		n := int(opts[1]) * 8
		if n == 0 || n > len(opts) {
			return nil, false
		}
		if opts[0] == want && lla == nil {
			if n != 8 { // 2 bytes of type/length + 6-byte MAC
				return nil, false
			}
			lla = opts[2:8]
		}
		opts = opts[n:]
	}
	return lla, true
}

// usableMAC reports whether b is a 6-byte unicast, non-zero MAC: no host can
// own an address at a group or all-zero MAC.
func usableMAC(b []byte) bool {
	if len(b) != 6 || b[0]&1 != 0 {
		return false
	}
	for _, x := range b {
		if x != 0 {
			return true
		}
	}
	return false
}

func cloneMAC(b []byte) net.HardwareAddr {
	return append(net.HardwareAddr(nil), b...)
}

// arpFrame builds an Ethernet frame to dst carrying an ARP packet.
func arpFrame(op marp.Operation, dst, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) ([]byte, error) {
	p, err := marp.NewPacket(op, sha, spa.Unmap(), tha, tpa.Unmap())
	if err != nil {
		return nil, fmt.Errorf("build ARP %s %s -> %s: %w", op, spa, tpa, err)
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("marshal ARP packet: %w", err)
	}
	f := ethernet.Frame{
		Destination: dst,
		Source:      sha,
		EtherType:   ethernet.EtherTypeARP,
		Payload:     pb,
	}
	fb, err := f.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("marshal Ethernet frame: %w", err)
	}
	return fb, nil
}

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// gratuitousFrames builds the two gratuitous ARP forms for addr, both to
// broadcast: a request (target MAC zero, as the kernel and RFC 5227 send it)
// and a reply with target MAC = sender MAC (as arping -A sends it): Linux,
// following RFC 2002, treats a reply as gratuitous only in that form.
func gratuitousFrames(mac net.HardwareAddr, addr netip.Addr) ([][]byte, error) {
	req, err := arpFrame(marp.OperationRequest, ethernet.Broadcast, mac, addr, zeroMAC, addr)
	if err != nil {
		return nil, err
	}
	rep, err := arpFrame(marp.OperationReply, ethernet.Broadcast, mac, addr, mac, addr)
	if err != nil {
		return nil, err
	}
	return [][]byte{req, rep}, nil
}

// notifyFrame builds "who-has host tell addr" to hostMAC (broadcast when
// nil). To answer it, host first records addr at mac in its neighbour table.
func notifyFrame(mac net.HardwareAddr, addr, host netip.Addr, hostMAC net.HardwareAddr) ([]byte, error) {
	dst := hostMAC
	if dst == nil {
		dst = ethernet.Broadcast
	}
	return arpFrame(marp.OperationRequest, dst, mac, addr, zeroMAC, host)
}
