package router

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// exabgpPython is the interpreter Debian's exabgp package is installed
// for; a python3 earlier on PATH (pyenv, a virtualenv) lacks the module.
const exabgpPython = "/usr/bin/python3"

// ExaBGPConfig configures an ExaBGP speaker on a node: the classic anycast
// set-up in which a healthcheck process announces the node's VIPs while a
// command succeeds.
type ExaBGPConfig struct {
	// ASN is the node's AS number, Address its address (router ID and
	// source of its sessions).
	ASN     uint32
	Address netip.Addr
	// Peers are the routers to announce to.
	Peers []ExaBGPPeer
	// Checks are the healthchecks, one process each.
	Checks []Healthcheck
	// NoAck turns ExaBGP's API acknowledgements off (exabgp.api.ack =
	// false, the healthchecks' no-ack). With them on, ExaBGP 4's default,
	// a healthcheck with more than one VIP keeps ExaBGP 4.2 from ever
	// exiting on SIGTERM: stopping, ExaBGP waits for the healthcheck to
	// exit, and the healthcheck, withdrawing its VIPs, waits for an
	// acknowledgement of each that the stopping ExaBGP never sends.
	NoAck bool
}

// ExaBGPPeer is a router ExaBGP connects to.
type ExaBGPPeer struct {
	Address  netip.Addr
	ASN      uint32
	Password string
	// HoldTime is the hold time offered (default 9 s).
	HoldTime time.Duration
}

// Healthcheck is one run of ExaBGP's healthcheck program.
type Healthcheck struct {
	// Name names the check (letters, digits and '-').
	Name string
	// Command is run by /bin/sh every Interval; the VIPs are announced
	// while it exits 0 and withdrawn when it fails.
	Command string
	// VIPs are the host routes announced; the healthcheck also adds them
	// to the loopback interface if missing.
	VIPs []netip.Prefix
	// Interval separates checks (default 1 s); FastInterval separates
	// them while the state is about to change (default Interval).
	Interval, FastInterval time.Duration
	// Rise and Fall are how many checks in a row change the state
	// (default 1).
	Rise, Fall int
	// Disable, if set, is a file whose existence disables the service
	// (the healthcheck's maintenance switch): its VIPs are withdrawn, the
	// addresses stay.
	Disable string
}

// ExaBGP is an ExaBGP daemon in a lab namespace.
type ExaBGP struct {
	host *lab.Host
	cfg  ExaBGPConfig
	dir  string

	mu   sync.Mutex
	proc *lab.Process
}

// StartExaBGP writes an ExaBGP configuration (and one healthcheck
// configuration per check) and starts exabgp in host's namespace, without
// its control pipes and without dropping privileges (the healthcheck adds
// the VIPs to lo). It returns once ExaBGP has loaded its configuration;
// the sessions come up in the background (see the router's Sessions).
func StartExaBGP(ctx context.Context, host *lab.Host, cfg ExaBGPConfig) (*ExaBGP, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(exabgpPython); err != nil {
		return nil, fmt.Errorf("router: %s not found: %w", exabgpPython, err)
	}
	dir, err := newDir("exabgp")
	if err != nil {
		return nil, err
	}
	e := &ExaBGP{host: host, cfg: cfg, dir: dir}
	files := map[string]string{"exabgp.conf": e.config()}
	for _, c := range cfg.Checks {
		files["check-"+c.Name+".conf"] = healthcheckConfig(c, cfg.NoAck)
	}
	for name, text := range files {
		if err := os.WriteFile(e.path(name), []byte(text), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("router: %w", err)
		}
	}
	if err := e.start(ctx); err != nil {
		err = fmt.Errorf("%w\n%s", err, e.Log())
		e.Close()
		return nil, err
	}
	return e, nil
}

func (e *ExaBGP) path(name string) string { return filepath.Join(e.dir, name) }

func (c *ExaBGPConfig) validate() error {
	if c.ASN == 0 || !c.Address.Is4() || len(c.Peers) == 0 {
		return errors.New("router: ExaBGP needs an ASN, an IPv4 address and peers")
	}
	for _, p := range c.Peers {
		if strings.ContainsAny(p.Password, "\"\\\n;") {
			return fmt.Errorf("router: ExaBGP peer %v: the password may not contain quotes, backslashes, semicolons or newlines", p.Address)
		}
	}
	for _, h := range c.Checks {
		if h.Name == "" || strings.Trim(h.Name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return fmt.Errorf("router: healthcheck name %q: want lowercase letters, digits and '-'", h.Name)
		}
		if strings.Contains(h.Command, "\n") || h.Command == "" {
			return fmt.Errorf("router: healthcheck %s: want a one-line command", h.Name)
		}
		if strings.ContainsAny(h.Disable, "\n") || h.Disable != "" && !filepath.IsAbs(h.Disable) {
			return fmt.Errorf("router: healthcheck %s: disable %q: want an absolute path", h.Name, h.Disable)
		}
	}
	return nil
}

