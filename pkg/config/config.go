// Package config is the wackamole configuration: the TOML schema, its
// defaults, and validation that names the file, line and key of every
// problem it finds.
//
// One file describes one node. The VIP list (names, addresses, preferences)
// and the balance settings must be identical on every node of a group;
// Fingerprint summarises exactly those parts so that the membership layer can
// tell when two nodes disagree.
//
// Parse and Load turn a file into a Config; when the file has problems they
// return an Errors value with one *Error per problem, each naming the file,
// line and key (for example "vip[1].addresses[0]"), so that "wackamole check"
// can report everything at once instead of one problem per run.
//
// Positions: BurntSushi/toml exposes no key positions, so the lines come from
// a small scanner over the source text (lines.go) that runs after the library
// has accepted the document and maps every key path, array-of-tables element
// and array element to its line.
package config

import (
	"net/netip"
	"time"
)

// Defaults applied by Parse to keys absent from the file.
const (
	// DefaultPort is the gossip port, used for bind and peers when the
	// port is omitted.
	DefaultPort = 7946
	// DefaultBind is the default gossip address.
	DefaultBind = "0.0.0.0:7946"
	// DefaultMature is the default time a new member waits before it takes
	// VIPs (the original wackamole's Mature = 5s).
	DefaultMature = 5 * time.Second
	// DefaultInterface is the default interface for VIP addresses.
	DefaultInterface = "eth0"
	// DefaultControlSocket is where the daemon listens for wackatrl.
	DefaultControlSocket = "/run/wackamole/wackamole.sock"
	// DefaultTiming is the default timing profile.
	DefaultTiming = TimingLAN
	// DefaultDrainTimeout bounds a graceful stop or drain.
	DefaultDrainTimeout = 10 * time.Second
	// DefaultARPRepeat is the number of announcements per acquisition.
	DefaultARPRepeat = 3
	// DefaultARPInterval separates repeated announcements; above the Linux
	// neighbour locktime of 1 s so that every repeat is accepted.
	DefaultARPInterval = 1100 * time.Millisecond
	// DefaultARPRefresh is how often held VIPs are re-announced.
	DefaultARPRefresh = 60 * time.Second
	// DefaultARPCache is how often a node shares its neighbour cache.
	DefaultARPCache = 10 * time.Second
	// DefaultMaxMoves is the default number of simultaneous rebalancing
	// hand-overs (the original's AcquisitionsPerRound).
	DefaultMaxMoves = 1
	// Flap damping defaults (see package policy/damping): a single flap
	// keeps a node out for 10 s, flapping for at most 30 s after it stops.
	DefaultDampingPenalty  = 1000
	DefaultDampingSuppress = 1000
	DefaultDampingReuse    = 500
	DefaultDampingMax      = 4000
	DefaultDampingHalfLife = 10 * time.Second
	// DefaultRealtimePriority is the SCHED_FIFO priority of the heartbeat
	// threads with realtime = true: above ordinary daemons, below the
	// kernel's own threads (which run at 50 and up).
	DefaultRealtimePriority = 10
	// DefaultMode is the default mode.
	DefaultMode = ModeL2
)

// MaxVIPs is the largest number of VIPs a configuration may hold. The
// membership layer advertises the VIPs a node claims as a bitmap over the
// ordered VIP list inside memberlist's 512-byte node metadata; 1900 bits
// leave room for the rest of the metadata.
const MaxVIPs = 1900

// Timing profiles name a set of failure-detection and gossip timings.
const (
	// TimingLAN is the default: failover in about a second on a LAN.
	TimingLAN = "lan"
	// TimingFast fails over in about 20 ms, on a quiet LAN.
	TimingFast = "fast"
	// TimingWAN tolerates high latency and loss; failover takes seconds.
	TimingWAN = "wan"
)

