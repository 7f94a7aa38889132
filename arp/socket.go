package arp

import (
	"fmt"
	"net"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// snapLen is how much of an accepted frame the filters keep: all of it (an
// NDP message is never larger than the link MTU).
const snapLen = 0xffff

// sendOnly drops every incoming frame: the Announcer never reads, and an
// unread socket bound to ETH_P_ARP would otherwise queue all ARP traffic.
var sendOnly = []bpf.Instruction{bpf.RetConstant{Val: 0}}

// arpFilter keeps ARP frames the host did not send itself (the socket is
// bound to ETH_P_ARP, so everything else is already excluded).
var arpFilter = dropOutgoing([]bpf.Instruction{bpf.RetConstant{Val: snapLen}})

// ndFilter keeps IPv6 Neighbor Solicitations and Advertisements the host did
// not send itself. The socket is bound to ETH_P_IPV6: without this filter
// every IPv6 packet of a busy web server would be copied to user space.
// ND packets never carry extension headers, so the ICMPv6 type sits at a
// fixed offset.
var ndFilter = dropOutgoing(ndMatch)

// ndMatch accepts an untagged Ethernet frame carrying ICMPv6 type 135 or 136
// directly after the IPv6 header. It is separate from ndFilter so that tests
// can run it in x/net/bpf's VM, which has no pkt_type extension.
var ndMatch = []bpf.Instruction{
	bpf.LoadAbsolute{Off: 12, Size: 2},                                    // 0: EtherType
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.ETH_P_IPV6, SkipTrue: 6}, // 1: -> 8
	bpf.LoadAbsolute{Off: ethHeaderLen + 6, Size: 1},                      // 2: next header
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoICMPv6, SkipTrue: 4},     // 3: -> 8
	bpf.LoadAbsolute{Off: ethHeaderLen + ipv6HdrLen, Size: 1},             // 4: ICMPv6 type
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: icmpTypeNS, SkipTrue: 1},         // 5: -> 7
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: icmpTypeNA, SkipFalse: 1},        // 6: -> 7 or 8
	bpf.RetConstant{Val: snapLen},                                         // 7: accept
	bpf.RetConstant{Val: 0},                                               // 8: reject
}

// dropOutgoing prefixes rest with a check that rejects frames the host
// itself transmitted (pkt_type PACKET_OUTGOING). Linux hands outgoing
// frames only to ETH_P_ALL sockets, not to ours, bound to one EtherType;
// the check keeps our own frames out whatever the binding.
func dropOutgoing(rest []bpf.Instruction) []bpf.Instruction {
	return append([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipFalse: 1},
		bpf.RetConstant{Val: 0},
	}, rest...)
}

// listenPacket opens a raw AF_PACKET socket on ifi for the EtherType proto.
// The filter is attached before the socket is bound, so no unfiltered frame
// is ever queued. The socket lives in the calling thread's network
// namespace.
func listenPacket(ifi *net.Interface, proto int, filter []bpf.Instruction) (*packet.Conn, error) {
	prog, err := bpf.Assemble(filter)
	if err != nil {
		return nil, fmt.Errorf("assemble BPF filter: %w", err)
	}
	c, err := packet.Listen(ifi, packet.Raw, proto, &packet.Config{Filter: prog})
	if err != nil {
		return nil, fmt.Errorf("open packet socket on %s (EtherType %#04x): %w", ifi.Name, proto, err)
	}
	return c, nil
}
