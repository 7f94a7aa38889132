package health_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/health"
)

// A Tracker with rise 2 and fall 3 starts unhealthy and ignores single
// blips.
func ExampleTracker() {
	tr := health.NewTracker(2, 3)
	for _, ok := range []bool{true, false, true, true, false, false, true, false, false, false} {
		changed := tr.Observe(ok)
		fmt.Printf("%-5v -> healthy=%v changed=%v\n", ok, tr.Healthy(), changed)
	}
	// Output:
	// true  -> healthy=false changed=false
	// false -> healthy=false changed=false
	// true  -> healthy=false changed=false
	// true  -> healthy=true changed=true
	// false -> healthy=true changed=false
	// false -> healthy=true changed=false
	// true  -> healthy=true changed=false
	// false -> healthy=true changed=false
	// false -> healthy=true changed=false
	// false -> healthy=false changed=true
}

// A Monitor wakes a reconcile loop when health changes; the loop reads
// Healthy as part of its input.
func ExampleMonitor() {
	checks := []config.Check{{
		Name: "nginx", Kind: config.CheckHTTP, URL: "http://127.0.0.1/healthz", ExpectStatus: 200,
		Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 3,
	}}
	wake := make(chan struct{}, 1)
	m := health.New(checks, slog.Default(), func() {
		select {
		case wake <- struct{}{}: // never block the monitor
		default:
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)

	reconcile := func(healthy bool) { /* take VIPs only when healthy */ }
	for range 3 {
		select {
		case <-wake:
		case <-time.After(time.Second):
		}
		reconcile(m.Healthy())
	}
}