// Config is one node's configuration after defaults have been applied and
// validation has passed.
//
// Host:port values (Bind, Advertise, Peers) are normalised: the port is
// always present and IP addresses are in their canonical form
// ("[2001:db8::1]:7946").
type Config struct {
	// Path is the file the configuration was read from.
	Path string

	// NodeName is this node's identity in the group. Default: the hostname.
	// No whitespace or control characters, at most 253 bytes.
	NodeName string
	// Bind is the gossip address, host:port, the host an IP address (it
	// may be unspecified: 0.0.0.0 or ::). Default "0.0.0.0:7946"; the port
	// defaults to DefaultPort when omitted.
	Bind string
	// Advertise is the address other nodes reach us at, host:port, the host
	// a specific IP address. Default: Bind when Bind's host is a specific
	// address, otherwise empty, and then the daemon must choose one (and
	// must never choose a VIP). The port defaults to Bind's port when
	// omitted.
	Advertise string
	// Peers are the seed members, host:port, usually every node of the group
	// (this node included). The number of peers defines the group size that
	// the default quorum is a majority of. Hosts are IP addresses or DNS
	// names; the port defaults to DefaultPort when omitted; IPv6 addresses
	// need brackets ("[2001:db8::1]" or "[2001:db8::1]:7946").
	Peers []string
	// SecretKeyFile holds the base64 gossip key (16, 24 or 32 bytes decoded).
	// Parse resolves a relative name against the directory of the
	// configuration file and stores the resolved name. The file must be a
	// regular file that other users cannot access (group access is
	// allowed, e.g. root:wackamole 0640).
	SecretKeyFile string
	// Insecure allows running without a key (gossip in clear text).
	Insecure bool
	// SecretKey is the decoded content of SecretKeyFile (nil when Insecure):
	// its first key, which encrypts what this node sends.
	SecretKey []byte
	// SecondaryKeys are the file's further keys (one per line), accepted
	// when decrypting: a key rotation without downtime adds the new key as
	// a second line everywhere, then swaps the lines, then drops the old one.
	SecondaryKeys [][]byte
	// Quorum is the number of live members (this node included) needed to
	// take orphaned VIPs or rebalance. 0 means a majority of Peers; see
	// QuorumNeeded. At most the number of peers (or 1 without peers).
	Quorum int
	// Mature is how long a new member waits before it takes VIPs. Default 5s.
	Mature time.Duration
	// Interface is the default interface for VIP addresses. Default
	// "eth0"; in bgp mode it is BGP.Interface, and the file may not set it.
	Interface string
	// ControlSocket is the unix socket wackatrl talks to.
	// Default "/run/wackamole/wackamole.sock". At most 107 bytes (sun_path).
	ControlSocket string
	// ControlGroup, when set, is the group that may use the control socket
	// (mode 0660); otherwise only root may (mode 0600).
	ControlGroup string
	// MetricsListen, when set, serves Prometheus metrics at /metrics there:
	// host:port with the port required; the host may be empty (all
	// addresses), an IP address or a name such as "localhost".
	MetricsListen string
	// Timing is the timing profile: "lan" (default), "fast" or "wan".
	Timing string
	// DrainTimeout bounds how long a graceful stop or drain waits for peers
	// to take over this node's VIPs. Default 10s.
	DrainTimeout time.Duration
	// Mode is ModeL2 (default; "" means it too) or ModeBGP; the same on
	// every node (it is part of Fingerprint).
	Mode string
	// BGP configures the BGP speaker; set only in bgp mode, where VIP
	// addresses must be host routes (/32, /128).
	BGP BGP

	// Membership overrides the timings of the Timing profile.
	Membership Membership
	// ARP configures the announcements that move clients to a new owner.
	ARP ARP
	// Balance configures rebalancing between live members.
	Balance Balance
	// Damping holds a flapping node out of VIP ownership.
	Damping Damping
	// Realtime runs the daemon under SCHED_FIFO, the heartbeat sender and
	// receiver at RealtimePriority and its other threads one below (needs
	// CAP_SYS_NICE), so that nothing else on a busy host delays them; LockMemory locks the daemon's memory (mlockall;
	// needs CAP_IPC_LOCK) so that no page-in stalls them. Both are off by
	// default: see the README's starvation section for their risks.
	Realtime         bool
	RealtimePriority int
	LockMemory       bool
	// Witness makes this node a member that counts for quorum but never
	// holds a VIP: the third vote of a two-node group, on any small host.
	// It needs no VIP interface, ARP or CAP_NET_RAW. Node-local.
	Witness bool
	// TieBreaker are addresses (usually the gateway) that settle a
	// two-voter group's loss of contact: only a side that reaches one of
	// them may act as if it had quorum (see policy.TieBreaker). Node-local.
	TieBreaker []netip.Addr
	// VIPs are the virtual IPs of the group, ordered by name (the
	// allocator relies on the order), at least 1 and at most MaxVIPs.
	VIPs []VIP
	// Checks are this node's health checks, in file order; a node with
	// none is always healthy.
	Checks []Check
	// Hooks are programs run on this node's VIP events.
	Hooks Hooks
}

