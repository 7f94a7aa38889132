package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wackamole/wackamole/pkg/control"
	"github.com/wackamole/wackamole/pkg/internal/cluster"
	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// convergencePoll is how often the cold start is checked: the resolution
// of the convergence time.
const convergencePoll = 20 * time.Millisecond

// viewPoll is how often each node's control socket is asked during a cold
// start while some VIP is not held once yet.
const viewPoll = 200 * time.Millisecond

// convergence is a measured cold start, every time from the first start.
type convergence struct {
	// Took is when every VIP had one holder and every node showed quorum
	// and the full view, both at once; 0 if that never happened.
	Took time.Duration
	// VIPsHeld is when every VIP last became held by exactly one node;
	// ViewsFull when the last node first showed quorum and all nodes
	// alive (in the streak that lasted until Took).
	VIPsHeld, ViewsFull time.Duration
	// Spawned is the time from the first start to the last one.
	Spawned time.Duration
	// Load is the 1-minute load average before and after.
	Load string
}

// viewFull reports whether a node's answer shows quorum and every one of
// the n nodes alive, and says what is missing otherwise.
func viewFull(m control.Members, n int) (bool, string) {
	alive := 0
	for _, x := range m.Members {
		if x.Alive {
			alive++
		}
	}
	switch {
	case alive != n:
		return false, fmt.Sprintf("%d of %d alive", alive, n)
	case !m.Quorum.OK:
		return false, fmt.Sprintf("no quorum (%d of %d)", m.Quorum.Have, m.Quorum.Need)
	}
	return true, ""
}

// heldOnce reports whether every VIP has exactly one holder, and says
// otherwise how many have none and how many several.
func heldOnce(hs []holderSet) (bool, string) {
	none, many := 0, 0
	for _, h := range hs {
		switch h.count() {
		case 0:
			none++
		case 1:
		default:
			many++
		}
	}
	if none == 0 && many == 0 {
		return true, ""
	}
	return false, fmt.Sprintf("%d VIPs unheld, %d held more than once", none, many)
}

// measureConvergence starts every daemon of c at once and waits until
// every VIP is held exactly once and every node's control socket shows
// quorum and all the nodes alive, for at most timeout.
func measureConvergence(ctx context.Context, c *cluster.Cluster, timeout time.Duration) (convergence, error) {
	var r convergence
	hosts := make([]*lab.Host, len(c.Nodes))
	clients := make([]*control.Client, len(c.Nodes))
	for i, n := range c.Nodes {
		hosts[i] = n.Host
		clients[i] = control.NewClient(n.Socket)
		defer clients[i].Close()
	}
	w, err := watchHolders(hosts, c.VIPs, convergencePoll)
	if err != nil {
		return r, err
	}
	defer w.Stop()
	r.Load = loadAverage1()

	start := time.Now()
	// Spawning is serialized by the lab (one thread forks every process):
	// goroutines only make sure no start waits for another's bookkeeping.
	var wg sync.WaitGroup
	errs := make([]error, len(c.Nodes))
	var last time.Time
	var lastMu sync.Mutex
	for i, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Start(n)
			lastMu.Lock()
			last = time.Now()
			lastMu.Unlock()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return r, err
	}
	r.Spawned = last.Sub(start)

	okAt := make([]time.Time, len(c.Nodes)) // zero: not (or no longer) full
	why := make([]string, len(c.Nodes))
	// The control sockets are asked in turn, each node about every
	// viewPoll, while some VIP is not held once (an answer costs the
	// daemon a status in JSON: 50 nodes asked 50 times a second would
	// load the machine the bench measures); then every tick.
	next := 0
	poll := func(all, fast bool) {
		var todo []int
		for k := range c.Nodes {
			if all || okAt[k].IsZero() {
				todo = append(todo, k)
			}
		}
		if !all && !fast {
			per := max(1, (len(c.Nodes)*int(convergencePoll)+int(viewPoll)-1)/int(viewPoll))
			var some []int
			for _, k := range todo {
				if (k-next+len(c.Nodes))%len(c.Nodes) < per {
					some = append(some, k)
				}
			}
			next = (next + per) % len(c.Nodes)
			todo = some
		}
		var wg sync.WaitGroup
		for _, i := range todo {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				m, err := clients[i].Members(rctx)
				cancel()
				at := time.Now()
				ok, w := false, ""
				if err != nil {
					w = err.Error()
				} else {
					ok, w = viewFull(m, len(c.Nodes))
				}
				why[i] = w
				switch {
				case !ok:
					okAt[i] = time.Time{}
				case okAt[i].IsZero():
					okAt[i] = at
				}
			}()
		}
		wg.Wait()
	}
	tick := time.NewTicker(convergencePoll)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-deadline:
			return r, fmt.Errorf("not converged %v after the start: %s", timeout, convergenceMissing(c, w, okAt, why))
		case <-tick.C:
		}
		for _, n := range c.Nodes {
			if !n.Running() {
				return r, fmt.Errorf("%s's daemon exited during the start (log %s)", n.Name, n.Process().LogPath())
			}
		}
		s, _, ok := w.latest()
		held := false
		if ok {
			held, _ = heldOnce(s.Holders)
		}
		poll(false, held)
		if !held || slices.ContainsFunc(okAt, time.Time.IsZero) {
			continue
		}
		// Both seem true: confirm with every node at once.
		poll(true, true)
		if slices.ContainsFunc(okAt, time.Time.IsZero) {
			continue
		}
		viewsAt := slices.MaxFunc(okAt, time.Time.Compare)
		r.VIPsHeld, r.ViewsFull = s.At.Sub(start), viewsAt.Sub(start)
		r.Took = max(r.VIPsHeld, r.ViewsFull)
		r.Load += "-" + loadAverage1()
		return r, nil
	}
}

