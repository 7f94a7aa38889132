package lab

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// Static neighbours (Options.StaticNeighbors).
//
// Linux keeps one neighbour table for the whole machine, shared by every
// network namespace, and its limits are the machine's: past gc_thresh2
// (512) dynamic entries it collects garbage on every allocation, and at
// gc_thresh3 (1024) it refuses new entries ("neighbour: arp_cache:
// neighbor table overflow!" in the kernel log). A packet to a neighbour
// that cannot be resolved is dropped, and an ARP request whose sender
// cannot be entered gets no reply. N nodes that all talk to each other
// need N(N-1) entries: 50 nodes need 2450, so a lab of 50 nodes loses
// heartbeats, gossip and the client's ARP at random, and so does every
// other lab on the machine meanwhile.
//
// On separate hosts each table holds the host's own N-1 entries. The lab
// comes close to that with permanent entries, which the kernel does not
// count against those limits (they are never collected): every node gets
// one for every other node, with the MAC that node's address spells. The
// client's entries and the nodes' entries of the client stay dynamic, as
// on a real network: they are what clients and the daemons' ARP handling
// see (the daemons share only dynamic entries, see arp.Neighbors).

// staticNeighbors gives node h a permanent neighbour entry for every other
// node, and every other node one for h.
func (l *Lab) staticNeighbors(h *Host) error {
	var errs []error
	for _, o := range l.Nodes {
		if o == h {
			continue
		}
		errs = append(errs, addPermanent(h, o), addPermanent(o, h))
	}
	return errors.Join(errs...)
}

// restoreNeighbors puts back node h's own permanent entries, which the
// kernel removes when h's interface goes down.
func (l *Lab) restoreNeighbors(h *Host) error {
	var errs []error
	for _, o := range l.Nodes {
		if o != h {
			errs = append(errs, addPermanent(h, o))
		}
	}
	return errors.Join(errs...)
}

// addPermanent adds (or replaces) on host h's eth0 a permanent entry
// for o's address and MAC.
func addPermanent(h, o *Host) error {
	err := h.Do(func() error {
		link, err := netlink.LinkByName(hostIf)
		if err != nil {
			return err
		}
		return netlink.NeighSet(&netlink.Neigh{
			LinkIndex:    link.Attrs().Index,
			Family:       netlink.FAMILY_V4,
			State:        netlink.NUD_PERMANENT,
			IP:           net.IP(o.Addr.AsSlice()),
			HardwareAddr: o.MAC,
		})
	})
	if err != nil {
		return fmt.Errorf("lab: %s: permanent neighbour %s (%s): %w", h.NS, o.Addr, o.MAC, err)
	}
	return nil
}
