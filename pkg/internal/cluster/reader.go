package cluster

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// addrReader reads every node's VIP addresses over netlink sockets opened
// inside the nodes' namespaces: a dump per node costs microseconds, where
// running ip(8) costs milliseconds and a process, which matters at 20
// readings a second on a busy machine, and makes a reading of five nodes
// close to one instant. It also reads the client's neighbour entries for
// the VIPs: which MAC the client sends each VIP's traffic to.
type addrReader struct {
	mu      sync.Mutex // the poller and the dumps read
	names   []string
	handles []*netlink.Handle
	client  *netlink.Handle
	vips    []netip.Addr
}

func newAddrReader(c *Cluster) (*addrReader, error) {
	r := &addrReader{vips: slices.Clone(c.VIPs)}
	open := func(h *lab.Host) (*netlink.Handle, error) {
		var nh *netlink.Handle
		err := h.Do(func() error {
			var err error
			nh, err = netlink.NewHandle(unix.NETLINK_ROUTE)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("cluster: netlink socket in %s: %w", h.NS, err)
		}
		if err := nh.SetSocketTimeout(2 * time.Second); err != nil {
			nh.Close()
			return nil, fmt.Errorf("cluster: netlink socket in %s: %w", h.NS, err)
		}
		return nh, nil
	}
	for _, n := range c.Nodes {
		h, err := open(n.Host)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.names = append(r.names, n.Name)
		r.handles = append(r.handles, h)
	}
	h, err := open(c.Lab.Client)
	if err != nil {
		r.Close()
		return nil, err
	}
	r.client = h
	return r, nil
}

// Close closes the sockets, which otherwise keep the namespaces alive.
func (r *addrReader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range r.handles {
		h.Close()
	}
	r.handles = nil
	if r.client != nil {
		r.client.Close()
		r.client = nil
	}
}

// read returns the holders of every VIP, link down or not.
func (r *addrReader) read() (map[netip.Addr][]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[netip.Addr][]string, len(r.vips))
	for _, v := range r.vips {
		out[v] = nil
	}
	for i, h := range r.handles {
		var addrs []netlink.Addr
		var err error
		for range 3 {
			addrs, err = h.AddrList(nil, netlink.FAMILY_V4)
			if !errors.Is(err, netlink.ErrDumpInterrupted) {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("cluster: addresses of %s: %w", r.names[i], err)
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if hs, ok := out[ip]; ok && !slices.Contains(hs, r.names[i]) {
				out[ip] = append(hs, r.names[i])
			}
		}
	}
	return out, nil
}

// neighbours returns the client's neighbour entry for every VIP that has
// one with a hardware address: the MAC its packets to the VIP go to. An
// entry being resolved (INCOMPLETE) or that failed has none.
func (r *addrReader) neighbours() (map[netip.Addr]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == nil {
		return nil, errors.New("cluster: neighbours: reader closed")
	}
	var ns []netlink.Neigh
	var err error
	for range 3 {
		ns, err = r.client.NeighList(0, netlink.FAMILY_V4)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: the client's neighbours: %w", err)
	}
	out := map[netip.Addr]string{}
	for _, n := range ns {
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok || len(n.HardwareAddr) == 0 || n.State == netlink.NUD_NONE || n.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) != 0 {
			continue
		}
		ip = ip.Unmap()
		if slices.Contains(r.vips, ip) {
			out[ip] = n.HardwareAddr.String()
		}
	}
	return out, nil
}
