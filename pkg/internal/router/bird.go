package router

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// BIRD is a BIRD 2 daemon in a lab namespace.
type BIRD struct {
	host *lab.Host
	cfg  Config
	dir  string

	mu   sync.Mutex
	proc *lab.Process
}

// StartBIRD writes a BIRD configuration for cfg and starts bird in host's
// namespace. It returns once BIRD answers on its control socket.
//
// The configuration has one BGP protocol per neighbour (a dynamic one per
// range), a BFD protocol when a neighbour has BFD, static blackhole routes
// for the Export prefixes, and kernel protocols that install every BGP
// route into the namespace's main table ("merge paths on" with ECMP). Its
// timers suit tests: a session that failed is retried after 1 s, not
// after BIRD's default error wait of 60 s.
func StartBIRD(ctx context.Context, host *lab.Host, cfg Config) (*BIRD, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	dir, err := newDir("bird")
	if err != nil {
		return nil, err
	}
	b := &BIRD{host: host, cfg: cfg, dir: dir}
	conf := birdConfig(cfg, b.path("bird.log"))
	if cfg.Raw != "" {
		// A second log statement, so that Log has something to show.
		conf = fmt.Sprintf("log %q all;\n%s", b.path("bird.log"), cfg.Raw)
	}
	if err := os.WriteFile(b.path("bird.conf"), []byte(conf), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("router: %w", err)
	}
	if err := b.start(ctx); err != nil {
		err = fmt.Errorf("%w\n%s", err, b.Log())
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *BIRD) path(name string) string { return filepath.Join(b.dir, name) }

func (b *BIRD) start(ctx context.Context) error {
	p, err := b.host.Start("bird", []string{"-f", "-c", b.path("bird.conf"), "-s", b.path("bird.ctl"), "-P", b.path("bird.pid")}, b.path("bird.out"))
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.proc = p
	b.mu.Unlock()
	return poll(ctx, 20*time.Millisecond, func() error {
		if p.Exited() {
			return fmt.Errorf("router: bird exited: %s", tail(b.path("bird.out"), 5))
		}
		out, err := b.birdc(ctx, "show", "status")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "Daemon is up and running") {
			return fmt.Errorf("router: bird not ready: %s", out)
		}
		return nil
	})
}

// Restart kills BIRD (SIGKILL: its sessions end without a notification,
// its BFD sessions fall silent) and starts it again with the same
// configuration.
func (b *BIRD) Restart(ctx context.Context) error {
	b.mu.Lock()
	p := b.proc
	b.mu.Unlock()
	if err := stop(p); err != nil {
		return err
	}
	os.Remove(b.path("bird.ctl"))
	return b.start(ctx)
}

// Kill kills BIRD with SIGKILL and leaves it dead.
func (b *BIRD) Kill() error {
	b.mu.Lock()
	p := b.proc
	b.mu.Unlock()
	return stop(p)
}

// birdc runs a birdc command against this BIRD.
func (b *BIRD) birdc(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return b.host.Run(ctx, "birdc", append([]string{"-s", b.path("bird.ctl")}, args...)...)
}

// Command runs a birdc command ("show route all", …) and returns its
// output, for tests that need more than Sessions and Routes.
func (b *BIRD) Command(ctx context.Context, args ...string) (string, error) {
	return b.birdc(ctx, args...)
}

// Sessions returns BIRD's BGP sessions, with the BFD state of each.
func (b *BIRD) Sessions(ctx context.Context) ([]Session, error) {
	out, err := b.birdc(ctx, "show", "protocols", "all")
	if err != nil {
		return nil, err
	}
	ss := parseBIRDProtocols(out)
	if b.hasBFD() {
		out, err := b.birdc(ctx, "show", "bfd", "sessions")
		if err != nil && b.cfg.Raw == "" {
			return nil, err
		}
		bfd := parseBIRDBFD(out)
		for i := range ss {
			ss[i].BFD = bfd[ss[i].Neighbor]
			if ss[i].BFD == "" {
				ss[i].BFD = "down"
			}
		}
	}
	return ss, nil
}

func (b *BIRD) hasBFD() bool {
	if b.cfg.Raw != "" {
		return strings.Contains(b.cfg.Raw, "protocol bfd")
	}
	return slices.ContainsFunc(b.cfg.Neighbors, func(n Neighbor) bool { return n.BFD })
}

// Routes returns the kernel routes of BIRD's namespace.
func (b *BIRD) Routes(ctx context.Context) ([]Route, error) { return KernelRoutes(ctx, b.host) }

// Log returns the end of BIRD's log.
func (b *BIRD) Log() string {
	return "bird.log:\n" + tail(b.path("bird.log"), 40) + "\nbird output:\n" + tail(b.path("bird.out"), 10)
}

// Close kills BIRD and removes its directory. The routes it installed go
// with its namespace.
func (b *BIRD) Close() error {
	b.mu.Lock()
	p := b.proc
	b.proc = nil
	b.mu.Unlock()
	err := stop(p)
	if rerr := os.RemoveAll(b.dir); rerr != nil {
		err = rerr
	}
	return err
}

