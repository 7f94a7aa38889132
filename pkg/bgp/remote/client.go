package remote

import (
	"errors"
	"fmt"
	"io"
	"net/rpc"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/wackamole/wackamole/membership/heartbeat"
)

// Client is the daemon's end: a running wackamole-bgp. Its methods are
// safe for concurrent use (calls are serialised by net/rpc).
type Client struct {
	cmd    *exec.Cmd
	rpc    *rpc.Client
	stdin  io.WriteCloser
	exited chan struct{}
	err    error // why the child exited, once exited is closed

	closeOnce sync.Once
	closeErr  error
}

// callTimeout bounds one call: the speaker answers at once (GoBGP queues
// updates), so a call that hangs means a wedged child.
const callTimeout = 10 * time.Second

// Start starts program (wackamole-bgp) with its standard error on stderr,
// and the speaker in it with cfg. The child is killed if this process
// dies.
func Start(program string, cfg Config, stderr io.Writer) (*Client, error) {
	cmd := exec.Command(program)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &Client{cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	started := make(chan error, 1)
	// The child must die with this process, not with the thread that
	// started it: the kernel's parent-death signal follows the thread
	// (golang.org/issue/27505), and Go ends threads (those of locked
	// goroutines, for one). So it is started from a thread that lives as
	// long as the child: locked, and waiting for it; or, when the daemon
	// is realtime, from OnOrdinaryThread's, which lives as long as the
	// process and makes the speaker an ordinary process.
	go func() {
		runtime.LockOSThread()
		cmd.SysProcAttr = deathSignal()
		if err := heartbeat.OnOrdinaryThread(cmd.Start); err != nil {
			started <- err
			return
		}
		started <- nil
		c.err = cmd.Wait()
		close(c.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", program, err)
	}
	c.rpc = rpc.NewClient(pipe{stdout, stdin})
	if _, err := c.call("Start", StartArgs{Config: cfg}); err != nil {
		c.kill()
		return nil, err
	}
	return c, nil
}

// pipe is the child's stdout and stdin as one connection.
type pipe struct {
	io.ReadCloser
	w io.WriteCloser
}

func (p pipe) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p pipe) Close() error                { return errors.Join(p.ReadCloser.Close(), p.w.Close()) }

func (c *Client) call(method string, args any) (Reply, error) {
	var r Reply
	call := c.rpc.Go(serviceName+"."+method, args, &r, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
		return r, call.Error
	case <-c.exited:
		return r, fmt.Errorf("the BGP speaker (%s) exited: %v", c.cmd.Path, c.err)
	case <-time.After(callTimeout):
		return r, fmt.Errorf("the BGP speaker (%s) did not answer %s within %v", c.cmd.Path, method, callTimeout)
	}
}

// SetRoutes makes the announced routes exactly routes.
func (c *Client) SetRoutes(routes []Route) error {
	_, err := c.call("Set", SetArgs{Routes: routes})
	return err
}

// Status returns the announced routes and the sessions.
func (c *Client) Status() ([]Route, []PeerStatus, error) {
	r, err := c.call("Status", Empty{})
	return r.Announced, r.Peers, err
}

// Close withdraws every route, ends the sessions and waits for the child.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		_, err := c.call("Close", Empty{})
		c.stdin.Close() // the child exits when its input ends
		select {
		case <-c.exited:
		case <-time.After(5 * time.Second):
			c.kill()
			err = errors.Join(err, errors.New("the BGP speaker did not exit: killed"))
		}
		c.closeErr = err
	})
	return c.closeErr
}

func (c *Client) kill() {
	if c.cmd.Process != nil {
		c.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-c.exited
}

// Program returns the speaker's program: wackamole-bgp beside the running
// executable, else in /usr/lib/wackamole.
func Program() string {
	if exe, err := os.Executable(); err == nil {
		p := exe[:len(exe)-len(baseName(exe))] + "wackamole-bgp"
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "/usr/lib/wackamole/wackamole-bgp"
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}
