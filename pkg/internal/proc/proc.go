// Package proc runs the short programs the daemon starts: health checks
// and hooks. Each runs without a shell and without the daemon's
// environment, in a process group of its own that is killed as a whole on
// timeout, and its error carries the first line of its standard error.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wackamole/wackamole/membership/heartbeat"
)

// Path is the whole PATH of a program: programs do not inherit the
// daemon's environment, so that they behave the same whether the daemon
// was started by systemd or by hand.
const Path = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

// WaitDelay bounds how long Wait waits for the stderr pipe after the
// program exited or was killed: a grandchild that left the process group
// may hold the pipe open.
const WaitDelay = 500 * time.Millisecond

// Leftovers says what happens to the processes a program leaves running in
// its group when it exits.
type Leftovers bool

const (
	// KillLeftovers kills them: a health check that runs every few seconds
	// must not pile up processes.
	KillLeftovers Leftovers = true
	// KeepLeftovers leaves them alone: starting something that outlives
	// it may be what a hook is for.
	KeepLeftovers Leftovers = false
)

// Run runs argv (no shell) with env, stdin and stdout on /dev/null and
// the working directory "/". The program gets a process group of its own,
// killed as a whole when ctx is done; what it leaves running when it exits
// is killed or kept as leftovers says.
//
// The error carries the exit status and the first line of stderr.
func Run(ctx context.Context, argv, env []string, leftovers Leftovers) error {
	if len(argv) == 0 {
		return errors.New("no command")
	}
	stderr := &firstLine{}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	g := &group{cmd: cmd}
	cmd.Env = env
	cmd.Dir = "/"
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return g.kill(false) }
	cmd.WaitDelay = WaitDelay
	// From the ordinary thread: a realtime daemon's programs are
	// ordinary processes.
	if err := heartbeat.OnOrdinaryThread(cmd.Start); err != nil {
		return err
	}
	g.awaitExit()
	if leftovers == KillLeftovers {
		g.kill(true)
	} else {
		g.markExited()
	}
	err := cmd.Wait()
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		// It exited 0; only a process it started held stderr.
		err = nil
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	if line := stderr.String(); line != "" {
		return fmt.Errorf("%w: %s", err, line)
	}
	return err
}

// group is the process group of a started program, which leads it.
//
// Killing a group by number is safe only while the number cannot name
// another group: while the leader is not reaped (a zombie keeps its pid,
// and so the group id, reserved). So the leader's exit is awaited without
// reaping it, the group killed, and only then is it reaped by Wait;
// exited stops a late Cancel from killing by a number that may have been
// reused by then.
type group struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	exited bool
}

// awaitExit waits until the leader has exited, leaving it a zombie.
func (g *group) awaitExit() {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, g.cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			// On another error (none is expected) Wait still reaps;
			// only the leftovers may survive.
			return
		}
	}
}

// markExited makes later kills do nothing.
func (g *group) markExited() {
	g.mu.Lock()
	g.exited = true
	g.mu.Unlock()
}

// kill kills the group with SIGKILL. final marks the leader as exited:
// later calls do nothing.
func (g *group) kill(final bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.exited {
		return os.ErrProcessDone
	}
	g.exited = final
	// Exec sets Process before it starts the goroutine that calls
	// Cancel. Never kill group 0 (ours) or -1 (every process).
	pid := g.cmd.Process.Pid
	if pid <= 1 {
		return fmt.Errorf("no process group to kill (pid %d)", pid)
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	return nil
}

// FirstLineMax bounds the stderr line kept for the log.
const FirstLineMax = 200

// firstLine is an io.Writer that keeps the first line written to it, at
// most FirstLineMax bytes, and discards everything else.
type firstLine struct {
	buf  []byte
	done bool
}

func (w *firstLine) Write(p []byte) (int, error) {
	n := len(p)
	if w.done {
		return n, nil
	}
	if i := bytes.IndexByte(p, '\n'); i >= 0 {
		p, w.done = p[:i], true
	}
	if room := FirstLineMax - len(w.buf); len(p) > room {
		p, w.done = p[:room], true
	}
	w.buf = append(w.buf, p...)
	return n, nil
}

// String returns the line, trimmed, with control characters replaced so
// that it cannot forge log lines.
func (w *firstLine) String() string {
	b := bytes.TrimSpace(w.buf)
	out := make([]rune, 0, len(b))
	for _, r := range string(b) {
		if r < 0x20 || r == 0x7f {
			r = '?'
		}
		out = append(out, r)
	}
	return string(out)
}
