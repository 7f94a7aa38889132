package daemon

import (
	"testing"
	"time"

	"github.com/wackamole/wackamole/membership"
	"github.com/wackamole/wackamole/pkg/config"
)

func TestProcs(t *testing.T) {
	slow := membership.Fast()
	slow.HeartbeatInterval = 25 * time.Millisecond
	for _, c := range []struct {
		name string
		cfg  config.Config
		t    membership.Timing
		env  string
		want int
	}{
		{"lan", config.Config{}, membership.LAN(), "", 1},
		{"wan", config.Config{Mode: config.ModeL2}, membership.WAN(), "", 1},
		{"fast overridden to 25 ms beats", config.Config{}, slow, "", 1},
		{"the operator's GOMAXPROCS", config.Config{}, membership.LAN(), "2", 0},
		{"fast: the polled loop holds a P", config.Config{}, membership.Fast(), "", 0},
		{"realtime", config.Config{Realtime: true}, membership.LAN(), "", 0},
		{"bgp", config.Config{Mode: config.ModeBGP}, membership.LAN(), "", 0},
	} {
		if got := Procs(&c.cfg, c.t, c.env); got != c.want {
			t.Errorf("%s: Procs = %d, want %d", c.name, got, c.want)
		}
	}
}
