package lab

// Faults real fleets see besides crashes and partitions: a process that
// stalls (a VM paused for live migration), a switch port that flaps, a
// lossy link, and one path between two hosts cut while both still reach
// everybody else. CPU starvation is in cgroup.go.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Pause stops the process's whole group with SIGSTOP, as a hypervisor
// pausing the VM would: the program does nothing until Resume, while the
// kernel of its host still answers for its addresses. Close kills a paused
// process like any other.
func (p *Process) Pause() error { return p.signalGroup(syscall.SIGSTOP) }

// Resume continues a paused process's group with SIGCONT.
func (p *Process) Resume() error { return p.signalGroup(syscall.SIGCONT) }

func (p *Process) signalGroup(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("lab: %s to %s: %w", sig, p, os.ErrProcessDone)
	}
	if err := syscall.Kill(-p.Pid(), sig); err != nil {
		return fmt.Errorf("lab: %s to %s: %w", sig, p, err)
	}
	return nil
}

// PortDown takes the host's port on the lab bridge down (the bridge-side
// end of its veth), as a switch port going down: the host's eth0 stays
// administratively up and sees its carrier go (NO-CARRIER). PortUp undoes
// it.
func (h *Host) PortDown(ctx context.Context) error {
	if h.peer == "" {
		return fmt.Errorf("lab: %s has no link to the bridge", h.NS)
	}
	_, err := h.lab.Bridge.ip(ctx, "link", "set", h.peer, "down")
	return err
}

// PortUp brings the host's bridge port back up.
func (h *Host) PortUp(ctx context.Context) error {
	if h.peer == "" {
		return fmt.Errorf("lab: %s has no link to the bridge", h.NS)
	}
	_, err := h.lab.Bridge.ip(ctx, "link", "set", h.peer, "up")
	return err
}

// A Flapping is a host's bridge port going down and up periodically, started
// by Host.Flap. Its methods are safe for concurrent use.
type Flapping struct {
	host    *Host
	cancel  context.CancelFunc
	done    chan struct{}
	untrack func()

	mu    sync.Mutex
	flaps int
	err   error
}

// Flap makes the host's bridge port flap for d: down for half of period,
// up for the other half, starting with down, as a switch port with a bad
// cable or a failing transceiver. The port is up again when the flapping
// ends (after d, on Stop, or when ctx or the lab is closed). period must be
// at least 20 ms and d at least one period.
func (h *Host) Flap(ctx context.Context, period, d time.Duration) (*Flapping, error) {
	if h.peer == "" {
		return nil, fmt.Errorf("lab: %s has no link to the bridge", h.NS)
	}
	if period < 20*time.Millisecond || d < period {
		return nil, fmt.Errorf("lab: %s: flap every %v for %v: want a period of at least 20ms and a duration of at least one period", h.NS, period, d)
	}
	fctx, cancel := context.WithTimeout(context.Background(), d)
	f := &Flapping{host: h, cancel: cancel, done: make(chan struct{})}
	untrack, err := h.lab.trackID(func() { f.Stop() })
	if err != nil {
		cancel()
		return nil, err
	}
	f.untrack = untrack
	go func() {
		// The caller's context ends the flapping early too.
		select {
		case <-ctx.Done():
			cancel()
		case <-fctx.Done():
		}
	}()
	go f.run(fctx, period/2, time.Now().Add(d))
	return f, nil
}

