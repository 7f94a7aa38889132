package arp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/wackamole/wackamole/internal/testenv"
)

// lab is a small L2 segment: namespaces A and B attached to a bridge in a
// third namespace S. A has two ports on the segment (eth0, eth1) so that it
// sees its own announcements arrive on another of its interfaces. Nothing
// touches the root namespace; everything is removed in t.Cleanup.
type lab struct {
	t       *testing.T
	a, b, s string // namespace names
	v6      bool   // IPv6 works in the namespaces
}

var (
	macA0 = net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x0a, 0x00}
	macA1 = net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x0a, 0x01}
	macB0 = net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x0b, 0x00}
)

func newLab(t *testing.T) *lab {
	t.Helper()
	testenv.RequireNetns(t, "sysctl")
	var rnd [3]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	prefix := "wkt" + hex.EncodeToString(rnd[:])
	l := &lab{t: t, a: prefix + "a", b: prefix + "b", s: prefix + "s"}
	for _, ns := range []string{l.s, l.a, l.b} {
		l.ip("netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		l.ip("-n", ns, "link", "set", "lo", "up")
	}
	_, err := os.Stat("/proc/sys/net/ipv6")
	l.v6 = err == nil
	for _, ns := range []string{l.a, l.b} {
		// Explicit, so that the host's settings cannot make the notify test
		// pass for the wrong reason: gratuitous ARP must not create entries.
		l.sysctl(ns, "net.ipv4.conf.all.arp_accept=0", "net.ipv4.conf.default.arp_accept=0")
		if l.v6 {
			l.sysctl(ns, "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
				"net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.default.disable_ipv6=0")
		}
	}
	l.ip("-n", l.s, "link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0")
	l.ip("-n", l.s, "link", "set", "br0", "up")
	l.port(l.a, "eth0", "a0", macA0, "198.18.0.1/24", "2001:2::1/64")
	l.port(l.a, "eth1", "a1", macA1, "198.18.0.3/24", "2001:2::3/64")
	l.port(l.b, "eth0", "b0", macB0, "198.18.0.2/24", "2001:2::2/64")
	if l.v6 {
		// The link-local addresses appear when the links come up.
		l.eventually("link-local addresses", func() bool {
			return l.hasLinkLocal(l.a, "eth0") && l.hasLinkLocal(l.b, "eth0")
		})
	}
	return l
}

// with returns a copy of l that reports to t (a subtest).
func (l *lab) with(t *testing.T) *lab {
	c := *l
	c.t = t
	return &c
}

// port creates interface name in ns, plugged into the bridge as peer.
func (l *lab) port(ns, name, peer string, mac net.HardwareAddr, addrs ...string) {
	l.ip("-n", ns, "link", "add", name, "address", mac.String(), "type", "veth", "peer", "name", peer, "netns", l.s)
	l.ip("-n", l.s, "link", "set", peer, "master", "br0", "up")
	for _, a := range addrs {
		if strings.Contains(a, ":") {
			if !l.v6 {
				continue
			}
			l.ip("-n", ns, "addr", "add", a, "dev", name, "nodad")
		} else {
			l.ip("-n", ns, "addr", "add", a, "dev", name)
		}
	}
	l.ip("-n", ns, "link", "set", name, "up")
}

func (l *lab) ip(args ...string) string {
	l.t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (l *lab) sysctl(ns string, settings ...string) {
	l.t.Helper()
	args := append([]string{"netns", "exec", ns, "sysctl", "-qw"}, settings...)
	l.ip(args...)
}

func (l *lab) hasLinkLocal(ns, dev string) bool {
	return strings.Contains(l.ip("-n", ns, "-6", "addr", "show", "dev", dev, "scope", "link"), "fe80::")
}

// neigh returns the MAC of ns's neighbour entry for addr on dev ("" if none).
func (l *lab) neigh(ns, dev string, addr netip.Addr) string {
	l.t.Helper()
	fam := "-4"
	if addr.Is6() {
		fam = "-6"
	}
	out := l.ip("-n", ns, fam, "-j", "neigh", "show", addr.String(), "dev", dev)
	var entries []struct {
		Dst    string `json:"dst"`
		LLAddr string `json:"lladdr"`
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		l.t.Fatalf("parse ip -j neigh output %q: %v", out, err)
	}
	for _, e := range entries {
		if e.Dst == addr.String() {
			return e.LLAddr
		}
	}
	return ""
}

// in runs fn on a thread that has entered the namespace ns. The thread is
// never unlocked, so the runtime discards it when fn returns.
func (l *lab) in(ns string, fn func()) {
	l.t.Helper()
	done := make(chan bool)
	go func() {
		ok := false
		defer func() { done <- ok }()
		runtime.LockOSThread()
		if err := enter(ns); err != nil {
			l.t.Errorf("enter namespace %s: %v", ns, err)
			return
		}
		fn()
		ok = true
	}()
	if !<-done {
		l.t.FailNow()
	}
}

func enter(ns string) error {
	h, err := netns.GetFromName(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	return netns.Set(h)
}

// announce runs a.Announce inside ns.
func (l *lab) announce(ns string, a *Announcer, ifname string, addr netip.Addr, notify ...netip.Addr) error {
	var err error
	l.in(ns, func() { err = a.Announce(ifname, addr, notify) })
	return err
}

// eventually polls cond for up to 5 s.
func (l *lab) eventually(what string, cond func() bool) {
	l.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			l.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// claimLog collects claims reported by a Listener.
type claimLog struct {
	mu     sync.Mutex
	claims []Claim
}

func (c *claimLog) add(cl Claim) {
	c.mu.Lock()
	c.claims = append(c.claims, cl)
	c.mu.Unlock()
}

func (c *claimLog) find(match func(Claim) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.claims {
		if match(cl) {
			return true
		}
	}
	return false
}

func (c *claimLog) all() []Claim {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Claim(nil), c.claims...)
}

// listen starts a Listener in ns on ifnames, watching addrs. It stops in
// t.Cleanup.
func (l *lab) listen(ns string, ifnames []string, addrs ...netip.Addr) (*Listener, *claimLog) {
	l.t.Helper()
	log := new(claimLog)
	watched := func(a netip.Addr) bool {
		for _, w := range addrs {
			if a == w {
				return true
			}
		}
		return false
	}
	ln := NewListener(testLogger(l.t), watched, log.add)
	ln.SetInterfaces(ifnames)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if err := enter(ns); err != nil {
			l.t.Errorf("enter namespace %s: %v", ns, err)
			return
		}
		if err := ln.Run(ctx); err != nil {
			l.t.Errorf("Run: %v", err)
		}
	}()
	l.t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln, log
}
