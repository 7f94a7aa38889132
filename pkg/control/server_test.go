package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
)

// fakeBackend records the commands and answers with canned results.
type fakeBackend struct {
	mu      sync.Mutex
	status  Status
	calls   []string
	drain   func(ctx context.Context) error
	undrain error
	reload  error
	// deadline is the drain context's deadline, as seen by Drain.
	deadline time.Time
}

func (f *fakeBackend) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeBackend) record(name string) {
	f.mu.Lock()
	f.calls = append(f.calls, name)
	f.mu.Unlock()
}

func (f *fakeBackend) Drain(ctx context.Context) error {
	f.record("drain")
	f.mu.Lock()
	f.deadline, _ = ctx.Deadline()
	drain := f.drain
	f.mu.Unlock()
	if drain != nil {
		return drain(ctx)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.State = "draining"
	f.status.Members[0].Held = nil
	for i := range f.status.VIPs {
		f.status.VIPs[i].Holders = []string{"n2"}
		f.status.VIPs[i].Owner = "n2"
	}
	return nil
}

func (f *fakeBackend) Undrain(ctx context.Context) error {
	f.record("undrain")
	return f.undrain
}

func (f *fakeBackend) Reload(ctx context.Context) error {
	f.record("reload")
	return f.reload
}

func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func testStatus() Status {
	return Status{
		Node:    "n1",
		State:   "mature",
		Healthy: true,
		Quorum:  Quorum{Have: 3, Need: 2, OK: true},
		Timing:  "lan",
		Members: []Member{
			{Name: "n1", Addr: "198.18.0.2:7946", Self: true, Alive: true, State: "mature", Healthy: true, Eligible: true, Held: []string{"vip-01"}},
			{Name: "n2", Addr: "198.18.0.3:7946", Alive: true, State: "mature", Healthy: true, Eligible: true, Held: []string{"vip-02"}},
			{Name: "n3", Addr: "198.18.0.4:7946", Alive: true, State: "draining", Healthy: true, Why: "draining"},
		},
		VIPs: []VIP{
			{Name: "vip-01", Addresses: []string{"eth0:198.18.1.1/32"}, Owner: "n1", Holders: []string{"n1"}, Planned: "n1", Reason: "kept"},
			{Name: "vip-02", Addresses: []string{"eth0:198.18.1.2/32"}, Owner: "n2", Holders: []string{"n2"}, Planned: "n2", Reason: "kept"},
		},
	}
}

// shortDir returns a fresh directory with a short name: a unix socket path
// must fit in 108 bytes, and t.TempDir's names grow with the test's.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wkc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// serve starts a server with backend b on a fresh socket that the test
// may use, as root or through its own group (testenv.UserGroup).
func serve(t *testing.T, b Backend, o Options) (*Server, *Client) {
	t.Helper()
	return serveAs(t, b, usable(t, o))
}

// usable gives o the test's own group unless it runs as root or o names a
// group: the socket admits root and the members of the control group.
func usable(t testing.TB, o Options) Options {
	t.Helper()
	if o.Group == "" {
		o.Group = testenv.UserGroup(t)
	}
	return o
}

// serveAs starts a server with backend b and options o as they are.
func serveAs(t *testing.T, b Backend, o Options) (*Server, *Client) {
	t.Helper()
	if o.Path == "" {
		o.Path = filepath.Join(shortDir(t), "c.sock")
	}
	o.Backend = b
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	s, err := Listen(o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	c := NewClient(o.Path)
	t.Cleanup(c.Close)
	return s, c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestEndpoints(t *testing.T) {
	b := &fakeBackend{status: testStatus()}
	_, c := serve(t, b, Options{})

	st, err := c.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Node != "n1" || st.Quorum != (Quorum{Have: 3, Need: 2, OK: true}) || len(st.Members) != 3 || len(st.VIPs) != 2 {
		t.Errorf("status = %+v", st)
	}

	m, err := c.Members(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if m.Node != "n1" || len(m.Members) != 3 || m.Members[2].Why != "draining" || !m.Quorum.OK {
		t.Errorf("members = %+v", m)
	}

	v, err := c.VIPs(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if v.Node != "n1" || len(v.VIPs) != 2 || v.VIPs[0].Owner != "n1" {
		t.Errorf("vips = %+v", v)
	}

	r, err := c.Drain(ctx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Command != "drain" || r.Node != "n1" || r.State != "draining" || r.Held == nil || len(r.Held) != 0 {
		t.Errorf("drain = %+v", r)
	}

	r, err = c.Undrain(ctx(t))
	if err != nil || !r.OK || r.Command != "undrain" {
		t.Errorf("undrain = %+v, %v", r, err)
	}
	r, err = c.Reload(ctx(t))
	if err != nil || !r.OK || r.Command != "reload" {
		t.Errorf("reload = %+v, %v", r, err)
	}
	if got, want := strings.Join(b.Calls(), ","), "drain,undrain,reload"; got != want {
		t.Errorf("backend calls = %s, want %s", got, want)
	}
}

func TestEmptyStatusHasNoNullLists(t *testing.T) {
	_, c := serve(t, &fakeBackend{}, Options{})
	for _, path := range []string{PathMembers, PathVIPs} {
		body := rawRequest(t, c.Path(), "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if strings.Contains(body, "null") {
			t.Errorf("%s: %s", path, body)
		}
	}
}

func TestDrainTimeout(t *testing.T) {
	for _, tc := range []struct {
		ask  time.Duration
		want time.Duration
	}{
		{0, DefaultDrainTimeout},
		{5 * time.Second, 5 * time.Second},
		{MaxDrainTimeout, MaxDrainTimeout},
	} {
		b := &fakeBackend{status: testStatus()}
		_, c := serve(t, b, Options{})
		start := time.Now()
		if _, err := c.Drain(ctx(t), tc.ask); err != nil {
			t.Fatal(err)
		}
		b.mu.Lock()
		got := b.deadline.Sub(start)
		b.mu.Unlock()
		if got < tc.want-time.Second || got > tc.want+time.Second {
			t.Errorf("drain(%v): the backend got %v to finish, want %v", tc.ask, got, tc.want)
		}
	}
}

func TestDrainTimesOut(t *testing.T) {
	b := &fakeBackend{status: testStatus(), drain: func(ctx context.Context) error {
		<-ctx.Done()
		return fmt.Errorf("drain not finished, still holding vip-01: %w", ctx.Err())
	}}
	_, c := serve(t, b, Options{})
	r, err := c.Drain(ctx(t), 100*time.Millisecond)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	if !e.TimedOut() || e.Code != http.StatusGatewayTimeout || e.Forbidden() {
		t.Errorf("error = %+v", e)
	}
	if r.OK || !r.TimedOut || len(r.Held) != 1 || r.Held[0] != "vip-01" || !strings.Contains(r.Error, "still holding vip-01") {
		t.Errorf("result = %+v", r)
	}
	if !strings.Contains(err.Error(), "drain: drain not finished") {
		t.Errorf("message = %q", err)
	}
}

func TestCommandFailures(t *testing.T) {
	b := &fakeBackend{
		status:  testStatus(),
		drain:   func(context.Context) error { return errors.New("nobody can take vip-01") },
		undrain: errors.New("the daemon is stopping"),
		reload:  errors.New("reload refused: bind cannot change"),
	}
	_, c := serve(t, b, Options{})
	for name, f := range map[string]func() (Result, error){
		"drain":   func() (Result, error) { return c.Drain(ctx(t), time.Second) },
		"undrain": func() (Result, error) { return c.Undrain(ctx(t)) },
		"reload":  func() (Result, error) { return c.Reload(ctx(t)) },
	} {
		r, err := f()
		var e *Error
		if !errors.As(err, &e) || e.Code != http.StatusConflict || e.Result == nil || e.TimedOut() {
			t.Errorf("%s: err = %#v", name, err)
			continue
		}
		if r.OK || r.Command != name || r.Error == "" || r.Error != e.Message {
			t.Errorf("%s: result = %+v, error message %q", name, r, e.Message)
		}
	}
}

// rawRequest writes req on a new connection and returns the whole answer.
func rawRequest(t *testing.T, path, req string) string {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	go io.WriteString(conn, req)
	out, _ := io.ReadAll(conn)
	return string(out)
}

func TestMalformedRequests(t *testing.T) {
	b := &fakeBackend{status: testStatus()}
	_, c := serve(t, b, Options{})
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", c.Path())
		},
	}}
	huge := strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		method, target, body string
		chunked              bool
		code                 int
		msg                  string
	}{
		{"GET", "/v1/drain", "", false, 405, "needs POST"},
		{"POST", "/v1/status", "", false, 405, "needs GET"},
		{"DELETE", "/v1/reload", "", false, 405, "needs POST"},
		{"GET", "/", "", false, 404, "no such endpoint"},
		{"GET", "/v2/status", "", false, 404, "no such endpoint"},
		{"GET", "/v1/status/", "", false, 404, "no such endpoint"},
		{"GET", "/v1/status?verbose=1", "", false, 400, `unknown parameter "verbose"`},
		{"POST", "/v1/undrain?timeout=1s", "", false, 400, "takes no parameters"},
		{"POST", "/v1/drain?timeout=abc", "", false, 400, "not a duration"},
		{"POST", "/v1/drain?timeout=60", "", false, 400, "not a duration"},
		{"POST", "/v1/drain?timeout=-1s", "", false, 400, "out of range"},
		{"POST", "/v1/drain?timeout=0s", "", false, 400, "out of range"},
		{"POST", "/v1/drain?timeout=11m", "", false, 400, "out of range"},
		{"POST", "/v1/drain?timeout=1s&timeout=2s", "", false, 400, "given 2 times"},
		{"POST", "/v1/drain?timeout=%zz", "", false, 400, "malformed query"},
		{"POST", "/v1/drain", "{}", false, 400, "takes a request body"},
		{"POST", "/v1/drain", huge, false, 413, "too large"},
		{"POST", "/v1/drain", huge, true, 413, "larger than"},
		{"GET", "/v1/status", huge, true, 413, "larger than"},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
				if tc.chunked {
					// Hide the length so that the server must count.
					body = io.MultiReader(body)
				}
			}
			req, err := http.NewRequestWithContext(ctx(t), tc.method, "http://wackamole"+tc.target, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			var eb errorBody
			if err := json.Unmarshal(data, &eb); err != nil {
				t.Fatalf("answer is not JSON: %q", data)
			}
			if resp.StatusCode != tc.code || !strings.Contains(eb.Error, tc.msg) {
				t.Errorf("got %d %q, want %d and a message with %q", resp.StatusCode, eb.Error, tc.code, tc.msg)
			}
			if tc.code == 405 && resp.Header.Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
		})
	}
	if calls := b.Calls(); len(calls) != 0 {
		t.Errorf("malformed requests reached the backend: %v", calls)
	}
	// Not HTTP at all, and oversized headers: net/http answers; the
	// server lives on.
	if got := rawRequest(t, c.Path(), "GARBAGE\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 400") {
		t.Errorf("garbage: %q", got)
	}
	if got := rawRequest(t, c.Path(), "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("y", 64<<10)+"\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 431") {
		t.Errorf("huge header: %.80q", got)
	}
	if _, err := c.Status(ctx(t)); err != nil {
		t.Errorf("the server does not answer after the malformed requests: %v", err)
	}
}

