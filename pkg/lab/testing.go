package lab

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// E2EEnv is the environment variable that turns missing lab prerequisites
// from a skipped test into a failed one: set it to "1" where the end-to-end
// tests must run (CI).
const E2EEnv = "WACKAMOLE_E2E"

// Require skips t when the lab cannot run here (not root, or ip missing, or
// one of the extra commands such as "nft" missing), or fails it if E2EEnv
// is "1".
func Require(t testing.TB, commands ...string) {
	t.Helper()
	problem := ""
	if os.Geteuid() != 0 {
		problem = "needs root for network namespaces"
	} else if _, err := lookIP(); err != nil {
		problem = err.Error()
	} else {
		for _, c := range commands {
			if _, err := exec.LookPath(c); err != nil {
				problem = "command " + c + " not found: " + err.Error()
				break
			}
		}
	}
	if problem == "" {
		return
	}
	if os.Getenv(E2EEnv) == "1" {
		t.Fatalf("lab: %s (%s=1, so this is a failure)", problem, E2EEnv)
	}
	t.Skipf("lab: %s (set %s=1 to fail instead)", problem, E2EEnv)
}

// NewTest builds a lab for a test, or skips or fails it as Require does.
// The prefix defaults to "wkt" plus 6 random hex digits and Logf to t.Logf.
// The lab is closed by t.Cleanup, after logging Lab.Dump if the test
// failed; a failed Close fails the test.
func NewTest(t testing.TB, opt Options) *Lab {
	t.Helper()
	Require(t)
	if opt.Prefix == "" {
		opt.Prefix = "wkt" + randomHex(3)
	}
	if opt.Logf == nil {
		opt.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := New(ctx, opt)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			t.Logf("lab state at failure:\n%s", l.Dump(ctx))
			cancel()
		}
		if err := l.Close(); err != nil {
			t.Errorf("lab: close: %v", err)
		}
	})
	return l
}
