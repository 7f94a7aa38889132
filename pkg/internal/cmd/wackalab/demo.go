package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/wackamole/wackamole/pkg/control"
	"github.com/wackamole/wackamole/pkg/internal/cluster"
	"github.com/wackamole/wackamole/pkg/internal/lab"
)

func init() {
	register(&command{
		Name:    "demo",
		Args:    "[-keep] [-timing lan|fast] [-prefix PREFIX] [-v]",
		Summary: "3 web nodes, one DNS name, a crash and a recovery, step by step",
		Help:    demoHelp,
		Run:     runDemo,
	})
}

const demoHelp = `DESCRIPTION
    Builds wackamole, wackatrl and a tiny web server (examples/webserver),
    creates a lab with three web nodes, a client and a DNS server, and walks
    through what an operator sees, one numbered step at a time:

      - each node runs the web server and the real wackamole daemon; the
        group spreads three VIPs over the three nodes, one each;
      - wackatrl shows the group and who holds which VIP;
      - dnsmasq publishes the VIPs as round-robin A records of
        www.wackamole.test; the client resolves the name through it and
        fetches http://www.wackamole.test/ several times, reaching every
        node;
      - one node crashes (its daemon is killed with SIGKILL and its link
        goes down) while the client pings its VIP every 10 ms: the VIP moves
        to a survivor and the demo prints the outage the client saw;
      - the name still answers, from the survivors;
      - the node comes back ("wackamole cleanup" as systemd's ExecStopPost
        would run it, link up, daemon restarted) and the group rebalances.

    Every figure (convergence time, outage, lost pings) is measured live.
    Everything is removed at the end, on failure and on Ctrl-C. The DNS
    server listens only on its lab address and never forwards a query.

OPTIONS
    -keep
        Leave the lab running after the last step and print how to enter
        it. Ctrl-C then removes it.
    -timing lan|fast
        The daemons' timing profile (default lan: failover in about a
        second; fast: sub-second on a quiet LAN).
    -prefix PREFIX
        Start every namespace name with PREFIX (default: wk and 6 random
        hex digits). Tests use it to check that nothing is left behind.
    -v
        Print the lab's progress messages to standard error.

EXIT STATUS
    0 when every step worked; 1 when one failed (the reason and the tail of
    the daemons' logs are printed, after cleaning up); 2 for a bad command
    line; 130 when interrupted.

EXAMPLES
    sudo make demo
    sudo go run ./pkg/internal/cmd/wackalab demo -timing fast
    sudo go run ./pkg/internal/cmd/wackalab demo -keep
`

// Demo names and settings.
const (
	demoName     = "www.wackamole.test"
	demoNodes    = 3
	demoInterval = 10 * time.Millisecond // the client's ping interval
	// stepTimeout bounds each step: generous, since a failing step
	// reports the reason anyway.
	stepTimeout = 60 * time.Second
	// demoMature is how long a daemon waits before it takes VIPs (5 s by
	// default; shorter here so that the demo does not drag).
	demoMature = time.Second
)