// Membership overrides the timings of the Timing profile. A zero value
// keeps the profile's value.
type Membership struct {
	// HeartbeatInterval is how often a node tells every peer it is alive.
	HeartbeatInterval time.Duration
	// FailureTimeout is how long a peer may stay silent before it is
	// considered failed and its VIPs are taken over.
	FailureTimeout time.Duration
	// RejoinInterval is how often missing peers are joined again, which is
	// what merges a healed partition.
	RejoinInterval time.Duration
	// GossipInterval is memberlist's gossip interval.
	GossipInterval time.Duration
	// HeartbeatPort is the UDP port of the heartbeat socket, on bind's
	// address. 0 (the default) means the gossip port plus one.
	HeartbeatPort int
}

// ARP configures gratuitous ARP (and, for IPv6, unsolicited neighbour
// advertisements).
type ARP struct {
	// Repeat is the number of announcements per acquisition. Default 3.
	Repeat int
	// Interval separates repeated announcements. Default 1100ms, above the
	// Linux neighbour locktime of 1 s. The first one goes at once.
	Interval time.Duration
	// Refresh re-announces every held VIP this often, so that switch FDB
	// entries and router ARP caches never age out. Default 60s; 0 disables.
	Refresh time.Duration
	// Cache is how often this node reads its neighbour (ARP/NDP) cache on
	// the VIP interfaces and shares it with the group, so that a node
	// taking over a VIP announces it by unicast to the hosts that were
	// talking to the old owner (the original's Arp-Cache). Default 10s; 0
	// disables.
	Cache time.Duration
	// Notify are hosts (routers) that also get unicast announcements. IP
	// addresses without zone, each listed once.
	Notify []netip.Addr
}

// Balance configures rebalancing between live members.
type Balance struct {
	// MaxMoves is the number of VIPs that may be handed over between live,
	// eligible members at the same time. 0 means no limit ("all" in the
	// file). Default 1. Orphans and hand-offs from draining members are
	// never limited.
	MaxMoves int
}

// Damping configures flap damping, RFC 2439's route flap damping applied
// to a node: each flap of this node (a VIP interface going down, the
// health checks starting to fail) adds Penalty; the
// penalty halves every HalfLife; at Suppress the node is damped (takes no
// VIPs, and prefer pulls none back to it) until the penalty decays below
// Reuse; it never exceeds Max. Penalty 0 disables damping. Node-local, not
// part of the fingerprint.
type Damping struct {
	Penalty  int
	Suppress int
	Reuse    int
	Max      int
	HalfLife time.Duration
}

// VIP is one virtual IP: one or more addresses that always move together.
type VIP struct {
	// Name identifies the VIP; unique in the file. 1 to 63 characters of
	// ASCII letters, digits, '.', '_' and '-'.
	Name string
	// Addresses are the prefixes to add, each on its interface. In the file
	// each is "PREFIX" or "IFNAME:PREFIX" (see the Address type).
	Addresses []Address
	// Prefer lists node names that should hold this VIP when eligible, in
	// order of preference.
	Prefer []string
	// Interface overrides Config.Interface for this VIP's addresses, as
	// written in the file ("" when absent). Address.Interface holds the
	// interface each address actually goes to.
	Interface string
	// Line is where the VIP's table starts in the file (for messages).
	Line int
}

// Address is one address of a VIP on one interface.
//
// In the file an address is written "PREFIX" ("198.18.0.10/32",
// "2001:db8::10/128") or "IFNAME:PREFIX" ("eth1:198.18.0.10/32",
// "eth1:2001:db8::10/128"). The prefix length is required. IPv6 makes the
// colon ambiguous: a single IPv6 group such as "2001" is also a valid
// interface name. So the whole text is read as a prefix when it is one,
// and as IFNAME:PREFIX otherwise (IFNAME being everything before the first
// colon). An interface named with 1 to 4 hex digits ("cafe") therefore
// needs brackets around an IPv6 address: "cafe:[2001:db8::10]/128".
// Brackets are allowed around any IPv6 address ("[2001:db8::10]/128").
type Address struct {
	// Interface is the interface to add the address to: the one written in
	// the address, else the VIP's, else Config.Interface.
	Interface string
	// Prefix is the address and its prefix length, e.g. 198.18.0.10/32.
	// The address keeps its host bits (198.18.0.10/24 is not masked).
	Prefix netip.Prefix
}
