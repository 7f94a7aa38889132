package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// lookIP finds the ip(8) command of iproute2 once per program.
var lookIP = sync.OnceValues(func() (string, error) {
	return lookCmd("ip", "iproute2")
})

// lookNft finds the nft(8) command once per program.
var lookNft = sync.OnceValues(func() (string, error) {
	return lookCmd("nft", "nftables")
})

func lookCmd(name, pkg string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("lab: command %q not found (install the Debian package %s): %w", name, pkg, err)
	}
	return p, nil
}

// checkPrivileges fails early with a clear message instead of a cryptic
// "Operation not permitted" from the first ip command.
func checkPrivileges() error {
	if uid := os.Geteuid(); uid != 0 {
		return fmt.Errorf("lab: network namespaces need root (running as uid %d)", uid)
	}
	_, err := lookIP()
	return err
}

// spawnReqs feeds the spawner goroutine. Child processes are started with
// Pdeathsig so that they die with the program even when it crashes before
// Close. Linux delivers that signal when the forking *thread* exits, and Go
// retires threads whose goroutine exits while locked (which the namespace
// helpers may do), so every fork happens on one thread that is locked
// forever and never exits.
var (
	spawnOnce sync.Once
	spawnReqs chan func()
)

func spawn(start func() error) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan func())
		go func() {
			runtime.LockOSThread()
			for f := range spawnReqs {
				f()
			}
		}()
	})
	errc := make(chan error, 1)
	spawnReqs <- func() { errc <- start() }
	return <-errc
}

// run runs argv to completion and returns its standard output. The error
// names the command and carries its standard error.
func run(ctx context.Context, stdin io.Reader, argv ...string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("lab: empty command")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = stdin
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Kill the whole group: "ip netns exec" may run a shell with children.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	err := spawn(cmd.Start)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return stdout.String(), fmt.Errorf("lab: %s: %w: %s", strings.Join(argv, " "), err, msg)
		}
		return stdout.String(), fmt.Errorf("lab: %s: %w", strings.Join(argv, " "), err)
	}
	return stdout.String(), nil
}

// ipCmd runs "ip ARGS..." in the root namespace (only netns management
// commands and "-n NS" commands ever go through here).
func ipCmd(ctx context.Context, args ...string) (string, error) {
	ip, err := lookIP()
	if err != nil {
		return "", err
	}
	return run(ctx, nil, append([]string{ip}, args...)...)
}