func (f *Flapping) run(ctx context.Context, half time.Duration, end time.Time) {
	defer close(f.done)
	defer f.untrack()
	next := time.Now()
	down := true
	for ctx.Err() == nil && next.Before(end) {
		var err error
		cmd, ccancel := context.WithTimeout(context.Background(), cleanupTimeout)
		if down {
			err = f.host.PortDown(cmd)
		} else {
			err = f.host.PortUp(cmd)
		}
		ccancel()
		f.mu.Lock()
		if down && err == nil {
			f.flaps++
		}
		if err != nil && f.err == nil {
			f.err = err
		}
		f.mu.Unlock()
		if err != nil {
			break
		}
		down = !down
		next = next.Add(half)
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	cmd, ccancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer ccancel()
	if err := f.host.PortUp(cmd); err != nil && !f.host.lab.isClosed() {
		f.mu.Lock()
		if f.err == nil {
			f.err = err
		}
		f.mu.Unlock()
	}
}

// Done is closed when the flapping is over and the port is up again.
func (f *Flapping) Done() <-chan struct{} { return f.done }

// Stop ends the flapping early and waits until the port is up again. It
// returns the first error of the flapping, like Wait.
func (f *Flapping) Stop() error {
	f.cancel()
	<-f.done
	return f.Err()
}

// Wait waits until the flapping is over and returns its first error.
func (f *Flapping) Wait(ctx context.Context) error {
	select {
	case <-f.done:
		return f.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Err returns the first error of the flapping so far.
func (f *Flapping) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Flaps returns the number of times the port went down so far.
func (f *Flapping) Flaps() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flaps
}

// lossTable is the nftables table of DropRandom in a host.
const lossTable = "wkloss"

// DropRandom drops each IP packet (IPv4 and IPv6) the host sends or
// receives on eth0 with probability percent/100, independently (nftables
// "numgen random mod 100 < percent"): a lossy cable, NIC or switch. ARP is
// not touched, nor loopback. It replaces any previous DropRandom of the
// host and combines with Isolate and IsolateAll; Heal removes it. percent
// is 1 to 100.
func (h *Host) DropRandom(ctx context.Context, percent int) error {
	return h.dropRandom(ctx, percent, true)
}

// DropRandomInbound is DropRandom for the packets the host receives only:
// with it on every host, each packet between two hosts is lost with
// probability percent/100, once (DropRandom on both ends loses it on
// either: 19 % of them at 10 %).
func (h *Host) DropRandomInbound(ctx context.Context, percent int) error {
	return h.dropRandom(ctx, percent, false)
}

func (h *Host) dropRandom(ctx context.Context, percent int, outbound bool) error {
	if percent < 1 || percent > 100 {
		return fmt.Errorf("lab: %s: drop %d%%: want 1 to 100", h.NS, percent)
	}
	chain := func(name, hook, iface string) string {
		return fmt.Sprintf("\tchain %s {\n\t\ttype filter hook %s priority -20; policy accept;\n"+
			"\t\t%s \"lo\" accept\n\t\tnumgen random mod 100 < %d counter drop\n\t}\n", name, hook, iface, percent)
	}
	chains := chain("input", "input", "iif")
	if outbound {
		chains += chain("output", "output", "oif")
	}
	script := resetTable("inet", lossTable) + "table inet " + lossTable + " {\n" + chains + "}\n"
	if err := h.nft(ctx, script); err != nil {
		return fmt.Errorf("lab: %s: drop %d%% at random: %w", h.NS, percent, err)
	}
	return nil
}

// resetTable creates a table if needed and deletes it: a script starting
// with it replaces the table atomically.
func resetTable(family, name string) string {
	return "table " + family + " " + name + "\ndelete table " + family + " " + name + "\n"
}

// cutTable names the bridge's nftables table of the cut between the
// hosts whose bridge ports are a and b.
func cutTable(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "wkcut_" + a + "_" + b
}

// CutPath cuts the path between hosts a and b at the bridge, as a broken
// link between two switches or asymmetric filtering would: no IP packet
// (IPv4 or IPv6, neighbour discovery excepted) goes from one to the other,
// in either direction, while ARP still flows and both still reach every
// other host. It needs nft; HealPath undoes it, and Close removes it with
// the bridge.
func (l *Lab) CutPath(ctx context.Context, a, b *Host) error {
	if err := l.checkPath(a, b); err != nil {
		return err
	}
	var rules strings.Builder
	for _, dir := range [][2]string{{a.peer, b.peer}, {b.peer, a.peer}} {
		match := fmt.Sprintf("iifname %q oifname %q", dir[0], dir[1])
		fmt.Fprintf(&rules, "\t\t%s icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n", match)
		fmt.Fprintf(&rules, "\t\t%s ether type { ip, ip6 } counter drop\n", match)
	}
	name := cutTable(a.peer, b.peer)
	script := resetTable("bridge", name) + "table bridge " + name + " {\n" +
		"\tchain forward {\n\t\ttype filter hook forward priority -10; policy accept;\n" + rules.String() + "\t}\n}\n"
	if err := l.Bridge.nft(ctx, script); err != nil {
		return fmt.Errorf("lab: cut the path between %s and %s: %w", a.NS, b.NS, err)
	}
	return nil
}

// HealPath restores the path CutPath cut. Healing a path that is not cut is
// not an error.
func (l *Lab) HealPath(ctx context.Context, a, b *Host) error {
	if err := l.checkPath(a, b); err != nil {
		return err
	}
	if err := l.Bridge.nft(ctx, resetTable("bridge", cutTable(a.peer, b.peer))); err != nil {
		return fmt.Errorf("lab: heal the path between %s and %s: %w", a.NS, b.NS, err)
	}
	return nil
}

func (l *Lab) checkPath(a, b *Host) error {
	switch {
	case a == nil || b == nil:
		return errors.New("lab: path: nil host")
	case a.lab != l || b.lab != l:
		return fmt.Errorf("lab: path between %s and %s: not hosts of lab %s", a.NS, b.NS, l.Prefix)
	case a.peer == "" || b.peer == "":
		return fmt.Errorf("lab: path between %s and %s: the bridge host has no port", a.NS, b.NS)
	case a == b:
		return fmt.Errorf("lab: path from %s to itself", a.NS)
	}
	return nil
}
