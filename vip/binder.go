package vip

import (
	"errors"
	"log/slog"
	"net/netip"
)

// DefaultLabel is the IPv4 label suffix the Binder uses when
// BinderConfig.Label is empty.
const DefaultLabel = "wk"

// ErrNoInterface reports that a named interface does not exist in the
// Binder's network namespace. Binder errors wrap it, so callers can tell a
// missing (perhaps not yet created) interface from a failed operation with
// errors.Is.
var ErrNoInterface = errors.New("no such interface")

// BinderConfig configures a Binder. The zero value is ready to use.
type BinderConfig struct {
	// Label is the suffix of the label put on IPv4 addresses: an address
	// on eth0 is labelled "eth0:wk". The label is what lets a restarted
	// daemon find the addresses a crashed run left behind (Labelled), so
	// it must be the same on every run. Labels longer than IFNAMSIZ-1 (15
	// bytes) are refused by the kernel, so addresses on interfaces with
	// long names are added without a label and cannot be found by
	// Labelled. IPv6 has no address labels. Empty means DefaultLabel.
	Label string

	// Logger receives the Binder's warnings (for example when
	// promote_secondaries cannot be set). Nil means slog.Default().
	Logger *slog.Logger
}

// Bound is an address bound to an interface.
type Bound struct {
	Interface string
	Prefix    netip.Prefix
}

// String returns the address and interface as in "198.18.0.10/32 on eth0".
func (b Bound) String() string {
	return b.Prefix.String() + " on " + b.Interface
}
