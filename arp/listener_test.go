package arp

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

func netHW(b ...byte) net.HardwareAddr { return net.HardwareAddr(b) }

func TestRetryBackoff(t *testing.T) {
	var rs retryState
	now := time.Now()
	var got []time.Duration
	for range 8 {
		rs.fail(now)
		got = append(got, rs.next.Sub(now))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i := range want {
		if got[i] != want[i]*firstReopenBackoff {
			t.Fatalf("backoff = %v, want %v seconds", got, want)
		}
	}
}

// Run without interfaces opens no socket, so it needs no privileges.
func TestRunOnce(t *testing.T) {
	ln := NewListener(nil, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ln.Run(ctx) }()

	deadline := time.Now().Add(5 * time.Second)
	for {
		ln.mu.Lock()
		running := ln.running
		ln.mu.Unlock()
		if running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := ln.Run(ctx); err == nil {
		t.Error("second concurrent Run returned nil")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v after cancel, want nil", err)
	}
	// A stopped Listener can run again.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := ln.Run(ctx2); err != nil {
		t.Errorf("Run after restart = %v", err)
	}
}

// handle applies the claim rules: watched address, foreign MAC.
func TestHandle(t *testing.T) {
	frames := testFrames(t)
	var got []Claim
	ln := NewListener(nil, func(a netip.Addr) bool { return a == vip4 || a == vip6 }, func(c Claim) { got = append(got, c) })
	local := map[[6]byte]bool{[6]byte(macB): true}
	ln.local.Store(&local)
	r := &reader{name: "eth0", mac: [6]byte{0x02, 0, 0, 0, 0, 0x0c}}

	ln.handle(r, frames["gratuitous request"]) // macA: a claim
	ln.handle(r, frames["NA"])                 // macA: a claim
	ln.handle(r, frames["probe"])              // not a claim
	ln.handle(r, frames["NA other option"])    // macB is ours
	other, _ := gratuitousFrames(macA, netip.MustParseAddr("198.18.0.99"))
	ln.handle(r, other[0]) // not watched
	r.mac = [6]byte(macA)
	ln.handle(r, frames["gratuitous reply"]) // the receiving interface's own MAC

	if len(got) != 2 || got[0].Op != OpGratuitous || got[1].Op != OpNA {
		t.Fatalf("claims = %+v, want the gratuitous request and the NA", got)
	}
	for _, c := range got {
		if c.Interface != "eth0" {
			t.Errorf("claim %+v: interface not set", c)
		}
	}
}
