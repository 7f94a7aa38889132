package cluster

import (
	"fmt"
	"net/netip"
	"strings"
)

// Topology is the shape of a soak's group (SoakOptions.Topology).
type Topology string

// Topologies.
const (
	// TopologyFive: five identical nodes, five VIPs (the default).
	TopologyFive Topology = "five"
	// TopologyWitness: two web nodes (n1, n2) and a witness (n3, witness =
	// true: a member for quorum that never holds a VIP), four VIPs.
	TopologyWitness Topology = "witness"
	// TopologyTieBreaker: two web nodes with the lab's client as their
	// tie-breaker (tie_breaker = [client], the gateway of a real set-up,
	// as in pkg/e2e's TestTieBreaker), four VIPs.
	TopologyTieBreaker Topology = "tiebreaker"
)

// Topologies lists every topology, the default first.
var Topologies = []Topology{TopologyFive, TopologyWitness, TopologyTieBreaker}

// ParseTopology returns the topology named s ("" is TopologyFive).
func ParseTopology(s string) (Topology, error) {
	if s == "" {
		return TopologyFive, nil
	}
	for _, t := range Topologies {
		if string(t) == s {
			return t, nil
		}
	}
	var names []string
	for _, t := range Topologies {
		names = append(names, string(t))
	}
	return "", fmt.Errorf("topology %q: want %s", s, strings.Join(names, ", "))
}

// Nodes is the number of nodes of the topology, witness included.
func (t Topology) Nodes() int {
	switch t {
	case TopologyWitness:
		return 3
	case TopologyTieBreaker:
		return 2
	}
	return 5
}

// VIPs is the number of VIPs of the topology: two per web node in the
// two-node ones, so that a rendezvous split and a balance of two can both
// be seen.
func (t Topology) VIPs() int {
	if t == TopologyWitness || t == TopologyTieBreaker {
		return 4
	}
	return 5
}

// Witnesses returns the indexes of the topology's witness nodes among its
// nodes (the last node of TopologyWitness).
func (t Topology) Witnesses() []int {
	if t == TopologyWitness {
		return []int{2}
	}
	return nil
}

// Describe describes the topology for a report's first line.
func (t Topology) Describe() string {
	switch t {
	case TopologyWitness:
		return "2 web nodes and a witness, 4 VIPs"
	case TopologyTieBreaker:
		return "2 web nodes with a tie-breaker (the client), 4 VIPs"
	}
	return "5 nodes, 5 VIPs"
}

// extra is what node i's configuration gets on top of the cluster's for
// the topology, with gateway the tie-breaker.
func (t Topology) extra(i int, gateway netip.Addr) string {
	switch t {
	case TopologyWitness:
		for _, w := range t.Witnesses() {
			if w == i {
				return "witness = true\n"
			}
		}
	case TopologyTieBreaker:
		return fmt.Sprintf("tie_breaker = [%q]\n", gateway.String())
	}
	return ""
}

// configure writes every node's configuration for the topology; the
// cluster must have its number of nodes and no daemon running.
func (t Topology) configure(c *Cluster) error {
	if len(c.Nodes) != t.Nodes() {
		return fmt.Errorf("cluster: topology %s needs %d nodes, the cluster has %d", t, t.Nodes(), len(c.Nodes))
	}
	for i, n := range c.Nodes {
		if n.Running() {
			return fmt.Errorf("cluster: topology %s: %s is already running with another configuration", t, n.Name)
		}
		if err := c.WriteConfig(n, t.extra(i, c.Lab.Client.Addr)); err != nil {
			return err
		}
	}
	return nil
}
