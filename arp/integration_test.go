package arp

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func fromMAC(mac []byte, op string, reply bool) func(Claim) bool {
	return func(c Claim) bool {
		return bytes.Equal(c.MAC, mac) && c.Op == op && c.Reply == reply
	}
}

// announceUntil announces until cond holds: the listener may not have its
// sockets open yet when the first burst goes out.
func (l *lab) announceUntil(what string, ns string, a *Announcer, ifname string, addr netip.Addr, cond func() bool) {
	l.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := l.announce(ns, a, ifname, addr); err != nil {
			l.t.Fatalf("Announce: %v", err)
		}
		for range 4 {
			if cond() {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestAnnounceIPv4(t *testing.T) {
	l := newLab(t)
	ann := NewAnnouncer(testLogger(t))
	t.Cleanup(func() { ann.Close() })

	t.Run("listener sees both gratuitous forms", func(t *testing.T) {
		l := l.with(t)
		vip := netip.MustParseAddr("198.18.0.50")
		_, log := l.listen(l.b, []string{"eth0"}, vip)
		l.announceUntil("both claims", l.a, ann, "eth0", vip, func() bool {
			return log.find(fromMAC(macA0, OpGratuitous, false)) && log.find(fromMAC(macA0, OpGratuitous, true))
		})
		for _, c := range log.all() {
			if c.Interface != "eth0" || c.Addr != vip {
				t.Errorf("unexpected claim %+v", c)
			}
		}
	})

	t.Run("existing neighbour entry moves", func(t *testing.T) {
		l := l.with(t)
		vip := netip.MustParseAddr("198.18.0.51")
		l.ip("-n", l.b, "neigh", "replace", vip.String(), "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "stale")
		if got := l.neigh(l.b, "eth0", vip); got != "02:00:00:00:00:99" {
			t.Fatalf("setup: B's entry for %v is %q", vip, got)
		}
		if err := l.announce(l.a, ann, "eth0", vip); err != nil {
			t.Fatal(err)
		}
		l.eventually("B's entry to point at A", func() bool { return l.neigh(l.b, "eth0", vip) == macA0.String() })
	})

	t.Run("each gratuitous form alone moves an entry", func(t *testing.T) {
		l := l.with(t)
		vip := netip.MustParseAddr("198.18.0.58")
		frames, err := gratuitousFrames(macA0, vip)
		if err != nil {
			t.Fatal(err)
		}
		for i, form := range []string{"request", "reply"} {
			l.ip("-n", l.b, "neigh", "replace", vip.String(), "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "stale")
			l.in(l.a, func() {
				ifi, err := net.InterfaceByName("eth0")
				if err != nil {
					t.Error(err)
					return
				}
				ann.mu.Lock()
				defer ann.mu.Unlock()
				if _, err := ann.sendFrames(ifi, frames[i:i+1]); err != nil {
					t.Errorf("send %s: %v", form, err)
				}
			})
			l.eventually("B's entry to follow the "+form, func() bool { return l.neigh(l.b, "eth0", vip) == macA0.String() })
		}
	})

	t.Run("notify creates the router's entry", func(t *testing.T) {
		l := l.with(t)
		vip := netip.MustParseAddr("198.18.0.52")
		router := netip.MustParseAddr("198.18.0.2")
		// Control: gratuitous ARP alone creates no entry (arp_accept=0).
		if err := l.announce(l.a, ann, "eth0", vip); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if got := l.neigh(l.b, "eth0", vip); got != "" {
			t.Fatalf("B has an entry %q for %v after a plain announcement; the test cannot tell notify apart", got, vip)
		}
		if err := l.announce(l.a, ann, "eth0", vip, router); err != nil {
			t.Fatal(err)
		}
		l.eventually("B's entry for the VIP", func() bool { return l.neigh(l.b, "eth0", vip) == macA0.String() })
	})

	t.Run("notify unicast to a known router", func(t *testing.T) {
		l := l.with(t)
		vip := netip.MustParseAddr("198.18.0.53")
		router := netip.MustParseAddr("198.18.0.2")
		l.ip("-n", l.a, "neigh", "replace", router.String(), "lladdr", macB0.String(), "dev", "eth0", "nud", "permanent")
		t.Cleanup(func() { l.ip("-n", l.a, "neigh", "del", router.String(), "dev", "eth0") })
		if err := l.announce(l.a, ann, "eth0", vip, router); err != nil {
			t.Fatal(err)
		}
		l.eventually("B's entry for the VIP", func() bool { return l.neigh(l.b, "eth0", vip) == macA0.String() })
	})

	t.Run("own announcements are not claims", func(t *testing.T) {
		l := l.with(t)
		vip := netip.MustParseAddr("198.18.0.54")
		// A listens on both of its ports: eth1 receives what eth0 sends.
		_, log := l.listen(l.a, []string{"eth0", "eth1"}, vip)
		// One Announcer per namespace: its socket cache is keyed by name.
		annB := NewAnnouncer(testLogger(t))
		defer annB.Close()
		l.announceUntil("B's claim on both of A's ports", l.b, annB, "eth0", vip, func() bool {
			return log.find(func(c Claim) bool { return c.Interface == "eth0" && bytes.Equal(c.MAC, macB0) }) &&
				log.find(func(c Claim) bool { return c.Interface == "eth1" && bytes.Equal(c.MAC, macB0) })
		})
		for range 3 {
			if err := l.announce(l.a, ann, "eth0", vip); err != nil {
				t.Fatal(err)
			}
			if err := l.announce(l.a, ann, "eth1", vip); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(300 * time.Millisecond)
		for _, c := range log.all() {
			if !bytes.Equal(c.MAC, macB0) {
				t.Errorf("A's listener reported a claim that is not B's: %+v", c)
			}
		}
	})

	t.Run("interface recreated", func(t *testing.T) {
		l := l.with(t)
		vip := netip.MustParseAddr("198.18.0.55")
		ln, log := l.listen(l.b, []string{"eth0"}, vip)
		l.announceUntil("claim before recreation", l.a, ann, "eth0", vip, func() bool {
			return log.find(fromMAC(macA0, OpGratuitous, false))
		})

		// A's interface: the cached socket is bound to the deleted one and
		// must be replaced, whether or not an Announce saw it missing.
		l.ip("-n", l.a, "link", "del", "eth0")
		l.port(l.a, "eth0", "a0", macA0, "198.18.0.1/24")
		if err := l.announce(l.a, ann, "eth0", vip); err != nil {
			t.Errorf("Announce on the recreated interface: %v", err)
		}
		l.ip("-n", l.a, "link", "del", "eth0")
		if err := l.announce(l.a, ann, "eth0", vip); err == nil {
			t.Errorf("Announce on a deleted interface succeeded")
		}
		l.port(l.a, "eth0", "a0", macA0, "198.18.0.1/24")
		// B's interface: the listener must re-open its sockets as well.
		l.ip("-n", l.b, "link", "del", "eth0")
		l.port(l.b, "eth0", "b0", macB0, "198.18.0.2/24")
		// As the daemon does on the link event; the 5 s poll is only the
		// safety net (TestListenerInterfaces covers it) and would race the
		// 5 s deadline below.
		ln.Resync()

		before := len(log.all())
		l.announceUntil("claim after recreation", l.a, ann, "eth0", vip, func() bool {
			return len(log.all()) > before
		})
	})

	t.Run("link down and up", func(t *testing.T) {
		l := l.with(t)
		vip := netip.MustParseAddr("198.18.0.56")
		failed := ann.Failed()
		l.ip("-n", l.a, "link", "set", "eth0", "down")
		if err := l.announce(l.a, ann, "eth0", vip); err == nil {
			t.Errorf("Announce on a down interface succeeded")
		}
		if ann.Failed() == failed {
			t.Errorf("Failed() did not count the failed sends")
		}
		l.ip("-n", l.a, "link", "set", "eth0", "up")
		if err := l.announce(l.a, ann, "eth0", vip); err != nil {
			t.Errorf("Announce after link up: %v", err)
		}
	})

	if ann.Sent() == 0 {
		t.Errorf("Sent() = 0 after announcements")
	}
	if err := ann.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := l.announce(l.a, ann, "eth0", netip.MustParseAddr("198.18.0.57")); err == nil {
		t.Errorf("Announce after Close succeeded")
	}
}

func TestAnnounceIPv6(t *testing.T) {
	l := newLab(t)
	if !l.v6 {
		t.Skip("IPv6 is not available in this kernel")
	}
	ann := NewAnnouncer(testLogger(t))
	t.Cleanup(func() { ann.Close() })

	t.Run("listener sees the advertisement", func(t *testing.T) {
		l := l.with(t)
		vip := netip.MustParseAddr("2001:2::50")
		_, log := l.listen(l.b, []string{"eth0"}, vip)
		l.announceUntil("NA claim", l.a, ann, "eth0", vip, func() bool {
			return log.find(fromMAC(macA0, OpNA, false))
		})
	})

	t.Run("existing neighbour entry moves", func(t *testing.T) {
		l := l.with(t)
		vip := netip.MustParseAddr("2001:2::51")
		l.ip("-n", l.b, "-6", "neigh", "replace", vip.String(), "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "stale")
		if err := l.announce(l.a, ann, "eth0", vip); err != nil {
			t.Fatal(err)
		}
		l.eventually("B's entry to point at A", func() bool { return l.neigh(l.b, "eth0", vip) == macA0.String() })
	})

	t.Run("notify creates the router's entry", func(t *testing.T) {
		l := l.with(t)
		vip := netip.MustParseAddr("2001:2::52")
		router := netip.MustParseAddr("2001:2::2")
		// The solicitation is sent from the VIP, so A must hold it.
		l.ip("-n", l.a, "addr", "add", vip.String()+"/128", "dev", "eth0", "nodad")
		if err := l.announce(l.a, ann, "eth0", vip); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if got := l.neigh(l.b, "eth0", vip); got != "" {
			t.Fatalf("B has an entry %q for %v after a plain announcement; the test cannot tell notify apart", got, vip)
		}
		if err := l.announce(l.a, ann, "eth0", vip, router); err != nil {
			t.Fatal(err)
		}
		l.eventually("B's entry for the VIP", func() bool { return l.neigh(l.b, "eth0", vip) == macA0.String() })
	})

	t.Run("notify from an address not held fails clearly", func(t *testing.T) {
		l := l.with(t)
		vip := netip.MustParseAddr("2001:2::53")
		err := l.announce(l.a, ann, "eth0", vip, netip.MustParseAddr("2001:2::2"))
		if err == nil || !strings.Contains(err.Error(), "must be assigned") {
			t.Errorf("Announce = %v, want an error about the solicitation's source", err)
		}
	})

	t.Run("own announcements are not claims", func(t *testing.T) {
		l := l.with(t)
		vip := netip.MustParseAddr("2001:2::54")
		_, log := l.listen(l.a, []string{"eth0", "eth1"}, vip)
		annB := NewAnnouncer(testLogger(t))
		defer annB.Close()
		l.announceUntil("B's claim", l.b, annB, "eth0", vip, func() bool {
			return log.find(func(c Claim) bool { return c.Interface == "eth1" && bytes.Equal(c.MAC, macB0) })
		})
		for range 3 {
			if err := l.announce(l.a, ann, "eth0", vip); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(300 * time.Millisecond)
		for _, c := range log.all() {
			if !bytes.Equal(c.MAC, macB0) {
				t.Errorf("A's listener reported a claim that is not B's: %+v", c)
			}
		}
	})

	t.Run("no link-local address", func(t *testing.T) {
		l := l.with(t)
		l.ip("-n", l.a, "addr", "flush", "dev", "eth1", "scope", "link")
		err := l.announce(l.a, ann, "eth1", netip.MustParseAddr("2001:2::55"))
		if err == nil || !strings.Contains(err.Error(), "link-local") {
			t.Errorf("Announce = %v, want an error about the missing link-local address", err)
		}
	})
}

func TestListenerInterfaces(t *testing.T) {
	l := newLab(t)
	saved := pollInterval
	pollInterval = 200 * time.Millisecond
	t.Cleanup(func() { pollInterval = saved })

	vip := netip.MustParseAddr("198.18.0.60")
	ann := NewAnnouncer(testLogger(t))
	t.Cleanup(func() { ann.Close() })
	ln, log := l.listen(l.b, []string{"eth9"}, vip)

	// eth9 does not exist yet: nothing to hear.
	if err := l.announce(l.a, ann, "eth0", vip); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := log.all(); len(got) != 0 {
		t.Fatalf("claims before the interface exists: %+v", got)
	}

	// It appears: the listener picks it up.
	l.port(l.b, "eth9", "b9", netHW(0x02, 0x00, 0x5e, 0x00, 0x0b, 0x09), "198.18.0.9/24")
	l.announceUntil("claim on eth9", l.a, ann, "eth0", vip, func() bool {
		return log.find(func(c Claim) bool { return c.Interface == "eth9" })
	})

	// Switch to eth0 only.
	ln.SetInterfaces([]string{"eth0"})
	l.announceUntil("claim on eth0", l.a, ann, "eth0", vip, func() bool {
		return log.find(func(c Claim) bool { return c.Interface == "eth0" })
	})
	time.Sleep(100 * time.Millisecond) // frames in flight to eth9
	n := len(log.all())
	for range 2 {
		if err := l.announce(l.a, ann, "eth0", vip); err != nil {
			t.Fatal(err)
		}
	}
	l.eventually("claims on eth0", func() bool { return len(log.all()) >= n+4 })
	time.Sleep(100 * time.Millisecond)
	for _, c := range log.all()[n:] {
		if c.Interface != "eth0" {
			t.Errorf("claim on %s after SetInterfaces([eth0]): %+v", c.Interface, c)
		}
	}
	if ln.Claims() != uint64(len(log.all())) {
		t.Errorf("Claims() = %d, onClaim saw %d", ln.Claims(), len(log.all()))
	}
}
