package main

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// holderSet is the set of nodes holding one VIP: bit k for node k+1.
type holderSet uint64

// count returns the number of holders.
func (s holderSet) count() int { return bits.OnesCount64(uint64(s)) }

// names returns the holders' node names ("n1", …) in order.
func (s holderSet) names() []string {
	var out []string
	for k := 0; k < 64; k++ {
		if s&(1<<k) != 0 {
			out = append(out, fmt.Sprintf("n%d", k+1))
		}
	}
	return out
}

// A holderSample is who held each VIP at one moment.
type holderSample struct {
	At      time.Time
	Holders []holderSet // by VIP index
}

// A holderWatcher polls every node's addresses through netlink (one socket per
// namespace, opened once: a poll costs three syscalls, not three ip(8)
// runs) and records each change of holders. Polling through ip(8) on this
// kind of machine would take 30 ms or more per round.
type holderWatcher struct {
	vips     []netip.Addr
	handles  []*netlink.Handle
	interval time.Duration

	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	samples []holderSample // changes only, the first poll included
	polls   int            // completed polls
	maxGap  time.Duration  // longest time between two completed polls
	errs    int            // polls of a node that failed
	lastErr error
}

// watchHolders starts polling the hosts' addresses every interval.
func watchHolders(hosts []*lab.Host, vips []netip.Addr, interval time.Duration) (*holderWatcher, error) {
	if len(hosts) > 64 {
		return nil, fmt.Errorf("watch: %d nodes: at most 64", len(hosts))
	}
	w := &holderWatcher{vips: vips, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	for _, h := range hosts {
		var hd *netlink.Handle
		err := h.Do(func() error {
			var err error
			hd, err = netlink.NewHandle(unix.NETLINK_ROUTE)
			return err
		})
		if err != nil {
			w.closeHandles()
			return nil, fmt.Errorf("watch: netlink socket in %s: %w", h.NS, err)
		}
		// A stuck read must not stall the poller for long.
		if err := hd.SetSocketTimeout(time.Second); err != nil {
			hd.Close()
			w.closeHandles()
			return nil, fmt.Errorf("watch: netlink socket in %s: %w", h.NS, err)
		}
		w.handles = append(w.handles, hd)
	}
	go w.run()
	return w, nil
}

func (w *holderWatcher) closeHandles() {
	for _, h := range w.handles {
		h.Close()
	}
	w.handles = nil
}

func (w *holderWatcher) run() {
	defer close(w.done)
	defer w.closeHandles()
	t := time.NewTicker(w.interval)
	defer t.Stop()
	var last time.Time
	for {
		hs, err := w.poll()
		now := time.Now()
		w.mu.Lock()
		if err != nil {
			w.errs++
			w.lastErr = err
		}
		if hs != nil {
			if n := len(w.samples); n == 0 || !slices.Equal(w.samples[n-1].Holders, hs) {
				w.samples = append(w.samples, holderSample{At: now, Holders: hs})
			}
			if !last.IsZero() {
				w.maxGap = max(w.maxGap, now.Sub(last))
			}
			last = now
			w.polls++
		}
		w.mu.Unlock()
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
	}
}

// poll reads every node's IPv4 addresses once. A node whose dump keeps
// being interrupted makes the whole poll void (nil), rather than record a
// holder set that may be wrong.
func (w *holderWatcher) poll() ([]holderSet, error) {
	hs := make([]holderSet, len(w.vips))
	for k, h := range w.handles {
		var addrs []netlink.Addr
		var err error
		for try := 0; try < 3; try++ {
			addrs, err = h.AddrList(nil, netlink.FAMILY_V4)
			if !errors.Is(err, netlink.ErrDumpInterrupted) {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("watch: addresses of n%d: %w", k+1, err)
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			if i := slices.Index(w.vips, ip.Unmap()); i >= 0 {
				hs[i] |= 1 << k
			}
		}
	}
	return hs, nil
}

// latest returns the last change seen (the holders now and since when) and
// how many polls have completed; ok is false before the first poll.
func (w *holderWatcher) latest() (s holderSample, polls int, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.samples) == 0 {
		return holderSample{}, w.polls, false
	}
	return w.samples[len(w.samples)-1], w.polls, true
}

// holderWatch is what a holderWatcher saw.
type holderWatch struct {
	Samples []holderSample
	// Polls counts the complete polls, MaxPollGap is the longest time
	// between two of them (the resolution of every figure derived here).
	Polls      int
	MaxPollGap time.Duration
	// Errors counts failed polls; LastErr is the last failure.
	Errors  int
	LastErr error
	End     time.Time
}

// Stop ends the polling and returns what was seen.
func (w *holderWatcher) Stop() holderWatch {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return holderWatch{Samples: w.samples, Polls: w.polls, MaxPollGap: w.maxGap, Errors: w.errs, LastErr: w.lastErr, End: time.Now()}
}
