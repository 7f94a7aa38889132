package membership

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// advertise picks the address to advertise (see Config.Advertise).
func advertise(cfg Config) (netip.AddrPort, error) {
	if cfg.Advertise.IsValid() {
		return cfg.Advertise, nil
	}
	if !cfg.Bind.Addr().IsUnspecified() {
		return cfg.Bind, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("list local addresses to pick one to advertise: %w", err)
	}
	var candidates []netip.Addr
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := p.Addr().Unmap()
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || !ip.IsGlobalUnicast() || slices.Contains(cfg.Exclude, ip) {
			continue
		}
		if ip.Is4() == cfg.Bind.Addr().Is4() {
			candidates = append(candidates, ip)
		}
	}
	switch len(candidates) {
	case 1:
		return netip.AddrPortFrom(candidates[0], cfg.Bind.Port()), nil
	case 0:
		return netip.AddrPort{}, errors.New("no address to advertise: set advertise (or bind) in the config")
	}
	strs := make([]string, len(candidates))
	for i, c := range candidates {
		strs[i] = c.String()
	}
	return netip.AddrPort{}, fmt.Errorf("several addresses could be advertised (%s): set advertise (or bind) in the config", strings.Join(strs, ", "))
}

// ParseHostPort parses "host:port" or "host" (port 7946) into an address.
// Host names are resolved.
func ParseHostPort(s string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, "7946"
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port in %q", s)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		ips, lerr := net.LookupIP(host)
		if lerr != nil || len(ips) == 0 {
			return netip.AddrPort{}, fmt.Errorf("resolve %q: %v", host, lerr)
		}
		a, _ = netip.AddrFromSlice(ips[0])
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
}