type demoOptions struct {
	keep    bool
	timing  string
	prefix  string
	verbose bool
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wackalab demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var opt demoOptions
	fs.BoolVar(&opt.keep, "keep", false, "")
	fs.StringVar(&opt.timing, "timing", "lan", "")
	fs.StringVar(&opt.prefix, "prefix", "", "")
	fs.BoolVar(&opt.verbose, "v", false, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "wackalab demo: %v\nRun 'wackalab demo --help' for usage.\n", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wackalab demo: unexpected argument %q\nRun 'wackalab demo --help' for usage.\n", fs.Arg(0))
		return exitUsage
	}
	if opt.timing != "lan" && opt.timing != "fast" {
		fmt.Fprintf(stderr, "wackalab demo: -timing %q: want lan or fast\n", opt.timing)
		return exitUsage
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "wackalab demo: network namespaces need root: run it with sudo (sudo make demo)")
		return exitFail
	}

	// Ctrl-C cancels ctx: the running step fails with context.Canceled and
	// the normal cleanup runs (lab, processes and temporary files), which
	// lab.CloseOnSignal could not do for the files. Further signals are
	// ignored until the cleanup is done.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	d := &demo{out: stdout, errOut: stderr, opt: opt, started: time.Now()}
	err := d.run(ctx)
	interrupted := ctx.Err() != nil
	if err != nil && !interrupted {
		fmt.Fprintf(stdout, "\nFAILED at step %d (%s):\n    %s\n", d.step, d.title, strings.ReplaceAll(err.Error(), "\n", "\n    "))
		if d.c != nil {
			fmt.Fprintf(stdout, "\nThe daemons' last log lines:\n%s", indent(d.c.Logs(15), "    "))
		}
	}
	if cerr := d.cleanup(); cerr != nil {
		fmt.Fprintf(stdout, "\ncleanup: %v\n", cerr)
		err = errors.Join(err, cerr)
	}
	switch {
	case interrupted:
		fmt.Fprintln(stdout, "\nInterrupted: the lab is removed.")
		return 130
	case err != nil:
		return exitFail
	}
	fmt.Fprintf(stdout, "\nDemo finished in %.1f s: every step worked.\n", time.Since(d.started).Seconds())
	return exitOK
}

// demo is one run of the demo.
type demo struct {
	out, errOut io.Writer
	opt         demoOptions
	started     time.Time

	step  int    // the current step number
	title string // the current step's title

	dir      string            // binaries, configurations, logs
	bin      map[string]string // built binaries by name
	c        *cluster.Cluster
	dns      *lab.Host
	dnsAddr  netip.AddrPort
	victim   *cluster.Node
	victimIP netip.Addr
}

// A demoStep is one numbered step.
type demoStep struct {
	title string
	run   func(ctx context.Context) error
}

func (d *demo) run(ctx context.Context) error {
	steps := []demoStep{
		{"Building wackamole, wackatrl and the demo web server", d.build},
		{"Creating the lab: three web nodes, a client and a DNS server", d.createLab},
		{"Starting a web server on each node", d.startWeb},
		{"Starting wackamole on each node", d.startDaemons},
		{"Asking a daemon about the group", d.showStatus},
		{"Publishing the VIPs in DNS", d.startDNS},
		{"The client fetches http://" + demoName + "/", d.fetchAll},
		{"A node crashes", d.crash},
		{"The name still answers", d.stillAnswers},
		{"The node comes back", d.restore},
		{"The group after the recovery", d.after},
	}
	for i, s := range steps {
		d.step, d.title = i+1, s.title
		fmt.Fprintf(d.out, "\n[%d/%d] %s\n", d.step, len(steps), s.title)
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		err := s.run(sctx)
		cancel()
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if d.opt.keep {
		d.explore()
		<-ctx.Done()
	}
	return nil
}

// say prints an explanation or a result, indented under the step title.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "    "+format+"\n", args...)
}

// shell prints a command line the way an operator would type it, then its
// output.
func (d *demo) shell(cmdline, output string) {
	fmt.Fprintf(d.out, "    $ %s\n%s", cmdline, indent(output, "      "))
}

// indent prefixes every line of s; the result ends with a newline unless s
// is empty.
func indent(s, prefix string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix) + "\n"
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func (d *demo) logf(format string, args ...any) {
	if d.opt.verbose {
		fmt.Fprintf(d.errOut, "lab: "+format+"\n", args...)
	}
}

