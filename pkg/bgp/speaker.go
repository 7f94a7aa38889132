package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	gobgp "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// ErrClosed is returned by the methods of a Speaker that has been closed.
var ErrClosed = errors.New("bgp: speaker closed")

// closeDrain bounds how long Close waits for the withdrawals to leave
// before it ends the sessions.
const closeDrain = 2 * time.Second

// A Speaker is an embedded BGP speaker that announces host routes to its
// peers. Its methods are safe for concurrent use.
type Speaker struct {
	cfg    Config
	log    *slog.Logger
	server *server.BgpServer

	// mu serializes route changes, so that routes always says what the
	// RIB holds.
	mu     sync.Mutex
	routes map[netip.Prefix]Path
	closed bool

	sessions *sessions
}

// Start starts a speaker with cfg and begins connecting to its peers. It
// returns once the speaker is configured; the sessions come up in the
// background (see Peers). A bad cfg is an error that lists every problem
// and starts nothing. ctx bounds the start only.
func Start(ctx context.Context, cfg Config) (*Speaker, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("bgp: %w", err)
	}
	cfg.Peers = slices.Clone(cfg.Peers)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// GoBGP reports every step of every session at Info; the speaker logs
	// what matters itself and passes on only GoBGP's warnings and errors.
	gl := slog.New(minLevel{log.Handler(), slog.LevelWarn}).With("component", "gobgp")
	srv := server.NewBgpServer(server.LoggerOption(gl, nil))
	go srv.Serve()
	s := &Speaker{
		cfg:    cfg,
		log:    log,
		server: srv,
		routes: make(map[netip.Prefix]Path),
	}
	if err := s.start(ctx); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("bgp: start: %w", err)
	}
	return s, nil
}

func (s *Speaker) start(ctx context.Context) error {
	port := int32(s.cfg.ListenPort)
	if port == 0 {
		port = gobgp.BGP_PORT
	}
	if err := s.server.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:        s.cfg.ASN,
		RouterId:   s.cfg.RouterID.String(),
		ListenPort: port,
	}}); err != nil {
		return err
	}
	// Accept only our own routes into the RIB: a route a router sends us
	// would otherwise be passed on to our other routers, making the node a
	// transit path between them.
	const policy = "wackamole-originate-only"
	if err := s.server.AddPolicy(ctx, &api.AddPolicyRequest{Policy: &api.Policy{
		Name: policy,
		Statements: []*api.Statement{{
			Name:       policy + "-local",
			Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_LOCAL},
			Actions:    &api.Actions{RouteAction: api.RouteAction_ROUTE_ACTION_ACCEPT},
		}},
	}}); err != nil {
		return fmt.Errorf("import policy: %w", err)
	}
	if err := s.server.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Direction:     api.PolicyDirection_POLICY_DIRECTION_IMPORT,
		Policies:      []*api.Policy{{Name: policy}},
		DefaultAction: api.RouteAction_ROUTE_ACTION_REJECT,
	}}); err != nil {
		return fmt.Errorf("import policy: %w", err)
	}
	s.sessions = newSessions(s.server, s.cfg, s.log)
	// Watch before adding peers, so that no state change is missed.
	if err := s.server.WatchEvent(s.sessions.ctx, server.WatchEventMessageCallbacks{
		OnPeerUpdate: s.sessions.event,
	}, server.WatchPeer()); err != nil {
		s.sessions.stop()
		return fmt.Errorf("watch peers: %w", err)
	}
	for _, p := range s.cfg.Peers {
		if err := s.server.AddPeer(ctx, &api.AddPeerRequest{Peer: s.sessions.apiPeer(p, s.cfg.keepBFD && p.BFD)}); err != nil {
			s.sessions.stop()
			return fmt.Errorf("peer %v: %w", p.Address, err)
		}
	}
	s.sessions.start()
	return nil
}

