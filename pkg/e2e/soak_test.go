package e2e

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

// Soak test settings from the environment.
const (
	// soakMinutesEnv sets the length of TestSoak's fault schedule in
	// minutes (fractions allowed; default 2).
	soakMinutesEnv = "WACKAMOLE_SOAK_MINUTES"
	// soakSeedEnv sets TestSoak's seed: a number, or "random" (default
	// 35675).
	soakSeedEnv = "WACKAMOLE_SOAK_SEED"
	// soakDefaultSeed is a fixed seed whose 2-minute schedule has every
	// fault kind, quorum losses included, and overlapping faults
	// (TestScheduleCISeed in package schedule checks it).
	soakDefaultSeed = 35675
)

// TestSoak is the CI version of "wackalab soak": five nodes, a seeded random
// schedule of kills, graceful stops, link flaps, isolations, splits, quorum
// losses, stalled daemons, flapping ports, CPU starvation, lossy links and
// cut paths, and every invariant checked all along (see
// cluster.Cluster.Soak). A failure prints the seed, each violation with the
// holders at that moment, and the daemons' logs.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak test takes minutes")
	}
	minutes := 2.0
	if s := os.Getenv(soakMinutesEnv); s != "" {
		m, err := strconv.ParseFloat(s, 64)
		if err != nil || !(m > 0) {
			t.Fatalf("%s=%q: want a positive number of minutes", soakMinutesEnv, s)
		}
		minutes = m
	}
	seed := int64(soakDefaultSeed)
	switch s := os.Getenv(soakSeedEnv); s {
	case "":
	case "random":
		seed = rand.Int64() // non-negative: easy to copy
	default:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want a number or \"random\"", soakSeedEnv, s)
		}
		seed = v
	}
	d := time.Duration(minutes * float64(time.Minute))
	t.Logf("soak: %v of faults, seed %d (replay with %s=%d %s=%v)", d, seed, soakSeedEnv, seed, soakMinutesEnv, minutes)

	c := newCluster(t, cluster.Options{Nodes: 5})
	rep, err := c.Soak(within(t, d+5*time.Minute), cluster.SoakOptions{
		Duration: d,
		Seed:     seed,
		Progress: func(line string) { t.Log(line) },
	})
	t.Logf("soak report:\n%s", rep.Summary())
	if err != nil {
		t.Fatalf("soak (seed %d): %v", seed, err)
	}
	for _, v := range rep.Violations {
		t.Errorf("seed %d: %s", seed, v)
	}
}
