package bgp

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// renewDelay separates the removal of a peer whose session ended from its
// re-creation (see sessions.renew). GoBGP's BFD peer may still be about to
// reset "its" BGP peer by address when it is removed; the reset must find
// no peer rather than the new one. GoBGP itself would stay idle for 5 s
// after a session ends, so the delay costs nothing.
const renewDelay = time.Second

// bfdDelay is how long after a session is established its BFD session is
// added. FRR registers a BFD session for a new neighbour twice within the
// first moments (first without a local address, then with it); a GoBGP
// BFD peer that hears the first one binds to its discriminator, ignores
// the second, and GoBGP resets the BGP session when that BFD session
// expires (it does so from Init too, before BFD was ever up).
const bfdDelay = time.Second

// notEstablishedWarning is how long a peer may go without a session before
// the speaker warns about it. A wrong TCP MD5 password produces no error
// at all (the kernel drops the segments), so this warning is the only sign.
const notEstablishedWarning = 30 * time.Second

// sessions follows the state of every peer's session from GoBGP's events,
// logs what matters, and ties each peer's BFD session to its BGP session.
type sessions struct {
	server *server.BgpServer
	cfg    Config
	log    *slog.Logger

	ctx     context.Context
	cancel  context.CancelFunc
	events  chan peerEvent
	started atomic.Bool   // run was started
	done    chan struct{} // closed when run returns

	mu    sync.Mutex
	peers map[netip.Addr]*session
}

// session is what the speaker knows of one peer beyond GoBGP's view.
type session struct {
	peer      Peer
	state     SessionState
	gen       int       // counts the sessions established
	upSince   time.Time // when it was last established
	downSince time.Time // when it last left Established, or Start
	flaps     int
	lastError string
	warned    bool // the not-established warning was logged for this down time
}

// A peerEvent is a state change of a peer's session, or (bfdFor > 0) the
// time to add BFD to its session number bfdFor.
type peerEvent struct {
	addr   netip.Addr
	state  SessionState
	reason string
	at     time.Time
	bfdFor int
}

func newSessions(srv *server.BgpServer, cfg Config, log *slog.Logger) *sessions {
	ctx, cancel := context.WithCancel(context.Background())
	ss := &sessions{
		server: srv,
		cfg:    cfg,
		log:    log,
		ctx:    ctx,
		cancel: cancel,
		events: make(chan peerEvent, 256),
		done:   make(chan struct{}),
		peers:  make(map[netip.Addr]*session),
	}
	now := time.Now()
	for _, p := range cfg.Peers {
		ss.peers[p.Address] = &session{peer: p, downSince: now}
	}
	return ss
}

// event is GoBGP's callback. It runs on GoBGP's watcher goroutine and only
// queues the event: acting on it calls back into the server.
func (ss *sessions) event(ev *apiutil.WatchEventMessage_PeerEvent, at time.Time) {
	if ev.Type != apiutil.PEER_EVENT_STATE {
		return
	}
	ss.queue(peerEvent{
		addr:   ev.Peer.State.NeighborAddress,
		state:  sessionStateFromFSM(ev.Peer.State.SessionState),
		reason: ev.Peer.State.DisconnectMessage,
		at:     at,
	})
}

func (ss *sessions) queue(e peerEvent) {
	select {
	case ss.events <- e:
	case <-ss.ctx.Done():
	}
}

// start starts handling events.
func (ss *sessions) start() {
	ss.started.Store(true)
	go ss.run()
}

// run handles events until stop.
func (ss *sessions) run() {
	defer close(ss.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ss.ctx.Done():
			return
		case e := <-ss.events:
			ss.handle(e)
		case now := <-tick.C:
			ss.checkStuck(now)
		}
	}
}

// stop ends run and waits for it; safe to call more than once, and before
// start.
func (ss *sessions) stop() {
	ss.cancel()
	if ss.started.Load() {
		<-ss.done
	}
}

// closed marks every session idle once the server has stopped.
func (ss *sessions) closed() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, s := range ss.peers {
		s.state = Idle
	}
}

func (ss *sessions) handle(e peerEvent) {
	ss.mu.Lock()
	s, ok := ss.peers[e.addr]
	if !ok {
		ss.mu.Unlock()
		return
	}
	if e.bfdFor > 0 {
		current := s.gen == e.bfdFor && s.state == Established
		p := s.peer
		ss.mu.Unlock()
		if current {
			ss.setBFD(p, true)
		}
		return
	}
	old := s.state
	s.state = e.state
	up := old != Established && e.state == Established
	down := old == Established && e.state != Established
	refused := !up && !down && e.state == Idle && e.reason != "" && e.reason != s.lastError
	switch {
	case up:
		s.upSince, s.warned = e.at, false
		s.gen++
	case down:
		s.downSince = e.at
		s.flaps++
	}
	if e.state == Idle && e.reason != "" {
		s.lastError = e.reason
	}
	p, gen := s.peer, s.gen
	ss.mu.Unlock()

	attrs := []any{"peer", p.Address, "asn", p.ASN}
	switch {
	case up:
		ss.log.Info("bgp: session established", attrs...)
		if p.BFD && !ss.cfg.keepBFD {
			time.AfterFunc(bfdDelay, func() {
				ss.queue(peerEvent{addr: p.Address, bfdFor: gen})
			})
		}
	case down:
		ss.log.Warn("bgp: session down", append(attrs, "reason", e.reason)...)
		if !ss.cfg.keepBFD {
			ss.renew(p)
		}
	case refused:
		// Each reconnection repeats the same refusal: log it when it
		// changes, and the not-established warning covers the rest.
		ss.log.Warn("bgp: session refused", append(attrs, "reason", e.reason, "hint", refusalHint(e.reason))...)
	}
}