// birdConfig renders cfg as a BIRD 2 configuration.
func birdConfig(cfg Config, logPath string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "router id %s;\n", cfg.Address)
	fmt.Fprintf(&b, "log %q all;\n", logPath)
	b.WriteString("timeformat protocol iso long;\n")
	if cfg.Debug {
		b.WriteString("debug protocols { states, events };\n")
	}
	b.WriteString("protocol device { scan time 1; }\n")
	merge := ""
	if cfg.ECMP {
		merge = "\tmerge paths on;\n"
	}
	for _, fam := range []string{"ipv4", "ipv6"} {
		fmt.Fprintf(&b, "protocol kernel kernel_%s {\n\t%s { import none; export where source = RTS_BGP; };\n%s}\n", fam, fam, merge)
	}

	var exports []netip.Prefix
	bfd := slices.ContainsFunc(cfg.Neighbors, func(n Neighbor) bool { return n.BFD })
	for _, n := range cfg.Neighbors {
		for _, p := range n.Export {
			if !slices.Contains(exports, p) {
				exports = append(exports, p)
			}
		}
	}
	for _, fam := range []string{"ipv4", "ipv6"} {
		var routes []string
		for _, p := range exports {
			if p.Addr().Is4() == (fam == "ipv4") {
				routes = append(routes, fmt.Sprintf("\troute %s blackhole;\n", p))
			}
		}
		if len(routes) > 0 {
			fmt.Fprintf(&b, "protocol static exports_%s {\n\t%s;\n%s}\n", fam, fam, strings.Join(routes, ""))
		}
	}
	if bfd {
		// BIRD's BGP takes the BFD timers from the BFD protocol's
		// interface options; the first BFD neighbour's timers apply.
		i := slices.IndexFunc(cfg.Neighbors, func(n Neighbor) bool { return n.BFD })
		n := cfg.Neighbors[i]
		fmt.Fprintf(&b, "protocol bfd {\n\tinterface \"*\" { min rx interval %d ms; min tx interval %d ms; multiplier %d; };\n}\n",
			n.interval().Milliseconds(), n.interval().Milliseconds(), n.multiplier())
	}
	for i, n := range cfg.Neighbors {
		fam := "ipv4"
		if n.Address.Is6() || n.Range.Addr().Is6() {
			fam = "ipv6"
		}
		fmt.Fprintf(&b, "protocol bgp n%d {\n", i+1)
		if fam == "ipv4" {
			fmt.Fprintf(&b, "\tlocal %s as %d;\n", cfg.Address, cfg.ASN)
		} else {
			fmt.Fprintf(&b, "\tlocal as %d;\n", cfg.ASN)
		}
		if n.Range.IsValid() {
			fmt.Fprintf(&b, "\tneighbor range %s as %d;\n", n.Range, n.ASN)
		} else {
			fmt.Fprintf(&b, "\tneighbor %s as %d;\n", n.Address, n.ASN)
		}
		h := n.holdTime()
		fmt.Fprintf(&b, "\thold time %d;\n\tkeepalive time %d;\n", h, max(h/3, 1))
		b.WriteString("\tconnect delay time 1;\n\tconnect retry time 1;\n\terror wait time 1, 2;\n")
		if n.BFD {
			b.WriteString("\tbfd on;\n")
		}
		if n.Password != "" {
			fmt.Fprintf(&b, "\tpassword %q;\n", n.Password)
		}
		export := "none"
		if len(n.Export) > 0 {
			var nets []string
			for _, p := range n.Export {
				nets = append(nets, p.String())
			}
			export = fmt.Sprintf("where net ~ [ %s ]", strings.Join(nets, ", "))
		}
		fmt.Fprintf(&b, "\t%s { import all; export %s; };\n}\n", fam, export)
	}
	return b.String()
}

// parseBIRDProtocols reads the BGP sessions out of "show protocols all".
func parseBIRDProtocols(out string) []Session {
	var ss []Session
	var cur *Session
	flush := func() {
		if cur != nil && cur.Neighbor.IsValid() {
			cur.Established = cur.State == "Established"
			ss = append(ss, *cur)
		}
		cur = nil
	}
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if line == "" {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			flush()
			f := strings.Fields(line)
			if len(f) >= 2 && f[1] == "BGP" {
				cur = &Session{}
			}
			continue
		}
		if cur == nil {
			continue
		}
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "BGP state":
			cur.State = val
		case "Neighbor address":
			if a, err := netip.ParseAddr(val); err == nil {
				cur.Neighbor = a
			}
		case "Last error":
			cur.Info = val
		}
	}
	flush()
	slices.SortFunc(ss, func(a, b Session) int { return a.Neighbor.Compare(b.Neighbor) })
	return ss
}

// parseBIRDBFD reads "show bfd sessions": neighbour address to state.
func parseBIRDBFD(out string) map[netip.Addr]string {
	m := make(map[netip.Addr]string)
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		m[a] = strings.ToLower(f[2])
	}
	return m
}
