package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
)

// Do runs fn on an OS thread that has joined the host's network namespace
// and returns fn's error. Sockets created by fn stay in the namespace for
// their whole life and may be used from any goroutine afterwards.
//
// Only the thread running fn is in the namespace: goroutines started by fn
// and host names resolved by fn (DNS) are not. Use IP literals.
func (h *Host) Do(fn func() error) error {
	if fn == nil {
		return errors.New("lab: Do: nil function")
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Unlocked only once the thread is back in its own namespace; if
		// switching back fails it stays locked and the runtime retires the
		// thread when this goroutine returns.
		errc <- h.doLocked(fn)
	}()
	return <-errc
}

func (h *Host) doLocked(fn func() error) error {
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: %s: current namespace: %w", h.NS, err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(h.NS)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: open namespace %s: %w", h.NS, err)
	}
	defer target.Close()
	if target.Equal(orig) {
		// Never let a lab helper act on the program's own namespace.
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: namespace %s is the program's own namespace", h.NS)
	}
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: enter namespace %s: %w", h.NS, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return errors.Join(ferr, fmt.Errorf("lab: leave namespace %s: %w", h.NS, err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// literalHostPort rejects addresses that would need a DNS lookup: the
// resolver would run outside the namespace.
func literalHostPort(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if host == "" {
		return nil
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("host %q is not an IP address (names are not resolved inside the lab)", host)
	}
	return nil
}

// DialContext connects to address (an IP literal and port, e.g.
// "198.18.0.100:80") from inside the host's namespace, like
// net.Dialer.DialContext. The connection belongs to the caller.
func (h *Host) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if err := literalHostPort(address); err != nil {
		return nil, fmt.Errorf("lab: %s: dial %s %s: %w", h.NS, network, address, err)
	}
	var c net.Conn
	err := h.Do(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: %s: %w", h.NS, err)
	}
	return c, nil
}

// Listen listens on address (":80", "198.18.0.11:7946", …) inside the
// host's namespace, like net.Listen. The lab closes the listener on Close if
// the caller has not.
func (h *Host) Listen(network, address string) (net.Listener, error) {
	if err := literalHostPort(address); err != nil {
		return nil, fmt.Errorf("lab: %s: listen %s %s: %w", h.NS, network, address, err)
	}
	var ln net.Listener
	err := h.Do(func() error {
		var err error
		ln, err = net.Listen(network, address)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: %s: %w", h.NS, err)
	}
	if err := h.lab.track(func() { ln.Close() }); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// ListenPacket opens a packet socket ("udp", "udp4", "ip4:icmp", …) on
// address inside the host's namespace, like net.ListenPacket. The lab closes
// it on Close if the caller has not.
func (h *Host) ListenPacket(network, address string) (net.PacketConn, error) {
	if strings.HasPrefix(network, "udp") {
		if err := literalHostPort(address); err != nil {
			return nil, fmt.Errorf("lab: %s: listen %s %s: %w", h.NS, network, address, err)
		}
	}
	var pc net.PacketConn
	err := h.Do(func() error {
		var err error
		pc, err = net.ListenPacket(network, address)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: %s: %w", h.NS, err)
	}
	if err := h.lab.track(func() { pc.Close() }); err != nil {
		pc.Close()
		return nil, err
	}
	return pc, nil
}

// maxBody bounds what HTTPGet reads: the lab's servers answer with a name.
const maxBody = 1 << 20

// HTTPGet fetches rawURL from inside the host's namespace over a fresh TCP
// connection (no keep-alive, no proxy) and returns the body. The URL's host
// must be an IP literal. A status other than 2xx is an error that quotes the
// start of the body.
func (h *Host) HTTPGet(ctx context.Context, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("lab: %s: GET %s: %w", h.NS, rawURL, err)
	}
	if _, err := netip.ParseAddr(u.Hostname()); err != nil {
		return "", fmt.Errorf("lab: %s: GET %s: host %q is not an IP address (names are not resolved inside the lab)", h.NS, rawURL, u.Hostname())
	}
	tr := &http.Transport{
		Proxy:             nil, // never a proxy from the environment
		DialContext:       h.DialContext,
		DisableKeepAlives: true, // each request shows which node answers now
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("lab: %s: GET %s: %w", h.NS, rawURL, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("lab: %s: GET %s: %w", h.NS, rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return string(body), fmt.Errorf("lab: %s: GET %s: reading body: %w", h.NS, rawURL, err)
	}
	if resp.StatusCode/100 != 2 {
		snippet := string(body)
		if len(snippet) > 200 {
			snippet = snippet[:200] + "…"
		}
		return string(body), fmt.Errorf("lab: %s: GET %s: %s: %q", h.NS, rawURL, resp.Status, snippet)
	}
	return string(body), nil
}
