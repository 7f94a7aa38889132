package arp

import (
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
)

// Host is a host to announce to by unicast: its address and, when known,
// its MAC (a hint used when this node's neighbour table lacks the host).
type Host struct {
	Addr netip.Addr
	MAC  net.HardwareAddr
}

// Hosts turns addresses into Hosts without MAC hints.
func Hosts(addrs []netip.Addr) []Host {
	out := make([]Host, len(addrs))
	for i, a := range addrs {
		out[i] = Host{Addr: a}
	}
	return out
}

// notifyTarget is a notify host reachable on the announcing interface, with
// its MAC when the neighbour table knows it (nil: send to broadcast).
type notifyTarget struct {
	host netip.Addr
	mac  net.HardwareAddr
}

// linkView is what the kernel knows about one interface, as far as the
// notify list is concerned.
type linkView struct {
	prefixes []netip.Prefix                  // the interface's own subnets
	neigh    map[netip.Addr]net.HardwareAddr // usable neighbour entries
	direct   func(netip.Addr) bool           // route lookup: on this link, no gateway
}

// planNotify picks the notify hosts that sit on the link of addr's
// interface. A host counts as on the link when one of the interface's
// subnets contains it, when the neighbour table has an entry for it on the
// interface, when the route to it leaves through the interface without a
// gateway, or (IPv6) when it is link-local. Others are dropped: they cannot
// hear an announcement made on this link. Hosts of the other address family,
// addr itself and non-unicast addresses are dropped too; duplicates once.
//
// A host's MAC comes from the neighbour table, else from the host's own
// hint (a MAC the group learned from another member's table), else the
// frame goes to broadcast. The interface's own addresses are dropped.
func planNotify(addr netip.Addr, hosts []Host, v linkView) (targets []notifyTarget, skipped []netip.Addr) {
	addr = addr.Unmap()
	seen := make(map[netip.Addr]bool, len(hosts))
	for _, host := range hosts {
		h := host.Addr.Unmap()
		if seen[h] {
			continue
		}
		seen[h] = true
		if !h.IsValid() || h.Is4() != addr.Is4() || h == addr || h.IsUnspecified() ||
			h.IsMulticast() || h.IsLoopback() || h == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			skipped = append(skipped, h)
			continue
		}
		h = h.WithZone("")
		if slices.ContainsFunc(v.prefixes, func(p netip.Prefix) bool { return p.Addr() == h }) {
			skipped = append(skipped, h)
			continue
		}
		mac, known := v.neigh[h]
		if !known && usableMAC(host.MAC) {
			mac = cloneMAC(host.MAC)
		}
		on := known || (h.Is6() && h.IsLinkLocalUnicast())
		for _, p := range v.prefixes {
			if on {
				break
			}
			on = p.Contains(h)
		}
		if !on && v.direct != nil {
			on = v.direct(h)
		}
		if !on {
			skipped = append(skipped, h)
			continue
		}
		targets = append(targets, notifyTarget{host: h, mac: mac})
	}
	return targets, skipped
}

// usableNUD are the neighbour states whose link-layer address can be
// trusted for a unicast send.
const usableNUD = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY |
	netlink.NUD_PROBE | netlink.NUD_PERMANENT

// readLinkView asks the kernel (in the calling thread's network namespace)
// about ifi. Failures only shrink the view: the notify list is best effort
// and must not block the gratuitous announcement itself.
func readLinkView(ifi *net.Interface, v4 bool) linkView {
	var v linkView
	if addrs, err := ifi.Addrs(); err == nil {
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			if p, err := ip.Unmap().Prefix(ones); err == nil && p.Addr().Is4() == v4 {
				v.prefixes = append(v.prefixes, p)
			}
		}
	}
	family := netlink.FAMILY_V6
	if v4 {
		family = netlink.FAMILY_V4
	}
	if ns, err := netlink.NeighList(ifi.Index, family); err == nil {
		v.neigh = make(map[netip.Addr]net.HardwareAddr, len(ns))
		for _, n := range ns {
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok || n.State&usableNUD == 0 || !usableMAC(n.HardwareAddr) {
				continue
			}
			v.neigh[ip.Unmap()] = cloneMAC(n.HardwareAddr)
		}
	}
	index := ifi.Index
	v.direct = func(h netip.Addr) bool {
		rs, err := netlink.RouteGet(h.AsSlice())
		if err != nil || len(rs) == 0 {
			return false
		}
		return rs[0].LinkIndex == index && rs[0].Gw == nil
	}
	return v
}
