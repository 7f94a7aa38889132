package testenv

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
//	func TestMain(m *testing.M) { testenv.RunIsolated(m) }
//
// The test binary runs itself again under unshare(1) with a new network
// namespace (and, when not root, a user namespace that maps the caller to
// root in it), brings its loopback up and runs the tests there. The
// namespace disappears with the process: nothing to clean up. Where no
// such namespace can be made (no unshare, or neither root nor
// unprivileged user namespaces) the gate's rule applies to the whole
// package: its tests are skipped, or fail with E2EEnv=1; they never run in
// the host's namespace. Fuzzing runs in place: the fuzz engine hands its
// workers file descriptors that a re-exec would not pass on, and fuzz
// targets open no sockets.
func RunIsolated(m *testing.M) {
	if os.Getenv(isolatedEnv) == "1" {
		if err := loopbackUp(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv:", err)
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

// unshareArgs are unshare(1)'s options for a namespace of our own.
func unshareArgs() []string {
	args := []string{"--net"}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user")
	}
	return args
}

func reexec() int {
	// A probe first: unshare's own failure and the tests' failure have
	// the same exit status.
	if out, err := exec.Command("unshare", append(unshareArgs(), "true")...).CombinedOutput(); err != nil {
		problem := fmt.Sprintf("cannot run the tests in a network namespace of their own (unshare: %v: %s); they never run in the host's (needs unshare from util-linux, and root or unprivileged user namespaces)",
			err, strings.TrimSpace(string(out)))
		if os.Getenv(E2EEnv) == "1" {
			fmt.Fprintf(os.Stderr, "testenv: %s (%s=1, so this is a failure)\n", problem, E2EEnv)
			return 1
		}
		fmt.Fprintf(os.Stderr, "testenv: SKIP every test of this package: %s (set %s=1 to fail instead)\n", problem, E2EEnv)
		return 0
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	cmd := exec.Command("unshare", append(append(unshareArgs(), exe), os.Args[1:]...)...)
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
	fmt.Fprintf(os.Stderr, "testenv: running the tests under unshare: %v\n", err)
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
