package control

import "time"

// The answers are defined here, not by the daemon's internal types, so
// that the wire format changes only when this file does: wackatrl --json,
// scripts and monitoring read it, and testdata/*.json pins it.

// Status is the answer of /v1/status: the node's whole state as of its
// last round. One glance answers who owns what.
type Status struct {
	// Node is the node that answered.
	Node string `json:"node"`
	// State is its membership state: joining, mature or draining.
	State   string `json:"state"`
	Healthy bool   `json:"healthy"`
	Quorum  Quorum `json:"quorum"`
	// Fingerprint identifies the node's VIP configuration; members with
	// another one get no VIPs from this node's point of view.
	Fingerprint string `json:"fingerprint"`
	// Timing is the timing profile (lan, fast, wan).
	Timing string `json:"timing"`
	// Started is when the daemon started.
	Started time.Time `json:"started"`
	// GossipHealth is memberlist's awareness score: 0 is healthy, higher
	// means this node is slow to keep up with the group.
	GossipHealth int `json:"gossip_health"`
	// Damping is the node's flap damping.
	Damping Damping  `json:"damping"`
	Members []Member `json:"members"`
	VIPs    []VIP    `json:"vips"`
	// Checks are this node's health checks.
	Checks []Check `json:"checks,omitempty"`
	// BGP is the BGP speaker's state, in bgp mode only.
	BGP      *BGP     `json:"bgp,omitempty"`
	Counters Counters `json:"counters"`
	// Notes are conditions an operator should know about, in words.
	Notes []string `json:"notes,omitempty"`
}

// Damping is a node's flap damping: each flap of its VIP interfaces or
// health checks adds to a penalty that decays; while Damped the node takes
// no VIPs, and prefer pulls none back to it.
type Damping struct {
	Damped bool `json:"damped"`
	// Penalty is the current penalty; Flaps counts the flaps since it was
	// last zero.
	Penalty int `json:"penalty"`
	Flaps   int `json:"flaps"`
	// Until is when a damped node is eligible again.
	Until time.Time `json:"until,omitzero"`
}

// Quorum is how many live, same-configured members the node sees, itself
// included, and how many it needs to take orphaned VIPs and rebalance.
type Quorum struct {
	Have int  `json:"have"`
	Need int  `json:"need"`
	OK   bool `json:"ok"`
	// TieBreaker: OK only by the tie-breaker of a two-voter group that
	// lost contact (config tie_breaker).
	TieBreaker bool `json:"tie_breaker,omitempty"`
}

// Member is one member of the group as the answering node sees it.
type Member struct {
	Name string `json:"name"`
	// Addr is its gossip address, host:port.
	Addr string `json:"addr"`
	// Self marks the answering node.
	Self  bool `json:"self"`
	Alive bool `json:"alive"`
	// State and Healthy are what the member publishes ("" when its
	// metadata cannot be read).
	State   string `json:"state"`
	Healthy bool   `json:"healthy"`
	// Witness: the member counts for quorum and never holds a VIP.
	Witness bool `json:"witness,omitempty"`
	// Damped: the member flaps and holds itself out of VIP ownership.
	Damped bool `json:"damped,omitempty"`
	// Unreachable: alive (others hear it), but the answering node does
	// not hear it itself: a path between the two is cut.
	Unreachable bool `json:"unreachable,omitempty"`
	// Eligible says whether it may be given VIPs; Why says why not.
	Eligible bool   `json:"eligible"`
	Why      string `json:"why,omitempty"`
	// Since is when the answering node first saw it (for itself: when the
	// daemon started).
	Since time.Time `json:"since"`
	// Held are the VIPs it claims; Leaving those it is handing over.
	Held    []string `json:"held"`
	Leaving []string `json:"leaving,omitempty"`
}

// VIP is one VIP: who holds it and who should.
type VIP struct {
	Name      string   `json:"name"`
	Addresses []string `json:"addresses"`
	// Owner is the member serving the VIP ("" for nobody); Holders lists
	// every member claiming it (more than one during a hand-over).
	Owner   string   `json:"owner"`
	Holders []string `json:"holders"`
	// Since is when the answering node first saw Owner hold it; absent
	// while nobody does.
	Since time.Time `json:"since,omitzero"`
	// Planned is the owner the allocator wants; it differs from Owner
	// while a hand-over is under way. Reason is the allocator's reason
	// (unowned, kept, contested, preferred, rebalanced, vacated,
	// orphaned).
	Planned string `json:"planned"`
	Reason  string `json:"reason"`
	// Waiting explains why the planned owner has not taken it yet.
	Waiting string `json:"waiting,omitempty"`
}

// Check is one of the node's health checks.
type Check struct {
	// Name and Kind (http, tcp, exec) are the check's, from the
	// configuration.
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Healthy is the check's state after rise and fall.
	Healthy bool `json:"healthy"`
	// LastError is the error of the last run, empty when it passed or
	// none ran yet.
	LastError string `json:"last_error,omitempty"`
	// LastCheck is when the last run ended; zero before the first.
	LastCheck time.Time `json:"last_check"`
	// LastChange is when Healthy last changed; zero while it never did.
	LastChange time.Time `json:"last_change"`
	// Successes and Failures are the consecutive passes and failures up
	// to the last run (one of them is 0).
	Successes int `json:"successes"`
	Failures  int `json:"failures"`
}

// Counters count what the node did since its daemon started.
type Counters struct {
	// Acquired counts VIPs taken by the allocator's reason (orphaned,
	// rebalanced, ...); Released counts VIPs given up by cause
	// (handed-over, yielded, lost-contest, shutdown, reconfigured).
	Acquired      map[string]uint64 `json:"acquired"`
	Released      map[string]uint64 `json:"released"`
	Conflicts     uint64            `json:"conflicts"`
	Announcements uint64            `json:"announcements"`
	Errors        uint64            `json:"errors"`
}

// BGP is the state of a node's BGP speaker (mode = "bgp").
type BGP struct {
	// Peers are the routers, one per [[bgp.peer]].
	Peers []BGPPeer `json:"peers"`
	// Routes are the host routes this node announces.
	Routes []BGPRoute `json:"routes"`
	// Error says why the speaker could not be asked (its process died).
	Error string `json:"error,omitempty"`
}

// BGPPeer is one BGP session.
type BGPPeer struct {
	Address string `json:"address"`
	ASN     uint32 `json:"asn"`
	// State is the session's state: idle, connect, active, opensent,
	// openconfirm or established.
	State string `json:"state"`
	// Uptime is how long it has been established ("0s" if it is not).
	Uptime string `json:"uptime"`
	// BFD is the BFD session's state: off, down, init or up.
	BFD string `json:"bfd"`
	// Received counts the prefixes the router sent, Accepted those kept
	// (always 0: a node never carries routes between routers), Advertised
	// the routes announced to it.
	Received   int `json:"received"`
	Accepted   int `json:"accepted"`
	Advertised int `json:"advertised"`
	// Flaps counts the times the session went down after being up.
	Flaps     int    `json:"flaps"`
	LastError string `json:"last_error,omitempty"`
}

// BGPRoute is one route this node announces.
type BGPRoute struct {
	Prefix string `json:"prefix"`
	// Standby: announced with a longer AS path, used by routers only when
	// no ordinary path is left (the VIP's successor, or a node without
	// quorum).
	Standby bool `json:"standby"`
}
