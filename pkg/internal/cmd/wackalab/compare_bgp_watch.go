package main

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// A routeWatcher polls the router's kernel routes through netlink (one
// socket in the router's namespace, opened once) and records each change
// of who the router forwards each VIP to: the next hops of its host
// route, as holder sets over the nodes. In a fabric that, not who has the
// address, decides who serves a VIP.
type routeWatcher struct {
	vips     []netip.Addr
	nodes    []netip.Addr // node k+1's address at k
	handle   *netlink.Handle
	interval time.Duration

	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	samples []holderSample
	polls   int
	maxGap  time.Duration
	errs    int
	lastErr error
}

// watchRoutes starts polling the routes of rt every interval.
func watchRoutes(rt *lab.Host, nodes []*lab.Host, vips []netip.Addr, interval time.Duration) (*routeWatcher, error) {
	if len(nodes) > 64 {
		return nil, fmt.Errorf("watch: %d nodes: at most 64", len(nodes))
	}
	w := &routeWatcher{vips: vips, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	for _, n := range nodes {
		w.nodes = append(w.nodes, n.Addr)
	}
	err := rt.Do(func() error {
		var err error
		w.handle, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("watch: netlink socket in %s: %w", rt.NS, err)
	}
	if err := w.handle.SetSocketTimeout(time.Second); err != nil {
		w.handle.Close()
		return nil, fmt.Errorf("watch: netlink socket in %s: %w", rt.NS, err)
	}
	go w.run()
	return w, nil
}

func (w *routeWatcher) run() {
	defer close(w.done)
	defer w.handle.Close()
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
		} else {
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

// poll reads the router's IPv4 main table once.
func (w *routeWatcher) poll() ([]holderSet, error) {
	var routes []netlink.Route
	var err error
	for try := 0; try < 3; try++ {
		routes, err = w.handle.RouteList(nil, netlink.FAMILY_V4)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("watch: routes: %w", err)
	}
	return routeHolderSets(routes, w.vips, w.nodes), nil
}

// routeHolderSets maps the host routes of vips among routes to the sets
// of nodes they lead to (a next hop that is no node is left out).
func routeHolderSets(routes []netlink.Route, vips, nodes []netip.Addr) []holderSet {
	hs := make([]holderSet, len(vips))
	bit := func(gw []byte) holderSet {
		a, ok := netip.AddrFromSlice(gw)
		if !ok {
			return 0
		}
		if k := slices.Index(nodes, a.Unmap()); k >= 0 {
			return 1 << k
		}
		return 0
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ones, bits := r.Dst.Mask.Size()
		dst, ok := netip.AddrFromSlice(r.Dst.IP)
		if !ok || ones != bits {
			continue
		}
		i := slices.Index(vips, dst.Unmap())
		if i < 0 {
			continue
		}
		h := bit(r.Gw)
		for _, nh := range r.MultiPath {
			h |= bit(nh.Gw)
		}
		hs[i] = h
	}
	return hs
}

// Stop ends the polling and returns what was seen.
func (w *routeWatcher) Stop() holderWatch {
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
