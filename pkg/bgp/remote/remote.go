// Package remote runs the BGP speaker (package bgp) in a process of its
// own, wackamole-bgp, and talks to it over a pipe.
//
// Why a process: the speaker is GoBGP, and GoBGP brings gRPC and protobuf,
// whose package initialisation alone makes a Go program resident at 29 MB
// where the daemon needs 12. Linked into the daemon, every node would pay
// that, also the l2 nodes that never speak BGP. So the daemon links this
// package, which imports neither GoBGP nor package bgp, and a bgp-mode node
// starts the speaker next to it.
//
// The protocol is net/rpc (gob) over the child's standard input and
// output; the child logs to its standard error, which is the daemon's. The
// child dies with the daemon (PR_SET_PDEATHSIG): a daemon that crashes
// takes its BGP sessions with it, so routers withdraw its routes as they
// would if it were one process, and a daemon that stops gracefully closes
// the speaker first, which withdraws everything.
package remote

import (
	"net/netip"
	"time"
)

// Config is the speaker's configuration (bgp.Config without its logger).
type Config struct {
	ASN      uint32
	RouterID netip.Addr
	// ListenPort: 0 means 179, -1 not to listen.
	ListenPort int
	Peers      []Peer
}

// The child logs at the level and in the format these environment
// variables name, as the daemon's --log-level and --log-format do.
const (
	EnvLogLevel  = "WACKAMOLE_LOG_LEVEL"
	EnvLogFormat = "WACKAMOLE_LOG_FORMAT"
)

// Peer is one router (bgp.Peer).
type Peer struct {
	Address       netip.Addr
	ASN           uint32
	HoldTime      time.Duration
	BFD           bool
	BFDInterval   time.Duration
	BFDMultiplier int
	Password      string
}

// Route is one announced host route.
type Route struct {
	Prefix  netip.Prefix
	Standby bool
}

// PeerStatus is one session's state (bgp.PeerStatus, states as their
// names).
type PeerStatus struct {
	Address                        netip.Addr
	ASN                            uint32
	State                          string
	Uptime, HoldTime               time.Duration
	BFD                            string
	Received, Accepted, Advertised int
	Flaps                          int
	LastError                      string
}

// The RPC service of the child, "Speaker": each method takes one of these
// and answers with a Reply.
type (
	// StartArgs starts the speaker.
	StartArgs struct{ Config Config }
	// SetArgs makes the announced routes exactly Routes.
	SetArgs struct{ Routes []Route }
	// Empty is the argument of Status and Close.
	Empty struct{}
	// Reply is every method's answer.
	Reply struct {
		Announced []Route
		Peers     []PeerStatus
	}
)

// serviceName is the RPC service's name.
const serviceName = "Speaker"
