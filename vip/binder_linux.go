package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	// ifNameMax is IFNAMSIZ-1: the longest interface name, and the longest
	// IPv4 address label, the kernel accepts.
	ifNameMax = 15

	// binderDumpAttempts bounds the retries of a netlink dump that the
	// kernel interrupted because the table changed while it was read.
	binderDumpAttempts = 5

	// binderNetlinkTimeout keeps a stuck netlink request from wedging the
	// caller (the reconcile loop) for ever.
	binderNetlinkTimeout = 10 * time.Second

	// Resubscription back-off for Watch. A subscription that lived longer
	// than watchStable resets the back-off.
	watchRetryMin = 100 * time.Millisecond
	watchRetryMax = 5 * time.Second
	watchStable   = 30 * time.Second

	// watchBuffer is the channel size between the netlink readers and
	// Watch; watchRcvBuf the socket receive buffer asked for, so that a
	// burst of updates does not overflow (ENOBUFS) and force a
	// resubscription.
	watchBuffer = 64
	watchRcvBuf = 1 << 20
)

// Binder adds and removes VIP addresses on local interfaces.
//
// A Binder works in the network namespace of the thread that called
// NewBinder, whatever thread its methods later run on. Its methods are safe
// for concurrent use.
//
// Add and Remove are idempotent, so a level-triggered reconcile loop can
// call them every round. IPv4 addresses carry a label (see BinderConfig) so
// that a restarted daemon can find and remove what a crashed run left
// behind (Labelled).
type Binder struct {
	h     *netlink.Handle
	ns    netns.NsHandle
	label string
	log   *slog.Logger

	mu sync.Mutex
	// promoted maps an interface index to the name it had when
	// promote_secondaries was handled for it, so that an interface
	// recreated under the same name or index is handled again.
	promoted map[int]string

	// subscribe opens the netlink subscriptions for Watch; tests replace
	// it to make subscriptions fail.
	subscribe func(onErr func(error)) (*binderSubscription, error)

	closeOnce sync.Once
}

// NewBinder returns a Binder for the network namespace of the calling
// thread (for an ordinary program: the process's namespace).
// Close releases it.
func NewBinder(cfg BinderConfig) (*Binder, error) {
	label := cfg.Label
	if label == "" {
		label = DefaultLabel
	}
	if err := checkBinderLabel(label); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}

	// The namespace handle and the netlink socket must come from the same
	// thread: the goroutine could otherwise move between them to a thread
	// in another namespace, in a program that switches namespaces.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("binder: get current network namespace: %w", err)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("binder: open netlink socket: %w", err)
	}
	if err := h.SetSocketTimeout(binderNetlinkTimeout); err != nil {
		h.Close()
		ns.Close()
		return nil, fmt.Errorf("binder: set netlink timeout: %w", err)
	}
	b := &Binder{
		h:        h,
		ns:       ns,
		label:    label,
		log:      log,
		promoted: make(map[int]string),
	}
	b.subscribe = b.netlinkSubscribe
	return b, nil
}

// Close releases the Binder's netlink socket and namespace handle. It
// leaves the addresses in place. Stop Watch before calling Close; the
// Binder must not be used afterwards.
func (b *Binder) Close() error {
	b.closeOnce.Do(func() {
		b.h.Close()
		b.ns.Close()
	})
	return nil
}