// convergenceMissing describes what a cold start still lacks.
func convergenceMissing(c *cluster.Cluster, w *holderWatcher, okAt []time.Time, why []string) string {
	var parts []string
	if s, _, ok := w.latest(); !ok {
		parts = append(parts, "no holder poll completed")
	} else if held, what := heldOnce(s.Holders); !held {
		parts = append(parts, what)
	}
	reasons := map[string]int{}
	for i := range c.Nodes {
		if okAt[i].IsZero() {
			reasons[why[i]]++
		}
	}
	var rs []string
	for w, k := range reasons {
		rs = append(rs, fmt.Sprintf("%d nodes: %s", k, w))
	}
	slices.Sort(rs)
	if len(rs) > 0 {
		parts = append(parts, strings.Join(rs, ", "))
	}
	return strings.Join(parts, "; ")
}

// spread is the median and maximum of a figure over the nodes.
type spread struct {
	Median, Max float64
}

func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{Median: med, Max: s[len(s)-1]}
}

// idleUsage is what the daemons cost over an idle period.
type idleUsage struct {
	Took time.Duration
	// CPU is each daemon's CPU time, % of one core.
	CPU spread
	// RSS, PSS and Private are each daemon's memory at the end, MB:
	// VmRSS, the proportional set size and the private pages.
	RSS, PSS, Private spread
	// TxBytes, TxPackets and RxPackets are per node and second.
	TxBytes, TxPackets, RxPackets spread
	// GroupPackets is the packets per second sent by all the nodes.
	GroupPackets float64
	// Machine is the machine's busy time, % of one core (up to 100 per
	// CPU), Daemons the lab daemons' share of it, SoftIRQ the kernel's
	// packet work (not charged to any process), Others the rest (other
	// users of the machine; this tool included).
	Machine, Daemons, SoftIRQ, Others float64
	// Load is the 1-minute load average before and after.
	Load string
	// Changes are the ownership changes seen (false failovers).
	Changes []string
}

