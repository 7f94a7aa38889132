package membership

import (
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
)

// Timing is a set of failure-detection and gossip timings. Start from one
// of the profiles (LAN, Fast, WAN) and change what you must, as with
// memberlist's DefaultLANConfig.
type Timing struct {
	// HeartbeatInterval is how often a member tells every other member it
	// is alive.
	HeartbeatInterval time.Duration
	// FailureTimeout is how long a member may stay silent before it leaves
	// this node's view. Failover takes about this long.
	FailureTimeout time.Duration
	// RejoinInterval is how often missing seeds and lost members are
	// joined again.
	RejoinInterval time.Duration
	// GossipInterval is memberlist's gossip interval: how fast joins and
	// departures spread. Metadata changes (claims, hand-overs) do not
	// wait for it: a heartbeat names the sender's metadata version and a
	// receiver that lacks it pulls it at once.
	GossipInterval time.Duration

	// wan selects memberlist's WAN defaults for its own failure detector,
	// which only prunes the roster (heartbeats decide failover), and for
	// its TCP timeouts.
	wan bool
}

// LAN is the default profile: failover in about 1 s; a member must miss 5
// heartbeats, so a busy host or a lost packet or two fail nothing over.
func LAN() Timing {
	return Timing{
		HeartbeatInterval: 200 * time.Millisecond,
		FailureTimeout:    time.Second,
		RejoinInterval:    2 * time.Second,
		// An idle group gossips nothing, but memberlist's gossip ticker
		// still wakes every member, with the Go runtime's wake-ups
		// around each timer: at 50 nodes 0.90 % of a core per node idle
		// with 200 ms, 0.77 % with 500 ms. Joins also spread by push/pull
		// with the seeds, and 50 nodes converged as fast (3.06 s against
		// 3.05 s).
		GossipInterval: 500 * time.Millisecond,
	}
}

// Fast is for small groups on a quiet LAN: failover in about 20 ms, at or
// below keepalived's fastest (VRRPv3, advert_int 0.01). Every member
// heartbeats every other one every 5 ms, on a thread of its own (see
// Group.polledLoop), and a member must miss 4 of them, with nobody else
// hearing it either (see hearing.go), before it is failed: a host that
// stalls for 20 ms loses its VIPs, so use it with realtime = true on a
// busy host.
func Fast() Timing {
	return Timing{
		HeartbeatInterval: 5 * time.Millisecond,
		FailureTimeout:    20 * time.Millisecond,
		RejoinInterval:    time.Second,
		// Metadata changes are not on the failover path (a crashed
		// owner's VIPs are taken from the heartbeats, which also carry
		// the metadata version so that a change is pulled at once): the
		// gossip can be as slow as lan's, and cheaper.
		GossipInterval: 200 * time.Millisecond,
	}
}

// WAN is for links with high latency and loss: failover in about 5 s.
func WAN() Timing {
	return Timing{
		HeartbeatInterval: 500 * time.Millisecond,
		FailureTimeout:    5 * time.Second,
		RejoinInterval:    30 * time.Second,
		GossipInterval:    500 * time.Millisecond,
		wan:               true,
	}
}

// Profile returns the profile of that name, as the configuration's timing
// key names it: "lan" (or ""), "fast" or "wan".
func Profile(name string) (Timing, error) {
	switch name {
	case "lan", "":
		return LAN(), nil
	case "fast":
		return Fast(), nil
	case "wan":
		return WAN(), nil
	}
	return Timing{}, fmt.Errorf("unknown timing profile %q (want lan, fast or wan)", name)
}

// Override replaces the timings that are not zero in o.
func (t Timing) Override(o Timing) Timing {
	if o.HeartbeatInterval > 0 {
		t.HeartbeatInterval = o.HeartbeatInterval
	}
	if o.FailureTimeout > 0 {
		t.FailureTimeout = o.FailureTimeout
	}
	if o.RejoinInterval > 0 {
		t.RejoinInterval = o.RejoinInterval
	}
	if o.GossipInterval > 0 {
		t.GossipInterval = o.GossipInterval
	}
	return t
}

// Polled reports whether heartbeats run in polled mode (see
// Group.polledLoop): for intervals of 20 ms or less, where waking for
// every packet would cost more than the packets. The polled loop holds a
// P of the Go scheduler while it sleeps (see sleepUntil): it wants two.
func (t Timing) Polled() bool { return t.HeartbeatInterval <= 20*time.Millisecond }

// Settle is how long a node that has just matured, or just regained
// quorum, waits before taking anything: a couple of gossip and heartbeat
// rounds, so that it has heard every member that is there.
func (t Timing) Settle() time.Duration {
	return 2*t.GossipInterval + 2*t.HeartbeatInterval
}

// Validate checks that the timings make sense together.
func (t Timing) Validate() error {
	if t.HeartbeatInterval <= 0 || t.FailureTimeout <= 0 || t.RejoinInterval <= 0 || t.GossipInterval <= 0 {
		return fmt.Errorf("timings must be positive")
	}
	if t.FailureTimeout < 3*t.HeartbeatInterval {
		return fmt.Errorf("failure timeout %v is less than 3 heartbeat intervals (%v): one lost packet would fail a member over", t.FailureTimeout, t.HeartbeatInterval)
	}
	return nil
}

func (t Timing) memberlistConfig() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	if t.wan {
		c = memberlist.DefaultWANConfig()
	}
	c.GossipInterval = t.GossipInterval
	return c
}
