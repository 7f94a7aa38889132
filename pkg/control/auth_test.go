package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
)

// The test binary doubles as a client run under other credentials: with
// helperEnv set it asks the socket named there for the status and prints
// "ok" or the error.
const helperEnv = "WACKAMOLE_CONTROL_TEST_SOCKET"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := NewClient(path)
		if _, err := c.Status(ctx); err != nil {
			fmt.Println(err)
		} else {
			fmt.Println("ok")
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestAuthorize(t *testing.T) {
	const gid = 1234
	root := &Server{gid: -1}
	group := &Server{gid: gid, group: "wackamole"}
	for _, tc := range []struct {
		name string
		s    *Server
		pi   peerInfo
		want string // "" = allowed
	}{
		{"root without group", root, peerInfo{peer: peer{UID: 0, GID: 0}}, ""},
		{"root with group", group, peerInfo{peer: peer{UID: 0, GID: 5}}, ""},
		{"user without group", root, peerInfo{peer: peer{UID: 1000, GID: gid}}, "uid 1000 is not root, and no control_group is configured"},
		{"primary group", group, peerInfo{peer: peer{UID: 1000, GID: gid}}, ""},
		{"supplementary group", group, peerInfo{peer: peer{UID: 1000, GID: 100, Groups: []uint32{27, gid}}}, ""},
		{"other groups", group, peerInfo{peer: peer{UID: 1000, GID: 100, Groups: []uint32{27}}}, `uid 1000 is neither root nor a member of the control group "wackamole"`},
		{"unknown credentials", group, peerInfo{err: errors.New("boom")}, "cannot read the client's credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.authorize(tc.pi)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Errorf("allowed, want refused with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("refused with %q, want %q", err, tc.want)
			}
		})
	}
}

func TestPeerCredOfSelf(t *testing.T) {
	_, c := serveAs(t, &fakeBackend{status: testStatus()}, Options{})
	if os.Getuid() != 0 {
		// Not root and no group: the server must refuse us.
		_, err := c.Status(ctx(t))
		var e *Error
		if !errors.As(err, &e) || !e.Forbidden() {
			t.Fatalf("non-root client: %v", err)
		}
		return
	}
	if _, err := c.Status(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestSocketMode(t *testing.T) {
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Skipf("no name for our group: %v", err)
	}
	for _, tc := range []struct {
		group string
		mode  os.FileMode
	}{
		{"", 0o600},
		{g.Name, 0o660},
	} {
		dir := filepath.Join(shortDir(t), "run", "wackamole")
		path := filepath.Join(dir, "c.sock")
		s, err := Listen(Options{Path: path, Group: tc.group, Backend: &fakeBackend{}, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != tc.mode {
			t.Errorf("group %q: socket mode %v, want %v", tc.group, fi.Mode(), tc.mode)
		}
		if gid := fi.Sys().(*syscall.Stat_t).Gid; gid != uint32(os.Getgid()) {
			t.Errorf("group %q: socket gid %d, want %d", tc.group, gid, os.Getgid())
		}
		di, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if want := os.FileMode(0o755) &^ umask(); di.Mode().Perm() != want {
			t.Errorf("created directory mode %v, want %v", di.Mode().Perm(), want)
		}
		s.Close()
	}
}

func umask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}

// TestCredentialsOverTheWire runs clients as other users against a real
// server: file permissions first, then (on a socket opened up by mistake)
// the server's own check of the peer's credentials, primary and
// supplementary groups.
func TestCredentialsOverTheWire(t *testing.T) {
	testenv.RequireRoot(t) // to run clients as other users
	const nobody, nogroup, other = 65534, 65534, 65533
	// The helper binary must be reachable by nobody: copy it out of the
	// build cache's private directory.
	dir := shortDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(dir, "helper")
	if err := copyFile(exe, helper); err != nil {
		t.Fatal(err)
	}
	groupName := ""
	if g, err := user.LookupGroupId(strconv.Itoa(nogroup)); err == nil {
		groupName = g.Name
	}
	run := func(t *testing.T, path string, uid, gid uint32, groups []uint32) string {
		t.Helper()
		cmd := exec.Command(helper)
		// atexit_sleep_ms: a race-enabled binary otherwise idles 1 s on exit.
		cmd.Env = []string{helperEnv + "=" + path, "GORACE=atexit_sleep_ms=0"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper: %v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	listen := func(t *testing.T, name, group string) string {
		path := filepath.Join(dir, name)
		s, err := Listen(Options{Path: path, Group: group, Backend: &fakeBackend{status: testStatus()}, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve()
		t.Cleanup(func() { s.Close() })
		return path
	}

	t.Run("file mode keeps others out", func(t *testing.T) {
		path := listen(t, "a.sock", "")
		got := run(t, path, nobody, nogroup, nil)
		want := "connect to " + path + ": permission denied — run as root or as a member of the control group"
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("credentials checked on an open socket", func(t *testing.T) {
		path := listen(t, "b.sock", "")
		if err := os.Chmod(path, 0o666); err != nil {
			t.Fatal(err)
		}
		got := run(t, path, nobody, nogroup, nil)
		if want := "status: permission denied: uid 65534 is not root"; !strings.HasPrefix(got, want) {
			t.Errorf("got %q, want %q…", got, want)
		}
	})
	if groupName == "" {
		t.Skip("no group with id 65534 to test control_group with")
	}
	t.Run("control group", func(t *testing.T) {
		path := listen(t, "c.sock", groupName)
		if got := run(t, path, nobody, nogroup, nil); got != "ok" {
			t.Errorf("member by primary group: %q", got)
		}
		if got := run(t, path, nobody, other, []uint32{nogroup}); got != "ok" {
			t.Errorf("member by supplementary group: %q", got)
		}
		// Not a member: file permissions refuse it; opened up, the server does.
		if got := run(t, path, nobody, other, nil); !strings.Contains(got, "permission denied — run as root or as a member of the control group") {
			t.Errorf("non-member: %q", got)
		}
		if err := os.Chmod(path, 0o666); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("status: permission denied: uid 65534 is neither root nor a member of the control group %q", groupName)
		if got := run(t, path, nobody, other, nil); got != want {
			t.Errorf("non-member on an open socket: %q, want %q", got, want)
		}
	})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
