package bgp

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Path holds the attributes a host route is announced with.
type Path struct {
	// Standby announces the route as a standby path: its AS path starts
	// with the speaker's AS number StandbyPrepend more times than an
	// ordinary path's. A router picks the shortest AS path first (after
	// weight and local preference, which a router sets itself), so it never
	// prefers a standby path while another node's ordinary path for the
	// same prefix exists, and falls back to it the moment that path goes
	// (its session failed, BFD, or it was withdrawn).
	Standby bool
	// NextHop is the next hop to announce. The zero value means the local
	// address of each session, which is what a directly connected router
	// needs; it must otherwise be of the prefix's address family.
	NextHop netip.Addr
	// Communities are attached as the COMMUNITIES attribute (RFC 1997), in
	// this order, without duplicates.
	Communities []Community
}

// Equal reports whether p and q announce the same attributes.
func (p Path) Equal(q Path) bool {
	return p.Standby == q.Standby && p.NextHop == q.NextHop && slices.Equal(p.Communities, q.Communities)
}

// clone returns a copy of p that shares no memory with it.
func (p Path) clone() Path {
	p.Communities = slices.Clone(p.Communities)
	return p
}

func (p Path) validate(prefix netip.Prefix) error {
	if nh := p.NextHop; nh.IsValid() {
		switch {
		case nh.Is4() != prefix.Addr().Is4() || nh.Is4In6():
			return fmt.Errorf("next hop %v is not of the prefix's address family", nh)
		case nh.Zone() != "":
			return fmt.Errorf("next hop %v: a zone cannot be announced", nh)
		case nh.IsUnspecified() || nh.IsMulticast():
			return fmt.Errorf("next hop %v: want a unicast address (leave it unset for the session's own address)", nh)
		}
	}
	for i, c := range p.Communities {
		if slices.Contains(p.Communities[:i], c) {
			return fmt.Errorf("community %v twice", c)
		}
	}
	return nil
}

// A Community is a BGP community (RFC 1997), written "ASN:VALUE" with two
// 16-bit numbers.
type Community uint32

// Well-known communities (RFC 1997, RFC 7999).
const (
	Blackhole        Community = 0xFFFF029A
	NoExport         Community = 0xFFFFFF01
	NoAdvertise      Community = 0xFFFFFF02
	NoExportSubconfd Community = 0xFFFFFF03
)

// NewCommunity returns the community asn:value.
func NewCommunity(asn, value uint16) Community {
	return Community(uint32(asn)<<16 | uint32(value))
}

// ParseCommunity parses "ASN:VALUE" (each 0 to 65535).
func ParseCommunity(s string) (Community, error) {
	hi, lo, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("community %q: want ASN:VALUE", s)
	}
	a, err1 := strconv.ParseUint(hi, 10, 16)
	v, err2 := strconv.ParseUint(lo, 10, 16)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("community %q: want two numbers from 0 to 65535, ASN:VALUE", s)
	}
	return NewCommunity(uint16(a), uint16(v)), nil
}

// String returns "ASN:VALUE".
func (c Community) String() string {
	return strconv.Itoa(int(c>>16)) + ":" + strconv.Itoa(int(c&0xFFFF))
}

// A Route is a host route the speaker announces.
type Route struct {
	Prefix netip.Prefix
	Path   Path
}

// ErrNotHostRoute is returned (wrapped) for a prefix other than a /32 IPv4
// or /128 IPv6 address.
var ErrNotHostRoute = errors.New("not a host route")

// checkHostRoute accepts /32 IPv4 and /128 IPv6 prefixes of unicast
// addresses, the only routes a VIP needs.
func checkHostRoute(p netip.Prefix) error {
	a := p.Addr()
	switch {
	case !p.IsValid():
		return fmt.Errorf("invalid prefix: %w", ErrNotHostRoute)
	case a.Is4In6():
		return fmt.Errorf("%v: an IPv4-mapped IPv6 address: announce the IPv4 address: %w", p, ErrNotHostRoute)
	case a.Zone() != "":
		return fmt.Errorf("%v: an address with a zone: %w", p, ErrNotHostRoute)
	case p.Bits() != a.BitLen():
		return fmt.Errorf("%v: want /%d: %w", p, a.BitLen(), ErrNotHostRoute)
	case a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a.IsLinkLocalUnicast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%v: not a routable unicast address: %w", p, ErrNotHostRoute)
	}
	return nil
}
