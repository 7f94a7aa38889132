// Package e2e holds the end-to-end tests: real wackamole daemons in real
// network namespaces, real netlink addresses and real ARP, and a client
// namespace that proves traffic reaches the VIPs. They need root and
// iproute2 (and nftables for partitions); with WACKAMOLE_E2E=1 (CI) a
// missing prerequisite fails them instead of skipping them.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

// binary is the wackamole daemon built once for all tests, with the race
// detector; releaseBinary the same without, for the few tests that measure
// what the fast profile tolerates (a race-built daemon runs several times
// slower and, on a busy 2-core machine, stalls for 20-60 ms now and then,
// which fast's 20 ms failure timeout does not forgive); wackatrlBinary the
// control CLI (without -race: a race-enabled binary idles 1 s on exit).
var binary, releaseBinary, wackatrlBinary string

// daemonEnv names a prebuilt wackamole daemon to test instead of building
// this tree's: WACKAMOLE_E2E_DAEMON=/tmp/old/wackamole go test ./pkg/e2e
// runs the end-to-end tests against an older daemon, to show which of them
// fail there (a test that uses a configuration key the old daemon does not
// know fails at its start). wackatrl is still built from this tree.
const daemonEnv = "WACKAMOLE_E2E_DAEMON"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wackamole-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if prebuilt := os.Getenv(daemonEnv); prebuilt != "" {
		abs, err := filepath.Abs(prebuilt)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s=%q: %v\n", daemonEnv, prebuilt, err)
			os.Exit(1)
		}
		binary, releaseBinary = abs, abs
		fmt.Fprintf(os.Stderr, "testing the prebuilt daemon %s (%s)\n", abs, daemonEnv)
	} else {
		binary = filepath.Join(dir, "wackamole")
		releaseBinary = filepath.Join(dir, "release", "wackamole")
		for _, err := range []error{buildDaemon(dir, "-race"), buildDaemon(filepath.Join(dir, "release"))} {
			if err != nil {
				fmt.Fprintln(os.Stderr, "building wackamole:", err)
				os.Exit(1)
			}
		}
	}
	wackatrlBinary = filepath.Join(dir, "wackatrl")
	build := exec.Command("go", "build", "-o", wackatrlBinary, "github.com/wackamole/wackamole/cmd/wackatrl")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building wackatrl:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildDaemon builds wackamole and, beside it, wackamole-bgp (which the
// daemon finds there: bgp mode's speaker) into dir.
func buildDaemon(dir string, flags ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	args := append(append([]string{"build"}, flags...), "-o", dir+"/",
		"github.com/wackamole/wackamole/cmd/wackamole", "github.com/wackamole/wackamole/cmd/wackamole-bgp")
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	return build.Run()
}

// newCluster builds a cluster for a test and tears it down afterwards,
// logging the daemons' logs if the test failed.
func newCluster(t *testing.T, opt cluster.Options) *cluster.Cluster {
	t.Helper()
	testenv.RequireNetns(t, "nft")
	if opt.Binary == "" {
		opt.Binary = binary
	}
	opt.Dir = t.TempDir()
	opt.Prefix = "wkt" + fmt.Sprintf("%06x", time.Now().UnixNano()&0xffffff)
	opt.Logf = t.Logf
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cluster.New(ctx, opt)
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon logs:\n%s", c.Logs(80))
			t.Logf("lab:\n%s", c.Lab.Dump(context.Background()))
		}
		if err := c.Close(); err != nil {
			t.Errorf("closing the lab: %v", err)
		}
	})
	return c
}

func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
