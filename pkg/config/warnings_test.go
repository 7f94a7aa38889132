package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestWarnings(t *testing.T) {
	two := []string{"198.18.0.11:7946", "198.18.0.12:7946"}
	three := append(two, "198.18.0.13:7946")
	gw := []netip.Addr{netip.MustParseAddr("198.18.0.1")}
	for _, tt := range []struct {
		name string
		c    Config
		want string // substring of the only warning, "" for none
	}{
		{"three voters", Config{Peers: three}, ""},
		{"two voters", Config{Peers: two}, "no witness or tie_breaker"},
		{"two voters and a tie-breaker", Config{Peers: two, TieBreaker: gw}, ""},
		{"quorum 1", Config{Peers: two, Quorum: 1}, "quorum = 1"},
		{"quorum 1 alone", Config{Peers: two[:1], Quorum: 1}, ""},
		{"tie-breaker with three", Config{Peers: three, TieBreaker: gw}, "exactly two voters"},
		{"fast", Config{Peers: three, Timing: TimingFast}, "realtime = true"},
		{"fast with realtime", Config{Peers: three, Timing: TimingFast, Realtime: true}, ""},
		{"a fast witness", Config{Peers: three, Timing: TimingFast, Witness: true}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.c.Warnings()
			switch {
			case tt.want == "" && len(w) != 0:
				t.Fatalf("warnings %q, want none", w)
			case tt.want != "" && (len(w) != 1 || !strings.Contains(w[0], tt.want)):
				t.Fatalf("warnings %q, want one saying %q", w, tt.want)
			}
		})
	}
}