// cleanup removes the lab and the temporary directory, and checks that no
// namespace of the lab is left.
func (d *demo) cleanup() error {
	var errs []error
	if d.c != nil {
		if err := d.c.Close(); err != nil {
			errs = append(errs, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		left, err := labNamespaces(ctx, d.c.Lab.Prefix)
		cancel()
		switch {
		case err != nil:
			errs = append(errs, err)
		case len(left) > 0:
			errs = append(errs, fmt.Errorf("namespaces left behind: %s", strings.Join(left, " ")))
		default:
			fmt.Fprintf(d.out, "\nCleaned up: no namespace named %s-* is left, and every process of the lab is gone.\n", d.c.Lab.Prefix)
		}
	}
	if d.dir != "" {
		if err := os.RemoveAll(d.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// labNamespaces lists the network namespaces named prefix-*.
func labNamespaces(ctx context.Context, prefix string) ([]string, error) {
	out, err := runOut(ctx, "ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix+"-") {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// Step 1.
func (d *demo) build(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "wackalab-demo-")
	if err != nil {
		return err
	}
	d.dir = dir
	start := time.Now()
	d.bin, err = buildTools(ctx, dir, "cmd/wackamole", "cmd/wackatrl", "examples/webserver")
	if err != nil {
		return err
	}
	d.say("go build ./cmd/wackamole ./cmd/wackatrl ./examples/webserver")
	d.say("  -> %s (%s)", dir, seconds(time.Since(start)))
	return nil
}

// Step 2.
func (d *demo) createLab(ctx context.Context) error {
	start := time.Now()
	c, err := cluster.New(ctx, cluster.Options{
		Binary: d.bin["wackamole"],
		Dir:    d.dir,
		Nodes:  demoNodes,
		VIPs:   demoNodes,
		Timing: d.opt.timing,
		Mature: demoMature,
		Prefix: d.opt.prefix,
		Logf:   d.logf,
	})
	if err != nil {
		return err
	}
	d.c = c
	d.dns, err = c.Lab.AddHost(ctx, "dns")
	if err != nil {
		return err
	}
	d.dnsAddr = netip.AddrPortFrom(d.dns.Addr, 53)
	l := c.Lab
	d.say("Each host is a network namespace with one interface, eth0, on a bridge")
	d.say("(%s). Subnet %s, no route to the outside world. (%s)", l.Bridge.NS, l.Subnet, seconds(time.Since(start)))
	d.say("")
	d.say("  %-7s %-14s %s", "client", l.Client.NS, l.Client.Addr)
	d.say("  %-7s %-14s %s   dnsmasq", "dns", d.dns.NS, d.dns.Addr)
	for _, n := range c.Nodes {
		d.say("  %-7s %-14s %s  web server + wackamole", n.Name, n.Host.NS, n.Host.Addr)
	}
	var vips []string
	for i, v := range c.VIPs {
		vips = append(vips, fmt.Sprintf("%s (%s)", v, cluster.VIPName(i)))
	}
	d.say("")
	d.say("Virtual IPs, on no host yet: %s", strings.Join(vips, ", "))
	return nil
}

// Step 3.
func (d *demo) startWeb(ctx context.Context) error {
	d.say("examples/webserver answers with its node's name and the address the client")
	d.say("reached. It listens on *:80, so it will also answer on the VIPs wackamole adds.")
	for _, n := range d.c.Nodes {
		args := []string{"-listen", ":80", "-name", n.Name}
		if _, err := n.Host.Start(d.bin["webserver"], args, filepath.Join(d.dir, n.Name+"-web.log")); err != nil {
			return err
		}
	}
	for _, n := range d.c.Nodes {
		body, err := getRetry(ctx, d.c.Lab.Client, n.Host.Addr)
		if err != nil {
			return fmt.Errorf("the web server on %s does not answer: %w", n.Name, err)
		}
		d.say("  http://%s/  ->  %s", n.Host.Addr, body)
	}
	return nil
}

// getRetry fetches http://addr/ from host h until it answers or ctx ends.
func getRetry(ctx context.Context, h *lab.Host, addr netip.Addr) (string, error) {
	for {
		body, err := get(ctx, h, addr)
		if err == nil {
			return body, nil
		}
		select {
		case <-ctx.Done():
			return "", err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// get fetches http://addr/ from host h once, within 2 s.
func get(ctx context.Context, h *lab.Host, addr netip.Addr) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	body, err := h.HTTPGet(ctx, "http://"+addr.String()+"/")
	return strings.TrimSpace(body), err
}

// Step 4.
func (d *demo) startDaemons(ctx context.Context) error {
	n1 := d.c.Nodes[0]
	d.say("Every node gets the same VIP list and gossip key; only node_name and bind differ.")
	d.say("%s's configuration (%s):", n1.Name, n1.ConfigPath)
	cfg, err := os.ReadFile(n1.ConfigPath)
	if err != nil {
		return err
	}
	fmt.Fprint(d.out, indent(compactConfig(string(cfg)), "      | "))
	d.say("The daemons join one gossip group, wait until they are mature (%v here), and", demoMature)
	d.say("each takes the VIPs the allocator gives it. Every node computes the same")
	d.say("allocation from the same view of the group: one VIP per node.")
	start := time.Now()
	if err := d.c.StartAll(); err != nil {
		return err
	}
	h, err := d.c.WaitConverged(ctx, cluster.Names(d.c.Nodes...))
	if err != nil {
		return err
	}
	d.say("")
	d.say("Converged %s after the start. Who has which VIP on its eth0 (ip addr):", seconds(time.Since(start)))
	d.printHolders(h)
	return nil
}

// compactConfig drops the blank lines between the [[vip]] tables.
func compactConfig(s string) string {
	var lines []string
	for l := range strings.Lines(s) {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimRight(l, "\n"))
		}
	}
	return strings.Join(lines, "\n")
}

func (d *demo) printHolders(h map[netip.Addr][]string) {
	for i, v := range d.c.VIPs {
		owner := "nobody"
		if hs := h[v]; len(hs) > 0 {
			owner = strings.Join(hs, ", ")
		}
		d.say("  %-14s %s  ->  %s", v, cluster.VIPName(i), owner)
	}
}

// Step 5.
func (d *demo) showStatus(ctx context.Context) error {
	d.say("wackatrl talks to the daemon over its control socket.")
	return d.group(ctx, d.c.Nodes[0], "status")
}

// group shows node n's view of the group with "wackatrl SUB", once the
// daemon reports what the interfaces show.
func (d *demo) group(ctx context.Context, n *cluster.Node, sub string) error {
	if err := d.agree(ctx, n); err != nil {
		return err
	}
	out, err := n.Host.Run(ctx, d.bin["wackatrl"], "-s", n.Socket, sub)
	if err != nil {
		return fmt.Errorf("wackatrl %s on %s: %w", sub, n.Name, err)
	}
	d.shell(fmt.Sprintf("wackatrl -s %s %s      # on %s", n.Socket, sub, n.Name), out)
	return nil
}

// agree waits until node n's daemon reports the owners that the nodes'
// interfaces show: the interfaces change first, and the claims reach every
// daemon with the next gossip. A daemon that keeps disagreeing is an error.
func (d *demo) agree(ctx context.Context, n *cluster.Node) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var last string
	for {
		h, err := d.c.Holders(ctx)
		if err != nil {
			return err
		}
		out, err := n.Host.Run(ctx, d.bin["wackatrl"], "-s", n.Socket, "vips", "--json")
		if err == nil {
			var vs control.VIPs
			if err := json.Unmarshal([]byte(out), &vs); err != nil {
				return fmt.Errorf("wackatrl vips --json on %s: %w", n.Name, err)
			}
			owners := map[string]string{}
			for _, v := range vs.VIPs {
				owners[v.Name] = v.Owner
			}
			var diffs []string
			for i, v := range d.c.VIPs {
				name := cluster.VIPName(i)
				if want := cluster.Owner(h, v); owners[name] != want {
					diffs = append(diffs, fmt.Sprintf("%s: %s says %q, the interfaces %q", name, n.Name, owners[name], want))
				}
			}
			if len(diffs) == 0 {
				return nil
			}
			last = strings.Join(diffs, "; ")
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s's daemon does not report what the interfaces show: %s", n.Name, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Step 6.
func (d *demo) startDNS(ctx context.Context) error {
	d.say("dnsmasq on %s serves %s with one A record per VIP", d.dns.NS, demoName)
	d.say("(examples/zone.example is the same for a real zone). It listens on %s", d.dns.Addr)
	d.say("only and never forwards a query. The records never change: wackamole moves")
	d.say("the addresses, so DNS never has to.")
	if _, err := startDNS(ctx, d.dns, demoName, d.c.VIPs, filepath.Join(d.dir, "dnsmasq.log")); err != nil {
		return err
	}
	a, err := query(ctx, d.c.Lab.Client, d.dnsAddr, demoName)
	if err != nil {
		return err
	}
	d.shell(fmt.Sprintf("dig @%s %s A      # from the client", d.dns.Addr, demoName), a.String())
	if got := a.addrs(); !sameAddrs(got, d.c.VIPs) {
		return fmt.Errorf("dnsmasq answered %v, want the VIPs %v", got, d.c.VIPs)
	}
	return nil
}

func sameAddrs(a, b []netip.Addr) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, netip.Addr.Compare)
	slices.SortFunc(b, netip.Addr.Compare)
	return slices.Equal(a, b)
}

// fetchName resolves the demo name from the client through dnsmasq, as a
// program in the client namespace would, and fetches the page from each
// address in turn, rounds times over. It returns the nodes that answered.
func (d *demo) fetchName(ctx context.Context, rounds int) (map[string]bool, error) {
	r := resolver(d.c.Lab.Client, d.dnsAddr)
	nodes := map[string]bool{}
	for i := range rounds {
		addrs, err := r.LookupNetIP(ctx, "ip4", demoName)
		if err != nil {
			return nodes, fmt.Errorf("resolving %s through %s: %w", demoName, d.dnsAddr, err)
		}
		if len(addrs) == 0 {
			return nodes, fmt.Errorf("%s has no address", demoName)
		}
		addr := addrs[i%len(addrs)]
		body, err := get(ctx, d.c.Lab.Client, addr)
		if err != nil {
			return nodes, fmt.Errorf("GET http://%s/ via %s: %w", demoName, addr, err)
		}
		d.say("  GET http://%s/  via %-14s ->  %s", demoName, addr, body)
		if name, ok := strings.CutPrefix(body, "hello from "); ok {
			name, _, _ = strings.Cut(name, " ")
			nodes[name] = true
		}
	}
	return nodes, nil
}

func sortedKeys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Step 7.
func (d *demo) fetchAll(ctx context.Context) error {
	d.say("A Go resolver in the client namespace asks dnsmasq; each request uses the next")
	d.say("address of the answer, as clients spread over round-robin records do.")
	nodes, err := d.fetchName(ctx, 6)
	if err != nil {
		return err
	}
	d.say("%d nodes served the name: %s", len(nodes), strings.Join(sortedKeys(nodes), ", "))
	if len(nodes) != demoNodes {
		return fmt.Errorf("%d nodes answered, want %d", len(nodes), demoNodes)
	}
	return nil
}

// Step 8.
func (d *demo) crash(ctx context.Context) error {
	h, err := d.c.Holders(ctx)
	if err != nil {
		return err
	}
	d.victim = d.c.Nodes[1]
	for _, v := range d.c.VIPs {
		if cluster.Owner(h, v) == d.victim.Name {
			d.victimIP = v
		}
	}
	if !d.victimIP.IsValid() {
		return fmt.Errorf("%s holds no VIP", d.victim.Name)
	}
	d.say("%s holds %s, which the client now pings every %v. Then %s", d.victim.Name, d.victimIP, demoInterval, d.victim.Name)
	d.say("crashes: its daemon is killed (SIGKILL) and its cable pulled (link down),")
	d.say("so it says no goodbye to the group.")
	p, err := d.c.Lab.Client.Ping(ctx, d.victimIP, demoInterval)
	if err != nil {
		return err
	}
	defer p.Stop()
	if err := p.WaitReplies(ctx, 20); err != nil {
		return fmt.Errorf("the client does not reach %s before the crash: %w", d.victimIP, err)
	}
	t0 := time.Now()
	if err := d.c.Kill(d.victim); err != nil {
		return err
	}
	if err := d.c.LinkDown(ctx, d.victim); err != nil {
		return err
	}
	newOwner, moved, err := d.waitOwner(ctx, d.victimIP, d.victim.Name)
	if err != nil {
		return err
	}
	if err := p.WaitReplies(ctx, 20); err != nil {
		return fmt.Errorf("the client does not reach %s after the crash: %w", d.victimIP, err)
	}
	r := p.Stop()

	type event struct {
		at   time.Time
		what string
	}
	events := []event{
		{t0, d.victim.Name + " crashed"},
		{moved, fmt.Sprintf("%s seen on %s's eth0 (ip addr, polled)", d.victimIP, newOwner)},
	}
	for _, g := range r.Gaps {
		if !g.Open && g.End.After(t0) {
			events = append(events, event{g.End, fmt.Sprintf("the client gets ping replies from %s again", d.victimIP)})
			break
		}
	}
	slices.SortStableFunc(events, func(a, b event) int { return a.at.Compare(b.at) })
	d.say("")
	for _, e := range events {
		when := e.at.Format("15:04:05.000")
		if e.at != t0 {
			when = "+" + seconds(e.at.Sub(t0))
		}
		d.say("  %-12s  %s", when, e.what)
	}
	d.say("")
	d.say("The client's longest wait for a reply: %s; %d of %d pings lost.", seconds(r.MaxGap), r.Lost(), r.Sent)
	d.say("The survivors noticed the silence and agreed that %s is gone; %s took", d.victim.Name, newOwner)
	d.say("the orphaned VIP and announced it with gratuitous ARP.")
	survivors := slices.DeleteFunc(slices.Clone(d.c.Nodes), func(n *cluster.Node) bool { return n == d.victim })
	if _, err := d.c.WaitConverged(ctx, cluster.Names(survivors...)); err != nil {
		return err
	}
	d.say("")
	return d.group(ctx, survivors[0], "status")
}

// waitOwner polls the nodes' interfaces until v is on a node other than
// old, and returns that node and when it was seen.
func (d *demo) waitOwner(ctx context.Context, v netip.Addr, old string) (string, time.Time, error) {
	for {
		h, err := d.c.Holders(ctx)
		if err != nil {
			return "", time.Time{}, err
		}
		if o := cluster.Owner(h, v); o != "" && o != old {
			return o, time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return "", time.Time{}, fmt.Errorf("%s did not move to a survivor: %w", v, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Step 9.
func (d *demo) stillAnswers(ctx context.Context) error {
	d.say("DNS still lists all three VIPs, and all three still answer: %s", d.victimIP)
	d.say("is now served by a survivor. No DNS change, no client waiting for a TTL.")
	nodes, err := d.fetchName(ctx, 3)
	if err != nil {
		return err
	}
	if nodes[d.victim.Name] {
		return fmt.Errorf("the crashed node %s answered", d.victim.Name)
	}
	d.say("Served by: %s", strings.Join(sortedKeys(nodes), ", "))
	return nil
}

// Step 10.
func (d *demo) restore(ctx context.Context) error {
	n := d.victim
	has, err := n.Host.HasAddr(ctx, d.victimIP)
	if err != nil {
		return err
	}
	if has {
		d.say("The killed daemon could not clean up: %s is still on %s's eth0", d.victimIP, n.Name)
		d.say("(harmless while the link is down). After a crash, systemd runs")
		d.say("ExecStopPost=wackamole cleanup (examples/wackamole.service) before it")
		d.say("restarts the daemon:")
	} else {
		d.say("systemd runs ExecStopPost=wackamole cleanup after a crash, before it restarts")
		d.say("the daemon (examples/wackamole.service):")
	}
	if _, err := n.Host.Run(ctx, d.bin["wackamole"], "cleanup", "-c", n.ConfigPath); err != nil {
		return err
	}
	has, err = n.Host.HasAddr(ctx, d.victimIP)
	if err != nil {
		return err
	}
	if has {
		return fmt.Errorf("wackamole cleanup left %s on %s", d.victimIP, n.Name)
	}
	result := fmt.Sprintf("(%s is not on eth0 any more)", d.victimIP)
	d.shell(fmt.Sprintf("wackamole cleanup -c %s      # on %s", n.ConfigPath, n.Name), result)

	before, err := d.c.Holders(ctx)
	if err != nil {
		return err
	}
	// Watch every VIP while the group rebalances: a VIP handed over from
	// a live owner moves make-before-break.
	var probers []*lab.Prober
	defer func() {
		for _, p := range probers {
			p.Stop()
		}
	}()
	for _, v := range d.c.VIPs {
		p, err := d.c.Lab.Client.Ping(ctx, v, demoInterval)
		if err != nil {
			return err
		}
		probers = append(probers, p)
		if err := p.WaitReplies(ctx, 5); err != nil {
			return fmt.Errorf("the client does not reach %s: %w", v, err)
		}
	}
	d.say("Cable back in, daemon restarted; the client pings every VIP meanwhile.")
	start := time.Now()
	if err := d.c.LinkUp(ctx, n); err != nil {
		return err
	}
	if err := d.c.Start(n); err != nil {
		return err
	}
	after, err := d.c.WaitConverged(ctx, cluster.Names(d.c.Nodes...))
	if err != nil {
		return err
	}
	took := time.Since(start)
	// Let the old owner's release and the client's pings settle.
	time.Sleep(300 * time.Millisecond)
	d.say("")
	d.say("Rebalanced %s after the restart (it includes the %v maturity wait):", seconds(took), demoMature)
	lost := 0
	for i, v := range d.c.VIPs {
		from, to := cluster.Owner(before, v), cluster.Owner(after, v)
		r := probers[i].Stop()
		lost += r.Lost()
		move := "stays on " + to
		if from != to {
			move = fmt.Sprintf("moves %s -> %s", from, to)
		}
		d.say("  %-14s %-18s longest wait %s, %d of %d pings lost", v, move, seconds(r.MaxGap), r.Lost(), r.Sent)
	}
	d.say("Only what balance needs moves. A VIP that leaves a live node is handed over")
	d.say("make-before-break: the new owner adds and announces it, then the old one")
	if lost == 0 {
		d.say("lets go, so no ping was lost.")
	} else {
		d.say("lets go; still, %d pings were lost here.", lost)
	}
	return nil
}

// Step 11.
func (d *demo) after(ctx context.Context) error {
	d.say("%s is a member again and serves a VIP of its own, in its own daemon's view:", d.victim.Name)
	if err := d.group(ctx, d.victim, "status"); err != nil {
		return err
	}
	nodes, err := d.fetchName(ctx, 3)
	if err != nil {
		return err
	}
	d.say("%d nodes serve the name again: %s", len(nodes), strings.Join(sortedKeys(nodes), ", "))
	if len(nodes) != demoNodes {
		return fmt.Errorf("%d nodes answered, want %d", len(nodes), demoNodes)
	}
	return nil
}

// explore prints how to look around a kept lab.
func (d *demo) explore() {
	l := d.c.Lab
	n1 := d.c.Nodes[0]
	fmt.Fprintf(d.out, "\nThe lab keeps running (-keep). Press Ctrl-C to remove it. To look around:\n")
	ctl := fmt.Sprintf("%s -s %s", d.bin["wackatrl"], n1.Socket)
	lines := []string{
		"ip netns list | grep " + l.Prefix,
		fmt.Sprintf("ip netns exec %s ping -c 3 %s", l.Client.NS, d.c.VIPs[0]),
		fmt.Sprintf("ip netns exec %s curl -s http://%s/", l.Client.NS, d.c.VIPs[0]),
		fmt.Sprintf("ip netns exec %s dig @%s %s      # if dnsutils is installed", l.Client.NS, d.dns.Addr, demoName),
		fmt.Sprintf("ip netns exec %s ip addr show eth0", n1.Host.NS),
		ctl + " status",
		ctl + " drain      # then: " + ctl + " undrain",
		fmt.Sprintf("ip netns exec %s ip link set eth0 down      # cut %s off", n1.Host.NS, n1.Name),
		fmt.Sprintf("tail -f %s", n1.LogPath),
		fmt.Sprintf("ip netns exec %s bash      # a shell on %s", n1.Host.NS, n1.Name),
	}
	for _, l := range lines {
		fmt.Fprintf(d.out, "    %s\n", l)
	}
	fmt.Fprintf(d.out, "Configurations, keys, sockets and logs are in %s.\n", d.dir)
}
