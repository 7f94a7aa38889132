// Package arp tells the local link which host owns a virtual IP, and notices
// when another host says it owns one of ours.
//
// An [Announcer] sends, for IPv4, a gratuitous ARP request and a gratuitous
// ARP reply to the broadcast address (some devices honour only one of the two
// forms) and, for each notify host on the link (typically the router), a
// unicast "who-has <host> tell <vip>" request: the host answers it, and to
// answer it first creates or updates its neighbour entry for the VIP. Plain
// gratuitous ARP only updates entries that already exist (unless the
// receiver sets arp_accept), so without the notify trick a router that never
// talked to the VIP learns the new owner only when its entry expires. For
// IPv6 it sends an unsolicited Neighbor Advertisement with the Override flag
// to ff02::1 and, for each notify host, a unicast advertisement plus a
// Neighbor Solicitation from the VIP (the IPv6 form of the same trick).
//
// Receivers that set drop_gratuitous_arp (or drop_unsolicited_na) ignore
// announcements by design; a notify host still learns through the request.
// A Linux receiver ignores a second update of one entry within its locktime
// (1 s by default), so callers repeat announcements spaced by more than that.
//
// A [Listener] watches interfaces for ARP packets and Neighbor
// Advertisements/Solicitations in which another MAC claims an address we
// hold: the wire-level conflict detection that keeps two nodes from serving
// one VIP.
//
// Frames are written and read on AF_PACKET sockets (mdlayher/packet) rather
// than with mdlayher/arp's Client, which refuses interfaces without an IPv4
// address of their own: a VIP interface may carry nothing but /32 VIPs.
// Everything needs CAP_NET_RAW. Sockets belong to the network namespace of
// the thread that opened them; see [Listener.Run] and [Announcer.Announce].
package arp
