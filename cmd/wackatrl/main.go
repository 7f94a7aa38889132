// Command wackatrl shows a wackamole node's view of the group and who owns
// which VIP, and drains a node for maintenance. It talks to the daemon over
// its control socket.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/control"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `wackatrl - show and steer a wackamole node

USAGE
    wackatrl [-s SOCKET | -c FILE] COMMAND [--json] [flags]
    wackatrl --version | --help

DESCRIPTION
    wackatrl talks to the wackamole daemon on this host over its control
    socket. The daemon answers with its own view of the group: run wackatrl
    on another node to see that node's view.

COMMANDS
    status     this node (state, health, quorum have/need), then the members
               and VIPs tables: one glance answers "who owns what"
    members    every member this node sees: address, state, health, alive,
               eligible for VIPs (or why not), age, VIPs held
    vips       every VIP: addresses, owner, since when, and while a VIP moves,
               its planned owner and what the hand-over waits for
    drain      hand every VIP this node holds over to other members
               (make-before-break: clients lose nothing), then stay in the
               group, ineligible. Waits until done, printing progress to
               standard error. The node stays draining after a timeout, and
               after a restart it is eligible again.
    undrain    make the node eligible for VIPs again; the group gives it VIPs
               back as it rebalances (balance.max_moves per round)
    reload     make the daemon read its configuration file again (as SIGHUP
               does, but with the answer): an invalid file, or a change of a
               setting that needs a restart, is refused and changes nothing

FLAGS
    -s, --socket SOCKET  the control socket (default /run/wackamole/wackamole.sock)
    -c, --config FILE    take the socket from FILE's control_socket
    --json               machine output: the daemon's status for status,
                         {node, quorum, members} for members, {node, vips} for
                         vips, a result object {command, node, ok, error,
                         timed_out, state, held, elapsed_ms} for the commands
    --timeout DURATION   drain only: how long to wait (default 60s, at most 10m)

PERMISSIONS
    The socket admits root, and the members of the daemon's control_group
    when one is configured.

EXIT STATUS
    0  done
    1  the daemon reported a failure: the drain timed out or left VIPs nobody
       could take, the reload was refused, ...
    2  invalid command line (or a configuration file without a usable
       control_socket)
    3  cannot reach the daemon: no socket, nobody listening, permission
       denied, or no answer

EXAMPLES
    wackatrl status
    wackatrl drain --timeout 2m && systemctl restart nginx && wackatrl undrain
    wackatrl vips --json | jq -r '.vips[] | [.name, .owner] | @tsv'

SEE ALSO
    wackamole(8)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitUnreachable = 3
)

type options struct {
	socket, config string
	json, help     bool
	version        bool
	timeout        time.Duration
}

// flags registers the flags on fs; they are accepted before and after the
// command.
func (o *options) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.socket, "s", o.socket, "")
	fs.StringVar(&o.socket, "socket", o.socket, "")
	fs.StringVar(&o.config, "c", o.config, "")
	fs.StringVar(&o.config, "config", o.config, "")
	fs.BoolVar(&o.json, "json", o.json, "")
	fs.BoolVar(&o.help, "help", o.help, "")
	fs.BoolVar(&o.help, "h", o.help, "")
	fs.BoolVar(&o.version, "version", o.version, "")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "")
}

