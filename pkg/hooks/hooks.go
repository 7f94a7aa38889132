// Package hooks runs the programs configured in [hooks] when this node
// acquires or releases a VIP, or sees another host claim one it holds.
//
// A hook is run as
//
//	HOOK EVENT VIP
//
// (no shell, working directory "/") with only this environment:
//
//	PATH=/usr/sbin:/usr/bin:/sbin:/bin
//	WACKAMOLE_EVENT       acquire, release or conflict
//	WACKAMOLE_VIP         the VIP's name
//	WACKAMOLE_ADDRESSES   its prefixes, space-separated ("198.18.1.10/32 2001:db8::10/128")
//	WACKAMOLE_INTERFACES  their interfaces, space-separated
//	WACKAMOLE_REASON      why, in a few words
//	WACKAMOLE_NODE        this node's name
//
// Hooks never hold up the reconcile loop: Run queues the event and
// returns. Acquire and release events share one queue and one worker, so
// that the hooks of one VIP run in the order its events happened (a release
// never overtakes the acquire before it); conflict events have their own,
// so that a burst of conflicts cannot delay ownership hooks or the other
// way round. A full queue drops the event, which is logged and counted. A
// hook that runs longer than the timeout is killed with its whole process
// group; processes it leaves behind when it exits are left alone.
package hooks

import (
	"github.com/wackamole/wackamole/pkg/internal/proc"

	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wackamole/wackamole/pkg/config"
)

// Event kinds.
const (
	Acquire  = "acquire"
	Release  = "release"
	Conflict = "conflict"
)

// QueueSize is the number of events each queue holds.
const QueueSize = 64

// Event is something a hook is run for.
type Event struct {
	// Kind is Acquire, Release or Conflict.
	Kind string
	// VIP is the VIP's name.
	VIP string
	// Addresses are the VIP's prefixes, e.g. "198.18.1.10/32".
	Addresses []string
	// Interfaces are the interfaces the addresses are on.
	Interfaces []string
	// Reason says why, in a few words ("orphan", "rebalance", "drain",
	// "conflict with 02:00:00:00:00:02", ...).
	Reason string
	// Node is this node's name.
	Node string
}

// Runner runs hooks in the background. Its methods are safe for
// concurrent use.
type Runner struct {
	paths     map[string]string // event kind -> hook
	queues    map[string]chan Event
	timeout   time.Duration
	closeWait time.Duration
	log       *slog.Logger

	ctx    context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex // guards closed and sending on queues
	closed bool
	once   sync.Once

	ran, failed, dropped atomic.Uint64
}

// New returns a Runner of the hooks in cfg and starts its workers (none
// when no hook is set). A Timeout that is not positive means
// config.DefaultHookTimeout; a nil logger means slog.Default(). Close
// stops it.
func New(cfg config.Hooks, logger *slog.Logger) *Runner {
	return newRunner(cfg, logger, QueueSize)
}

func newRunner(cfg config.Hooks, logger *slog.Logger, queueSize int) *Runner {
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = config.DefaultHookTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{
		paths:     map[string]string{},
		queues:    map[string]chan Event{},
		timeout:   cfg.Timeout,
		closeWait: cfg.Timeout,
		log:       logger,
		ctx:       ctx,
		cancel:    cancel,
	}
	for kind, path := range map[string]string{Acquire: cfg.OnAcquire, Release: cfg.OnRelease, Conflict: cfg.OnConflict} {
		if path != "" {
			r.paths[kind] = path
		}
	}
	start := func(kinds ...string) {
		var q chan Event
		for _, k := range kinds {
			if r.paths[k] == "" {
				continue
			}
			if q == nil {
				q = make(chan Event, queueSize)
				r.wg.Go(func() { r.work(q) })
			}
			r.queues[k] = q
		}
	}
	start(Acquire, Release) // one queue: ordered
	start(Conflict)
	return r
}

// Run queues ev for its hook and returns at once. Without a hook for
// ev.Kind it does nothing. An event that finds its queue full, or comes
// after Close, is dropped: logged and counted.
func (r *Runner) Run(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.queues[ev.Kind]
	switch {
	case !ok:
		if ev.Kind != Acquire && ev.Kind != Release && ev.Kind != Conflict {
			r.dropped.Add(1)
			r.log.Error("hook event of unknown kind dropped", "event", ev.Kind, "vip", ev.VIP)
		}
		return
	case r.closed:
		r.dropped.Add(1)
		r.log.Error("hook event after shutdown dropped", "event", ev.Kind, "vip", ev.VIP)
		return
	}
	select {
	case q <- ev:
	default:
		r.dropped.Add(1)
		r.log.Error("hook queue full: event dropped", "event", ev.Kind, "vip", ev.VIP, "hook", r.paths[ev.Kind], "queue", cap(q))
	}
}

// Counts returns the number of hooks that ran (finished, whether they
// succeeded or not), of those that failed (non-zero exit, killed, timed
// out or could not be started), and of events dropped without running
// their hook.
func (r *Runner) Counts() (ran, failed, dropped uint64) {
	return r.ran.Load(), r.failed.Load(), r.dropped.Load()
}

// Close stops taking events and waits for the queued ones to run, for at
// most the hook timeout; then it kills the running hooks and drops what is
// still queued. It returns once the workers are gone (within about the
// timeout and a second). Later calls do nothing.
func (r *Runner) Close() {
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		closed := map[chan Event]bool{}
		for _, q := range r.queues {
			if !closed[q] {
				close(q)
				closed[q] = true
			}
		}
		r.mu.Unlock()

		done := make(chan struct{})
		go func() {
			r.wg.Wait()
			close(done)
		}()
		timer := time.NewTimer(r.closeWait)
		defer timer.Stop()
		select {
		case <-done:
		case <-timer.C:
			_, _, before := r.Counts()
			r.cancel()
			<-done
			_, _, after := r.Counts()
			r.log.Error("hooks still running at shutdown were killed", "waited", r.closeWait, "dropped", after-before)
		}
		r.cancel()
	})
}

// work runs the hooks of the events of q, in order, until q is closed.
func (r *Runner) work(q <-chan Event) {
	for ev := range q {
		if r.ctx.Err() != nil {
			r.dropped.Add(1)
			continue
		}
		r.exec(ev)
	}
}

// exec runs the hook of ev and waits for it.
func (r *Runner) exec(ev Event) {
	path := r.paths[ev.Kind]
	argv := []string{path, ev.Kind, ev.VIP}
	env := []string{
		proc.Path,
		"WACKAMOLE_EVENT=" + ev.Kind,
		"WACKAMOLE_VIP=" + ev.VIP,
		"WACKAMOLE_ADDRESSES=" + strings.Join(ev.Addresses, " "),
		"WACKAMOLE_INTERFACES=" + strings.Join(ev.Interfaces, " "),
		"WACKAMOLE_REASON=" + ev.Reason,
		"WACKAMOLE_NODE=" + ev.Node,
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
	defer cancel()
	start := time.Now()
	err := proc.Run(ctx, argv, env, proc.KeepLeftovers)
	if err != nil && ctx.Err() == context.DeadlineExceeded && r.ctx.Err() == nil {
		err = fmt.Errorf("timed out after %v (killed)", r.timeout)
	}
	r.ran.Add(1)
	attrs := []any{"event", ev.Kind, "vip", ev.VIP, "hook", path, "duration", time.Since(start).Round(time.Millisecond)}
	if err != nil {
		r.failed.Add(1)
		r.log.Error("hook failed", append(attrs, "error", err)...)
		return
	}
	r.log.Info("hook ran", attrs...)
}
