package vip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wackamole/wackamole/internal/testenv"
)

// The integration tests below each make a network namespace named
// binderRunPrefix-<n>, with a veth pair wk0/wk1 (no uplink), and run their
// body on a goroutine locked to a thread inside it. Only 198.18.0.0/15 and
// the IPv6 benchmarking prefix 2001:2::/48 are used.

var (
	binderRunPrefix = "wkt" + binderRandHex(3)
	binderNSCount   atomic.Int32
)

func binderRandHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// binderNS creates a namespace with the veth pair wk0/wk1, both up, and
// removes it when the test ends.
func binderNS(t *testing.T) string {
	t.Helper()
	testenv.RequireNetns(t)
	name := fmt.Sprintf("%s-%d", binderRunPrefix, binderNSCount.Add(1))
	binderRun(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	binderIP(t, name, "link", "add", "wk0", "type", "veth", "peer", "name", "wk1")
	binderIP(t, name, "link", "set", "wk0", "up")
	binderIP(t, name, "link", "set", "wk1", "up")
	return name
}

// binderEnter locks the calling goroutine to its thread and moves the
// thread into the namespace name. The thread is never unlocked: it goes
// back to its namespace at cleanup, and whether or not that works the
// runtime ends the thread with the test's goroutine instead of reusing it.
func binderEnter(t *testing.T, name string) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatalf("get current namespace: %v", err)
	}
	target, err := netns.GetFromName(name)
	if err != nil {
		orig.Close()
		t.Fatalf("open namespace %s: %v", name, err)
	}
	if err := netns.Set(target); err != nil {
		orig.Close()
		target.Close()
		t.Fatalf("enter namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := netns.Set(orig); err != nil {
			t.Errorf("leave namespace %s: %v", name, err)
		}
		orig.Close()
		target.Close()
	})
}

