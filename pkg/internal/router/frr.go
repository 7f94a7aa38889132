package router

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// frrDaemons is where Debian installs the FRR daemons; frrTmp is where
// they keep their crash logs.
const (
	frrDaemons = "/usr/lib/frr"
	frrTmp     = "/var/tmp/frr"
)

// frrUser returns the ids of the user the FRR daemons run as.
func frrUser() (uid, gid int, err error) {
	u, err := user.Lookup("frr")
	if err != nil {
		return 0, 0, fmt.Errorf("router: the frr user (made by the Debian package frr): %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("router: frr user ids %s:%s", u.Uid, u.Gid)
	}
	return uid, gid, nil
}

// FRR is an FRR router (zebra, bfdd and bgpd) in a lab namespace.
type FRR struct {
	host *lab.Host
	cfg  Config
	dir  string

	mu    sync.Mutex
	procs map[string]*lab.Process // by daemon name
}

// StartFRR writes zebra, bfdd and bgpd configurations for cfg and starts
// the three daemons by hand in host's namespace, each with its pid file,
// vty socket, zebra socket and log in a directory of its own (not
// /etc/frr, not /run/frr). It returns once bgpd answers through vtysh.
//
// bgpd has one neighbour per Neighbor, or a peer group with a "bgp listen
// range" per range, BFD through a bfdd profile, no eBGP policy requirement
// (FRR otherwise accepts no route from an external peer without a
// route-map), and with ECMP "maximum-paths 16" and "bgp bestpath as-path
// multipath-relax" so that paths from nodes of different ASes are equal.
func StartFRR(ctx context.Context, host *lab.Host, cfg Config) (*FRR, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	for _, d := range []string{"zebra", "bfdd", "bgpd"} {
		if _, err := os.Stat(filepath.Join(frrDaemons, d)); err != nil {
			return nil, fmt.Errorf("router: FRR's %s not found (install the Debian package frr): %w", d, err)
		}
	}
	dir, err := newDir("frr")
	if err != nil {
		return nil, err
	}
	f := &FRR{host: host, cfg: cfg, dir: dir, procs: make(map[string]*lab.Process)}
	// The daemons drop to the frr user (running them as root needs root
	// in the frrvty group), so that user owns the directory.
	uid, gid, err := frrUser()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	files := map[string]string{
		"zebra.conf": "hostname " + host.Name + "\n",
		"bfdd.conf":  frrBFDConfig(cfg),
		"bgpd.conf":  frrBGPConfig(cfg),
		"vtysh.conf": "",
	}
	if cfg.Raw != "" {
		files["bfdd.conf"] = "hostname bfdd\n"
		files["bgpd.conf"] = "hostname bgpd\n"
		files["frr.conf"] = cfg.Raw
	}
	for name, text := range files {
		if err := os.WriteFile(f.path(name), []byte(text), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("router: %w", err)
		}
		if err := os.Lchown(f.path(name), uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("router: %w", err)
		}
	}
	if err := os.Lchown(dir, uid, gid); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("router: %w", err)
	}
	if err := f.start(ctx); err != nil {
		err = fmt.Errorf("%w\n%s", err, f.Log())
		f.Close()
		return nil, err
	}
	if cfg.Raw != "" {
		// As FRR's own start does with frr.conf: vtysh hands each
		// command to the daemon it belongs to.
		vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := host.Run(vctx, "vtysh", "--vty_socket", f.dir, "--config_dir", f.dir, "-H", "/dev/null", "-f", f.path("frr.conf"))
		cancel()
		if err != nil {
			err = fmt.Errorf("router: loading frr.conf: %w\n%s\n%s", err, out, f.Log())
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

func (f *FRR) path(name string) string { return filepath.Join(f.dir, name) }

func (f *FRR) start(ctx context.Context) error {
	if err := f.startDaemon("zebra"); err != nil {
		return err
	}
	// bfdd and bgpd register with zebra over its socket.
	if err := poll(ctx, 20*time.Millisecond, func() error {
		if p := f.processes()["zebra"]; p.Exited() {
			return fmt.Errorf("zebra exited: %s", tail(f.path("zebra.out"), 5))
		}
		_, err := os.Stat(f.path("zserv.api"))
		return err
	}); err != nil {
		return fmt.Errorf("router: zebra did not open its socket: %w", err)
	}
	for _, d := range []string{"bfdd", "bgpd"} {
		if err := f.startDaemon(d); err != nil {
			return err
		}
	}
	return poll(ctx, 50*time.Millisecond, func() error {
		for d, p := range f.processes() {
			if p.Exited() {
				return fmt.Errorf("router: %s exited: %s", d, tail(f.path(d+".log"), 5))
			}
		}
		if _, err := f.vtysh(ctx, "bgpd", "show bgp summary json"); err != nil {
			return err
		}
		_, err := f.vtysh(ctx, "bfdd", "show bfd peers json")
		return err
	})
}

func (f *FRR) startDaemon(name string) error {
	args := []string{
		"-f", f.path(name + ".conf"),
		"-i", f.path(name + ".pid"),
		"-z", f.path("zserv.api"),
		"--vty_socket", f.dir,
		"-P", "0", // no vty on TCP
		"--log", "file:" + f.path(name+".log"),
	}
	if f.cfg.Debug {
		args = append(args, "--log-level", "debug")
	}
	if name == "bfdd" {
		args = append(args, "--bfdctl", f.path("bfdd.sock"))
	}
	p, err := f.host.Start(filepath.Join(frrDaemons, name), args, f.path(name+".out"))
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.procs[name] = p
	f.mu.Unlock()
	return nil
}

func (f *FRR) processes() map[string]*lab.Process {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]*lab.Process, len(f.procs))
	for k, v := range f.procs {
		m[k] = v
	}
	return m
}

// vtysh runs one vtysh command against daemon.
func (f *FRR) vtysh(ctx context.Context, daemon, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return f.host.Run(ctx, "vtysh", "--vty_socket", f.dir, "--config_dir", f.dir, "-H", "/dev/null", "-d", daemon, "-c", command)
}

// Command runs a vtysh command against bgpd, for tests that need more
// than Sessions and Routes ("clear bgp *", "show bgp ipv4 json", …).
func (f *FRR) Command(ctx context.Context, command string) (string, error) {
	return f.vtysh(ctx, "bgpd", command)
}

// Sessions returns bgpd's sessions, dynamic ones included, with bfdd's
// view of each BFD session.
func (f *FRR) Sessions(ctx context.Context) ([]Session, error) {
	out, err := f.vtysh(ctx, "bgpd", "show bgp neighbors json")
	if err != nil {
		return nil, err
	}
	ss, err := parseFRRNeighbors(out)
	if err != nil {
		return nil, err
	}
	if f.cfg.Raw != "" || slices.ContainsFunc(f.cfg.Neighbors, func(n Neighbor) bool { return n.BFD }) {
		out, err := f.vtysh(ctx, "bfdd", "show bfd peers json")
		if err != nil {
			return nil, err
		}
		bfd, err := parseFRRBFD(out)
		if err != nil {
			return nil, err
		}
		for i := range ss {
			ss[i].BFD = bfd[ss[i].Neighbor]
			if ss[i].BFD == "" {
				ss[i].BFD = "down"
			}
		}
	}
	return ss, nil
}

// Routes returns the kernel routes of FRR's namespace (zebra installs
// bgpd's with protocol "bgp").
func (f *FRR) Routes(ctx context.Context) ([]Route, error) { return KernelRoutes(ctx, f.host) }

// Log returns the end of the daemons' logs.
func (f *FRR) Log() string {
	var b strings.Builder
	for _, d := range []string{"bgpd", "bfdd", "zebra"} {
		fmt.Fprintf(&b, "%s.log:\n%s\n%s output:\n%s\n", d, tail(f.path(d+".log"), 30), d, tail(f.path(d+".out"), 5))
	}
	return b.String()
}

// Close kills the daemons and removes their directory, and the crash-log
// directories FRR keeps under /var/tmp/frr for each of their pids.
func (f *FRR) Close() error {
	procs := f.processes()
	f.mu.Lock()
	f.procs = map[string]*lab.Process{}
	f.mu.Unlock()
	var ps []*lab.Process
	for _, p := range procs {
		ps = append(ps, p)
	}
	err := stop(ps...)
	for d, p := range procs {
		// FRR's zlog writes a buffer file to /var/tmp/frr/DAEMON.PID and
		// removes it only on a clean exit.
		os.RemoveAll(filepath.Join(frrTmp, d+"."+strconv.Itoa(p.Pid())))
	}
	os.Remove(frrTmp) // if no other FRR uses it

	if rerr := os.RemoveAll(f.dir); rerr != nil {
		err = rerr
	}
	return err
}

func frrBFDConfig(cfg Config) string {
	var b strings.Builder
	b.WriteString("hostname bfdd\n")
	if cfg.Debug {
		b.WriteString("debug bfd peer\ndebug bfd network\ndebug bfd zebra\n")
	}
	b.WriteString("bfd\n")
	for i, n := range cfg.Neighbors {
		if !n.BFD {
			continue
		}
		ms := n.interval().Milliseconds()
		fmt.Fprintf(&b, " profile n%d\n  receive-interval %d\n  transmit-interval %d\n  detect-multiplier %d\n exit\n", i+1, ms, ms, n.multiplier())
	}
	b.WriteString("exit\n")
	return b.String()
}

func frrBGPConfig(cfg Config) string {
	var b strings.Builder
	b.WriteString("hostname bgpd\nfrr defaults traditional\n")
	if cfg.Debug {
		b.WriteString("debug bgp neighbor-events\ndebug bgp bfd\n")
	}
	fmt.Fprintf(&b, "router bgp %d\n", cfg.ASN)
	fmt.Fprintf(&b, " bgp router-id %s\n", cfg.Address)
	b.WriteString(" bgp log-neighbor-changes\n no bgp ebgp-requires-policy\n no bgp network import-check\n no bgp default ipv4-unicast\n")
	if cfg.ECMP {
		b.WriteString(" bgp bestpath as-path multipath-relax\n")
	}
	names := make([]string, len(cfg.Neighbors))
	for i, n := range cfg.Neighbors {
		name := n.Address.String()
		if n.Range.IsValid() {
			name = fmt.Sprintf("range%d", i+1)
			fmt.Fprintf(&b, " neighbor %s peer-group\n", name)
		}
		names[i] = name
		if n.ASN == 0 {
			fmt.Fprintf(&b, " neighbor %s remote-as external\n", name)
		} else {
			fmt.Fprintf(&b, " neighbor %s remote-as %d\n", name, n.ASN)
		}
		if n.Range.IsValid() { // after remote-as, or FRR refuses it
			fmt.Fprintf(&b, " bgp listen range %s peer-group %s\n", n.Range, name)
		}
		h := n.holdTime()
		fmt.Fprintf(&b, " neighbor %s timers %d %d\n", name, max(h/3, 1), h)
		fmt.Fprintf(&b, " neighbor %s timers connect 1\n", name)
		if n.Password != "" {
			fmt.Fprintf(&b, " neighbor %s password %s\n", name, n.Password)
		}
		if n.BFD {
			fmt.Fprintf(&b, " neighbor %s bfd\n neighbor %s bfd profile n%d\n", name, name, i+1)
		}
	}
	for _, fam := range []string{"ipv4", "ipv6"} {
		fmt.Fprintf(&b, " address-family %s unicast\n", fam)
		if cfg.ECMP {
			b.WriteString("  maximum-paths 16\n")
		}
		var exports []netip.Prefix
		for i, n := range cfg.Neighbors {
			is4 := n.Address.Is4() || n.Range.Addr().Is4()
			if is4 != (fam == "ipv4") {
				continue
			}
			fmt.Fprintf(&b, "  neighbor %s activate\n", names[i])
			if len(n.Export) == 0 {
				fmt.Fprintf(&b, "  neighbor %s route-map none-out out\n", names[i])
			} else {
				fmt.Fprintf(&b, "  neighbor %s prefix-list n%d-out out\n", names[i], i+1)
			}
			for _, p := range n.Export {
				if !slices.Contains(exports, p) {
					exports = append(exports, p)
				}
			}
		}
		for _, p := range exports {
			fmt.Fprintf(&b, "  network %s\n", p)
		}
		b.WriteString(" exit-address-family\n")
	}
	b.WriteString("exit\n")
	for i, n := range cfg.Neighbors {
		for _, p := range n.Export {
			kw := "ip"
			if p.Addr().Is6() {
				kw = "ipv6"
			}
			fmt.Fprintf(&b, "%s prefix-list n%d-out permit %s\n", kw, i+1, p)
		}
	}
	b.WriteString("route-map none-out deny 10\nexit\n")
	// Exported prefixes are originated as blackholes (zebra's static
	// routes need staticd; a network statement without import-check does
	// not).
	return b.String()
}

// parseFRRNeighbors reads "show bgp neighbors json".
func parseFRRNeighbors(out string) ([]Session, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		return nil, fmt.Errorf("router: parsing show bgp neighbors json: %w", err)
	}
	var ss []Session
	for key, msg := range raw {
		a, err := netip.ParseAddr(key)
		if err != nil {
			continue // peer groups and the like
		}
		var n struct {
			State       string `json:"bgpState"`
			LastReset   string `json:"lastResetDueTo"`
			LastNotif   string `json:"lastNotificationReason"`
			PeerBFDInfo *struct {
				Status string `json:"status"`
			} `json:"peerBfdInfo"`
		}
		if err := json.Unmarshal(msg, &n); err != nil {
			return nil, fmt.Errorf("router: neighbor %s: %w", key, err)
		}
		s := Session{Neighbor: a, State: n.State, Established: n.State == "Established", Info: n.LastReset}
		if n.LastNotif != "" {
			s.Info += ": " + n.LastNotif
		}
		ss = append(ss, s)
	}
	slices.SortFunc(ss, func(a, b Session) int { return a.Neighbor.Compare(b.Neighbor) })
	return ss, nil
}

// parseFRRBFD reads bfdd's "show bfd peers json": peer address to state.
func parseFRRBFD(out string) (map[netip.Addr]string, error) {
	var peers []struct {
		Peer   string `json:"peer"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &peers); err != nil {
		return nil, fmt.Errorf("router: parsing show bfd peers json: %w", err)
	}
	m := make(map[netip.Addr]string)
	for _, p := range peers {
		if a, err := netip.ParseAddr(p.Peer); err == nil {
			m[a] = strings.ToLower(p.Status)
		}
	}
	return m, nil
}
