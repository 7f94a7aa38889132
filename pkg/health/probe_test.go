package health

import (
	"github.com/wackamole/wackamole/pkg/internal/proc"

	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/config"
)

// script writes a shell script to a temporary directory and returns its
// name.
func script(t *testing.T, body string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "check")
	if err := os.WriteFile(name, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return name
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// readPID waits for a pid file written by a script.
func readPID(t *testing.T, name string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(name)
		if err == nil && strings.HasSuffix(string(data), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s not written", name)
	return 0
}

// waitDead fails unless process pid is gone within a second.
func waitDead(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still running", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func execCheck(timeout time.Duration, argv ...string) config.Check {
	return config.Check{Name: "x", Kind: config.CheckExec, Command: argv, Interval: time.Minute, Timeout: timeout, Rise: 1, Fall: 1}
}

func TestProbeExec(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		err  string // "" for success, else the whole message
	}{
		{"true", []string{"/bin/true"}, ""},
		{"false", []string{"/bin/false"}, "exit status 1"},
		{"arguments, no shell", []string{script(t, `[ "$1" = 'a b' ] && [ "$2" = '$HOME' ] && [ $# = 2 ]`), "a b", "$HOME"}, ""},
		{"stderr first line", []string{script(t, "echo ' first line ' >&2\necho second >&2\necho out\nexit 3")}, "exit status 3: first line"},
		{"stderr control characters", []string{script(t, "printf 'a\\033[31mb\\r' >&2\nexit 1")}, "exit status 1: a?[31mb"},
		{"stderr long line", []string{script(t, "head -c 5000 /dev/zero | tr '\\0' x >&2\nexit 1")}, "exit status 1: " + strings.Repeat("x", proc.FirstLineMax)},
		{"signal", []string{script(t, "kill -TERM $$")}, "signal: terminated"},
		{"missing program", []string{"/nonexistent/check"}, "fork/exec /nonexistent/check: no such file or directory"},
		{"not executable", []string{"/etc/passwd"}, "fork/exec /etc/passwd: permission denied"},
		{"empty command", nil, "no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Probe(context.Background(), execCheck(5*time.Second, tt.argv...))
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("Probe: %v", err)
			case tt.err != "" && (err == nil || err.Error() != tt.err):
				t.Errorf("Probe: %v, want %s", err, tt.err)
			}
		})
	}
}

// TestProbeExecEnvironment: a check sees PATH, its name, "/" as working
// directory and nothing of the daemon's environment.
func TestProbeExecEnvironment(t *testing.T) {
	t.Setenv("WACKAMOLE_TEST_LEAK", "1")
	out := filepath.Join(t.TempDir(), "env")
	c := execCheck(5*time.Second, "/usr/bin/env")
	c.Command = []string{script(t, "exec > "+out+"\n/usr/bin/env\npwd")}
	c.Name = "web"
	if err := Probe(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(string(data))
	for _, want := range []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "WACKAMOLE_CHECK=web", "/"} {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("output %q lacks %q", got, want)
		}
	}
	if strings.Contains(string(data), "WACKAMOLE_TEST_LEAK") || strings.Contains(string(data), "HOME=") {
		t.Errorf("the daemon's environment leaked: %q", got)
	}
}