// binderSetup makes a namespace, enters it and returns a Binder for it.
func binderSetup(t *testing.T, cfg BinderConfig) (*Binder, string) {
	t.Helper()
	ns := binderNS(t)
	binderEnter(t, ns)
	b, err := NewBinder(cfg)
	if err != nil {
		t.Fatalf("NewBinder: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b, ns
}

func binderRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// binderIP runs "ip -n ns args...".
func binderIP(t *testing.T, ns string, args ...string) string {
	t.Helper()
	return binderRun(t, "ip", append([]string{"-n", ns}, args...)...)
}

// binderIPAddrInfo is one address in the output of "ip -j addr".
type binderIPAddrInfo struct {
	Local     string `json:"local"`
	Prefixlen int    `json:"prefixlen"`
	Label     string `json:"label"`
	Secondary bool   `json:"secondary"`
	Tentative bool   `json:"tentative"`
	Dadfailed bool   `json:"dadfailed"`
}

// binderIPAddr returns what iproute2 reports for p on ifname.
func binderIPAddr(t *testing.T, ns, ifname string, p netip.Prefix) (binderIPAddrInfo, bool) {
	t.Helper()
	out := binderIP(t, ns, "-j", "addr", "show", "dev", ifname)
	var links []struct {
		AddrInfo []binderIPAddrInfo `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		t.Fatalf("parse ip -j addr: %v: %s", err, out)
	}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Local == p.Addr().String() && a.Prefixlen == p.Bits() {
				return a, true
			}
		}
	}
	return binderIPAddrInfo{}, false
}

// binderFlags returns the kernel's flags for p on ifname.
func binderFlags(t *testing.T, b *Binder, ifname string, p netip.Prefix) (int, bool) {
	t.Helper()
	link, err := b.h.LinkByName(ifname)
	if err != nil {
		t.Fatalf("link %s: %v", ifname, err)
	}
	addrs, err := b.addrList(link, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("list addresses of %s: %v", ifname, err)
	}
	for _, a := range addrs {
		if q, ok := binderPrefix(a.IPNet); ok && q == p {
			return a.Flags, true
		}
	}
	return 0, false
}

// binderSysctl reads or writes /proc/sys/net/ipv4/conf/<ifname>/<key> in the
// namespace of the calling (locked) thread.
func binderSysctl(t *testing.T, ifname, key, set string) string {
	t.Helper()
	path := "/proc/sys/net/ipv4/conf/" + ifname + "/" + key
	if set != "" {
		if err := os.WriteFile(path, []byte(set), 0); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
	}
	v, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return strings.TrimSpace(string(v))
}

func TestBinderAddRemove(t *testing.T) {
	ns := binderNS(t)
	for _, p := range []netip.Prefix{
		netip.MustParsePrefix("198.18.0.10/32"),
		netip.MustParsePrefix("198.18.3.10/24"),
		netip.MustParsePrefix("2001:2::10/128"),
		netip.MustParsePrefix("2001:2:0:1::10/64"),
	} {
		t.Run(p.String(), func(t *testing.T) {
			binderEnter(t, ns)
			b, err := NewBinder(BinderConfig{})
			if err != nil {
				t.Fatalf("NewBinder: %v", err)
			}
			defer b.Close()

			for i := range 2 {
				if err := b.Add("wk0", p); err != nil {
					t.Fatalf("Add #%d: %v", i+1, err)
				}
			}
			if ok, err := b.Has("wk0", p); err != nil || !ok {
				t.Fatalf("Has after Add = %v, %v; want true", ok, err)
			}
			ps, err := b.List("wk0")
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if n := binderCount(ps, p); n != 1 {
				t.Fatalf("List = %v: has %v %d times, want once", ps, p, n)
			}
			info, ok := binderIPAddr(t, ns, "wk0", p)
			if !ok {
				t.Fatalf("ip addr does not show %v on wk0", p)
			}
			if p.Addr().Is4() && info.Label != "wk0:wk" {
				t.Errorf("label = %q, want %q", info.Label, "wk0:wk")
			}
			if info.Tentative || info.Dadfailed {
				t.Errorf("ip addr shows %v as tentative=%v dadfailed=%v", p, info.Tentative, info.Dadfailed)
			}

			for i := range 2 {
				if err := b.Remove("wk0", p); err != nil {
					t.Fatalf("Remove #%d: %v", i+1, err)
				}
			}
			if ok, err := b.Has("wk0", p); err != nil || ok {
				t.Fatalf("Has after Remove = %v, %v; want false", ok, err)
			}
			if _, ok := binderIPAddr(t, ns, "wk0", p); ok {
				t.Fatalf("ip addr still shows %v on wk0", p)
			}
		})
	}
}

func binderCount[T comparable](s []T, v T) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

func TestBinderErrors(t *testing.T) {
	b, ns := binderSetup(t, BinderConfig{})
	vip := netip.MustParsePrefix("198.18.0.10/32")

	err := b.Add("nosuch0", vip)
	if want := "add 198.18.0.10/32 on nosuch0: no such interface"; err == nil || err.Error() != want {
		t.Errorf("Add on a missing interface: %v, want %q", err, want)
	}
	if !errors.Is(err, ErrNoInterface) {
		t.Errorf("Add on a missing interface: %v does not wrap ErrNoInterface", err)
	}
	if err := b.Remove("nosuch0", vip); err != nil {
		t.Errorf("Remove on a missing interface: %v, want nil", err)
	}
	if _, err := b.Has("nosuch0", vip); !errors.Is(err, ErrNoInterface) {
		t.Errorf("Has on a missing interface: %v, want ErrNoInterface", err)
	}
	if _, err := b.List("nosuch0"); !errors.Is(err, ErrNoInterface) {
		t.Errorf("List on a missing interface: %v, want ErrNoInterface", err)
	}

	for _, p := range []netip.Prefix{
		{},
		netip.MustParsePrefix("0.0.0.0/0"),
		netip.MustParsePrefix("224.0.0.1/32"),
		netip.MustParsePrefix("::ffff:198.18.0.10/128"),
	} {
		if err := b.Add("wk0", p); err == nil {
			t.Errorf("Add(%v) succeeded, want an error", p)
		}
		if err := b.Remove("wk0", p); err == nil {
			t.Errorf("Remove(%v) succeeded, want an error", p)
		}
	}
	for _, name := range []string{"", "a/b", "..", "wk0:1", "sixteen-bytes-xx"} {
		if err := b.Add(name, vip); err == nil || errors.Is(err, ErrNoInterface) {
			t.Errorf("Add on interface %q: %v, want an invalid name error", name, err)
		}
	}

	// Remove must match the prefix length: the node's own 198.18.1.1/24
	// survives a Remove of 198.18.1.1/32.
	own := netip.MustParsePrefix("198.18.1.1/24")
	binderIP(t, ns, "addr", "add", own.String(), "dev", "wk0")
	if err := b.Remove("wk0", netip.MustParsePrefix("198.18.1.1/32")); err != nil {
		t.Errorf("Remove of another prefix length: %v", err)
	}
	if ok, err := b.Has("wk0", own); err != nil || !ok {
		t.Errorf("Has(%v) = %v, %v after removing the /32; want true", own, ok, err)
	}
}

func TestBinderLabel(t *testing.T) {
	b, ns := binderSetup(t, BinderConfig{Label: "vip"})
	wk, err := NewBinder(BinderConfig{})
	if err != nil {
		t.Fatalf("NewBinder: %v", err)
	}
	defer wk.Close()

	long := "wkabcdefghijklm" // 15 bytes: no room for ":vip"
	binderIP(t, ns, "link", "add", long, "type", "veth", "peer", "name", "wkpeer")

	tests := []struct {
		ifname, label string
	}{
		{"wk0", "wk0:vip"},
		{long, long}, // unlabelled: the kernel shows the interface name
	}
	for i, tt := range tests {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(10 + i)}), 32)
		if err := b.Add(tt.ifname, p); err != nil {
			t.Fatalf("Add(%s, %v): %v", tt.ifname, p, err)
		}
		info, ok := binderIPAddr(t, ns, tt.ifname, p)
		if !ok {
			t.Fatalf("ip addr does not show %v on %s", p, tt.ifname)
		}
		if info.Label != tt.label {
			t.Errorf("label of %v on %s = %q, want %q", p, tt.ifname, info.Label, tt.label)
		}
	}

	got, err := b.Labelled()
	if err != nil {
		t.Fatalf("Labelled: %v", err)
	}
	want := []Bound{{"wk0", netip.MustParsePrefix("198.18.0.10/32")}}
	if !slices.Equal(got, want) {
		t.Errorf("Labelled with label vip = %v, want %v", got, want)
	}
	if got, err := wk.Labelled(); err != nil || len(got) != 0 {
		t.Errorf("Labelled with label wk = %v, %v; want none", got, err)
	}
}

func TestNewBinderLabel(t *testing.T) {
	for _, label := range []string{"wk:1", "a b", "fourteen-bytes", "wk/0", "é"} {
		if _, err := NewBinder(BinderConfig{Label: label}); err == nil {
			t.Errorf("NewBinder with label %q succeeded, want an error", label)
		}
	}
}

func TestBinderLabelled(t *testing.T) {
	b, ns := binderSetup(t, BinderConfig{})
	binderIP(t, ns, "addr", "add", "198.18.1.1/24", "dev", "wk0")                    // the node's own
	binderIP(t, ns, "addr", "add", "198.18.1.5/32", "dev", "wk0", "label", "wk0:zz") // someone else's
	mine := []Bound{
		{"wk0", netip.MustParsePrefix("198.18.0.10/32")},
		{"wk0", netip.MustParsePrefix("198.18.0.12/24")},
		{"wk1", netip.MustParsePrefix("198.18.0.11/32")},
	}
	for _, m := range mine {
		if err := b.Add(m.Interface, m.Prefix); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Add("wk0", netip.MustParsePrefix("2001:2::10/128")); err != nil {
		t.Fatal(err)
	}
	got, err := b.Labelled()
	if err != nil {
		t.Fatalf("Labelled: %v", err)
	}
	if !slices.Equal(got, mine) {
		t.Errorf("Labelled = %v, want %v", got, mine)
	}
}

func TestBinderIPv6NoDAD(t *testing.T) {
	b, ns := binderSetup(t, BinderConfig{})
	wk0, err := b.h.LinkByName("wk0")
	if err != nil {
		t.Fatal(err)
	}
	plain := func(p netip.Prefix) { // an add with DAD, as a plain "ip addr add" does
		t.Helper()
		if err := b.h.AddrAdd(wk0, binderAddr(p)); err != nil {
			t.Fatalf("add %v with DAD: %v", p, err)
		}
	}
	const unusable = unix.IFA_F_TENTATIVE | unix.IFA_F_DADFAILED

	// Without NODAD the address is tentative at first: this namespace
	// does run DAD, so the checks below mean something.
	stuck := netip.MustParsePrefix("2001:2::20/128")
	plain(stuck)
	if f, _ := binderFlags(t, b, "wk0", stuck); f&unix.IFA_F_TENTATIVE == 0 {
		t.Fatalf("%v added with DAD is not tentative (flags %#x): the test cannot tell NODAD apart", stuck, f)
	}

	p := netip.MustParsePrefix("2001:2::10/128")
	if err := b.Add("wk0", p); err != nil {
		t.Fatal(err)
	}
	if f, ok := binderFlags(t, b, "wk0", p); !ok || f&unusable != 0 || f&unix.IFA_F_NODAD == 0 {
		t.Errorf("%v right after Add: present %v, flags %#x; want NODAD, not tentative", p, ok, f)
	}

	// A copy still in DAD is replaced by a usable one.
	if err := b.Add("wk0", stuck); err != nil {
		t.Fatal(err)
	}
	if f, ok := binderFlags(t, b, "wk0", stuck); !ok || f&unusable != 0 {
		t.Errorf("%v after Add over a tentative copy: present %v, flags %#x; want not tentative", stuck, ok, f)
	}

	// So is a copy whose DAD failed: the address is on the peer too, as
	// during a hand-off.
	dup := netip.MustParsePrefix("2001:2::30/128")
	binderIP(t, ns, "addr", "add", dup.String(), "dev", "wk1", "nodad")
	plain(dup)
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, _ := binderFlags(t, b, "wk0", dup)
		if f&unix.IFA_F_DADFAILED != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v never failed DAD (flags %#x)", dup, f)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := b.Add("wk0", dup); err != nil {
		t.Fatal(err)
	}
	if f, ok := binderFlags(t, b, "wk0", dup); !ok || f&unusable != 0 {
		t.Errorf("%v after Add over a dadfailed copy: present %v, flags %#x; want usable", dup, ok, f)
	}
}

func TestBinderPromoteSecondaries(t *testing.T) {
	b, ns := binderSetup(t, BinderConfig{})
	a := netip.MustParsePrefix("198.18.2.10/24")
	c := netip.MustParsePrefix("198.18.2.11/24")

	// The kernel's default, made explicit: the namespace may have
	// inherited another one.
	binderSysctl(t, "all", "promote_secondaries", "0")
	binderSysctl(t, "wk0", "promote_secondaries", "0")
	binderSysctl(t, "wk1", "promote_secondaries", "0")

	t.Run("without", func(t *testing.T) {
		// The trap itself, on wk1 without the Binder: deleting the
		// primary takes the secondary with it.
		binderIP(t, ns, "addr", "add", a.String(), "dev", "wk1")
		binderIP(t, ns, "addr", "add", c.String(), "dev", "wk1")
		binderIP(t, ns, "addr", "del", a.String(), "dev", "wk1")
		if _, ok := binderIPAddr(t, ns, "wk1", c); ok {
			t.Fatalf("%v survived its primary without promote_secondaries: this test cannot show the bug", c)
		}
	})

	binderIP(t, ns, "addr", "add", "198.18.1.1/24", "dev", "wk0") // the node's own, another subnet
	// Add runs on a goroutine whose thread is outside the namespace: the
	// sysctl must still be set in the Binder's namespace.
	errc := make(chan error, 1)
	go func() { errc <- errors.Join(b.Add("wk0", a), b.Add("wk0", c)) }()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if v := binderSysctl(t, "wk0", "promote_secondaries", ""); v != "1" {
		t.Errorf("promote_secondaries on wk0 = %s after Add, want 1", v)
	}
	if f, _ := binderFlags(t, b, "wk0", a); f&unix.IFA_F_SECONDARY != 0 {
		t.Fatalf("%v is secondary: the test needs it primary", a)
	}
	if f, _ := binderFlags(t, b, "wk0", c); f&unix.IFA_F_SECONDARY == 0 {
		t.Fatalf("%v is primary: the test needs it secondary", c)
	}
	if err := b.Remove("wk0", a); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Has("wk0", c); err != nil || !ok {
		t.Fatalf("Has(%v) = %v, %v after removing the primary %v; want true", c, ok, err, a)
	}
	if ok, _ := b.Has("wk0", a); ok {
		t.Errorf("%v still on wk0 after Remove", a)
	}
}

func TestBinderLinkUp(t *testing.T) {
	b, ns := binderSetup(t, BinderConfig{})
	// Carrier changes reach the operational state through the kernel's
	// link watch, which may take up to a second.
	wait := func(ifname string, want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			up, err := b.LinkUp(ifname)
			if err != nil {
				t.Fatalf("LinkUp(%s): %v", ifname, err)
			}
			if up == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("LinkUp(%s) = %v, want %v", ifname, up, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait("wk0", true)
	binderIP(t, ns, "link", "set", "wk1", "down") // wk0 loses carrier
	wait("wk0", false)
	binderIP(t, ns, "link", "set", "wk1", "up")
	wait("wk0", true)
	binderIP(t, ns, "link", "set", "wk0", "down")
	wait("wk0", false)
	wait("lo", false)
	binderIP(t, ns, "link", "set", "lo", "up") // operational state "unknown"
	wait("lo", true)
	if up, err := b.LinkUp("nosuch0"); up || err != nil {
		t.Errorf("LinkUp(nosuch0) = %v, %v; want false, nil", up, err)
	}
}

// binderWatcher runs Watch on its own goroutine (so on a thread outside the
// test's namespace, which the Binder must cope with) and reports calls of
// changed on a channel.
type binderWatcher struct {
	events chan struct{}
	cancel context.CancelFunc
	done   chan error
}

func startBinderWatch(t *testing.T, b *Binder) *binderWatcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &binderWatcher{events: make(chan struct{}, 1), cancel: cancel, done: make(chan error, 1)}
	go func() {
		w.done <- b.Watch(ctx, func() {
			select {
			case w.events <- struct{}{}:
			default:
			}
		})
	}()
	t.Cleanup(func() { w.stop(t) })
	return w
}

// wait waits for a call of changed.
func (w *binderWatcher) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-w.events:
	case err := <-w.done:
		w.done <- err
		t.Fatalf("Watch returned before %s: %v", what, err)
	case <-time.After(5 * time.Second):
		t.Fatalf("no change reported for %s", what)
	}
}

// none checks that changed is not called for a while.
func (w *binderWatcher) none(t *testing.T, what string) {
	t.Helper()
	select {
	case <-w.events:
		t.Errorf("change reported for %s", what)
	case <-time.After(300 * time.Millisecond):
	}
}

// settle lets a burst of updates pass and forgets it.
func (w *binderWatcher) settle() {
	time.Sleep(200 * time.Millisecond)
	select {
	case <-w.events:
	default:
	}
}

func (w *binderWatcher) stop(t *testing.T) {
	t.Helper()
	w.cancel()
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("Watch: %v", err)
		}
		w.done <- nil
	case <-time.After(5 * time.Second):
		t.Errorf("Watch did not return after cancel")
	}
}

func TestBinderWatch(t *testing.T) {
	b, ns := binderSetup(t, BinderConfig{})
	p := netip.MustParsePrefix("198.18.0.10/32")
	if err := b.Add("wk0", p); err != nil {
		t.Fatal(err)
	}
	w := startBinderWatch(t, b)
	w.wait(t, "the subscription")
	w.settle()

	// Add and Remove that change nothing cause no update, or a loop that
	// reconciles on every update would wake itself up for ever.
	if err := b.Add("wk0", p); err != nil {
		t.Fatal(err)
	}
	if err := b.Remove("wk0", netip.MustParsePrefix("198.18.0.99/32")); err != nil {
		t.Fatal(err)
	}
	w.none(t, "an Add or Remove that changes nothing")

	binderIP(t, ns, "addr", "del", p.String(), "dev", "wk0")
	w.wait(t, "an address removed by hand")
	w.settle()
	if err := b.Add("wk0", p); err != nil {
		t.Fatal(err)
	}
	w.wait(t, "an address added by Add")
	w.settle()
	binderIP(t, ns, "link", "set", "wk0", "down")
	w.wait(t, "link down")
	w.settle()
	binderIP(t, ns, "link", "set", "wk0", "up")
	w.wait(t, "link up")
	w.stop(t)
}

func TestBinderWatchResubscribes(t *testing.T) {
	b, ns := binderSetup(t, BinderConfig{})
	var calls atomic.Int32
	var ready atomic.Bool // the real subscription is in place
	subscribe := b.subscribe
	b.subscribe = func(onErr func(error)) (*binderSubscription, error) {
		if calls.Add(1) > 1 {
			s, err := subscribe(onErr)
			ready.Store(err == nil)
			return s, err
		}
		// A subscription the kernel ends at once.
		addrs := make(chan netlink.AddrUpdate)
		links := make(chan netlink.LinkUpdate)
		onErr(errors.New("Receive failed: no buffer space available"))
		close(addrs)
		close(links)
		return &binderSubscription{addrs: addrs, links: links, stop: func() {}}, nil
	}
	w := startBinderWatch(t, b)
	w.wait(t, "the first subscription")
	deadline := time.Now().Add(5 * time.Second)
	for !ready.Load() {
		if time.Now().After(deadline) {
			t.Fatal("Watch did not subscribe again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.settle()
	binderIP(t, ns, "addr", "add", "198.18.0.10/32", "dev", "wk0")
	w.wait(t, "an address added by hand")
}

func TestBinderWatchFails(t *testing.T) {
	b, _ := binderSetup(t, BinderConfig{})
	b.subscribe = func(func(error)) (*binderSubscription, error) {
		return nil, errors.New("operation not permitted")
	}
	err := b.Watch(context.Background(), func() { t.Error("changed called without a subscription") })
	if err == nil || !strings.Contains(err.Error(), "operation not permitted") {
		t.Errorf("Watch with a failing subscription = %v, want the error", err)
	}
}

func TestBinderRetryDump(t *testing.T) {
	tests := []struct {
		interrupts int
		wantErr    bool
	}{
		{0, false},
		{1, false},
		{binderDumpAttempts - 1, false},
		{binderDumpAttempts, true},
	}
	for _, tt := range tests {
		calls := 0
		v, err := binderRetryDump(func() (int, error) {
			calls++
			if calls <= tt.interrupts {
				return -1, netlink.ErrDumpInterrupted
			}
			return 42, nil
		})
		if tt.wantErr {
			if !errors.Is(err, netlink.ErrDumpInterrupted) || v != 0 {
				t.Errorf("%d interruptions: %d, %v; want 0 and ErrDumpInterrupted", tt.interrupts, v, err)
			}
			continue
		}
		if err != nil || v != 42 {
			t.Errorf("%d interruptions: %d, %v; want 42, nil", tt.interrupts, v, err)
		}
	}
	other := errors.New("boom")
	if _, err := binderRetryDump(func() (int, error) { return 0, other }); err != other {
		t.Errorf("other error: %v, want it returned as is", err)
	}
}

func TestBinderAddrConversion(t *testing.T) {
	for _, s := range []string{"198.18.0.10/32", "198.18.3.10/24", "2001:2::10/128", "2001:2:0:1::10/64", "198.18.0.0/15"} {
		p := netip.MustParsePrefix(s)
		got, ok := binderPrefix(binderAddr(p).IPNet)
		if !ok || got != p {
			t.Errorf("round trip of %v = %v, %v", p, got, ok)
		}
	}
	if _, ok := binderPrefix(nil); ok {
		t.Error("binderPrefix(nil) ok")
	}
}
