package daemon

import (
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/config"
)

func TestProcs(t *testing.T) {
	slowFast := config.Config{Timing: "fast"}
	slowFast.Membership.HeartbeatInterval = 25 * time.Millisecond
	for _, c := range []struct {
		name string
		cfg  config.Config
		env  string
		want int
	}{
		{"lan", config.Config{}, "", 1},
		{"wan", config.Config{Mode: config.ModeL2, Timing: "wan"}, "", 1},
		{"fast overridden to 25 ms beats", slowFast, "", 1},
		{"the operator's GOMAXPROCS", config.Config{}, "2", 0},
		{"fast: the polled loop holds a P", config.Config{Timing: "fast"}, "", 0},
		{"realtime", config.Config{Realtime: true}, "", 0},
		{"bgp", config.Config{Mode: config.ModeBGP}, "", 0},
		{"an unknown timing", config.Config{Timing: "warp"}, "", 0},
	} {
		if got := Procs(&c.cfg, c.env); got != c.want {
			t.Errorf("%s: Procs = %d, want %d", c.name, got, c.want)
		}
	}
}
