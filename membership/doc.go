// Package membership is the wackamole group: who is in it, who is alive
// right now, and what each member says about itself.
//
// It wraps hashicorp/memberlist, which keeps the roster (join, leave,
// gossip of node metadata, encryption with a shared key), and adds what
// memberlist does not give a VIP balancer:
//
//   - Fast failure detection. memberlist declares a crashed node dead after
//     5-6 s with its LAN defaults, slower than keepalived. Every member
//     therefore sends a small encrypted heartbeat to every other member
//     (memberlist's best-effort user messages, so it shares memberlist's
//     port, key and label) and a member that has been silent for
//     FailureTimeout is out of this node's view, whatever memberlist still
//     believes. The timing profiles (lan, fast, wan) set both.
//   - Healing. memberlist never merges a healed partition by itself, so
//     the group joins missing seeds and lost members again every
//     RejoinInterval.
//   - Node metadata: state (joining, mature, draining), health, the
//     configuration fingerprint, and the VIPs a member holds and is handing
//     over, as bitmaps over the ordered VIP list so that they fit in
//     memberlist's 512 bytes.
//
// The view a node computes can differ from its peers' for a moment (one
// heard a heartbeat the other missed). The allocator tolerates that: only a
// VIP's planned owner acquires it, and a holder only lets go once the new
// owner has it.
package membership