// Announce announces the host route prefix (a /32 IPv4 or /128 IPv6
// address) with the attributes of path to every peer of its address
// family. Announcing a route again with the same attributes does nothing;
// with others, it replaces the announcement (one UPDATE, no withdrawal in
// between). The route stays announced across session failures: a session
// that comes back gets it again.
func (s *Speaker) Announce(prefix netip.Prefix, path Path) error {
	if err := checkHostRoute(prefix); err != nil {
		return fmt.Errorf("bgp: announce: %w", err)
	}
	if err := path.validate(prefix); err != nil {
		return fmt.Errorf("bgp: announce %v: %w", prefix, err)
	}
	if !s.hasFamily(prefix.Addr().Is4()) {
		return fmt.Errorf("bgp: announce %v: no peer is of its address family", prefix)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if old, ok := s.routes[prefix]; ok && old.Equal(path) {
		return nil
	}
	if _, err := s.server.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{s.apiPath(prefix, path)}}); err != nil {
		return fmt.Errorf("bgp: announce %v: %w", prefix, err)
	}
	s.routes[prefix] = path.clone()
	return nil
}

// Withdraw withdraws the host route prefix from every peer. Withdrawing a
// route that is not announced does nothing.
func (s *Speaker) Withdraw(prefix netip.Prefix) error {
	if err := checkHostRoute(prefix); err != nil {
		return fmt.Errorf("bgp: withdraw: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	path, ok := s.routes[prefix]
	if !ok {
		return nil
	}
	p := s.apiPath(prefix, path)
	p.Withdrawal = true
	if err := s.server.DeletePath(apiutil.DeletePathRequest{Paths: []*apiutil.Path{p}}); err != nil {
		return fmt.Errorf("bgp: withdraw %v: %w", prefix, err)
	}
	delete(s.routes, prefix)
	return nil
}

// Announced returns the routes the speaker announces, ordered by prefix.
// It is empty after Close.
func (s *Speaker) Announced() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	routes := make([]Route, 0, len(s.routes))
	for _, p := range slices.SortedFunc(maps.Keys(s.routes), comparePrefixes) {
		routes = append(routes, Route{Prefix: p, Path: s.routes[p].clone()})
	}
	return routes
}

func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// Peers returns the state of every configured peer's session, in the
// order of Config.Peers. After Close every session is Idle.
func (s *Speaker) Peers() []PeerStatus {
	st := s.sessions.snapshot()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return st
	}
	byAddr := make(map[netip.Addr]*api.Peer)
	err := s.server.ListPeer(context.Background(), &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		if p.GetConf() == nil {
			return
		}
		if a, err := netip.ParseAddr(p.Conf.NeighborAddress); err == nil {
			byAddr[a] = p
		}
	})
	if err != nil {
		return st
	}
	// GoBGP's own accepted count is taken before the import policy; count
	// what the policy let into the RIB instead.
	accepted := make(map[netip.Addr]int)
	for _, family := range []gobgp.Family{gobgp.RF_IPv4_UC, gobgp.RF_IPv6_UC} {
		if !s.hasFamily(family == gobgp.RF_IPv4_UC) {
			continue
		}
		s.server.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: family}, func(_ gobgp.NLRI, paths []*apiutil.Path) {
			for _, p := range paths {
				if !p.Withdrawal && p.PeerAddress.IsValid() {
					accepted[p.PeerAddress]++
				}
			}
		})
	}
	bfd := make(map[netip.Addr]BFDState)
	s.server.ListBfdPeer(context.Background(), func(addr string, state *api.BfdPeerState) {
		if a, err := netip.ParseAddr(addr); err == nil && state != nil {
			bfd[a] = bfdStateFromAPI(state.SessionState)
		}
	})
	for i := range st {
		ps := &st[i]
		p, ok := byAddr[ps.Address]
		if !ok {
			continue // between two sessions (see sessions.renew)
		}
		if p.State != nil {
			ps.State = sessionStateFromAPI(p.State.SessionState)
		}
		if ps.State != Established {
			ps.Uptime = 0
		} else if t := p.GetTimers().GetState(); t != nil {
			ps.HoldTime = time.Duration(t.NegotiatedHoldTime) * time.Second
		}
		for _, af := range p.AfiSafis {
			if a := af.GetState(); a != nil {
				ps.Received += int(a.Received)
				ps.Advertised += int(a.Advertised)
			}
		}
		ps.Accepted = accepted[ps.Address]
		if ps.BFD != BFDOff {
			if b, ok := bfd[ps.Address]; ok {
				ps.BFD = b
			}
		}
	}
	return st
}