// Add adds p to the interface ifname, or does nothing if it is there.
// When p is there already Add writes nothing, so it causes no netlink
// update: a loop driven by Watch that calls Add every round does not wake
// itself up.
//
// IPv4 addresses are labelled "<ifname>:<label>" when that fits in 15
// bytes. Before the first IPv4 address on an interface, Add sets
// net.ipv4.conf.<ifname>.promote_secondaries to 1: without it, removing the
// primary address of a subnet (a VIP in a subnet where the node has no
// address of its own is one) makes the kernel remove every secondary
// address of that subnet, that is the other VIPs. Failing to set it is
// logged, not returned.
//
// IPv6 addresses are added with IFA_F_NODAD: a VIP moves between nodes, and
// duplicate address detection would leave it tentative (unusable) for a
// second, or dadfailed for good while the old owner still has it. An
// existing copy of p that is tentative or dadfailed is replaced.
func (b *Binder) Add(ifname string, p netip.Prefix) error {
	if err := checkBinderPrefix(p); err != nil {
		return binderOpError("add", p, ifname, err)
	}
	link, err := b.link(ifname)
	if err != nil {
		return binderOpError("add", p, ifname, err)
	}
	attrs := link.Attrs()
	if p.Addr().Is4() {
		b.promoteSecondaries(attrs)
	}
	present, err := b.usable(link, p)
	if err != nil {
		return binderOpError("add", p, ifname, err)
	}
	if present {
		return nil
	}
	addr := binderAddr(p)
	if p.Addr().Is4() {
		addr.Label = b.labelFor(attrs.Name)
	} else {
		addr.Flags = unix.IFA_F_NODAD
	}
	if err := b.h.AddrReplace(link, addr); err != nil {
		return binderOpError("add", p, ifname, binderLinkErr(err))
	}
	return nil
}

// Remove removes p from the interface ifname. An absent address or a
// missing interface is not an error. Only an address with the same prefix
// length is removed: 198.18.0.10/32 does not remove 198.18.0.10/24.
func (b *Binder) Remove(ifname string, p netip.Prefix) error {
	if err := checkBinderPrefix(p); err != nil {
		return binderOpError("remove", p, ifname, err)
	}
	link, err := b.link(ifname)
	if errors.Is(err, ErrNoInterface) {
		return nil
	}
	if err != nil {
		return binderOpError("remove", p, ifname, err)
	}
	err = b.h.AddrDel(link, binderAddr(p))
	if err == nil || binderAbsent(err) {
		return nil
	}
	return binderOpError("remove", p, ifname, err)
}

// Has reports whether p (address and prefix length) is on the interface
// ifname. A missing interface is an error wrapping ErrNoInterface.
func (b *Binder) Has(ifname string, p netip.Prefix) (bool, error) {
	if err := checkBinderPrefix(p); err != nil {
		return false, binderOpError("check", p, ifname, err)
	}
	ps, err := b.List(ifname)
	if err != nil {
		return false, err
	}
	return slices.Contains(ps, p), nil
}

// List returns the addresses, IPv4 and IPv6, on the interface ifname, in
// the kernel's order. A missing interface is an error wrapping
// ErrNoInterface.
func (b *Binder) List(ifname string) ([]netip.Prefix, error) {
	link, err := b.link(ifname)
	if err != nil {
		return nil, fmt.Errorf("list addresses on %s: %w", ifname, err)
	}
	addrs, err := b.addrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses on %s: %w", ifname, binderLinkErr(err))
	}
	ps := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		if p, ok := binderPrefix(a.IPNet); ok {
			ps = append(ps, p)
		}
	}
	return ps, nil
}

// Labelled returns every IPv4 address in the Binder's namespace that
// carries the Binder's label, sorted by interface and address. At start-up
// these are addresses a previous run left behind, including VIPs that are
// no longer configured. Unlabelled addresses (IPv6, and IPv4 on interfaces
// whose names are too long for a label) are not found.
func (b *Binder) Labelled() ([]Bound, error) {
	// Addresses first: a link that appears between the two dumps has no
	// address of ours yet, and one that disappears is skipped.
	addrs, err := b.addrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list labelled addresses: %w", err)
	}
	links, err := binderRetryDump(b.h.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list labelled addresses: list interfaces: %w", err)
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	suffix := ":" + b.label
	var out []Bound
	for _, a := range addrs {
		if !strings.HasSuffix(a.Label, suffix) {
			continue
		}
		name, ok := names[a.LinkIndex]
		if !ok {
			continue
		}
		if p, ok := binderPrefix(a.IPNet); ok {
			out = append(out, Bound{Interface: name, Prefix: p})
		}
	}
	slices.SortFunc(out, func(x, y Bound) int {
		if c := strings.Compare(x.Interface, y.Interface); c != 0 {
			return c
		}
		if c := x.Prefix.Addr().Compare(y.Prefix.Addr()); c != 0 {
			return c
		}
		return x.Prefix.Bits() - y.Prefix.Bits()
	})
	return out, nil
}