// measureIdle watches the converged group for d without touching it.
func measureIdle(ctx context.Context, c *cluster.Cluster, d time.Duration) (idleUsage, error) {
	var u idleUsage
	pids := map[string]int{}
	for _, n := range c.Nodes {
		p := n.Process()
		if p == nil || p.Exited() {
			return u, fmt.Errorf("%s's daemon is not running", n.Name)
		}
		pids[n.Name] = p.Pid()
	}
	hosts := make([]*lab.Host, len(c.Nodes))
	for i, n := range c.Nodes {
		hosts[i] = n.Host
	}
	// Every 100 ms through netlink: cheap enough not to disturb what is
	// measured, often enough to see any change of holders.
	w, err := watchHolders(hosts, c.VIPs, 100*time.Millisecond)
	if err != nil {
		return u, err
	}
	defer w.Stop()
	u.Load = loadAverage1()
	cpu0, err := procCPU(pids)
	if err != nil {
		return u, err
	}
	m0, err := machineCPU()
	if err != nil {
		return u, err
	}
	net0, err := portCounters(ctx, c)
	if err != nil {
		return u, err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return u, ctx.Err()
	case <-time.After(d):
	}
	cpu1, err := procCPU(pids)
	if err != nil {
		return u, err
	}
	m1, err := machineCPU()
	if err != nil {
		return u, err
	}
	net1, err := portCounters(ctx, c)
	if err != nil {
		return u, err
	}
	u.Took = time.Since(t0)
	u.Load += "-" + loadAverage1()
	secs := u.Took.Seconds()

	var cpu, rss, pss, priv, txb, txp, rxp []float64
	var daemons time.Duration
	for _, n := range c.Nodes {
		pid := pids[n.Name]
		used := cpu1[pid].since(cpu0[pid])
		daemons += used
		cpu = append(cpu, 100*used.Seconds()/secs)
		m, err := procMemory(pid)
		if err != nil {
			return u, err
		}
		rss, pss, priv = append(rss, m.rss), append(pss, m.pss), append(priv, m.private)
		a, b := net0[n.Host.Name], net1[n.Host.Name]
		txb = append(txb, float64(b.txBytes-a.txBytes)/secs)
		txp = append(txp, float64(b.txPackets-a.txPackets)/secs)
		rxp = append(rxp, float64(b.rxPackets-a.rxPackets)/secs)
		u.GroupPackets += float64(b.txPackets-a.txPackets) / secs
	}
	u.CPU, u.RSS, u.PSS, u.Private = spreadOf(cpu), spreadOf(rss), spreadOf(pss), spreadOf(priv)
	u.TxBytes, u.TxPackets, u.RxPackets = spreadOf(txb), spreadOf(txp), spreadOf(rxp)
	u.Machine = 100 * (m1.busy - m0.busy).Seconds() / secs
	u.SoftIRQ = 100 * (m1.softirq - m0.softirq).Seconds() / secs
	u.Daemons = 100 * daemons.Seconds() / secs
	u.Others = max(0, u.Machine-u.Daemons-u.SoftIRQ)

	for _, n := range c.Nodes {
		if p := n.Process(); p == nil || p.Pid() != pids[n.Name] || p.Exited() {
			return u, fmt.Errorf("%s's daemon exited while idle (log %s)", n.Name, n.LogPath)
		}
	}
	seen := w.Stop()
	for i := 1; i < len(seen.Samples); i++ {
		prev, cur := seen.Samples[i-1], seen.Samples[i]
		for v := range cur.Holders {
			if cur.Holders[v] != prev.Holders[v] {
				u.Changes = append(u.Changes, fmt.Sprintf("%s: %s held by %v", cur.At.Format("15:04:05.000"), c.VIPs[v], cur.Holders[v].names()))
			}
		}
	}
	return u, nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on every
// Linux architecture Go supports).
const clockTicks = 100

// cpuReading is a process's CPU time so far, read two ways: coarse from
// /proc/PID/stat (every thread, exited ones included, in ticks of 10 ms:
// over a 30 s window one tick is 0.03 % of a core, as much as the
// difference between a target met and missed), precise from each live
// thread's /proc/PID/task/TID/schedstat (nanoseconds on a CPU, but a
// thread that exits takes its time with it).
type cpuReading struct {
	coarse, precise time.Duration
}

// since is the CPU time used from r0 to r: the precise difference, unless
// it disagrees with the coarse one by more than the coarse one's
// rounding (a thread exited), then the coarse.
func (r cpuReading) since(r0 cpuReading) time.Duration {
	coarse, precise := r.coarse-r0.coarse, r.precise-r0.precise
	if d := precise - coarse; d < -2*time.Second/clockTicks || d > 2*time.Second/clockTicks {
		return coarse
	}
	return precise
}

// procCPU reads the CPU time (user and system, every thread) of each pid.
func procCPU(pids map[string]int) (map[int]cpuReading, error) {
	out := map[int]cpuReading{}
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil, err
		}
		d, err := parseStatCPU(string(data))
		if err != nil {
			return nil, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		r := cpuReading{coarse: d}
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
		for _, f := range tasks {
			data, err := os.ReadFile(f)
			if err != nil {
				continue // the thread exited
			}
			if ns, err := parseSchedstat(string(data)); err == nil {
				r.precise += ns
			}
		}
		out[pid] = r
	}
	return out, nil
}

// parseSchedstat returns the first field of a /proc/PID/schedstat line:
// the time the task spent on a CPU, in nanoseconds.
func parseSchedstat(line string) (time.Duration, error) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return 0, fmt.Errorf("schedstat: %d fields, want 3", len(f))
	}
	ns, err := strconv.ParseUint(f[0], 10, 63)
	if err != nil {
		return 0, fmt.Errorf("schedstat: %w", err)
	}
	return time.Duration(ns), nil
}

// parseStatCPU returns utime + stime of a /proc/PID/stat line. The
// command name, in parentheses, may hold spaces and parentheses: the
// fields are counted from the last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := strings.Fields(stat[i+1:])
	// After the name: state (field 3) ... utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name", len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// machineTimes are the whole machine's CPU times so far, every CPU summed.
