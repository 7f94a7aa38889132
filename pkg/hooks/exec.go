package hooks

// The process handling here mirrors pkg/health's (exec.go), except that a
// hook's background processes are left alone when it exits. Keep the two
// in step.

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
)

// waitDelay bounds how long Wait waits for the stderr pipe after the hook
// exited or was killed: a process it started may hold the pipe open.
const waitDelay = 500 * time.Millisecond

// runExec runs argv (no shell) with env, stdin and stdout on /dev/null
// and the working directory "/". The hook gets a process group of its
// own, killed as a whole when ctx is done. Processes it leaves running
// when it exits are left alone: starting something that outlives the hook
// may be what it is for.
//
// The error carries the exit status and the first line of stderr.
func runExec(ctx context.Context, argv, env []string) error {
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
	cmd.Cancel = g.kill
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return err
	}
	g.awaitExit()
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

// group is the process group of a started hook, which leads it.
//
// Killing a group by number is safe only while the number cannot name
// another group: while the leader is not reaped (a zombie keeps its pid,
// and so the group id, reserved). So the leader's exit is awaited without
// reaping it and marked, and only then is it reaped by Wait; a Cancel
// after the mark does nothing.
type group struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	exited bool
}

// awaitExit waits until the leader has exited, leaving it a zombie, and
// marks it exited.
func (g *group) awaitExit() {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, g.cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	g.mu.Lock()
	g.exited = true
	g.mu.Unlock()
}

// kill kills the group with SIGKILL unless the leader has exited.
func (g *group) kill() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.exited {
		return os.ErrProcessDone
	}
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

// firstLineMax bounds the stderr line kept for the log.
const firstLineMax = 200

// firstLine is an io.Writer that keeps the first line written to it, at
// most firstLineMax bytes, and discards everything else.
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
	if room := firstLineMax - len(w.buf); len(p) > room {
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
