// Package lab builds throw-away network labs out of Linux network namespaces
// for end-to-end tests, demos and failover benchmarks.
//
// A lab is a bridge namespace "<prefix>-br" holding a Linux bridge "br0"
// (up, no address, no uplink) and one namespace per host: the nodes
// "<prefix>-n1" … "<prefix>-nN" and the client "<prefix>-cl". Every host has
// a veth "eth0" whose peer sits in the bridge namespace, attached to br0. The
// veth pairs are created from inside the bridge namespace, so no link ever
// appears in the root namespace, and the lab has no route to the outside
// world. Addresses come from a subnet of 198.18.0.0/15 (RFC 2544 benchmark
// space; default 198.18.0.0/24): the client is .2, hosts added with
// Lab.AddHost (a DNS server, say) are .3–.10, node K is .(10+K), and
// .100–.199 are left for virtual IPs (see Lab.VIP).
//
// A routed lab (Options.Routed) puts the client behind a router, as in a
// fabric that routes per rack: the router "<prefix>-rt" has eth0 on br0
// (.1) and eth1 on a second bridge "br1", which the client shares alone
// in a subnet of its own (the block after the lab subnet: router .1,
// client .2); the nodes and the client route through the router, and the
// VIPs come from a third block that is on no link, so that only a route
// (learnt over BGP, say) brings traffic to a VIP. The lab only forwards;
// what routes the router has is the caller's business.
//
// Hosts run commands and long-lived processes (Host.Run, Host.Start), take
// their link down (Host.LinkDown), get partitioned with nftables
// (Host.Isolate, Host.IsolateAll) and open sockets inside their namespace
// from the calling Go program (Host.DialContext, Host.Listen, Host.HTTPGet).
// Host.Ping starts a Prober, an in-process ICMP echo prober whose Result
// reports the longest time the target went without answering: the outage a
// client sees during a failover.
//
// Faults besides crashes and partitions: a process paused and resumed
// (Process.Pause, SIGSTOP), a switch port that goes down or flaps
// (Host.PortDown, Host.Flap), random loss of IP packets (Host.DropRandom),
// the path between two hosts cut while both reach everybody else
// (Lab.CutPath) and a CPU quota on a process (Process.LimitCPU, cgroups).
// Close undoes every one of them.
//
// The package knows nothing about wackamole; it needs root, iproute2 and,
// for partitions, nftables. Close removes every namespace and process a lab
// made, and Sweep removes leftovers of a crashed run.
package lab
