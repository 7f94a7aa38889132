package bgp

import (
	"testing"

	"github.com/wackamole/wackamole/pkg/config"
)

// pkg/config cannot import this package (it would pull GoBGP into
// everything that reads a configuration), so it repeats the defaults and
// limits; they must agree.
func TestConfigLimitsAgree(t *testing.T) {
	for _, c := range []struct {
		name     string
		bgp, cfg any
	}{
		{"DefaultHoldTime", DefaultHoldTime, config.DefaultHoldTime},
		{"MinHoldTime", MinHoldTime, config.MinHoldTime},
		{"MaxHoldTime", MaxHoldTime, config.MaxHoldTime},
		{"DefaultBFDInterval", DefaultBFDInterval, config.DefaultBFDInterval},
		{"MinBFDInterval", MinBFDInterval, config.MinBFDInterval},
		{"MaxBFDInterval", MaxBFDInterval, config.MaxBFDInterval},
		{"DefaultBFDMultiplier", DefaultBFDMultiplier, config.DefaultBFDMultiplier},
		{"MaxBFDMultiplier", MaxBFDMultiplier, config.MaxBFDMultiplier},
		{"MaxPasswordLen", MaxPasswordLen, config.MaxPasswordLen},
	} {
		if c.bgp != c.cfg {
			t.Errorf("%s: bgp %v, config %v", c.name, c.bgp, c.cfg)
		}
	}
}