// TestProbeExecTimeout: on timeout the whole process group dies,
// grandchildren included, and the probe returns at once.
func TestProbeExecTimeout(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	name := script(t, "sleep 30 &\necho $! > "+pidFile+"\necho about to hang >&2\nsleep 30")
	start := time.Now()
	err := Probe(context.Background(), execCheck(300*time.Millisecond, name))
	if err == nil || err.Error() != "timed out after 300ms" {
		t.Errorf("Probe: %v, want timed out after 300ms", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Probe returned after %v", d)
	}
	waitDead(t, readPID(t, pidFile), "the background sleep")
}

// TestProbeExecLeftovers: processes a check leaves behind are killed when
// it exits, and do not make it fail or wait.
func TestProbeExecLeftovers(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	name := script(t, "sleep 30 &\necho $! > "+pidFile+"\nexit 0")
	start := time.Now()
	if err := Probe(context.Background(), execCheck(5*time.Second, name)); err != nil {
		t.Errorf("Probe: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Probe returned after %v", d)
	}
	waitDead(t, readPID(t, pidFile), "the leftover sleep")
}

// TestProbeExecEscaped: a grandchild that left the process group and
// holds stderr open delays the probe by proc.WaitDelay at most; the exit
// status decides.
func TestProbeExecEscaped(t *testing.T) {
	if _, err := os.Stat("/usr/bin/setsid"); err != nil {
		t.Skip("no setsid:", err)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The grandchild writes its pid once it has its own session; the
	// check waits for that, so that it cannot be killed with the group.
	name := script(t, "/usr/bin/setsid /bin/sh -c 'echo $$ > "+pidFile+"; exec sleep 30' &\n"+
		"while ! [ -s "+pidFile+" ]; do sleep 0.01; done\nexit 0")
	start := time.Now()
	err := Probe(context.Background(), execCheck(5*time.Second, name))
	pid := readPID(t, pidFile)
	t.Cleanup(func() { _ = killPID(pid) })
	if err != nil {
		t.Errorf("Probe: %v", err)
	}
	if d := time.Since(start); d > proc.WaitDelay+time.Second {
		t.Errorf("Probe returned after %v", d)
	}
	if !alive(pid) {
		t.Errorf("the grandchild (pid %d) is not running: the test tested nothing", pid)
	}
}

func killPID(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// TestProbeExecCancel: cancelling the context kills the check like a
// timeout does.
func TestProbeExecCancel(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	name := script(t, "echo $$ > "+pidFile+"\nsleep 30")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Probe(ctx, execCheck(time.Minute, name)) }()
	pid := readPID(t, pidFile)
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Errorf("Probe: %v, want context canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Probe did not return after cancel")
	}
	waitDead(t, pid, "the check")
}

func TestProbeHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/fail":
			http.Error(w, "down", http.StatusServiceUnavailable)
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
		case "/slow":
			<-r.Context().Done()
		case "/conn":
			// Keep-alives off: the request says so.
			if !r.Close || r.Header.Get("User-Agent") != "wackamole-health-check" {
				http.Error(w, "kept alive", http.StatusBadRequest)
			}
		case "/big":
			w.Write([]byte(strings.Repeat("x", 1<<20)))
		}
	}))
	t.Cleanup(srv.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		url    string
		expect int
		err    string // substring; "" for success
	}{
		{srv.URL + "/ok", 200, ""},
		{srv.URL + "/fail", 200, "status 503, want 200"},
		{srv.URL + "/fail", 503, ""},
		{srv.URL + "/redirect", 200, `status 302, want 200 (a redirect to "/ok"; redirects are not followed)`},
		{srv.URL + "/redirect", 302, ""},
		{srv.URL + "/teapot", 200, "status 418, want 200"},
		{srv.URL + "/slow", 200, "timed out after 200ms"},
		{srv.URL + "/conn", 200, ""},
		{srv.URL + "/big", 200, ""},
		{closed.URL + "/ok", 200, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.url[len(srv.URL):], func(t *testing.T) {
			c := config.Check{Name: "web", Kind: config.CheckHTTP, URL: tt.url, ExpectStatus: tt.expect, Timeout: 200 * time.Millisecond}
			err := Probe(context.Background(), c)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("Probe(%s): %v", tt.url, err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("Probe(%s): %v, want ...%s...", tt.url, err, tt.err)
			}
		})
	}
}

// TestHTTPClient: no proxy from the environment, no keep-alives, no
// redirects. (Go never proxies loopback, so a test server cannot show
// that proxies are ignored.)
func TestHTTPClient(t *testing.T) {
	c := newHTTPClient()
	tr, ok := c.Transport.(*http.Transport)
	if !ok || tr.Proxy != nil || !tr.DisableKeepAlives {
		t.Errorf("transport %+v: want no proxy and no keep-alives", c.Transport)
	}
	if err := c.CheckRedirect(nil, nil); err != http.ErrUseLastResponse {
		t.Errorf("CheckRedirect = %v, want ErrUseLastResponse", err)
	}
}

func TestProbeTCP(t *testing.T) {
	ln := listener(t)
	c := config.Check{Name: "tcp", Kind: config.CheckTCP, Address: ln.Addr().String(), Timeout: time.Second}
	if err := Probe(context.Background(), c); err != nil {
		t.Errorf("Probe(%s): %v", c.Address, err)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.Address = closed.Addr().String()
	closed.Close()
	if err := Probe(context.Background(), c); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Probe(%s) of a closed port: %v", c.Address, err)
	}
}

func TestProbeUnknownKind(t *testing.T) {
	err := Probe(context.Background(), config.Check{Kind: "smtp"})
	if err == nil || err.Error() != `unknown check kind "smtp"` {
		t.Errorf("Probe: %v", err)
	}
}

func TestProbeICMP(t *testing.T) {
	c := config.Check{Name: "gw", Kind: config.CheckICMP, Address: "127.0.0.1", Timeout: time.Second}
	if err := Probe(context.Background(), c); err != nil {
		t.Errorf("Probe(%s): %v", c.Address, err)
	}
	if ok, _ := ipv6Loopback(); ok {
		c.Address = "::1"
		if err := Probe(context.Background(), c); err != nil {
			t.Errorf("Probe(%s): %v", c.Address, err)
		}
	}
	// Nobody answers (no route in this namespace, or no host): a failure
	// within the timeout.
	c.Address, c.Timeout = "198.18.255.254", 300*time.Millisecond
	start := time.Now()
	if err := Probe(context.Background(), c); err == nil {
		t.Errorf("Probe(%s) of nobody passed", c.Address)
	} else if time.Since(start) > 2*time.Second {
		t.Errorf("Probe(%s) took %v, past its timeout", c.Address, time.Since(start))
	}
}

func ipv6Loopback() (bool, error) {
	c, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return false, err
	}
	return true, c.Close()
}
