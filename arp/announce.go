package arp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// sendTimeout bounds one Announce call's wait on a full transmit queue.
const sendTimeout = time.Second

// Announcer tells the local link that this host now owns an address.
//
// It keeps one socket per interface and protocol, and re-opens it when the
// interface was recreated (its index changed) or a send failed. Sockets are
// cached by interface name, so one Announcer serves one network namespace.
// An Announcer is safe for concurrent use; calls are serialized.
type Announcer struct {
	log *slog.Logger

	sent   atomic.Uint64
	failed atomic.Uint64

	mu     sync.Mutex
	links  map[string]*linkConns // by interface name
	closed bool
}

// linkConns are the sockets open on one interface. A nil socket is opened
// on first use.
type linkConns struct {
	index int // interface index the sockets are bound to
	arp   *packet.Conn
	ndp   *ndp.Conn
}

// NewAnnouncer returns an Announcer that logs to logger (nil: no logging).
func NewAnnouncer(logger *slog.Logger) *Announcer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Announcer{log: logger, links: make(map[string]*linkConns)}
}

// Sent returns the number of frames and NDP messages sent so far.
func (a *Announcer) Sent() uint64 { return a.sent.Load() }

// Failed returns the number of frames and NDP messages that could not be
// sent (a send retried on a fresh socket counts once per attempt).
func (a *Announcer) Failed() uint64 { return a.failed.Load() }

// Announce sends one announcement burst for addr on the interface named
// ifname.
//
// For IPv4 (an IPv4-mapped IPv6 address counts as IPv4): a gratuitous ARP
// request and a gratuitous ARP reply, both to the broadcast MAC (sender IP =
// target IP = addr, sender MAC = the interface's MAC); then, for each notify
// host on the same link, "who-has <host> tell <addr>" to the host's MAC if
// the kernel neighbour table knows it, else to broadcast.
//
// For IPv6: an unsolicited Neighbor Advertisement (Override set, target
// addr, target link-layer address our MAC) to ff02::1, sent from the
// interface's link-local address; then, for each notify host on the link,
// the same advertisement unicast to it and a Neighbor Solicitation for the
// host sent from addr (which therefore must be assigned to the interface).
// An interface without a usable link-local address yields an error.
//
// Notify hosts of the other family or not on the link (see the package
// doc) are skipped and logged at debug level. Announce works in the network
// namespace of the calling thread. One burst is one packet per form: callers
// repeat it, spaced by more than the receivers' 1 s locktime.
func (a *Announcer) Announce(ifname string, addr netip.Addr, notify []netip.Addr) error {
	return a.AnnounceTo(ifname, addr, Hosts(notify))
}

// AnnounceTo is Announce with MAC hints for the notify hosts: a host the
// kernel's neighbour table does not know is sent its unicast announcement
// at the hinted MAC rather than to broadcast.
func (a *Announcer) AnnounceTo(ifname string, addr netip.Addr, notify []Host) error {
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() || addr.IsUnspecified() || addr.IsMulticast() || addr.IsLoopback() ||
		(addr.Is6() && addr.IsLinkLocalUnicast()) {
		return fmt.Errorf("announce %v on %s: not a unicast address that can move between hosts", addr, ifname)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("announce %s on %s: %w", addr, ifname, net.ErrClosed)
	}

	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		a.drop(ifname) // gone: its sockets are stale
		return fmt.Errorf("announce %s on %s: %w", addr, ifname, err)
	}
	if !usableMAC(ifi.HardwareAddr) {
		return fmt.Errorf("announce %s on %s: interface has no Ethernet address", addr, ifname)
	}
	if addr.Is4() {
		err = a.announce4(ifi, addr, notify)
	} else {
		err = a.announce6(ifi, addr, notify)
	}
	if err != nil {
		return fmt.Errorf("announce %s on %s: %w", addr, ifname, err)
	}
	return nil
}

// Close closes every socket. Announce fails after Close.
func (a *Announcer) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	var errs []error
	for name := range a.links {
		errs = append(errs, a.drop(name))
	}
	return errors.Join(errs...)
}

// link returns the socket set for ifi, replacing the cached one when the
// interface index changed: a socket bound to a deleted interface never
// sends again, even after a new interface takes the same name.
func (a *Announcer) link(ifi *net.Interface) *linkConns {
	lc := a.links[ifi.Name]
	if lc != nil && lc.index != ifi.Index {
		a.log.Info("interface recreated, re-opening announce sockets", "interface", ifi.Name,
			"old_index", lc.index, "index", ifi.Index)
		a.drop(ifi.Name)
		lc = nil
	}
	if lc == nil {
		lc = &linkConns{index: ifi.Index}
		a.links[ifi.Name] = lc
	}
	return lc
}

// drop closes and forgets the sockets of the interface name.
func (a *Announcer) drop(name string) error {
	lc := a.links[name]
	if lc == nil {
		return nil
	}
	delete(a.links, name)
	var errs []error
	if lc.arp != nil {
		errs = append(errs, lc.arp.Close())
	}
	if lc.ndp != nil {
		errs = append(errs, lc.ndp.Close())
	}
	return errors.Join(errs...)
}