// LinkUp reports whether the interface ifname exists, is administratively
// up and has carrier (operational state up, or unknown as for drivers that
// do not report it). A missing interface is not an error: it is down.
func (b *Binder) LinkUp(ifname string) (bool, error) {
	link, err := b.link(ifname)
	if errors.Is(err, ErrNoInterface) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("link state of %s: %w", ifname, err)
	}
	a := link.Attrs()
	if a.RawFlags&unix.IFF_UP == 0 {
		return false, nil
	}
	return a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown, nil
}

// Watch calls changed after every address or link update in the Binder's
// namespace, on any interface, until ctx is done; then it returns nil.
//
// It also calls changed once after each subscription, the first included:
// updates may have been missed while not subscribed, and the first call
// tells that the subscription is in place. When the kernel ends a
// subscription (for example on a receive buffer overrun) Watch logs it and
// subscribes again, with back-off. Only a failure of the first
// subscription is returned.
//
// changed runs on Watch's goroutine and must not block: a slow changed
// delays the reading of updates until the kernel drops some. A
// non-blocking send on a channel with a buffer of one is enough for a
// level-triggered loop.
func (b *Binder) Watch(ctx context.Context, changed func()) error {
	delay := watchRetryMin
	for first := true; ; first = false {
		start := time.Now()
		subscribed, err := b.watchOnce(ctx, changed)
		if ctx.Err() != nil {
			return nil
		}
		if first && !subscribed {
			return fmt.Errorf("watch interfaces: %w", err)
		}
		if subscribed && time.Since(start) > watchStable {
			delay = watchRetryMin
		}
		b.log.Warn("netlink subscription lost; subscribing again",
			"error", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, watchRetryMax)
	}
}

// watchOnce runs one subscription until ctx is done or the subscription
// ends. subscribed reports whether it was established.
func (b *Binder) watchOnce(ctx context.Context, changed func()) (subscribed bool, err error) {
	var (
		mu      sync.Mutex
		lastErr error
	)
	onErr := func(err error) {
		b.log.Debug("netlink subscription", "error", err)
		mu.Lock()
		lastErr = err
		mu.Unlock()
	}
	closed := func(what string) error {
		mu.Lock()
		defer mu.Unlock()
		if lastErr != nil {
			return fmt.Errorf("%s updates ended: %w", what, lastErr)
		}
		return fmt.Errorf("%s updates ended", what)
	}

	s, err := b.subscribe(onErr)
	if err != nil {
		return false, err
	}
	defer s.stop()
	changed()
	for {
		select {
		case <-ctx.Done():
			return true, nil
		case _, ok := <-s.addrs:
			if !ok {
				return true, closed("address")
			}
			changed()
		case _, ok := <-s.links:
			if !ok {
				return true, closed("link")
			}
			changed()
		}
	}
}

// binderSubscription is a pair of netlink subscriptions. Both channels
// close after stop, or when the kernel ends the subscription.
type binderSubscription struct {
	addrs <-chan netlink.AddrUpdate
	links <-chan netlink.LinkUpdate
	stop  func() // ends both and waits for their channels to close
}

