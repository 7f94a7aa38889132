package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/wackamole/wackamole/pkg/agent"
)

// WedgeEnv names the test-only hook that wedges the reconcile loop: when it
// is set to a file name and that file exists, the loop blocks for good at
// the end of its next round, as a loop stuck in a system call would. It
// lets a test play systemd and watch the watchdog kill the daemon. Nobody
// sets it in production; unset (or naming a file that does not exist) it
// does nothing but one stat(2) per round.
const WedgeEnv = "WACKAMOLE_TEST_WEDGE_FILE"

// startExtension is how far each unsettled round pushes systemd's start-up
// timeout (EXTEND_TIMEOUT_USEC): a long maturity must not fail the start,
// while a loop that stops running rounds before it is ready still does.
// Rounds come at least every resync (5 s).
const startExtension = 30 * time.Second

// notifier tells systemd how the daemon is doing, by the notify protocol
// of sd_notify(3): one datagram to $NOTIFY_SOCKET per change.
//
//   - READY=1 after the first settled round (see agent.Round): the node
//     has joined, or found itself alone and waited its maturity, and has
//     applied its first plan. Until then every round extends the start-up
//     timeout (EXTEND_TIMEOUT_USEC).
//   - STATUS= whenever the state, quorum, members or VIPs held change.
//   - WATCHDOG=1 from the rounds themselves, so that a reconcile loop that
//     is stuck stops the beats and systemd kills the daemon (WatchdogSec=);
//     rounds come at least every resync, and the daemon asks for one at a
//     quarter of the watchdog interval (see Daemon.Run).
//   - RELOADING=1 and READY=1 around a reload; STOPPING=1 at the first
//     round of a graceful stop.
//
// Without $NOTIFY_SOCKET (not run by systemd) it sends nothing.
type notifier struct {
	log      *slog.Logger
	enabled  bool
	watchdog time.Duration // WATCHDOG_USEC for this process, or 0
	wedge    string        // WedgeEnv's file, "" when unset
	send     func(state string) error

	mu        sync.Mutex
	ready     bool
	stopping  bool
	status    string
	lastBeat  time.Time
	lastDelay time.Time // last EXTEND_TIMEOUT_USEC
	failing   bool      // the last datagram could not be sent
}

// newNotifier reads systemd's environment: NOTIFY_SOCKET, and
// WATCHDOG_USEC with WATCHDOG_PID (the watchdog is for this process only
// when WATCHDOG_PID names it). The variables stay set for go-systemd to
// read; hooks and exec checks run with an environment of their own,
// without them (and the unit's NotifyAccess=main would make systemd ignore
// whatever they sent).
func newNotifier(log *slog.Logger) *notifier {
	n := &notifier{log: log, enabled: os.Getenv("NOTIFY_SOCKET") != "", wedge: os.Getenv(WedgeEnv)}
	n.send = func(state string) error {
		_, err := sd.SdNotify(false, state)
		return err
	}
	wd, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("ignoring systemd's watchdog settings", "err", err)
	}
	if n.enabled {
		n.watchdog = wd
	}
	if n.wedge != "" {
		log.Warn("test hook set: the reconcile loop wedges when this file exists", "env", WedgeEnv, "file", n.wedge)
	}
	return n
}

// round is the agent's OnRound: it runs on the loop goroutine.
func (n *notifier) round(r agent.Round) {
	if n.wedge != "" {
		if _, err := os.Stat(n.wedge); err == nil {
			n.log.Warn("test hook: wedging the reconcile loop for good", "env", WedgeEnv)
			select {}
		}
	}
	n.roundAt(time.Now(), r)
}

// roundAt tells systemd about round r, ended at now.
func (n *notifier) roundAt(now time.Time, r agent.Round) {
	if !n.enabled {
		return
	}
	n.notify(n.roundMessage(now, r))
}

