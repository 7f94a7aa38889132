package testenv

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoggerCollectsConcurrentWrites(t *testing.T) {
	log, buf := Logger()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { log.Info("hello", "from", i) })
	}
	wg.Wait()
	if n := strings.Count(buf.String(), "msg=hello"); n != 8 {
		t.Fatalf("%d lines logged, want 8:\n%s", n, buf)
	}
}

func TestEventuallyWaitsForTheCondition(t *testing.T) {
	var ready atomic.Bool
	time.AfterFunc(20*time.Millisecond, func() { ready.Store(true) })
	Eventually(t, 5*time.Second, "ready", ready.Load)
}

// failRecorder records Fatalf instead of stopping the test.
type failRecorder struct {
	testing.TB
	msg string
}

func (f *failRecorder) Helper() {}
func (f *failRecorder) Fatalf(format string, args ...any) {
	f.msg = format
}

func TestEventuallyFailsAfterTheDeadline(t *testing.T) {
	f := &failRecorder{TB: t}
	start := time.Now()
	Eventually(f, 30*time.Millisecond, "never", func() bool { return f.msg != "" })
	if f.msg == "" || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("Eventually gave up after %v with %q", time.Since(start), f.msg)
	}
}
