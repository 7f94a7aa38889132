package health

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pingSeq numbers echo requests across checks, so that replies to an
// earlier, timed-out request are not taken for the current one's.
var pingSeq atomic.Uint32

// probeICMP sends one ICMP echo request (RFC 792; RFC 4443 for IPv6) to
// addr and waits for the reply until ctx ends.
//
// It opens a raw ICMP socket, which needs CAP_NET_RAW (the daemon has it
// for ARP), or else a datagram ICMP socket ("unprivileged ping"), which
// Linux allows to the groups in net.ipv4.ping_group_range. A socket per
// probe: checks run every few seconds, and a shared socket would have to
// sort the replies of concurrent checks.
func probeICMP(ctx context.Context, addr string) error {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return fmt.Errorf("icmp: %q is not an IP address", addr)
	}
	a = a.Unmap()
	conn, raw, err := listenICMP(a.Is4())
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	id := os.Getpid() & 0xffff
	seq := int(pingSeq.Add(1) & 0xffff)
	var typ, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if a.Is6() {
		typ, reply, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	payload := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: payload}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return err
	}
	var dst net.Addr = &net.IPAddr{IP: a.AsSlice()}
	if !raw {
		dst = &net.UDPAddr{IP: a.AsSlice()}
	}
	if _, err := conn.WriteTo(b, dst); err != nil {
		return fmt.Errorf("icmp: send to %s: %w", a, err)
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("no echo reply from %s", a)
			}
			return fmt.Errorf("icmp: receive: %w", err)
		}
		if !sameHost(from, a) {
			continue
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != reply {
			continue
		}
		e, ok := m.Body.(*icmp.Echo)
		// A datagram socket's kernel rewrites the ID to its port: only
		// the sequence number and payload can be checked there.
		if !ok || e.Seq != seq || string(e.Data) != string(payload) || (raw && e.ID != id) {
			continue
		}
		return nil
	}
}

func listenICMP(v4 bool) (c *icmp.PacketConn, raw bool, err error) {
	network, dgram, any := "ip4:icmp", "udp4", "0.0.0.0"
	if !v4 {
		network, dgram, any = "ip6:ipv6-icmp", "udp6", "::"
	}
	if c, err = icmp.ListenPacket(network, any); err == nil {
		return c, true, nil
	}
	c, err2 := icmp.ListenPacket(dgram, any)
	if err2 == nil {
		return c, false, nil
	}
	return nil, false, fmt.Errorf("icmp: no socket to ping with: raw (needs CAP_NET_RAW): %v; unprivileged (needs a group in net.ipv4.ping_group_range): %w", err, errors.Unwrap(err2))
}

func sameHost(from net.Addr, a netip.Addr) bool {
	var ip net.IP
	switch f := from.(type) {
	case *net.IPAddr:
		ip = f.IP
	case *net.UDPAddr:
		ip = f.IP
	}
	got, ok := netip.AddrFromSlice(ip)
	return ok && got.Unmap() == a
}

// Ping sends one ICMP echo request to addr and waits for the reply until
// ctx ends: what icmp checks and the tie-breaker run.
func Ping(ctx context.Context, addr netip.Addr) error { return probeICMP(ctx, addr.String()) }
