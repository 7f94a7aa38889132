package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The wire format is what wackatrl --json, scripts and monitoring read:
// every endpoint's answer is compared with a file in testdata. After a
// deliberate change of the protocol, rewrite them with
//
//	go test ./pkg/control -run TestGolden -update
//
// and review the diff.
var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenTime is the fixture's clock: every time in the answers derives
// from it.
var goldenTime = time.Date(2026, 11, 26, 14, 3, 7, 250_000_000, time.UTC)

// goldenStatus sets every field of the status, so that the golden files
// show every key of the protocol.
func goldenStatus() Status {
	return Status{
		Node:         "web1",
		State:        "mature",
		Healthy:      true,
		Quorum:       Quorum{Have: 3, Need: 2, OK: true},
		Fingerprint:  "3f2a9c1e12ab45cd",
		Timing:       "lan",
		Started:      goldenTime.Add(-2 * time.Hour),
		GossipHealth: 1,
		Members: []Member{
			{Name: "web1", Addr: "198.18.0.11:7946", Self: true, Alive: true, State: "mature", Healthy: true, Eligible: true,
				Since: goldenTime.Add(-2 * time.Hour), Held: []string{"www-1"}, Leaving: []string{"www-3"}},
			{Name: "web2", Addr: "198.18.0.12:7946", Alive: true, State: "mature", Healthy: true, Eligible: true,
				Since: goldenTime.Add(-time.Hour), Held: []string{"www-2"}},
			{Name: "web3", Addr: "198.18.0.13:7946", Alive: true, State: "draining", Healthy: false, Damped: true, Unreachable: true, Why: "draining",
				Since: goldenTime.Add(-time.Minute), Held: []string{}},
		},
		VIPs: []VIP{
			{Name: "www-1", Addresses: []string{"eth0:198.18.1.1/32"}, Owner: "web1", Holders: []string{"web1"},
				Since: goldenTime.Add(-90 * time.Minute), Planned: "web1", Reason: "kept"},
			{Name: "www-2", Addresses: []string{"eth0:198.18.1.2/32", "eth1:198.18.2.2/32"}, Owner: "web2", Holders: []string{"web2"},
				Since: goldenTime.Add(-30 * time.Minute), Planned: "web2", Reason: "kept"},
			{Name: "www-3", Addresses: []string{"eth0:198.18.1.3/32"}, Owner: "web2", Holders: []string{"web1", "web2"},
				Since: goldenTime.Add(-2 * time.Second), Planned: "web2", Reason: "rebalanced", Waiting: "web1 removes its copy"},
			{Name: "www-4", Addresses: []string{"eth0:198.18.1.4/32"}, Holders: nil, Planned: "", Reason: "unowned", Waiting: "no quorum"},
		},
		Checks: []Check{
			{Name: "nginx", Kind: "http", Healthy: true, LastCheck: goldenTime.Add(-time.Second), LastChange: goldenTime.Add(-time.Hour), Successes: 1800},
			{Name: "disk", Kind: "exec", Healthy: true, LastError: "exit status 1", LastCheck: goldenTime.Add(-2 * time.Second), Failures: 1},
		},
		Counters: Counters{
			Acquired:      map[string]uint64{"orphan": 2, "rebalance": 1},
			Released:      map[string]uint64{"rebalance": 1, "shutdown": 0},
			Conflicts:     1,
			Announcements: 42,
			Errors:        3,
		},
		Notes: []string{"web4 has another configuration (fingerprint 77aa01)"},
		BGP: &BGP{
			Peers:  []BGPPeer{{Address: "198.18.0.1", ASN: 65000, State: "established", Uptime: "1h2m3s", BFD: "up", Advertised: 2}},
			Routes: []BGPRoute{{Prefix: "198.18.1.100/32"}, {Prefix: "198.18.1.101/32", Standby: true}},
		},
	}
}

// goldenBackend answers with goldenStatus; drain, undrain and reload
// behave as the test case says.
type goldenBackend struct {
	mu     sync.Mutex
	status Status
	drain  func(ctx context.Context) error
	err    error // of undrain and reload
}

func (b *goldenBackend) Status() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status
}

func (b *goldenBackend) Drain(ctx context.Context) error {
	if b.drain != nil {
		return b.drain(ctx)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.status.State = "draining"
	b.status.Members[0].Held, b.status.Members[0].Leaving = []string{}, nil
	return nil
}

func (b *goldenBackend) Undrain(context.Context) error { return b.err }
func (b *goldenBackend) Reload(context.Context) error  { return b.err }

func TestGolden(t *testing.T) {
	tests := []struct {
		name         string
		method, path string
		backend      func(*goldenBackend)
		code         int
	}{
		{name: "status", method: http.MethodGet, path: PathStatus, code: http.StatusOK},
		{name: "members", method: http.MethodGet, path: PathMembers, code: http.StatusOK},
		{name: "vips", method: http.MethodGet, path: PathVIPs, code: http.StatusOK},
		{name: "drain", method: http.MethodPost, path: PathDrain + "?timeout=30s", code: http.StatusOK},
		{name: "drain-timeout", method: http.MethodPost, path: PathDrain + "?timeout=1ms", code: http.StatusGatewayTimeout,
			backend: func(b *goldenBackend) {
				b.drain = func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
			}},
		{name: "undrain", method: http.MethodPost, path: PathUndrain, code: http.StatusOK},
		{name: "reload", method: http.MethodPost, path: PathReload, code: http.StatusOK},
		{name: "reload-refused", method: http.MethodPost, path: PathReload, code: http.StatusConflict,
			backend: func(b *goldenBackend) {
				b.err = errors.New(`/etc/wackamole/wackamole.toml:12: vip: "www-9" has no addresses`)
			}},
		{name: "error-unknown-endpoint", method: http.MethodGet, path: "/v1/nope", code: http.StatusNotFound},
		{name: "error-wrong-method", method: http.MethodPost, path: PathStatus, code: http.StatusMethodNotAllowed},
		{name: "error-bad-parameter", method: http.MethodPost, path: PathDrain + "?timeout=soon", code: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &goldenBackend{status: goldenStatus()}
			if tt.backend != nil {
				tt.backend(b)
			}
			s, _ := serve(t, b, Options{})
			// Commands take 1.5 s by this clock: Result.ElapsedMS does not
			// depend on the machine.
			var mu sync.Mutex
			tick := goldenTime
			s.now = func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				tick = tick.Add(1500 * time.Millisecond)
				return tick
			}
			code, body := exchange(t, s.Path(), tt.method, tt.path)
			if code != tt.code {
				t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, code, tt.code)
			}
			checkGolden(t, filepath.Join("testdata", tt.name+".json"), body)
		})
	}
}

// exchange sends one request over the socket and returns the status and
// the body as they came.
func exchange(t *testing.T, socket, method, target string) (int, []byte) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx(t), method, "http://wackamole"+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return resp.StatusCode, body
}

// checkGolden compares body, indented for review, with the golden file,
// or rewrites the file with -update. Indenting keeps every key, its order
// and every value as sent: the comparison is of the wire format.
func checkGolden(t *testing.T, file string, body []byte) {
	t.Helper()
	var got bytes.Buffer
	if err := json.Indent(&got, body, "", "  "); err != nil {
		t.Fatalf("the answer is not JSON: %v: %q", err, body)
	}
	got.WriteByte('\n')
	if *update {
		if err := os.WriteFile(file, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("answer differs from %s (run with -update after a deliberate change):\ngot:\n%s\nwant:\n%s", file, got.Bytes(), want)
	}
}
