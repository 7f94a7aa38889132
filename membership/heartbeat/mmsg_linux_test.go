//go:build linux

package heartbeat

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTimestampFits checks the control buffer against the kernel's size.
func TestTimestampFits(t *testing.T) {
	if n := unix.CmsgSpace(16); n > ctlLen {
		t.Fatalf("SCM_TIMESTAMPNS needs %d bytes, the buffer has %d", n, ctlLen)
	}
}

func TestIPv6Zone(t *testing.T) {
	if i, err := zoneIndex("lo"); err != nil || i != 1 {
		t.Fatalf("zone lo: %d, %v", i, err)
	}
	if i, err := zoneIndex("7"); err != nil || i != 7 {
		t.Fatalf("zone 7: %d, %v", i, err)
	}
	if _, err := zoneIndex("no-such-interface"); err == nil {
		t.Fatal("unknown zone accepted")
	}
	rec := &recorder{}
	ca, cb := config("a", &recorder{}, key1), config("b", rec, key1)
	ca.Bind = netip.MustParseAddrPort("[::1]:0")
	cb.Bind = ca.Bind
	a, b := listen(t, ca), listen(t, cb)
	to := netip.AddrPortFrom(b.LocalAddr().Addr().WithZone("lo"), b.LocalAddr().Port())
	bad := netip.AddrPortFrom(b.LocalAddr().Addr().WithZone("no-such-interface"), b.LocalAddr().Port())
	err := a.SendBeat(&Beat{}, []netip.AddrPort{to, bad})
	if err == nil || !strings.Contains(err.Error(), "1 of 2 not sent") {
		t.Fatalf("SendBeat: %v", err)
	}
	eventually(t, "beat to a zoned address", func() bool { return rec.numBeats() == 1 })
	if err := a.SendBeat(&Beat{}, []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}); !errors.Is(err, errPeerAddr) {
		t.Fatalf("IPv4 peer of an IPv6 socket: %v", err)
	}
}
