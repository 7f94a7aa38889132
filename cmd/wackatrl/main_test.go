package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wackamole/wackamole/internal/testenv"
	"github.com/wackamole/wackamole/pkg/control"
)

type fakeNode struct {
	mu     sync.Mutex
	status control.Status
	drain  error
	reload error
	calls  []string
}

func (f *fakeNode) Status() control.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeNode) call(name string, err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	return err
}

func (f *fakeNode) Drain(ctx context.Context) error {
	f.mu.Lock()
	hold := f.drain
	f.mu.Unlock()
	if errors.Is(hold, context.DeadlineExceeded) {
		<-ctx.Done()
		return f.call("drain", ctx.Err())
	}
	return f.call("drain", hold)
}

func (f *fakeNode) Undrain(ctx context.Context) error { return f.call("undrain", nil) }
func (f *fakeNode) Reload(ctx context.Context) error  { return f.call("reload", f.reload) }

func status() control.Status {
	return control.Status{
		Node: "n1", State: "mature", Healthy: true,
		Quorum: control.Quorum{Have: 3, Need: 2, OK: true},
		Members: []control.Member{
			{Name: "n1", Self: true, Alive: true, State: "mature", Healthy: true, Eligible: true, Held: []string{"vip-01"}},
			{Name: "n2", Alive: true, State: "mature", Healthy: true, Eligible: true},
		},
		VIPs: []control.VIP{{Name: "vip-01", Addresses: []string{"eth0:198.18.1.1/32"}, Owner: "n1", Holders: []string{"n1"}, Planned: "n1"}},
	}
}

func serve(t *testing.T, b control.Backend) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wkt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "c.sock")
	// As root, or through the test's own group: the socket admits root and
	// the members of the control group.
	s, err := control.Listen(control.Options{Path: path, Group: testenv.UserGroup(t), Backend: b, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Close() })
	return path
}

func wackatrl(args ...string) (code int, stdout, stderr string) {
	var o, e strings.Builder
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestCommands(t *testing.T) {
	f := &fakeNode{status: status()}
	sock := serve(t, f)
	for _, tc := range []struct {
		args []string
		code int
		out  string // substring of stdout
	}{
		{[]string{"-s", sock, "status"}, 0, "quorum  3/2 ok"},
		{[]string{"status", "-s", sock}, 0, "vip-01  eth0:198.18.1.1/32  n1"},
		{[]string{"-s", sock, "members"}, 0, "MEMBER  ADDRESS  STATE   HEALTH   ALIVE  ELIGIBLE  AGE  VIPS"},
		{[]string{"-s", sock, "vips"}, 0, "VIP     ADDRESSES           OWNER  SINCE  HAND-OVER"},
		{[]string{"-s", sock, "drain", "--timeout", "5s"}, 0, "n1 drained in"},
		{[]string{"-s", sock, "undrain"}, 0, "n1 undrained"},
		{[]string{"-s", sock, "reload"}, 0, "n1 reloaded its configuration"},
	} {
		code, out, errOut := wackatrl(tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) {
			t.Errorf("wackatrl %v: exit %d, stdout:\n%s\nstderr: %s\nwant exit %d and %q", tc.args, code, out, errOut, tc.code, tc.out)
		}
	}
}

func TestJSON(t *testing.T) {
	sock := serve(t, &fakeNode{status: status()})
	for _, tc := range []struct {
		cmd   string
		check func(t *testing.T, data []byte)
	}{
		{"status", func(t *testing.T, data []byte) {
			var s control.Status
			if err := json.Unmarshal(data, &s); err != nil || s.Quorum.Have != 3 || len(s.Members) != 2 {
				t.Errorf("%v: %s", err, data)
			}
		}},
		{"members", func(t *testing.T, data []byte) {
			var m control.Members
			if err := json.Unmarshal(data, &m); err != nil || m.Node != "n1" || len(m.Members) != 2 {
				t.Errorf("%v: %s", err, data)
			}
		}},
		{"vips", func(t *testing.T, data []byte) {
			var v control.VIPs
			if err := json.Unmarshal(data, &v); err != nil || v.VIPs[0].Owner != "n1" {
				t.Errorf("%v: %s", err, data)
			}
		}},
		{"drain", func(t *testing.T, data []byte) {
			var r control.Result
			if err := json.Unmarshal(data, &r); err != nil || !r.OK || r.Command != "drain" {
				t.Errorf("%v: %s", err, data)
			}
		}},
		{"undrain", func(t *testing.T, data []byte) {
			var r control.Result
			if err := json.Unmarshal(data, &r); err != nil || !r.OK || r.Command != "undrain" {
				t.Errorf("%v: %s", err, data)
			}
		}},
		{"reload", func(t *testing.T, data []byte) {
			var r control.Result
			if err := json.Unmarshal(data, &r); err != nil || !r.OK || r.Command != "reload" {
				t.Errorf("%v: %s", err, data)
			}
		}},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			code, out, errOut := wackatrl("-s", sock, tc.cmd, "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			tc.check(t, []byte(out))
		})
	}
}

