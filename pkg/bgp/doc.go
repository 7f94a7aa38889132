// Package bgp announces host routes (a /32 IPv4 or /128 IPv6 address per
// VIP) to routers with an embedded BGP speaker, GoBGP
// (github.com/osrg/gobgp/v4 v4.8.0), optionally with BFD on each session.
//
// The speaker only originates: it speaks external BGP (RFC 4271) to
// directly connected routers, announces the routes it is told to, and
// rejects every route it receives, so a node never becomes a transit path
// between two of its routers. IPv4 routes go to IPv4 peers and IPv6 routes
// to IPv6 peers, with the session's local address as the next hop unless
// the path names another. It decides nothing: what to announce and when is
// the caller's business (wackamole's allocator).
//
//	s, err := bgp.Start(ctx, bgp.Config{
//		ASN:      65101,
//		RouterID: netip.MustParseAddr("198.18.0.11"),
//		Peers:    []bgp.Peer{{Address: netip.MustParseAddr("198.18.0.1"), ASN: 65000, BFD: true}},
//	})
//	...
//	err = s.Announce(netip.MustParsePrefix("198.18.0.100/32"), bgp.Path{})
//
// # Owner and standby paths
//
// A VIP's owner announces its route as an ordinary path; the node that
// would take the VIP over (its successor) announces the same route as a
// standby path (Path.Standby), whose AS path carries the node's AS number
// StandbyPrepend (3) more times: "65102 65102 65102 65102" against the
// owner's "65101". Routers choose among paths by weight and local
// preference first, which they set themselves and which are equal for
// paths from equal neighbours, then by AS path length (RFC 4271, section
// 9.1.2.2), so they never use a standby path while the owner's path
// exists, not even for ECMP (equal-cost multipath needs equal AS path
// lengths), and switch to it as soon as the owner's path goes: withdrawn,
// or gone with the owner's session when BFD or the hold timer declares
// the owner dead. The router fails over in its own detection time,
// without waiting for the group to notice. A hand-over without loss is
// make-before-break: the new owner announces its ordinary path first
// (routers with ECMP then use both), then the old owner withdraws its own
// or turns it into a standby path. Announce replaces a route's attributes
// in one UPDATE, with no withdrawal in between.
//
// A router that prefers paths by something that outranks the AS path
// length (a route-map setting local preference per neighbour, say) must
// give every node the same value, or standby paths lose their meaning.
//
// # BFD in GoBGP v4.8.0
//
// What GoBGP v4.8.0 does, read from its source (pkg/server/bfd_server.go,
// bfd_peer.go; docs/sources/bfd.md) and seen against BIRD 2.0.12 and FRR
// 8.4.4 in this package's tests:
//
//   - Single-hop asynchronous BFD only (RFC 5880, RFC 5881): control
//     packets over UDP to port 3784 from a source port in 49152-65535 with
//     TTL 255. No echo mode, no demand mode, no authentication, no
//     multihop (RFC 5883). One BFD listener per process, on UDP port 3784
//     of every address (so one speaker per network namespace).
//   - States Down, Init, Up and AdminDown, and Poll/Final: a poll is
//     answered with a final, and GoBGP polls once when its session comes up.
//   - Intervals: it sends its configured desired minimum transmit interval
//     and required minimum receive interval, and always transmits at its
//     own interval: it ignores the peer's required minimum receive interval
//     (RFC 5880, section 6.8.3; osrg/gobgp#3563), does not slow down to 1 s
//     while the session is not up (section 6.8.3; #3564) and adds no jitter
//     (section 6.8.7; #3562). The detection time, however, follows the
//     RFC (section 6.8.4): the peer's multiplier times the larger of our
//     receive interval and the peer's transmit interval. So it adopts the
//     peer's intervals for detection, not for transmission: set the same
//     interval on both sides, and no faster than the router accepts.
//   - On expiry, and when the peer signals Down or AdminDown, it resets
//     the BGP session with a Cease notification (Administrative Reset,
//     "BFD is down"), and also when the BFD session expires from Init,
//     before it was ever up. It never keeps a BGP session from being
//     established while BFD is down (no "strict" mode), and the router
//     must not require that either (FRR's "bfd strict").
//   - The flap loop (osrg/gobgp#3561, fixed in v4.9.0, which is what
//     Antrea's PR 8360 moved to; v4.9.0 is not available here): that reset
//     is queued on a channel that the BGP state machine reads only in the
//     Established state. A BFD failure while the BGP session is already
//     down (the router restarted: BGP ends first, BFD expires 300 ms later)
//     leaves the reset waiting, and it kills the next session a millisecond
//     after it is established. If the router then drops its BFD session
//     with the BGP session, BFD fails again while BGP is down, and so on
//     for ever. v4.8.0 has the bug. Seen here with BFD configured GoBGP's
//     way (TestGoBGPBFDFlapLoop): after a BIRD 2 restart, 12 sessions in
//     60 s, each reset 1 ms after it was established; against FRR's
//     dynamic neighbours (a "bgp listen range") the BFD session never even
//     comes up (GoBGP binds to the discriminator of the first of the two
//     BFD sessions FRR registers for a new neighbour, ignores the second,
//     and the session expires from Init) and every BGP session is reset.
//
// This package therefore ties each BFD session to one BGP session: BFD is
// added to a peer one second after its session is established (after
// FRR's double registration), and when the session ends the peer is
// deleted, with anything queued for it, and added again, without BFD, a
// second later (GoBGP would stay idle for 5 s anyway). A reset still in
// flight from the old BFD session then finds no peer. The cost is that BFD
// runs only while the BGP session is established, which is the only time
// it has anything to protect. With this, after a router restart the
// session comes back once and stays up (TestNoBFDFlapLoop, against BIRD
// and FRR).
//
// Measured here (2 shared cores, namespaces on one bridge, BFD 100 ms x 3,
// hold time 9 s): when a node loses its link and its speaker (SIGKILL), the
// router's kernel route moves to the standby path 210-270 ms later with
// BIRD 2.0.12 and 290-400 ms later with FRR 8.4.4: BFD detection plus the
// router's FIB update (TestBFDDetectsDeadOwner, TestFRR, TestExamples).
// These are single runs printed by the tests, not benchmarks.
//
// # Refused peers
//
// A peer that sends another AS number than configured is refused with an
// OPEN error (Bad Peer AS), and a peer that refuses our OPEN (it expects
// another AS number from us) ends the session before it is established;
// both are logged ("bgp: session refused") each time the reason changes.
// A wrong or missing TCP MD5 password (RFC 2385) produces no error at all,
// as Linux drops unsigned or badly signed segments; a peer that has had
// no session for 30 s is logged ("bgp: no session with peer") with what
// to check. Neither affects the other peers.
package bgp
