package membership

import (
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
)

// Timing is a set of failure-detection and gossip timings.
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
	// GossipInterval is memberlist's gossip interval: how fast metadata
	// changes (claims, hand-overs) spread.
	GossipInterval time.Duration

	// base returns the memberlist defaults the profile starts from.
	base func() *memberlist.Config
	// tune adjusts memberlist's own failure detector, which only prunes
	// the roster: heartbeats decide failover.
	tune func(*memberlist.Config)
}

// Profile returns the timings of a named profile: "lan", "fast" or "wan".
//
// lan fails over in about a second and shrugs off a busy host: a member must
// miss 5 heartbeats. fast fails over in about 0.2 s on a quiet LAN; a
// member must miss 6 heartbeats, so a host that stalls for 150 ms loses its
// VIPs. wan is for links with high latency and loss.
func Profile(name string) (Timing, error) {
	switch name {
	case "lan", "":
		return Timing{
			HeartbeatInterval: 200 * time.Millisecond,
			FailureTimeout:    time.Second,
			RejoinInterval:    2 * time.Second,
			GossipInterval:    200 * time.Millisecond,
			base:              memberlist.DefaultLANConfig,
			tune:              func(c *memberlist.Config) {},
		}, nil
	case "fast":
		return Timing{
			HeartbeatInterval: 25 * time.Millisecond,
			FailureTimeout:    150 * time.Millisecond,
			RejoinInterval:    time.Second,
			// Metadata changes are not on the failover path (a crashed
			// owner's VIPs are taken from the heartbeats, hand-overs
			// are make-before-break): 50 ms is plenty, and cheaper.
			GossipInterval: 50 * time.Millisecond,
			base:           memberlist.DefaultLANConfig,
			// memberlist's own prober only prunes the roster: its LAN
			// defaults will do.
			tune: func(c *memberlist.Config) {},
		}, nil
	case "wan":
		return Timing{
			HeartbeatInterval: 500 * time.Millisecond,
			FailureTimeout:    5 * time.Second,
			RejoinInterval:    30 * time.Second,
			GossipInterval:    500 * time.Millisecond,
			base:              memberlist.DefaultWANConfig,
			tune:              func(c *memberlist.Config) {},
		}, nil
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
	base := t.base
	if base == nil {
		base = memberlist.DefaultLANConfig
	}
	c := base()
	if t.tune != nil {
		t.tune(c)
	}
	c.GossipInterval = t.GossipInterval
	return c
}
