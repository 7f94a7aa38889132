package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

// isolatedEnv marks the process that already runs in its own namespace.
const isolatedEnv = "WACKAMOLE_ISOLATED_NETNS"

// RunIsolated runs a package's tests in a network namespace of their own,
// so that the servers they start on 127.0.0.1 and the packets they send
// never touch the host's network namespace: tests send traffic only inside
// namespaces they create. It exits with the tests' status. Use it from
// TestMain:
//
//	func TestMain(m *testing.M) { lab.RunIsolated(m) }
//
// The test binary runs itself again under unshare(1) with a new network
// namespace (and, when not root, a user namespace that maps the caller to
// root in it), brings its loopback up and runs the tests there. The
// namespace disappears with the process: nothing to clean up. Fuzzing runs
// in place: the fuzz engine hands its workers file descriptors that a
// re-exec would not pass on, and fuzz targets open no sockets.
func RunIsolated(m *testing.M) {
	if os.Getenv(isolatedEnv) == "1" {
		if err := loopbackUp(); err != nil {
			fmt.Fprintln(os.Stderr, "lab:", err)
			os.Exit(1)
		}
		os.Exit(m.Run())
	}
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzz") {
			os.Exit(m.Run())
		}
	}
	os.Exit(reexec())
}

func reexec() int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		return 1
	}
	args := []string{"--net"}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user")
	}
	args = append(args, exe)
	cmd := exec.Command("unshare", append(args, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), isolatedEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "lab: cannot run the tests in a network namespace of their own (%v); they are not run in the host's (needs unshare from util-linux, and root or unprivileged user namespaces)\n", err)
	return 1
}

// loopbackUp brings lo up: a new network namespace starts with it down.
func loopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bring loopback up: %w", err)
	}
	return nil
}
