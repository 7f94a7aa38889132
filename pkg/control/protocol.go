// Package control is the protocol between the wackamole daemon and wackatrl:
// HTTP with JSON bodies over a unix socket.
//
// HTTP rather than a home-made framing because it brings request limits,
// timeouts, status codes and a client for free, and because an operator can
// talk to the socket with nothing but curl:
//
//	curl --unix-socket /run/wackamole/wackamole.sock http://wackamole/v1/status
//
// The endpoints are versioned under /v1:
//
//	GET  /v1/status              the node's whole state (Status)
//	GET  /v1/members             the group as this node sees it (Members)
//	GET  /v1/vips                every VIP, its owner and planned owner (VIPs)
//	POST /v1/drain?timeout=60s   hand every VIP over, stay in the group ineligible
//	POST /v1/undrain             eligible for VIPs again
//	POST /v1/reload              reload the configuration file
//
// The answers are this package's own types (Status, Members, VIPs,
// Result): the daemon converts its state to them, so that the wire format
// changes only with this package, and testdata/*.json pins it.
//
// The commands answer with a Result. Every failure has a 4xx or 5xx status
// and a JSON body with an "error" field: a Result with ok false for a
// command that ran and failed (409, or 504 when a drain timed out), else
// just the error. Parameters travel in the query string; request bodies
// must be empty.
//
// Access is checked twice: the socket file's mode (0600, or 0660 with the
// control group) decides who may connect, and the server checks the
// connecting process's credentials (SO_PEERCRED and SO_PEERGROUPS) against
// the same rule, so a socket made world-writable by mistake still lets
// nobody else in.
package control

import (
	"time"
)

// Paths of the endpoints.
const (
	PathStatus  = "/v1/status"
	PathMembers = "/v1/members"
	PathVIPs    = "/v1/vips"
	PathDrain   = "/v1/drain"
	PathUndrain = "/v1/undrain"
	PathReload  = "/v1/reload"
)

// Drain timeouts: what a drain request waits for when it names no timeout,
// and the most it may ask for. A drain that times out leaves the node
// draining; only the waiting ends.
const (
	DefaultDrainTimeout = 60 * time.Second
	MaxDrainTimeout     = 10 * time.Minute
)

// MaxBodyBytes bounds a request body. No endpoint takes one; the bound only
// keeps a confused or hostile client from making the server read forever.
const MaxBodyBytes = 4 << 10

// Members is the answer of /v1/members.
type Members struct {
	// Node is the node that answered.
	Node    string   `json:"node"`
	Quorum  Quorum   `json:"quorum"`
	Members []Member `json:"members"`
}

// VIPs is the answer of /v1/vips.
type VIPs struct {
	// Node is the node that answered.
	Node string `json:"node"`
	VIPs []VIP  `json:"vips"`
}

// Result is the answer of a command (drain, undrain, reload).
type Result struct {
	// Command is "drain", "undrain" or "reload".
	Command string `json:"command"`
	// Node is the node that ran it.
	Node string `json:"node"`
	// OK is true when the command did all it was asked to.
	OK bool `json:"ok"`
	// Error says what went wrong when OK is false.
	Error string `json:"error,omitempty"`
	// TimedOut is true when a drain's timeout ended the wait; the node
	// stays draining.
	TimedOut bool `json:"timed_out,omitempty"`
	// State is the node's state after the command.
	State string `json:"state"`
	// Held lists the VIPs the node still holds after the command.
	Held []string `json:"held"`
	// Elapsed is how long the command took, in milliseconds.
	ElapsedMS int64 `json:"elapsed_ms"`
}

// errorBody is what a request that could not be served gets (a command
// that ran and failed answers with its Result, which has an error field
// too).
type errorBody struct {
	Error string `json:"error"`
}
