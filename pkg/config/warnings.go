package config

import "fmt"

// Warnings are the risks of a valid configuration, one sentence each, for
// wackamole check and the daemon's log.
func (c *Config) Warnings() []string {
	var out []string
	voters := len(c.Peers)
	switch {
	case c.Quorum == 1 && voters > 1:
		out = append(out, fmt.Sprintf("quorum = 1 with %d peers: every node may take VIPs on its own, so a partition gives each VIP to every side until it heals", voters))
	case voters == 2 && len(c.TieBreaker) == 0:
		out = append(out, "two voters and no witness or tie_breaker: the survivor of a crash has 1 of 2, no majority, and takes nothing; add a witness node to peers, or a tie_breaker")
	}
	if c.Timing == TimingFast && !c.Realtime && !c.Witness {
		out = append(out, `timing = "fast" without realtime = true: a node whose CPU is starved (a CPU quota, a noisy neighbour) misses heartbeats, and its VIPs move to another node and back again and again`)
	}
	if len(c.TieBreaker) > 0 && voters != 2 {
		out = append(out, fmt.Sprintf("tie_breaker only acts in a group of exactly two voters; peers lists %d", voters))
	}
	return out
}
