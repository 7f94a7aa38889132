package bgp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"
)

// Defaults and limits of the session settings. The configuration file
// (pkg/config) applies the same ones.
const (
	// DefaultHoldTime is the hold time offered when Peer.HoldTime is 0.
	// The keepalive interval is always a third of the hold time.
	DefaultHoldTime = 9 * time.Second
	// MinHoldTime is the shortest hold time RFC 4271 (section 4.2) allows
	// besides 0, which GoBGP v4.8.0 cannot offer (it replaces 0 with 90 s).
	MinHoldTime = 3 * time.Second
	// MaxHoldTime is the largest hold time an OPEN message can carry.
	MaxHoldTime = 65535 * time.Second

	// DefaultBFDInterval is the BFD interval when Peer.BFDInterval is 0:
	// both the desired minimum transmit interval and the required minimum
	// receive interval (RFC 5880, section 6.8.1).
	DefaultBFDInterval = 100 * time.Millisecond
	// MinBFDInterval and MaxBFDInterval bound Peer.BFDInterval. Routers
	// refuse shorter intervals (FRR's bfdd accepts 10 ms to 60 s).
	MinBFDInterval = 10 * time.Millisecond
	MaxBFDInterval = 60 * time.Second
	// DefaultBFDMultiplier is the detection multiplier when
	// Peer.BFDMultiplier is 0: a peer is declared down after this many
	// intervals without a packet.
	DefaultBFDMultiplier = 3
	// MaxBFDMultiplier is the largest multiplier the one-byte Detect Mult
	// field can carry.
	MaxBFDMultiplier = 255

	// MaxPasswordLen is the longest TCP MD5 key Linux accepts
	// (TCP_MD5SIG_MAXKEYLEN, RFC 2385).
	MaxPasswordLen = 80

	// StandbyPrepend is how many extra times a standby path carries the
	// speaker's AS number at the start of its AS path (see Path.Standby).
	StandbyPrepend = 3
)

// connectRetry is how long GoBGP waits between two connection attempts,
// and idleAfterReset how long it stays idle after a session it reset.
// GoBGP's defaults (RFC 4271's suggested 120 s, and 30 s) leave a node
// without routes for minutes after its router restarts; a router next door
// is cheap to retry.
const (
	connectRetry   = 5 * time.Second
	idleAfterReset = 5 * time.Second
)

// Config configures a Speaker.
type Config struct {
	// ASN is this speaker's autonomous system number (4 octets, RFC 6793;
	// not 0, 23456, 65535 or 4294967295, which are reserved).
	ASN uint32
	// RouterID is the BGP identifier (RFC 4271, section 4.2; RFC 6286): an
	// IPv4 address, not 0.0.0.0, usually the node's own address.
	RouterID netip.Addr
	// ListenPort is the TCP port the speaker accepts sessions on, on every
	// address: 0 means 179, -1 not to listen at all, in which case the
	// speaker only connects to its peers.
	ListenPort int
	// Peers are the routers to announce to: at least one, each address
	// once. Every session is external BGP.
	Peers []Peer
	// Logger receives session events (up, down and why, refused peers)
	// and GoBGP's own warnings. Nil discards them.
	Logger *slog.Logger

	// keepBFD, for tests only, configures BFD the way GoBGP intends it
	// (for the whole life of the peer) instead of for the life of each
	// session, to show the flap loop that the latter avoids.
	keepBFD bool
	// stuckAfter, for tests only, replaces notEstablishedWarning.
	stuckAfter time.Duration
}

// Peer is one BGP neighbour: a directly connected router (single hop).
type Peer struct {
	// Address is the router's address. A peer carries the routes of its
	// own address family: IPv4 host routes to IPv4 peers, IPv6 host routes
	// to IPv6 peers.
	Address netip.Addr
	// ASN is the router's AS number; it must differ from Config.ASN
	// (external BGP: standby paths are made longer by AS-path prepending,
	// which an internal peer would take for a loop).
	ASN uint32
	// HoldTime is the hold time offered in OPEN, in whole seconds, from 3 s
	// to 65535 s; 0 means DefaultHoldTime. The session uses the smaller of
	// the two sides' values, and sends keepalives every third of it.
	HoldTime time.Duration
	// BFD runs a BFD session (RFC 5880, RFC 5881: single hop, asynchronous)
	// next to the BGP session; when it fails the BGP session is reset at
	// once instead of at the end of the hold time. The router must run
	// BFD for this neighbour too.
	BFD bool
	// BFDInterval is the desired minimum transmit interval and the
	// required minimum receive interval; 0 means DefaultBFDInterval.
	BFDInterval time.Duration
	// BFDMultiplier is the detection multiplier; 0 means
	// DefaultBFDMultiplier.
	BFDMultiplier int
	// Password, if set, signs every TCP segment of the session with TCP MD5
	// (RFC 2385). The router must use the same password; Linux silently
	// drops segments with a wrong or missing signature, so a mismatch shows
	// as a session that never comes up.
	Password string
}