// A command longer than the server's read timeout still gets its answer:
// net/http would cancel the request's context when the connection's read
// deadline passes.
func TestLongCommandOutlivesReadTimeout(t *testing.T) {
	b := &fakeBackend{status: testStatus(), drain: func(ctx context.Context) error {
		select {
		case <-time.After(600 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	o := usable(t, Options{Path: filepath.Join(shortDir(t), "c.sock"), Backend: b, Logger: quietLogger()})
	s, err := Listen(o)
	if err != nil {
		t.Fatal(err)
	}
	s.http.ReadTimeout = 100 * time.Millisecond
	s.http.WriteTimeout = 100 * time.Millisecond
	go s.Serve()
	defer s.Close()
	c := NewClient(o.Path)
	defer c.Close()
	r, err := c.Drain(ctx(t), 5*time.Second)
	if err != nil || !r.OK {
		t.Fatalf("drain = %+v, %v", r, err)
	}
}

func TestClientGoneDuringDrain(t *testing.T) {
	started := make(chan struct{})
	b := &fakeBackend{status: testStatus(), drain: func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}}
	_, c := serve(t, b, Options{})
	cctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := c.Drain(cctx, time.Minute)
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a ConnectError", err)
	}
	if _, err := c.Status(ctx(t)); err != nil {
		t.Errorf("status after an abandoned drain: %v", err)
	}
}

func TestDrainProgress(t *testing.T) {
	release := make(chan struct{})
	b := &fakeBackend{status: testStatus(), drain: func(ctx context.Context) error {
		<-release
		return nil
	}}
	_, c := serve(t, b, Options{})
	var seen []Status
	go func() {
		time.Sleep(300 * time.Millisecond)
		close(release)
	}()
	r, err := c.DrainProgress(ctx(t), time.Minute, 50*time.Millisecond, func(s Status) { seen = append(seen, s) })
	if err != nil || !r.OK {
		t.Fatalf("drain = %+v, %v", r, err)
	}
	if len(seen) < 2 {
		t.Errorf("progress called %d times in 300ms at 50ms intervals", len(seen))
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	path := filepath.Join(shortDir(t), "c.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no stale socket to test with: %v", err)
	}
	_, c := serve(t, &fakeBackend{status: testStatus()}, Options{Path: path})
	if _, err := c.Status(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestRefusesWhenAnotherServerAnswers(t *testing.T) {
	_, c := serve(t, &fakeBackend{status: testStatus()}, Options{})
	_, err := Listen(Options{Path: c.Path(), Backend: &fakeBackend{}, Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "another process answers on it") {
		t.Fatalf("second Listen: %v", err)
	}
	if _, err := c.Status(ctx(t)); err != nil {
		t.Errorf("the first server was disturbed: %v", err)
	}
}

func TestRefusesNonSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "c.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Listen(Options{Path: path, Backend: &fakeBackend{}, Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen on a regular file: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "precious" {
		t.Errorf("the file was touched: %q", data)
	}
}

func TestCloseRemovesTheSocket(t *testing.T) {
	for _, served := range []bool{false, true} {
		path := filepath.Join(shortDir(t), "c.sock")
		s, err := Listen(usable(t, Options{Path: path, Backend: &fakeBackend{}, Logger: quietLogger()}))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		if served {
			go func() { done <- s.Serve() }()
			waitAnswers(t, path)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if served {
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("served=%v: the socket is still there after Close: %v", served, err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
}

func waitAnswers(t *testing.T, path string) {
	t.Helper()
	c := NewClient(path)
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := c.Status(ctx(t)); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the server never answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestListenOptions(t *testing.T) {
	if _, err := Listen(Options{Backend: &fakeBackend{}}); err == nil {
		t.Error("Listen without a path succeeded")
	}
	if _, err := Listen(Options{Path: "/tmp/x.sock"}); err == nil {
		t.Error("Listen without a backend succeeded")
	}
	_, err := Listen(Options{Path: filepath.Join(shortDir(t), "c.sock"), Group: "no-such-group-wk", Backend: &fakeBackend{}})
	if err == nil || !strings.Contains(err.Error(), "no-such-group-wk") {
		t.Errorf("Listen with an unknown group: %v", err)
	}
}

func TestConnectErrors(t *testing.T) {
	dir := shortDir(t)
	missing := NewClient(filepath.Join(dir, "missing.sock"))
	_, err := missing.Status(ctx(t))
	var ce *ConnectError
	if !errors.As(err, &ce) || !ce.Dial || !strings.Contains(err.Error(), "no such socket — is wackamole running?") {
		t.Errorf("missing socket: %v", err)
	}

	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	_, err = NewClient(stale).Status(ctx(t))
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "connect to "+stale+": connection refused") {
		t.Errorf("stale socket: %v", err)
	}

	// A server that accepts and hangs up without answering.
	hang := filepath.Join(dir, "hang.sock")
	hl, err := net.Listen("unix", hang)
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	go func() {
		for {
			c, err := hl.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			c.Close()
		}
	}()
	_, err = NewClient(hang).Status(ctx(t))
	if !errors.As(err, &ce) || ce.Dial || !strings.HasPrefix(err.Error(), "talk to "+hang) {
		t.Errorf("hang-up: %v", err)
	}
}