type machineTimes struct {
	busy, softirq time.Duration
}

func machineCPU() (machineTimes, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineTimes{}, err
	}
	return parseProcStat(string(data))
}

// parseProcStat reads the "cpu" line of /proc/stat: user nice system idle
// iowait irq softirq steal ...; busy is all but idle and iowait (steal
// is time the hypervisor gave to others: not ours, not counted).
func parseProcStat(s string) (machineTimes, error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return machineTimes{}, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var v [7]uint64
	for i := range v {
		x, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return machineTimes{}, fmt.Errorf("/proc/stat: %w", err)
		}
		v[i] = x
	}
	tick := func(x uint64) time.Duration { return time.Duration(x) * time.Second / clockTicks }
	busy := v[0] + v[1] + v[2] + v[5] + v[6]
	return machineTimes{busy: tick(busy), softirq: tick(v[6])}, nil
}

// memory is a process's memory, MB.
type memory struct {
	rss, pss, private float64
}

func procMemory(pid int) (memory, error) {
	var m memory
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return m, err
	}
	kb := parseKB(string(status) + string(rollup))
	m.rss = kb["VmRSS"] / 1024
	m.pss = kb["Pss"] / 1024
	m.private = (kb["Private_Clean"] + kb["Private_Dirty"]) / 1024
	return m, nil
}

// parseKB reads "Key:   123 kB" lines.
func parseKB(s string) map[string]float64 {
	out := map[string]float64{}
	for line := range strings.Lines(s) {
		k, v, ok := strings.Cut(line, ":")
		f := strings.Fields(v)
		if !ok || len(f) != 2 || f[1] != "kB" {
			continue
		}
		if x, err := strconv.ParseFloat(f[0], 64); err == nil {
			out[k] = x
		}
	}
	return out
}

// portCount is what a node sent and received on its link.
type portCount struct {
	txBytes, txPackets, rxPackets uint64
}

// portCounters reads every node's traffic from its bridge port ("v" +
// node name) in one ip(8) run: what the port received the node sent.
func portCounters(ctx context.Context, c *cluster.Cluster) (map[string]portCount, error) {
	out, err := c.Lab.Bridge.Run(ctx, "ip", "-s", "-j", "link", "show")
	if err != nil {
		return nil, err
	}
	return parsePortCounters(out)
}

func parsePortCounters(js string) (map[string]portCount, error) {
	var links []struct {
		IfName string `json:"ifname"`
		Stats  struct {
			RX struct{ Bytes, Packets uint64 } `json:"rx"`
			TX struct{ Bytes, Packets uint64 } `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal([]byte(js), &links); err != nil {
		return nil, fmt.Errorf("parsing ip -s -j link: %w", err)
	}
	out := map[string]portCount{}
	for _, l := range links {
		name, ok := strings.CutPrefix(l.IfName, "v")
		if !ok {
			continue
		}
		out[name] = portCount{txBytes: l.Stats.RX.Bytes, txPackets: l.Stats.RX.Packets, rxPackets: l.Stats.TX.Packets}
	}
	return out, nil
}

// loadAverage1 is the 1-minute load average.
func loadAverage1() string {
	f := strings.Fields(loadAverages())
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// machine describes the machine the figures come from.
func machine() string {
	return fmt.Sprintf("%d CPUs (%s), load average %s", runtime.NumCPU(), kernelRelease(), loadAverages())
}

// neighborOverflows counts the times the machine's IPv4 neighbour table
// was full (every namespace's, see lab.Options.StaticNeighbors): the
// table_fulls column of /proc/net/stat/arp_cache, summed over the CPUs.
func neighborOverflows() (uint64, error) {
	data, err := os.ReadFile("/proc/net/stat/arp_cache")
	if err != nil {
		return 0, err
	}
	return parseTableFulls(string(data))
}

func parseTableFulls(s string) (uint64, error) {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) < 2 {
		return 0, errors.New("arp_cache: no CPU lines")
	}
	col := slices.Index(strings.Fields(lines[0]), "table_fulls")
	if col < 0 {
		return 0, errors.New("arp_cache: no table_fulls column")
	}
	var sum uint64
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if col >= len(f) {
			return 0, fmt.Errorf("arp_cache: short line %q", l)
		}
		x, err := strconv.ParseUint(f[col], 16, 64)
		if err != nil {
			return 0, fmt.Errorf("arp_cache: %w", err)
		}
		sum += x
	}
	return sum, nil
}
