// Command wackamole is the wackamole daemon: run one on every web node and
// the nodes share the configured virtual IPs among themselves.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/wackamole/wackamole/pkg/bgp/remote"
	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/daemon"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `wackamole - peer-to-peer virtual IP balancer

USAGE
    wackamole [-c FILE] [flags]          run the daemon in the foreground
    wackamole check [-c FILE]            validate the configuration and exit
    wackamole cleanup [-c FILE]          remove this host's VIP addresses (after a crash)
    wackamole keygen                     print a new base64 gossip key
    wackamole import keepalived|wackamole FILE...
                                         print a wackamole.toml equivalent to a
                                         keepalived.conf or an old wackamole.conf
    wackamole --version | --help

DESCRIPTION
    Every web node runs wackamole. The daemons form one gossip group and spread
    the configured VIPs over the live members, about one per member; when a
    member fails its VIPs move to the survivors within about a second
    (timing = "lan"; about 20 ms with timing = "fast"). Publish every VIP under
    one DNS name (round-robin) and every node takes traffic.

    A node takes VIPs only while it sees a quorum (a majority of the peers by
    default): a node cut off from the group keeps what it holds until another
    host announces it, and never grabs the rest.

    The daemon logs to standard error. It needs CAP_NET_ADMIN (addresses) and
    CAP_NET_RAW (ARP).

FLAGS
    -c, --config FILE    configuration file (default /etc/wackamole/wackamole.toml)
    --log-level LEVEL    debug, info (default), warn or error
    --log-format FORMAT  text (default) or json

SIGNALS
    SIGTERM, SIGINT  graceful stop: hand every VIP over to other members
                     (make-before-break, bounded by drain_timeout), leave the
                     group, remove every address this node added, exit 0
    SIGHUP           reload the configuration file; an invalid file is
                     rejected, logged, and the running configuration kept

EXIT STATUS
    0  stopped gracefully, or check found no problem
    1  runtime error (cannot bind the gossip port, no netlink, ...)
    2  invalid command line or configuration

SEE ALSO
    wackamole(8) and wackamole.toml(5) in full; wackatrl(8) shows the group
    and who owns which VIP, and drains a node.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "import" {
		return runImport(args[1:], stdout, stderr)
	}
	cmd := "run"
	if len(args) > 0 {
		switch args[0] {
		case "check", "cleanup", "keygen", "version", "help", "run":
			cmd, args = args[0], args[1:]
		}
	}
	fs := flag.NewFlagSet("wackamole", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	path := "/etc/wackamole/wackamole.toml"
	fs.StringVar(&path, "c", path, "")
	fs.StringVar(&path, "config", path, "")
	level := fs.String("log-level", "info", "")
	format := fs.String("log-format", "text", "")
	showVersion := fs.Bool("version", false, "")
	cpuProfile := fs.String("cpuprofile", "", "") // undocumented: for developers
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "wackamole: %v\nRun 'wackamole --help' for usage.\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wackamole: unexpected argument %q\nRun 'wackamole --help' for usage.\n", fs.Arg(0))
		return 2
	}
	switch {
	case *help || cmd == "help":
		fmt.Fprint(stdout, usage)
		return 0
	case *showVersion || cmd == "version":
		fmt.Fprintln(stdout, "wackamole", version)
		return 0
	case cmd == "keygen":
		key, err := config.GenerateKey()
		if err != nil {
			fmt.Fprintln(stderr, "wackamole:", err)
			return 1
		}
		fmt.Fprintln(stdout, key)
		return 0
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		fmt.Fprintln(stderr, "wackamole:", err)
		return 2
	}
	// The BGP speaker's process (bgp mode) logs alike.
	os.Setenv(remote.EnvLogLevel, *level)
	os.Setenv(remote.EnvLogFormat, *format)
	cfg, err := config.Load(path)
	if err != nil {
		printConfigErrors(stderr, err)
		return 2
	}
	switch cmd {
	case "check":
		role := ""
		if cfg.Witness {
			role = ", a witness"
		}
		fmt.Fprintf(stdout, "%s: OK (%d VIPs, node %s%s, quorum %d of %d peers)\n", path, len(cfg.VIPs), cfg.NodeName, role, cfg.QuorumNeeded(), len(cfg.Peers))
		for _, w := range cfg.Warnings() {
			fmt.Fprintf(stdout, "%s: warning: %s\n", path, w)
		}
		return 0
	case "cleanup":
		if err := daemon.Cleanup(cfg, log); err != nil {
			log.Error("cleanup", "err", err)
			return 1
		}
		return 0
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "wackamole:", err)
			return 1
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	return serve(cfg, log)
}

func serve(cfg *config.Config, log *slog.Logger) int {
	// Signals first: a SIGTERM that arrives while the daemon starts means a
	// graceful stop as soon as it runs, not death by signal.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if n := daemon.Procs(cfg, os.Getenv("GOMAXPROCS")); n > 0 && n < runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(n)
	}
	d, err := daemon.New(cfg, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	go func() {
		for range hup {
			if err := d.Reload(ctx); err != nil {
				var errs config.Errors
				if errors.As(err, &errs) {
					for _, e := range errs {
						log.Error("reload rejected: invalid configuration; keeping the running one", "error", e.Error())
					}
					continue
				}
				log.Error("reload rejected; keeping the running configuration", "err", err)
				continue
			}
		}
	}()
	if err := d.Run(ctx); err != nil {
		log.Error("stopped with an error", "err", err)
		return 1
	}
	return 0
}

func printConfigErrors(w io.Writer, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(w, e.Error())
		}
		return
	}
	fmt.Fprintln(w, "wackamole:", err)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not text or json", format)
}