// holdTime returns the hold time to offer, with the default applied.
func (p Peer) holdTime() time.Duration {
	if p.HoldTime == 0 {
		return DefaultHoldTime
	}
	return p.HoldTime
}

func (p Peer) bfdInterval() time.Duration {
	if p.BFDInterval == 0 {
		return DefaultBFDInterval
	}
	return p.BFDInterval
}

func (p Peer) bfdMultiplier() int {
	if p.BFDMultiplier == 0 {
		return DefaultBFDMultiplier
	}
	return p.BFDMultiplier
}

// reservedASN reports the AS numbers no speaker may use: 0 (RFC 7607),
// AS_TRANS (RFC 6793), 65535 and 4294967295 (RFC 7300).
func reservedASN(n uint32) bool {
	return n == 0 || n == 23456 || n == 65535 || n == 1<<32-1
}

// validate checks cfg and returns every problem found, joined.
func (cfg *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if reservedASN(cfg.ASN) {
		bad("ASN %d is reserved (RFC 7607, RFC 6793, RFC 7300)", cfg.ASN)
	}
	if !cfg.RouterID.Is4() || cfg.RouterID.IsUnspecified() {
		bad("router ID %v: want an IPv4 address other than 0.0.0.0 (RFC 6286)", cfg.RouterID)
	}
	if cfg.ListenPort < -1 || cfg.ListenPort > 65535 {
		bad("listen port %d: want 0 (179), -1 (do not listen) or 1 to 65535", cfg.ListenPort)
	}
	if len(cfg.Peers) == 0 {
		bad("no peers")
	}
	seen := make(map[netip.Addr]int)
	for i, p := range cfg.Peers {
		if err := p.validate(cfg.ASN); err != nil {
			errs = append(errs, fmt.Errorf("peer %d (%v): %w", i+1, p.Address, err))
			continue
		}
		if j, dup := seen[p.Address]; dup {
			bad("peer %d (%v): the same address as peer %d", i+1, p.Address, j+1)
			continue
		}
		seen[p.Address] = i
	}
	return errors.Join(errs...)
}

func (p *Peer) validate(localASN uint32) error {
	var errs []string
	if !p.Address.IsValid() || p.Address.IsUnspecified() || p.Address.IsMulticast() || p.Address.Is4In6() {
		errs = append(errs, "want a unicast IPv4 or IPv6 address")
	} else if p.Address.Zone() != "" && !p.Address.IsLinkLocalUnicast() {
		errs = append(errs, "a zone is only meaningful on a link-local address")
	}
	switch {
	case reservedASN(p.ASN):
		errs = append(errs, fmt.Sprintf("ASN %d is reserved", p.ASN))
	case p.ASN == localASN:
		errs = append(errs, fmt.Sprintf("ASN %d is our own: only external BGP is supported (standby paths are AS-path prepends, which an internal peer drops as a loop)", p.ASN))
	}
	if h := p.HoldTime; h != 0 {
		switch {
		case h < MinHoldTime || h > MaxHoldTime:
			errs = append(errs, fmt.Sprintf("hold time %v: want %v to %v (RFC 4271)", h, MinHoldTime, MaxHoldTime))
		case h%time.Second != 0:
			errs = append(errs, fmt.Sprintf("hold time %v: want whole seconds (the OPEN message carries seconds)", h))
		}
	}
	if i := p.BFDInterval; i != 0 && (i < MinBFDInterval || i > MaxBFDInterval) {
		errs = append(errs, fmt.Sprintf("BFD interval %v: want %v to %v", i, MinBFDInterval, MaxBFDInterval))
	} else if i%time.Microsecond != 0 {
		errs = append(errs, fmt.Sprintf("BFD interval %v: want whole microseconds (RFC 5880)", i))
	}
	if m := p.BFDMultiplier; m < 0 || m > MaxBFDMultiplier {
		errs = append(errs, fmt.Sprintf("BFD multiplier %d: want 1 to %d", m, MaxBFDMultiplier))
	}
	if len(p.Password) > MaxPasswordLen {
		errs = append(errs, fmt.Sprintf("password of %d bytes: TCP MD5 keys have at most %d", len(p.Password), MaxPasswordLen))
	} else if strings.ContainsRune(p.Password, 0) {
		errs = append(errs, "password contains a NUL byte")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