func (e *ExaBGP) start(ctx context.Context) error {
	env := []string{
		"exabgp.daemon.user=root",
		"exabgp.daemon.drop=false",
		"exabgp.daemon.pid=" + e.path("exabgp.pid"),
		"exabgp.api.cli=false",
		"exabgp.log.destination=stdout",
		"exabgp.log.level=INFO",
		"exabgp.log.processes=true",
		"exabgp.log.network=true",
		"exabgp.log.reactor=true",
		"exabgp.tcp.bind=",
	}
	if e.cfg.NoAck {
		env = append(env, "exabgp.api.ack=false")
	}
	args := append(env, exabgpPython, "/usr/sbin/exabgp", e.path("exabgp.conf"))
	if _, err := os.Stat("/usr/sbin/exabgp"); err != nil {
		args = append(env, "exabgp", e.path("exabgp.conf"))
	}
	p, err := e.host.Start("env", args, e.path("exabgp.log"))
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.proc = p
	e.mu.Unlock()
	// ExaBGP has no readiness signal without its pipes: wait for its pid
	// file, written once the configuration is loaded.
	return poll(ctx, 20*time.Millisecond, func() error {
		if p.Exited() {
			return fmt.Errorf("router: exabgp exited: %s", tail(e.path("exabgp.log"), 10))
		}
		_, err := os.Stat(e.path("exabgp.pid"))
		return err
	})
}

// Kill kills ExaBGP and its healthchecks (SIGKILL to the process group):
// a node crash as far as BGP is concerned.
func (e *ExaBGP) Kill() error {
	e.mu.Lock()
	p := e.proc
	e.mu.Unlock()
	return stop(p)
}

// Stop ends ExaBGP gracefully with SIGTERM (it withdraws its routes and
// closes its sessions) and waits up to timeout for it to exit.
func (e *ExaBGP) Stop(timeout time.Duration) error {
	e.mu.Lock()
	p := e.proc
	e.mu.Unlock()
	if p == nil {
		return nil
	}
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	_, err := p.Wait(timeout)
	return err
}

// Log returns the end of ExaBGP's output.
func (e *ExaBGP) Log() string { return "exabgp.log:\n" + tail(e.path("exabgp.log"), 40) }

// Close kills ExaBGP and removes its directory. The addresses its
// healthchecks added to lo go with the namespace.
func (e *ExaBGP) Close() error {
	e.mu.Lock()
	p := e.proc
	e.proc = nil
	e.mu.Unlock()
	err := stop(p)
	if rerr := os.RemoveAll(e.dir); rerr != nil {
		err = rerr
	}
	return err
}

func (e *ExaBGP) config() string {
	var b strings.Builder
	var procs []string
	for _, c := range e.cfg.Checks {
		name := "hc-" + c.Name
		procs = append(procs, name)
		fmt.Fprintf(&b, "process %s {\n\trun %s -m exabgp healthcheck --config %s;\n\tencoder text;\n}\n", name, exabgpPython, e.path("check-"+c.Name+".conf"))
	}
	for _, p := range e.cfg.Peers {
		hold := 9
		if p.HoldTime != 0 {
			hold = int(p.HoldTime / time.Second)
		}
		fmt.Fprintf(&b, "neighbor %s {\n", p.Address)
		fmt.Fprintf(&b, "\trouter-id %s;\n\tlocal-address %s;\n\tlocal-as %d;\n\tpeer-as %d;\n\thold-time %d;\n", e.cfg.Address, e.cfg.Address, e.cfg.ASN, p.ASN, hold)
		if p.Password != "" {
			fmt.Fprintf(&b, "\tmd5-password \"%s\";\n", p.Password)
		}
		if len(procs) > 0 {
			fmt.Fprintf(&b, "\tapi {\n\t\tprocesses [ %s ];\n\t}\n", strings.Join(procs, ", "))
		}
		b.WriteString("}\n")
	}
	return b.String()
}

func healthcheckConfig(c Healthcheck, noAck bool) string {
	interval := c.Interval
	if interval == 0 {
		interval = time.Second
	}
	fast := c.FastInterval
	if fast == 0 {
		fast = interval
	}
	rise, fall := max(c.Rise, 1), max(c.Fall, 1)
	var b strings.Builder
	fmt.Fprintf(&b, "name = %s\nno-syslog\nwithdraw-on-down\n", c.Name)
	if noAck {
		b.WriteString("no-ack\n")
	}
	fmt.Fprintf(&b, "interval = %s\nfast-interval = %s\n", seconds(interval), seconds(fast))
	fmt.Fprintf(&b, "rise = %d\nfall = %d\n", rise, fall)
	fmt.Fprintf(&b, "command = %s\n", c.Command)
	if c.Disable != "" {
		fmt.Fprintf(&b, "disable = %s\n", c.Disable)
	}
	for _, v := range c.VIPs {
		fmt.Fprintf(&b, "ip = %s\n", v)
	}
	return b.String()
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