// roundMessage is the notification for round r at now ("" for none), and
// records what it says.
func (n *notifier) roundMessage(now time.Time, r agent.Round) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var lines []string
	switch {
	case r.Stopping && !n.stopping:
		n.stopping = true
		lines = append(lines, "STOPPING=1")
	case r.Settled && !n.ready && !r.Stopping:
		n.ready = true
		lines = append(lines, "READY=1")
	case !n.ready && !r.Stopping && now.Sub(n.lastDelay) >= time.Second:
		n.lastDelay = now
		lines = append(lines, fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", startExtension.Microseconds()))
	}
	if s := statusLine(r); s != n.status {
		n.status = s
		lines = append(lines, "STATUS="+s)
	}
	// A beat per round would be a datagram per membership change; a
	// quarter of the interval between beats keeps systemd well fed.
	if n.watchdog > 0 && now.Sub(n.lastBeat) >= n.watchdog/4 {
		n.lastBeat = now
		lines = append(lines, "WATCHDOG=1")
	}
	return strings.Join(lines, "\n")
}

// reloading tells systemd a reload has begun; reloaded that it is over,
// whatever its outcome (a rejected file leaves the daemon running as it
// was). A reload before the daemon is ready tells nothing: READY=1 is
// still to come from the rounds.
func (n *notifier) reloading() {
	if !n.enabled {
		return
	}
	n.mu.Lock()
	ready := n.ready && !n.stopping
	n.mu.Unlock()
	if ready {
		// MONOTONIC_USEC: systemd 253 and later want it with RELOADING=1.
		n.notify("RELOADING=1\n" + strings.TrimSuffix(sd.SdNotifyMonotonicUsec(), "\n"))
	}
}

func (n *notifier) reloaded() {
	if !n.enabled {
		return
	}
	n.mu.Lock()
	ready := n.ready && !n.stopping
	n.mu.Unlock()
	if ready {
		n.notify("READY=1")
	}
}

func (n *notifier) notify(msg string) {
	if msg == "" {
		return
	}
	err := n.send(msg)
	n.mu.Lock()
	first := err != nil && !n.failing
	n.failing = err != nil
	n.mu.Unlock()
	if first {
		// Once until it works again is enough to see it in the journal,
		// and the daemon goes on: systemd's own timeouts catch what
		// matters.
		n.log.Warn("cannot notify systemd", "msg", strings.ReplaceAll(msg, "\n", " "), "err", err)
	}
}

// maxStatusVIPs bounds the VIP names in a STATUS= line.
const maxStatusVIPs = 5

// statusLine is the node's state in one line, as systemctl status shows it.
func statusLine(r agent.Round) string {
	var b strings.Builder
	switch {
	case r.Stopping:
		b.WriteString("stopping: handing VIPs over")
	case r.State == "mature" && !r.Settled:
		b.WriteString("mature, settling")
	default:
		b.WriteString(r.State)
	}
	if r.Quorum.OK {
		fmt.Fprintf(&b, "; quorum %d/%d", r.Quorum.Have, r.Quorum.Need)
	} else {
		fmt.Fprintf(&b, "; no quorum (%d/%d): taking nothing", r.Quorum.Have, r.Quorum.Need)
	}
	fmt.Fprintf(&b, "; %d member", r.Members)
	if r.Members != 1 {
		b.WriteString("s")
	}
	fmt.Fprintf(&b, "; holding %d of %d VIPs", len(r.Held), r.VIPs)
	if len(r.Held) > 0 {
		names := r.Held
		if len(names) > maxStatusVIPs {
			names = names[:maxStatusVIPs]
		}
		fmt.Fprintf(&b, ": %s", strings.Join(names, " "))
		if more := len(r.Held) - len(names); more > 0 {
			fmt.Fprintf(&b, " and %d more", more)
		}
	}
	return b.String()
}

// wakeEvery calls wake every period until ctx ends.
func wakeEvery(ctx context.Context, period time.Duration, wake func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			wake()
		case <-ctx.Done():
			return
		}
	}
}
