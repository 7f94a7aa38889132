package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrRunning is returned by Process.Wait when the process is still running
// at the end of the timeout.
var ErrRunning = errors.New("lab: process still running")

// A Process is a long-running program started in a host's namespace by
// Host.Start. It leads its own process group. Its methods are safe for
// concurrent use.
type Process struct {
	host *Host
	argv []string
	log  string
	cmd  *exec.Cmd

	done    chan struct{} // closed once the process has been reaped
	mu      sync.Mutex
	state   *os.ProcessState
	waitErr error
}

// Start starts name with args inside the host's namespace, in a new process
// group, with standard output and error appended to logPath (discarded if
// logPath is ""). The process is killed if the calling program dies, and by
// Close. Use "env" as name to set environment variables.
func (h *Host) Start(name string, args []string, logPath string) (*Process, error) {
	ip, err := lookIP()
	if err != nil {
		return nil, err
	}
	argv := append([]string{name}, args...)
	cmd := exec.Command(ip, append([]string{"netns", "exec", h.NS}, argv...)...)
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lab: %s: start %s: %w", h.NS, name, err)
		}
		defer f.Close() // the child has its own descriptor
		// An *os.File is handed to the child as is: no copying goroutine
		// that could keep Wait from returning.
		cmd.Stdout, cmd.Stderr = f, f
	}
	// Pdeathsig: no orphan outlives a crashed test binary. "ip netns exec"
	// execs name in place, so the pid is name's own.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Process{host: h, argv: argv, log: logPath, cmd: cmd, done: make(chan struct{})}

	l := h.lab
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if err := spawn(cmd.Start); err != nil {
		return nil, fmt.Errorf("lab: %s: start %s: %w", h.NS, strings.Join(argv, " "), err)
	}
	l.procs[p] = struct{}{}
	go p.reap()
	return p, nil
}

func (p *Process) reap() {
	err := p.cmd.Wait()
	p.mu.Lock()
	p.state = p.cmd.ProcessState
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		p.waitErr = err
	}
	p.mu.Unlock()
	close(p.done)
}

// Pid returns the process id, which is also its process group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Host returns the host the process runs in.
func (p *Process) Host() *Host { return p.host }

// LogPath returns the file that receives the process's output ("" if none).
func (p *Process) LogPath() string { return p.log }

// String describes the process: namespace, pid, command and state.
func (p *Process) String() string {
	state := "running"
	if st := p.exitState(); st != nil {
		state = st.String()
	}
	return fmt.Sprintf("%s pid %d %q: %s", p.host.NS, p.Pid(), strings.Join(p.argv, " "), state)
}

func (p *Process) exitState() *os.ProcessState {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.state
	default:
		return nil
	}
}

// Signal sends sig to the process itself (not its group), e.g. SIGTERM for a
// graceful stop. It returns os.ErrProcessDone once the process has exited.
func (p *Process) Signal(sig os.Signal) error {
	if p.Exited() {
		return os.ErrProcessDone
	}
	return p.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL to the process's whole group, so children die too.
// Once the process has been reaped Kill does nothing, because its group id
// may then name someone else's group; children left behind in the lab's
// namespaces are killed by Close.
func (p *Process) Kill() error {
	if p.Exited() {
		return nil
	}
	err := syscall.Kill(-p.Pid(), syscall.SIGKILL)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("lab: kill %s: %w", p, err)
	}
	return nil
}

// Exited reports whether the process has exited and been reaped.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done returns a channel that is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits up to timeout for the process to exit and returns its exit
// state (see os.ProcessState's ExitCode, Success and Sys for the signal).
// A non-zero exit is not an error; the error is ErrRunning if the process is
// still running after timeout, or a failure to wait for it.
func (p *Process) Wait(timeout time.Duration) (*os.ProcessState, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		return nil, fmt.Errorf("lab: %s after %v: %w", p, timeout, ErrRunning)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr != nil {
		return p.state, fmt.Errorf("lab: wait for %s: %w", strings.Join(p.argv, " "), p.waitErr)
	}
	return p.state, nil
}
