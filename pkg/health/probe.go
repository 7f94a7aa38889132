package health

import (
	"github.com/wackamole/wackamole/pkg/internal/proc"

	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/wackamole/wackamole/pkg/config"
)

// Probe runs c once and returns nil when it passed. It is bounded by ctx
// and, when positive, by c.Timeout; a timeout is reported as
// "timed out after ...". Monitor runs checks the same way.
func Probe(ctx context.Context, c config.Check) error {
	return newProber(c)(ctx)
}

// prober runs one check once.
type prober func(ctx context.Context) error

// newProber returns the prober for c, prepared once (an http check's
// client) and bounded by c.Timeout when positive.
func newProber(c config.Check) prober {
	var p prober
	switch c.Kind {
	case config.CheckExec:
		argv := c.Command
		env := []string{proc.Path, "WACKAMOLE_CHECK=" + c.Name}
		p = func(ctx context.Context) error { return proc.Run(ctx, argv, env, proc.KillLeftovers) }
	case config.CheckHTTP:
		p = httpProber(c.URL, c.ExpectStatus)
	case config.CheckTCP:
		p = func(ctx context.Context) error { return probeTCP(ctx, c.Address) }
	case config.CheckICMP:
		p = func(ctx context.Context) error { return probeICMP(ctx, c.Address) }
	default:
		err := fmt.Errorf("unknown check kind %q", c.Kind)
		return func(context.Context) error { return err }
	}
	timeout := c.Timeout
	return func(ctx context.Context) error {
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		err := p(ctx)
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The error of an interrupted probe says little ("context
			// deadline exceeded", "signal: killed", ...).
			return fmt.Errorf("timed out after %v", timeout)
		}
		return err
	}
}

// httpBodyMax is how much of a response body is read. Keep-alives are
// off, so nothing needs the rest.
const httpBodyMax = 4 << 10

// httpProber GETs url and expects status expect.
//
// Its client follows no redirect (a 3xx is compared with expect like any
// status: a health endpoint that redirects is misconfigured, and following
// it could check another host), ignores proxy settings from the
// environment (a check must reach the local service, not a proxy), and
// opens a new connection for every run (a kept-alive connection could hide
// a listener that no longer accepts).
func httpProber(url string, expect int) prober {
	client := newHTTPClient()
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "wackamole-health-check")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, httpBodyMax))
		resp.Body.Close()
		if resp.StatusCode == expect {
			return nil
		}
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode/100 == 3 {
			return fmt.Errorf("status %d, want %d (a redirect to %.100q; redirects are not followed)", resp.StatusCode, expect, loc)
		}
		return fmt.Errorf("status %d, want %d", resp.StatusCode, expect)
	}
}

// newHTTPClient returns the client of http checks.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            (&net.Dialer{}).DialContext,
			DisableKeepAlives:      true,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// probeTCP connects to address and closes the connection at once.
func probeTCP(ctx context.Context, address string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return err
	}
	return conn.Close()
}