func parse(args []string, o *options) (cmd string, err error) {
	for pass := 0; pass < 2; pass++ {
		fs := flag.NewFlagSet("wackatrl", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o.flags(fs)
		if err := fs.Parse(args); err != nil {
			return "", err
		}
		args = fs.Args()
		if pass == 0 {
			if len(args) == 0 {
				return "", nil
			}
			cmd, args = args[0], args[1:]
		}
	}
	if len(args) > 0 {
		return "", fmt.Errorf("unexpected argument %q", args[0])
	}
	return cmd, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	cmd, err := parse(args, &o)
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "wackatrl: "+format+"\nRun 'wackatrl --help' for usage.\n", a...)
		return exitUsage
	}
	switch {
	case err != nil:
		return usageErr("%v", err)
	case o.help || cmd == "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case o.version || cmd == "version":
		fmt.Fprintln(stdout, "wackatrl", version)
		return exitOK
	case cmd == "":
		return usageErr("no command given")
	}
	switch cmd {
	case "status", "members", "vips", "drain", "undrain", "reload":
	default:
		return usageErr("unknown command %q", cmd)
	}
	if o.timeout != 0 && cmd != "drain" {
		return usageErr("--timeout only applies to drain")
	}
	if o.timeout != 0 {
		if _, err := control.ParseDrainTimeout(o.timeout.String()); err != nil {
			return usageErr("--timeout: %v", err)
		}
	}
	socket, err := socketPath(o)
	if err != nil {
		return usageErr("%v", err)
	}
	c := control.NewClient(socket)
	defer c.Close()

	var out any
	now := time.Now()
	switch cmd {
	case "status":
		st, err := c.Status(ctx)
		if err != nil {
			return fail(stderr, err)
		}
		out = st
		if !o.json {
			err = control.WriteStatus(stdout, st, now)
		}
	case "members":
		m, err := c.Members(ctx)
		if err != nil {
			return fail(stderr, err)
		}
		out = m
		if !o.json {
			err = control.WriteMembers(stdout, m, now)
		}
	case "vips":
		v, err := c.VIPs(ctx)
		if err != nil {
			return fail(stderr, err)
		}
		out = v
		if !o.json {
			err = control.WriteVIPs(stdout, v, now)
		}
	default:
		return command(ctx, c, cmd, o, stdout, stderr)
	}
	if o.json {
		return printJSON(stdout, stderr, out)
	}
	return exitOK
}

// command runs drain, undrain or reload and prints its result.
func command(ctx context.Context, c *control.Client, cmd string, o options, stdout, stderr io.Writer) int {
	var r control.Result
	var err error
	switch cmd {
	case "drain":
		start := time.Now()
		last := ""
		r, err = c.DrainProgress(ctx, o.timeout, 500*time.Millisecond, func(st control.Status) {
			line := control.DrainLine(st, time.Since(start))
			if line != last {
				fmt.Fprintln(stderr, line)
				last = line
			}
		})
	case "undrain":
		r, err = c.Undrain(ctx)
	case "reload":
		r, err = c.Reload(ctx)
	}
	var de *control.Error
	ran := err == nil || (errors.As(err, &de) && de.Result != nil)
	switch {
	case !ran && cmd == "drain" && ctx.Err() != nil:
		fmt.Fprintln(stderr, "wackatrl: interrupted; the node stays draining ('wackatrl undrain' makes it eligible again)")
		return exitFailed
	case !ran:
		return fail(stderr, err)
	}
	if o.json {
		if code := printJSON(stdout, stderr, r); code != exitOK {
			return code
		}
	} else {
		control.WriteResult(stdout, r)
	}
	if !r.OK {
		return exitFailed
	}
	return exitOK
}

// socketPath is -s, or -c's control_socket, or the default.
func socketPath(o options) (string, error) {
	switch {
	case o.socket != "" && o.config != "":
		return "", errors.New("-s and -c are mutually exclusive")
	case o.socket != "":
		return o.socket, nil
	case o.config != "":
		// Only the one key: the rest of the file (the key file it names,
		// say) may be out of a control-group member's reach.
		var f struct {
			ControlSocket string `toml:"control_socket"`
		}
		if _, err := toml.DecodeFile(o.config, &f); err != nil {
			return "", fmt.Errorf("-c %s: %w", o.config, err)
		}
		if f.ControlSocket == "" {
			return config.DefaultControlSocket, nil
		}
		return f.ControlSocket, nil
	}
	return config.DefaultControlSocket, nil
}

// fail prints err and returns the exit status it calls for.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "wackatrl:", err)
	var ce *control.ConnectError
	var de *control.Error
	switch {
	case errors.As(err, &ce):
		return exitUnreachable
	case errors.As(err, &de) && de.Forbidden():
		return exitUnreachable
	}
	return exitFailed
}

func printJSON(stdout, stderr io.Writer, v any) int {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintln(stderr, "wackatrl:", err)
		return exitFailed
	}
	stdout.Write(append(data, '\n'))
	return exitOK
}