// refusalHint explains GoBGP's reason for a session that failed to open.
func refusalHint(reason string) string {
	switch {
	case strings.Contains(reason, "bad-peer-as"):
		return "the peer's AS number is not the one configured for it"
	case reason == "invalid-msg":
		// GoBGP's name for a NOTIFICATION in answer to our OPEN.
		return "the peer refused our OPEN: check that it has this node as a neighbour with our AS number"
	case strings.Contains(reason, "notification-received"):
		return "the peer refused the session"
	}
	return "the session failed while opening"
}

// setBFD turns BFD on or off for p's current session.
func (ss *sessions) setBFD(p Peer, on bool) {
	if _, err := ss.server.UpdatePeer(ss.ctx, &api.UpdatePeerRequest{Peer: ss.apiPeer(p, on)}); err != nil && ss.ctx.Err() == nil {
		ss.log.Error("bgp: cannot set BFD", "peer", p.Address, "on", on, "err", err)
	}
}

// renew replaces the GoBGP peer whose session just ended with a new one.
//
// GoBGP v4.8.0's BFD resets its BGP peer with a Cease notification that
// the FSM reads only in the Established state; one sent while the session
// is down waits there and kills the next session the moment it is
// established, and against a router that drops BFD whenever BGP drops
// (FRR does) that repeats forever (osrg/gobgp#3561, fixed in v4.9.0). So
// the BFD session lives only as long as one BGP session: it is added once
// the session is established (after bfdDelay), and when the session ends the
// whole peer goes, with anything queued for it, and comes back without
// BFD.
func (ss *sessions) renew(p Peer) {
	addr := p.Address.String()
	if err := ss.server.DeletePeer(ss.ctx, &api.DeletePeerRequest{Address: addr}); err != nil {
		if ss.ctx.Err() == nil {
			ss.log.Error("bgp: cannot renew peer", "peer", p.Address, "err", err)
		}
		return
	}
	select {
	case <-time.After(renewDelay):
	case <-ss.ctx.Done():
		return
	}
	if err := ss.server.AddPeer(ss.ctx, &api.AddPeerRequest{Peer: ss.apiPeer(p, false)}); err != nil && ss.ctx.Err() == nil {
		ss.log.Error("bgp: cannot renew peer", "peer", p.Address, "err", err)
	}
}

// checkStuck warns about peers that have had no session for a while.
func (ss *sessions) checkStuck(now time.Time) {
	after := notEstablishedWarning
	if ss.cfg.stuckAfter > 0 {
		after = ss.cfg.stuckAfter
	}
	ss.mu.Lock()
	var stuck []session
	for _, s := range ss.peers {
		if s.state != Established && !s.warned && now.Sub(s.downSince) >= after {
			s.warned = true
			stuck = append(stuck, *s)
		}
	}
	ss.mu.Unlock()
	for _, s := range stuck {
		ss.log.Warn("bgp: no session with peer: check its address and AS number, that it has this node as a neighbour with our AS number, and the TCP MD5 password on both sides",
			"peer", s.peer.Address, "asn", s.peer.ASN, "for", now.Sub(s.downSince).Round(time.Second),
			"state", s.state, "last_error", s.lastError)
	}
}

// snapshot returns the status the speaker tracks itself, in peer order.
func (ss *sessions) snapshot() []PeerStatus {
	now := time.Now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	st := make([]PeerStatus, len(ss.cfg.Peers))
	for i, p := range ss.cfg.Peers {
		s := ss.peers[p.Address]
		st[i] = PeerStatus{
			Address:   p.Address,
			ASN:       p.ASN,
			State:     s.state,
			Flaps:     s.flaps,
			LastError: s.lastError,
		}
		if s.state == Established {
			st[i].Uptime = now.Sub(s.upSince)
		}
		if p.BFD {
			st[i].BFD = BFDDown
		}
	}
	return st
}

// apiPeer is GoBGP's configuration of p, with or without BFD.
func (ss *sessions) apiPeer(p Peer, bfd bool) *api.Peer {
	family := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	if p.Address.Is6() {
		family.Afi = api.Family_AFI_IP6
	}
	hold := uint64(p.holdTime() / time.Second)
	ap := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: p.Address.String(),
			PeerAsn:         p.ASN,
			AuthPassword:    p.Password,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:               hold,
			KeepaliveInterval:      max(hold/3, 1),
			ConnectRetry:           uint64(connectRetry / time.Second),
			IdleHoldTimeAfterReset: uint64(idleAfterReset / time.Second),
		}},
		AfiSafis: []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: family, Enabled: true}}},
	}
	if bfd {
		us := uint32(p.bfdInterval() / time.Microsecond)
		ap.Bfd = &api.BfdPeerConfig{
			Enabled:                  true,
			Port:                     server.BfdServerPort,
			DesiredMinimumTxInterval: us,
			RequiredMinimumReceive:   us,
			DetectionMultiplier:      uint32(p.bfdMultiplier()),
		}
	}
	return ap
}
