// Package labtest builds network-namespace labs for tests of other
// packages: the lab (pkg/internal/lab) behind the root gate, closed when
// the test ends. Only _test.go files import it.
package labtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// New builds a lab for t, or skips or fails t as the gate
// (testenv.RequireNetns, with the extra commands) says. The prefix
// defaults to "wkt" plus 6 random hex digits and Logf to t.Logf. The lab is
// closed by t.Cleanup, after logging its state if the test failed; a
// failed Close fails the test.
func New(t testing.TB, opt lab.Options, commands ...string) *lab.Lab {
	t.Helper()
	testenv.RequireNetns(t, commands...)
	if opt.Prefix == "" {
		b := make([]byte, 3)
		rand.Read(b)
		opt.Prefix = "wkt" + hex.EncodeToString(b)
	}
	if opt.Logf == nil {
		opt.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := lab.New(ctx, opt)
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
