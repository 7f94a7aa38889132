package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Client talks to a daemon's control socket. Its methods are safe for
// concurrent use.
type Client struct {
	path string
	http *http.Client
}

// DefaultTimeout bounds every request but a drain (which waits for its own
// timeout and a margin) when the context has no earlier deadline.
const DefaultTimeout = 30 * time.Second

// maxResponseBytes bounds what the client reads: a status of thousands of
// VIPs is well under a megabyte.
const maxResponseBytes = 16 << 20

// NewClient returns a client of the daemon listening at path.
func NewClient(path string) *Client {
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "unix", path)
			if err != nil {
				return nil, &dialError{err}
			}
			return c, nil
		},
		MaxIdleConns:    2,
		IdleConnTimeout: 10 * time.Second,
	}
	return &Client{path: path, http: &http.Client{Transport: tr}}
}

// Path returns the socket's file name.
func (c *Client) Path() string { return c.path }

// Close releases idle connections.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

// Status returns the node's whole state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, PathStatus, nil, DefaultTimeout, &st)
	return st, err
}

// Members returns the group as the node sees it.
func (c *Client) Members(ctx context.Context) (Members, error) {
	var m Members
	err := c.do(ctx, http.MethodGet, PathMembers, nil, DefaultTimeout, &m)
	return m, err
}

// VIPs returns every VIP with its owner and planned owner.
func (c *Client) VIPs(ctx context.Context) (VIPs, error) {
	var v VIPs
	err := c.do(ctx, http.MethodGet, PathVIPs, nil, DefaultTimeout, &v)
	return v, err
}

// Drain asks the node to hand every VIP over and waits until it has, or
// until timeout (0 means the daemon's default, DefaultDrainTimeout). When
// the drain did not finish, the error is an *Error carrying the Result
// (TimedOut set on timeout), and the node stays draining.
func (c *Client) Drain(ctx context.Context, timeout time.Duration) (Result, error) {
	q := url.Values{}
	wait := DefaultDrainTimeout
	if timeout != 0 {
		q.Set("timeout", timeout.String())
		wait = timeout
	}
	var r Result
	err := c.do(ctx, http.MethodPost, PathDrain, q, wait+DefaultTimeout, &r)
	return r, err
}

// Undrain makes the node eligible for VIPs again.
func (c *Client) Undrain(ctx context.Context) (Result, error) {
	var r Result
	err := c.do(ctx, http.MethodPost, PathUndrain, nil, DefaultTimeout, &r)
	return r, err
}

// Reload makes the daemon read its configuration file again.
func (c *Client) Reload(ctx context.Context) (Result, error) {
	var r Result
	err := c.do(ctx, http.MethodPost, PathReload, nil, DefaultTimeout, &r)
	return r, err
}

// DrainProgress runs Drain and, while it runs, polls the node's status
// every interval and passes it to progress (from one goroutine, never
// after DrainProgress returns). A failed poll is skipped: the drain's own
// answer is what counts.
func (c *Client) DrainProgress(ctx context.Context, timeout, interval time.Duration, progress func(Status)) (Result, error) {
	type answer struct {
		r   Result
		err error
	}
	done := make(chan answer, 1)
	go func() {
		r, err := c.Drain(ctx, timeout)
		done <- answer{r, err}
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case a := <-done:
			return a.r, a.err
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, interval)
			st, err := c.Status(pctx)
			cancel()
			select {
			case a := <-done:
				return a.r, a.err
			default:
			}
			if err == nil {
				progress(st)
			}
		}
	}
}

// do sends one request and decodes the answer into out.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, timeout time.Duration, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := url.URL{Scheme: "http", Host: "wackamole", Path: path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return c.transportError(err)
	}
	op := strings.TrimPrefix(path, "/v1/")
	if resp.StatusCode/100 != 2 {
		e := &Error{Op: op, Path: c.path, Code: resp.StatusCode}
		var eb errorBody
		if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
			e.Message = eb.Error
		} else {
			e.Message = fmt.Sprintf("unexpected answer %s: %q", resp.Status, snippet(body))
		}
		if r, ok := out.(*Result); ok && json.Unmarshal(body, r) == nil && r.Command != "" {
			e.Result = r
		}
		return e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &Error{Op: op, Path: c.path, Code: resp.StatusCode, Message: fmt.Sprintf("undecodable answer (%v): %q", err, snippet(body))}
	}
	return nil
}

func snippet(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return strings.TrimSpace(string(b))
}

type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func (c *Client) transportError(err error) error {
	var de *dialError
	if errors.As(err, &de) {
		return &ConnectError{Path: c.path, Dial: true, Err: de.err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &ConnectError{Path: c.path, Err: err}
}

// ConnectError means the daemon could not be reached, or the connection
// broke before it answered.
type ConnectError struct {
	// Path is the socket.
	Path string
	// Dial is true when the connection could not be made at all.
	Dial bool
	Err  error
}

// Error says what failed and what to do about it.
func (e *ConnectError) Error() string {
	if !e.Dial {
		if errors.Is(e.Err, context.DeadlineExceeded) {
			return fmt.Sprintf("talk to %s: the daemon did not answer in time", e.Path)
		}
		return fmt.Sprintf("talk to %s: %v", e.Path, e.Err)
	}
	var hint string
	switch {
	case errors.Is(e.Err, syscall.EACCES), errors.Is(e.Err, syscall.EPERM):
		hint = "permission denied — run as root or as a member of the control group"
	case errors.Is(e.Err, syscall.ENOENT):
		hint = "no such socket — is wackamole running? (-s SOCKET or -c CONFIG name another socket)"
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		hint = "connection refused — nothing listens on it (wackamole is not running, or died and left the socket)"
	case errors.Is(e.Err, syscall.ENOTSOCK):
		hint = "not a socket"
	default:
		hint = unwrapSyscall(e.Err).Error()
	}
	return fmt.Sprintf("connect to %s: %s", e.Path, hint)
}

// unwrapSyscall drops the net.OpError decoration, which repeats the path.
func unwrapSyscall(err error) error {
	var se *net.OpError
	if errors.As(err, &se) && se.Err != nil {
		return se.Err
	}
	return err
}

// Unwrap returns the underlying error.
func (e *ConnectError) Unwrap() error { return e.Err }

// Error is a failure the daemon reported: a refused or malformed request,
// or a command that ran and failed.
type Error struct {
	// Op is the endpoint: "status", "drain", …
	Op string
	// Path is the socket.
	Path string
	// Code is the HTTP status.
	Code int
	// Message is the daemon's explanation.
	Message string
	// Result is the command's result when a command ran and failed.
	Result *Result
}

// Error returns the daemon's explanation.
func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Op, e.Message)
}

// Forbidden reports whether the daemon refused the client's credentials.
func (e *Error) Forbidden() bool { return e.Code == http.StatusForbidden }

// TimedOut reports whether a drain's timeout ended the wait.
func (e *Error) TimedOut() bool { return e.Result != nil && e.Result.TimedOut }