// netlinkSubscribe subscribes to address and link updates in the Binder's
// namespace.
func (b *Binder) netlinkSubscribe(onErr func(error)) (*binderSubscription, error) {
	addrs := make(chan netlink.AddrUpdate, watchBuffer)
	links := make(chan netlink.LinkUpdate, watchBuffer)
	addrDone := make(chan struct{})
	linkDone := make(chan struct{})
	// A subscription socket belongs to the namespace of the thread that
	// creates it.
	err := b.inNetns(func() error {
		err := netlink.AddrSubscribeWithOptions(addrs, addrDone, netlink.AddrSubscribeOptions{
			ErrorCallback:     onErr,
			ReceiveBufferSize: watchRcvBuf,
		})
		if err != nil {
			return fmt.Errorf("subscribe to address updates: %w", err)
		}
		err = netlink.LinkSubscribeWithOptions(links, linkDone, netlink.LinkSubscribeOptions{
			ErrorCallback:     onErr,
			ReceiveBufferSize: watchRcvBuf,
		})
		if err != nil {
			close(addrDone)
			for range addrs {
			}
			return fmt.Errorf("subscribe to link updates: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &binderSubscription{
		addrs: addrs,
		links: links,
		stop: func() {
			close(addrDone)
			close(linkDone)
			// The readers may be blocked sending to us.
			for range addrs {
			}
			for range links {
			}
		},
	}, nil
}

// inNetns runs fn on a thread in the Binder's namespace. Netlink
// subscription sockets and /proc/sys/net files belong to the namespace of
// the thread that opens them, and the calling goroutine may run on a thread
// in another namespace in a program that switches namespaces.
func (b *Binder) inNetns(fn func() error) error {
	runtime.LockOSThread()
	cur, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get current network namespace: %w", err)
	}
	same := cur.Equal(b.ns)
	cur.Close()
	if same {
		defer runtime.UnlockOSThread()
		return fn()
	}
	runtime.UnlockOSThread()

	// Entering the namespace needs CAP_SYS_ADMIN. The thread is never
	// unlocked, so the runtime ends it with the goroutine rather than
	// reuse a thread left in another namespace.
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(b.ns); err != nil {
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// promoteSecondaries makes sure net.ipv4.conf.<if>.promote_secondaries is
// 1, once per interface.
func (b *Binder) promoteSecondaries(a *netlink.LinkAttrs) {
	b.mu.Lock()
	done := b.promoted[a.Index] == a.Name
	b.mu.Unlock()
	if done {
		return
	}
	if err := b.inNetns(func() error { return setPromoteSecondaries(a.Name) }); err != nil {
		b.log.Warn("cannot set promote_secondaries: removing a VIP that is the primary address of its subnet will remove the other VIPs of that subnet; set it, or use /32 VIPs",
			"interface", a.Name, "error", err)
	}
	b.mu.Lock()
	b.promoted[a.Index] = a.Name
	b.mu.Unlock()
}

// setPromoteSecondaries sets net.ipv4.conf.<ifname>.promote_secondaries to
// 1 in the namespace of the calling thread, unless it is already (which
// also works where /proc/sys is read-only).
func setPromoteSecondaries(ifname string) error {
	if ifname == "" || ifname == "." || ifname == ".." || strings.ContainsRune(ifname, '/') {
		return fmt.Errorf("invalid interface name %q", ifname)
	}
	path := filepath.Join("/proc/sys/net/ipv4/conf", ifname, "promote_secondaries")
	if v, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(v)) == "1" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString("1\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// usable reports whether p is on link and usable. An IPv6 copy that is
// tentative or dadfailed is not: it is deleted, because the kernel keeps
// the DAD state of an address that is replaced.
func (b *Binder) usable(link netlink.Link, p netip.Prefix) (bool, error) {
	family := netlink.FAMILY_V4
	if p.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	addrs, err := b.addrList(link, family)
	if err != nil {
		return false, binderLinkErr(err)
	}
	for _, a := range addrs {
		if q, ok := binderPrefix(a.IPNet); !ok || q != p {
			continue
		}
		if family == netlink.FAMILY_V4 || a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
			return true, nil
		}
		b.log.Info("replacing IPv6 address stuck in duplicate address detection",
			"interface", link.Attrs().Name, "address", p, "dadfailed", a.Flags&unix.IFA_F_DADFAILED != 0)
		if err := b.h.AddrDel(link, binderAddr(p)); err != nil && !binderAbsent(err) {
			return false, fmt.Errorf("delete unusable copy: %w", err)
		}
		return false, nil
	}
	return false, nil
}

// link looks up an interface by name.
func (b *Binder) link(ifname string) (netlink.Link, error) {
	if err := checkBinderIfName(ifname); err != nil {
		return nil, err
	}
	l, err := b.h.LinkByName(ifname)
	if err != nil {
		return nil, binderLinkErr(err)
	}
	return l, nil
}

// addrList dumps addresses (of link, or all when link is nil), retrying
// interrupted dumps.
func (b *Binder) addrList(link netlink.Link, family int) ([]netlink.Addr, error) {
	return binderRetryDump(func() ([]netlink.Addr, error) {
		return b.h.AddrList(link, family)
	})
}

// labelFor returns the label for an IPv4 address on ifname, or "" when it
// would be too long for the kernel.
func (b *Binder) labelFor(ifname string) string {
	l := ifname + ":" + b.label
	if len(l) > ifNameMax {
		return ""
	}
	return l
}

// binderRetryDump calls dump until it returns something other than
// netlink.ErrDumpInterrupted (whose partial result is useless to a caller
// that must see every address), at most binderDumpAttempts times.
func binderRetryDump[T any](dump func() (T, error)) (T, error) {
	var err error
	for range binderDumpAttempts {
		var v T
		v, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	var zero T
	return zero, fmt.Errorf("%w %d times", err, binderDumpAttempts)
}

// binderLinkErr turns the kernel's and the netlink package's "no such
// device" errors into ErrNoInterface.
func binderLinkErr(err error) error {
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
		return ErrNoInterface
	}
	return err
}

// binderAbsent reports whether a delete failed because there was nothing
// to delete: no such address, no such device, or no IPv6 on the device.
func binderAbsent(err error) bool {
	return errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO)
}

// binderOpError formats errors as "add 198.18.0.10/32 on eth0: ...".
func binderOpError(op string, p netip.Prefix, ifname string, err error) error {
	return fmt.Errorf("%s %s on %s: %w", op, p, ifname, err)
}

// binderAddr converts a prefix to a netlink address (the address itself,
// not the masked network).
func binderAddr(p netip.Prefix) *netlink.Addr {
	a := p.Addr()
	return &netlink.Addr{IPNet: &net.IPNet{
		IP:   net.IP(a.AsSlice()),
		Mask: net.CIDRMask(p.Bits(), a.BitLen()),
	}}
}

// binderPrefix converts a netlink address back to a prefix.
func binderPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, bits := n.Mask.Size()
	if bits == 0 {
		return netip.Prefix{}, false
	}
	if bits == 128 && a.Is4() {
		ones -= 96
	}
	p := netip.PrefixFrom(a, ones)
	return p, p.IsValid()
}

// checkBinderPrefix rejects what cannot be a VIP address.
func checkBinderPrefix(p netip.Prefix) error {
	a := p.Addr()
	switch {
	case !p.IsValid():
		return errors.New("invalid prefix")
	case a.Is4In6():
		return errors.New("IPv4-mapped IPv6 address: use the IPv4 form")
	case a.IsUnspecified(), a.IsMulticast():
		return errors.New("not a unicast address")
	}
	return nil
}

// checkBinderIfName applies the kernel's rules for interface names, so
// that a bad name is reported as such rather than as a lookup failure.
func checkBinderIfName(name string) error {
	if name == "" || len(name) > ifNameMax || name == "." || name == ".." ||
		strings.ContainsAny(name, "/: \t\n\x00") {
		return fmt.Errorf("invalid interface name %q", name)
	}
	return nil
}

// checkBinderLabel accepts label suffixes that fit after at least a
// one-byte interface name and a colon, made of characters that are safe in
// any tool's output.
func checkBinderLabel(label string) error {
	if len(label) > ifNameMax-2 {
		return fmt.Errorf("binder: label %q is longer than %d bytes", label, ifNameMax-2)
	}
	for _, r := range label {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("binder: label %q: only letters, digits, '-', '_' and '.' are allowed", label)
		}
	}
	return nil
}
