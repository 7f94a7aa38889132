// Package testenv is what the module's tests share: the one gate that
// decides whether a test needing root, network namespaces or given
// commands runs here (RequireRoot, RequireNetns, RunIsolated), a log sink
// a test can read while the code under test writes to it, and a poll for
// conditions that become true asynchronously.
//
// The gate's rule: a test whose prerequisites are missing is skipped, and
// fails instead when WACKAMOLE_E2E=1 (E2EEnv), so that a run that must
// exercise everything (make e2e, which CI runs as root) cannot pass by
// skipping.
//
// It lives at the module root, not under pkg/internal, because Go's
// internal rule lets a root internal/ directory alone be imported by every
// package of the module: arp, vip, membership and examples/webserver,
// whose in-package tests need the gate, could not import
// pkg/internal/testenv. It is imported by _test.go files only.
package testenv

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// LogBuffer is a bytes.Buffer that goroutines may write to while a test
// reads it.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logger returns a text logger writing into a new LogBuffer, so that a test
// can assert on what the code under test logged.
func Logger() (*slog.Logger, *LogBuffer) {
	b := &LogBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

// Eventually polls cond every few milliseconds and fails the test if it
// does not hold within the given time; what says what was awaited.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
