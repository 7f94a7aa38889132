package arp

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
)

// Neighbors returns up to max hosts in the kernel's neighbour table of the
// interface (IPv4 and IPv6, in the calling thread's network namespace):
// the hosts this node has been talking to, with their MACs. Shared through the group, they
// are who a node taking over a VIP announces it to by unicast, as the old
// wackamole's Arp-Cache did. Entries the kernel has just confirmed
// (reachable) come first; permanent, failed and incomplete ones are left
// out, and so are the addresses in exclude (the VIPs themselves).
func Neighbors(ifname string, max int, exclude func(netip.Addr) bool) ([]Host, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("neighbours of %s: %w", ifname, err)
	}
	ns, err := netlink.NeighList(ifi.Index, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("neighbours of %s: %w", ifname, err)
	}
	type entry struct {
		addr      netip.Addr
		mac       net.HardwareAddr
		reachable bool
	}
	var es []entry
	for _, n := range ns {
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		const live = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY | netlink.NUD_PROBE
		if n.State&live == 0 || !usableMAC(n.HardwareAddr) || !ip.IsGlobalUnicast() && !ip.IsLinkLocalUnicast() {
			continue
		}
		if exclude != nil && exclude(ip) {
			continue
		}
		es = append(es, entry{addr: ip, mac: cloneMAC(n.HardwareAddr), reachable: n.State&netlink.NUD_REACHABLE != 0})
	}
	slices.SortFunc(es, func(a, b entry) int {
		if a.reachable != b.reachable {
			if a.reachable {
				return -1
			}
			return 1
		}
		return a.addr.Compare(b.addr)
	})
	out := make([]Host, 0, min(len(es), max))
	for _, e := range es {
		if len(out) == max {
			break
		}
		out = append(out, Host{Addr: e.addr, MAC: e.mac})
	}
	return out, nil
}