func TestFailures(t *testing.T) {
	f := &fakeNode{status: status(), drain: errors.New("drained what could be: nobody can take vip-01"), reload: errors.New("reload refused: bind cannot change")}
	sock := serve(t, f)
	slow := serve(t, &fakeNode{status: status(), drain: context.DeadlineExceeded})

	code, out, _ := wackatrl("-s", sock, "drain")
	if code != 1 || !strings.Contains(out, "drain failed after") || !strings.Contains(out, "nobody can take vip-01") {
		t.Errorf("failed drain: exit %d, %q", code, out)
	}
	code, out, _ = wackatrl("-s", sock, "reload", "--json")
	var r control.Result
	if code != 1 || json.Unmarshal([]byte(out), &r) != nil || r.OK || !strings.Contains(r.Error, "bind cannot change") {
		t.Errorf("refused reload: exit %d, %q", code, out)
	}
	code, out, _ = wackatrl("-s", slow, "drain", "--timeout", "300ms")
	if code != 1 || !strings.Contains(out, "drain timed out after") {
		t.Errorf("drain timeout: exit %d, %q", code, out)
	}
}

func TestUnreachable(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := wackatrl("-s", filepath.Join(dir, "none.sock"), "status")
	if code != 3 || !strings.Contains(errOut, "no such socket — is wackamole running?") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

func TestUsage(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "w.toml")
	os.WriteFile(conf, []byte("node_name = \"x\"\n"), 0o600)
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("node_name = \n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "no command given"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"status", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--bogus", "status"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"status", "--timeout", "5s"}, 2, "--timeout only applies to drain"},
		{[]string{"drain", "--timeout", "1h"}, 2, "out of range"},
		{[]string{"drain", "--timeout", "soon"}, 2, "invalid value"},
		{[]string{"-s", "/x", "-c", conf, "status"}, 2, "mutually exclusive"},
		{[]string{"-c", bad, "status"}, 2, "-c " + bad},
		{[]string{"-c", filepath.Join(t.TempDir(), "missing.toml"), "status"}, 2, "no such file"},
	} {
		code, _, errOut := wackatrl(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("wackatrl %v: exit %d, %q; want %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"status", "--help"}} {
		if code, out, _ := wackatrl(args...); code != 0 || !strings.Contains(out, "EXIT STATUS") {
			t.Errorf("wackatrl %v: exit %d", args, code)
		}
	}
	if code, out, _ := wackatrl("--version"); code != 0 || !strings.HasPrefix(out, "wackatrl ") {
		t.Errorf("--version: %d %q", code, out)
	}
}

func TestSocketFromConfig(t *testing.T) {
	sock := serve(t, &fakeNode{status: status()})
	conf := filepath.Join(t.TempDir(), "w.toml")
	text := "node_name = \"n1\"\ncontrol_socket = \"" + sock + "\"\n\n[[vip]]\nname = \"v\"\naddresses = [\"198.18.1.1/32\"]\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := wackatrl("-c", conf, "vips"); code != 0 || !strings.Contains(out, "vip-01") {
		t.Errorf("exit %d, %q, %q", code, out, errOut)
	}
	p, err := socketPath(options{config: filepath.Join(t.TempDir(), "x.toml")})
	if err == nil {
		t.Errorf("missing config file: %q", p)
	}
	empty := filepath.Join(t.TempDir(), "e.toml")
	os.WriteFile(empty, nil, 0o600)
	if p, err := socketPath(options{config: empty}); err != nil || p != "/run/wackamole/wackamole.sock" {
		t.Errorf("config without control_socket: %q, %v", p, err)
	}
}
