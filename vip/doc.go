// Package vip is the VIP domain of wackamole: who should hold which virtual
// IP, and the local interface addresses that make it so.
//
// The decision part is pure. Allocate turns a view of the group (members,
// whether each is eligible, which VIPs each claims) into a Plan: the target
// owner of every VIP. It reads no clock, does no I/O and does not depend on
// input or map order, so every node that sees the same view computes the
// same plan without talking to the others. Diff turns a plan and what this
// node holds into this node's actions. The Binder (Linux only) is the
// imperative edge: it adds and removes the addresses with netlink.
//
// The allocator's rules, in order of precedence:
//
//  1. Only eligible members (alive, mature, not draining, healthy, same
//     configuration) get VIPs.
//  2. Balanced: with V VIPs and N eligible members every member gets
//     floor(V/N) or ceil(V/N).
//  3. Sticky: a VIP stays with its holder while that is consistent with
//     balance, so a leave moves exactly the leaver's VIPs and a join moves
//     only what balance needs.
//  4. Orphans go to the least-loaded member, ties broken by a rendezvous
//     hash of (VIP, member), which spreads a dead member's VIPs over many
//     survivors.
//  5. When several members claim one VIP (a healed partition), the
//     rendezvous winner among them keeps it.
//  6. A VIP with preferred members goes to the first eligible one, within
//     the balance bounds.
//  7. Hand-overs between eligible members (rebalancing, preference) are
//     paced: at most MaxMoves are under way at once. Orphans and hand-overs
//     from ineligible (draining, unhealthy) members are never held back.
//
// Without quorum nothing is taken: a VIP keeps the holder it has (the
// rendezvous winner if several claim it) or stays unowned.
//
// Hand-overs from a live member are make-before-break. The old holder marks
// the VIP leaving (Handover); the new owner adds and announces it (Acquire),
// then the old holder sees the new claim, or the new owner's gratuitous ARP,
// and removes its copy (Release). Allocate treats a leaving claim as a claim
// that is the first to be given up, so the plan does not change while the
// hand-over is under way.
package vip
