package arp_test

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/wackamole/wackamole/arp"
)

// Announce a freshly added VIP three times, 1.1 s apart (more than the
// receivers' 1 s ARP locktime), also telling the router directly.
func ExampleAnnouncer() {
	ann := arp.NewAnnouncer(slog.Default())
	defer ann.Close()

	vip := netip.MustParseAddr("198.18.0.50")
	router := netip.MustParseAddr("198.18.0.1")
	for i := range 3 {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond)
		}
		if err := ann.Announce("eth0", vip, []netip.Addr{router}); err != nil {
			slog.Error("announce", "err", err)
		}
	}
}

// Watch eth0 for other hosts claiming our VIPs; the callback only hands
// the claim to the reconcile loop.
func ExampleListener() {
	held := map[netip.Addr]bool{netip.MustParseAddr("198.18.0.50"): true}
	conflicts := make(chan arp.Claim, 64)

	ln := arp.NewListener(slog.Default(),
		func(a netip.Addr) bool { return held[a] }, // a real caller guards held with a mutex
		func(c arp.Claim) {
			select {
			case conflicts <- c:
			default: // full: a later packet reports the conflict again
			}
		})
	ln.SetInterfaces([]string{"eth0"})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go ln.Run(ctx)

	for {
		select {
		case c := <-conflicts:
			slog.Warn("address claimed by another host", "addr", c.Addr, "mac", c.MAC, "interface", c.Interface, "op", c.Op)
		case <-ctx.Done():
			return
		}
	}
}