func (a *Announcer) announce4(ifi *net.Interface, addr netip.Addr, notify []Host) error {
	frames, err := gratuitousFrames(ifi.HardwareAddr, addr)
	if err != nil {
		return err
	}
	if len(notify) > 0 {
		targets, skipped := planNotify(addr, notify, readLinkView(ifi, true))
		if len(skipped) > 0 {
			a.log.Debug("notify hosts not on this link, skipped", "interface", ifi.Name, "addr", addr, "hosts", skipped)
		}
		for _, t := range targets {
			f, err := notifyFrame(ifi.HardwareAddr, addr, t.host, t.mac)
			if err != nil {
				return err
			}
			frames = append(frames, f)
		}
	}

	// A failed send gets one more try on a fresh socket: the failure may be
	// the socket's, not the link's.
	for attempt := 1; ; attempt++ {
		n, err := a.sendFrames(ifi, frames)
		if err == nil {
			return nil
		}
		a.failed.Add(1)
		frames = frames[n:]
		if lc := a.links[ifi.Name]; lc != nil && lc.arp != nil {
			lc.arp.Close()
			lc.arp = nil
		}
		if attempt == 2 {
			return err
		}
		a.log.Debug("ARP send failed, retrying on a new socket", "interface", ifi.Name, "err", err)
	}
}

// sendFrames writes frames, each to the Ethernet destination in its header,
// and returns how many were sent.
func (a *Announcer) sendFrames(ifi *net.Interface, frames [][]byte) (int, error) {
	lc := a.link(ifi)
	if lc.arp == nil {
		c, err := listenPacket(ifi, unix.ETH_P_ARP, sendOnly)
		if err != nil {
			return 0, err
		}
		lc.arp = c
	}
	if err := lc.arp.SetWriteDeadline(time.Now().Add(sendTimeout)); err != nil {
		return 0, fmt.Errorf("set write deadline: %w", err)
	}
	for i, f := range frames {
		dst := &packet.Addr{HardwareAddr: net.HardwareAddr(f[0:6])}
		if _, err := lc.arp.WriteTo(f, dst); err != nil {
			return i, fmt.Errorf("send ARP frame to %s: %w", dst.HardwareAddr, err)
		}
		a.sent.Add(1)
	}
	return len(frames), nil
}

func (a *Announcer) announce6(ifi *net.Interface, addr netip.Addr, notify []Host) error {
	na := &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: addr,
		Options: []ndp.Option{&ndp.LinkLayerAddress{
			Direction: ndp.Target,
			Addr:      ifi.HardwareAddr,
		}},
	}
	allNodes := netip.IPv6LinkLocalAllNodes()

	var c *ndp.Conn
	for attempt := 1; ; attempt++ {
		var err error
		c, err = a.ndpConn(ifi)
		if err == nil {
			err = a.sendND(c, na, nil, allNodes)
		}
		if err == nil {
			break
		}
		if lc := a.links[ifi.Name]; lc != nil && lc.ndp != nil {
			lc.ndp.Close()
			lc.ndp = nil
		}
		if attempt == 2 {
			return err
		}
		a.log.Debug("NDP send failed, retrying on a new socket", "interface", ifi.Name, "err", err)
	}

	if len(notify) == 0 {
		return nil
	}
	targets, skipped := planNotify(addr, notify, readLinkView(ifi, false))
	if len(skipped) > 0 {
		a.log.Debug("notify hosts not on this link, skipped", "interface", ifi.Name, "addr", addr, "hosts", skipped)
	}
	// The solicitation is sent from addr: its receiver must create a
	// neighbour entry for the source in order to answer, which an
	// advertisement alone never makes it do.
	fromAddr := &ipv6.ControlMessage{HopLimit: ndp.HopLimit, Src: addr.AsSlice(), IfIndex: ifi.Index}
	var errs []error
	for _, t := range targets {
		dst := t.host // ndp scopes it to the interface
		if err := a.sendND(c, na, nil, dst); err != nil {
			errs = append(errs, err)
		}
		ns := &ndp.NeighborSolicitation{
			TargetAddress: t.host,
			Options: []ndp.Option{&ndp.LinkLayerAddress{
				Direction: ndp.Source,
				Addr:      ifi.HardwareAddr,
			}},
		}
		if err := a.sendND(c, ns, fromAddr, dst); err != nil {
			errs = append(errs, fmt.Errorf("%w (the solicitation's source must be assigned to the interface)", err))
		}
	}
	return errors.Join(errs...)
}

// ndpConn returns the NDP socket on ifi, opening it if needed.
func (a *Announcer) ndpConn(ifi *net.Interface) (*ndp.Conn, error) {
	lc := a.link(ifi)
	if lc.ndp != nil {
		return lc.ndp, nil
	}
	c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
	if err != nil {
		return nil, fmt.Errorf("open NDP socket: no usable IPv6 link-local address on %s "+
			"(IPv6 disabled, link down, or the address still tentative): %w", ifi.Name, err)
	}
	// Send only: block every ICMPv6 type so nothing queues unread.
	var f ipv6.ICMPFilter
	f.SetAll(true)
	if err := c.SetICMPFilter(&f); err != nil {
		c.Close()
		return nil, fmt.Errorf("set ICMPv6 filter on %s: %w", ifi.Name, err)
	}
	lc.ndp = c
	return c, nil
}

func (a *Announcer) sendND(c *ndp.Conn, m ndp.Message, cm *ipv6.ControlMessage, dst netip.Addr) error {
	if err := c.SetWriteDeadline(time.Now().Add(sendTimeout)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if err := c.WriteTo(m, cm, dst); err != nil {
		a.failed.Add(1)
		return fmt.Errorf("send %s to %s: %w", m.Type(), dst, err)
	}
	a.sent.Add(1)
	return nil
}
