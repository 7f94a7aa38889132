package bgp

import (
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	gobgp "github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

// SessionState is the state of a BGP session (RFC 4271, section 8.2.2).
type SessionState int

// The BGP finite state machine's states.
const (
	Idle SessionState = iota
	Connect
	Active
	OpenSent
	OpenConfirm
	Established
)

var sessionStateNames = [...]string{"idle", "connect", "active", "opensent", "openconfirm", "established"}

// String returns the state's name in lower case, as in "established".
func (s SessionState) String() string {
	if s >= 0 && int(s) < len(sessionStateNames) {
		return sessionStateNames[s]
	}
	return "unknown"
}

func sessionStateFromFSM(s gobgp.FSMState) SessionState {
	switch s {
	case gobgp.BGP_FSM_CONNECT:
		return Connect
	case gobgp.BGP_FSM_ACTIVE:
		return Active
	case gobgp.BGP_FSM_OPENSENT:
		return OpenSent
	case gobgp.BGP_FSM_OPENCONFIRM:
		return OpenConfirm
	case gobgp.BGP_FSM_ESTABLISHED:
		return Established
	}
	return Idle
}

func sessionStateFromAPI(s api.PeerState_SessionState) SessionState {
	switch s {
	case api.PeerState_SESSION_STATE_CONNECT:
		return Connect
	case api.PeerState_SESSION_STATE_ACTIVE:
		return Active
	case api.PeerState_SESSION_STATE_OPENSENT:
		return OpenSent
	case api.PeerState_SESSION_STATE_OPENCONFIRM:
		return OpenConfirm
	case api.PeerState_SESSION_STATE_ESTABLISHED:
		return Established
	}
	return Idle
}

// BFDState is the state of a peer's BFD session (RFC 5880, section 4.1).
type BFDState int

// BFD session states. BFDOff means BFD is not configured for the peer.
const (
	BFDOff BFDState = iota
	BFDAdminDown
	BFDDown
	BFDInit
	BFDUp
)

var bfdStateNames = [...]string{"off", "admindown", "down", "init", "up"}

// String returns the state's name in lower case, as in "up".
func (s BFDState) String() string {
	if s >= 0 && int(s) < len(bfdStateNames) {
		return bfdStateNames[s]
	}
	return "unknown"
}

func bfdStateFromAPI(s api.BfdSessionState) BFDState {
	switch s {
	case api.BfdSessionState_BFD_SESSION_STATE_ADMIN_DOWN:
		return BFDAdminDown
	case api.BfdSessionState_BFD_SESSION_STATE_INIT:
		return BFDInit
	case api.BfdSessionState_BFD_SESSION_STATE_UP:
		return BFDUp
	}
	return BFDDown
}

// PeerStatus describes one peer's session at the time Speaker.Peers was
// called.
type PeerStatus struct {
	// Address and ASN are the peer's, as configured.
	Address netip.Addr
	ASN     uint32
	// State is the BGP session's state.
	State SessionState
	// Uptime is how long the session has been established (0 unless
	// State is Established).
	Uptime time.Duration
	// HoldTime is the negotiated hold time (0 unless established).
	HoldTime time.Duration
	// BFD is the BFD session's state: BFDOff without BFD, and BFDDown
	// while the BGP session is not established (the speaker runs BFD only
	// for established sessions; see the package documentation).
	BFD BFDState
	// Received counts the prefixes the peer sent; Accepted those kept,
	// which is always 0: the speaker only originates routes and rejects
	// every route it is sent, so that a node never carries traffic between
	// two of its routers.
	Received, Accepted int
	// Advertised counts the routes announced to the peer.
	Advertised int
	// Flaps counts the times the session went down after being
	// established, since Start.
	Flaps int
	// LastError says why the session last went down or failed to come up
	// ("" if it never did), as in "notification-received open-message-error
	// bad-peer-as".
	LastError string
}