// Close withdraws every route, waits (up to 2 s) for the withdrawals to be
// sent, then ends every session with a Cease notification (RFC 4486, Peer
// De-configured) and stops the speaker. Withdrawing first lets each router
// move to another node's path for each prefix before the session goes. It
// returns nil, or the error of the withdrawal; later calls return
// ErrClosed.
func (s *Speaker) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	hadRoutes := len(s.routes) > 0
	clear(s.routes)
	s.mu.Unlock()

	// No session is renewed from here on: the peers go with the server.
	s.sessions.stop()
	var err error
	if hadRoutes {
		if err = s.server.DeletePath(apiutil.DeletePathRequest{DeleteAll: true}); err != nil {
			err = fmt.Errorf("bgp: close: withdraw: %w", err)
		} else {
			s.drain(closeDrain)
		}
	}
	s.server.Stop()
	s.sessions.closed()
	return err
}

// drain waits until no established session has updates queued, or for at
// most d.
func (s *Speaker) drain(d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		queued := false
		s.server.ListPeer(context.Background(), &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
			st := p.GetState()
			if st.GetSessionState() != api.PeerState_SESSION_STATE_ESTABLISHED {
				return
			}
			if st.GetQueues().GetOutput() > 0 {
				queued = true
			}
			for _, af := range p.AfiSafis {
				if af.GetState().GetAdvertised() > 0 {
					queued = true
				}
			}
		})
		if !queued || time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Speaker) hasFamily(v4 bool) bool {
	for _, p := range s.cfg.Peers {
		if p.Address.Is4() == v4 {
			return true
		}
	}
	return false
}

// apiPath builds the GoBGP path for prefix. Without an explicit next hop
// the unspecified address stands in: GoBGP replaces it with each session's
// local address (table.UpdatePathAttrs).
func (s *Speaker) apiPath(prefix netip.Prefix, path Path) *apiutil.Path {
	nlri, _ := gobgp.NewIPAddrPrefix(prefix) // prefix is valid
	family := gobgp.RF_IPv4_UC
	nh := netip.IPv4Unspecified()
	if prefix.Addr().Is6() {
		family = gobgp.RF_IPv6_UC
		nh = netip.IPv6Unspecified()
	}
	if path.NextHop.IsValid() {
		nh = path.NextHop
	}
	attrs := []gobgp.PathAttributeInterface{gobgp.NewPathAttributeOrigin(gobgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	if family == gobgp.RF_IPv4_UC {
		a, _ := gobgp.NewPathAttributeNextHop(nh)
		attrs = append(attrs, a)
	} else {
		a, _ := gobgp.NewPathAttributeMpReachNLRI(family, []gobgp.PathNLRI{{NLRI: nlri}}, nh)
		attrs = append(attrs, a)
	}
	if path.Standby {
		// GoBGP prepends our AS once more towards every external peer.
		asns := make([]uint32, StandbyPrepend)
		for i := range asns {
			asns[i] = s.cfg.ASN
		}
		attrs = append(attrs, gobgp.NewPathAttributeAsPath([]gobgp.AsPathParamInterface{
			gobgp.NewAs4PathParam(gobgp.BGP_ASPATH_ATTR_TYPE_SEQ, asns),
		}))
	}
	if len(path.Communities) > 0 {
		cs := make([]uint32, len(path.Communities))
		for i, c := range path.Communities {
			cs[i] = uint32(c)
		}
		attrs = append(attrs, gobgp.NewPathAttributeCommunities(cs))
	}
	return &apiutil.Path{Family: family, Nlri: nlri, Attrs: attrs}
}

// minLevel is a slog.Handler that drops records below level, and GoBGP's
// warnings that are routine for the speaker.
type minLevel struct {
	slog.Handler
	level slog.Level
}

// routine are GoBGP warnings that say nothing is wrong: a router that
// connects while the session is idle (after a refusal, say, or between
// two sessions) has its connection closed, to be retried.
var routine = []string{"Closed an accepted connection"}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) Handle(ctx context.Context, r slog.Record) error {
	if slices.Contains(routine, r.Message) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}
