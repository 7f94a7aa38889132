package lab

// CPU starvation: a process of the lab gets a quota of CPU time through a
// cgroup of the lab's own, as a host overloaded by its other work (or a
// container's CPU limit) would give it.
//
// cgroup v2 is used where its hierarchy has the cpu controller (cpu.max);
// on hosts that still mount the cpu controller in a cgroup v1 hierarchy
// (hybrid set-ups, where cgroup v2 is mounted without it) the v1 CFS
// bandwidth control is used instead (cpu.cfs_quota_us), which caps
// ordinary threads the same way. Both cap only threads of the ordinary
// scheduling class: a realtime (SCHED_FIFO) thread is not subject to the
// quota. On v1 kernels built with CONFIG_RT_GROUP_SCHED a realtime thread
// may not even enter a group without a realtime budget, so the lab's groups
// get a generous one (rtChildRuntime), which leaves realtime threads about
// as free as cgroup v2 does.

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cpuPeriod is the bandwidth-control period of the lab's CPU quotas.
const cpuPeriod = 100 * time.Millisecond

// Realtime budgets of the lab's groups on cgroup v1 kernels with
// CONFIG_RT_GROUP_SCHED, per rtPeriod: the lab's group gets rtLabRuntime,
// each limited process rtChildRuntime (5 % of a CPU: with realtime = true
// every thread of a daemon is realtime, and a race-built fast daemon runs
// within it, as TestCPUStarvedOwner shows; far less than would hurt the
// machine). A process spinning in such a group got 2.3 % of a CPU at
// SCHED_OTHER under a 2 % quota, 5.1 % at SCHED_FIFO.
const (
	rtPeriod       = time.Second
	rtLabRuntime   = 400 * time.Millisecond
	rtChildRuntime = 50 * time.Millisecond
)

// cpuHierarchy is the mounted cgroup hierarchy that has the cpu controller.
type cpuHierarchy struct {
	// Mount is where it is mounted.
	Mount string
	// V2 tells cgroup v2 (cpu.max) from v1 (cpu.cfs_quota_us).
	V2 bool
}

// ErrNoCPUController is returned when no mounted cgroup hierarchy has the
// cpu controller.
var ErrNoCPUController = errors.New("lab: no mounted cgroup hierarchy has the cpu controller (want cgroup2 with cpu in cgroup.controllers, or a cgroup v1 cpu hierarchy)")

// CPUController describes the cgroup hierarchy Process.LimitCPU uses, such
// as "cgroup2 at /sys/fs/cgroup", or returns ErrNoCPUController.
func CPUController() (string, error) {
	h, err := findCPUHierarchy()
	if err != nil {
		return "", err
	}
	if h.V2 {
		return "cgroup2 at " + h.Mount, nil
	}
	return "cgroup v1 cpu at " + h.Mount + " (cgroup2 has no cpu controller here)", nil
}

// findCPUHierarchy reads /proc/self/mountinfo.
func findCPUHierarchy() (cpuHierarchy, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return cpuHierarchy{}, fmt.Errorf("lab: cgroups: %w", err)
	}
	defer f.Close()
	var v1 []string
	var v2 string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		mount, fstype, opts, ok := parseMountinfo(sc.Text())
		if !ok {
			continue
		}
		switch fstype {
		case "cgroup2":
			data, err := os.ReadFile(filepath.Join(mount, "cgroup.controllers"))
			if err == nil && slices.Contains(strings.Fields(string(data)), "cpu") && v2 == "" {
				v2 = mount
			}
		case "cgroup":
			if slices.Contains(strings.Split(opts, ","), "cpu") {
				v1 = append(v1, mount)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return cpuHierarchy{}, fmt.Errorf("lab: cgroups: reading mountinfo: %w", err)
	}
	switch {
	case v2 != "":
		return cpuHierarchy{Mount: v2, V2: true}, nil
	case len(v1) > 0:
		return cpuHierarchy{Mount: v1[0]}, nil
	}
	return cpuHierarchy{}, ErrNoCPUController
}

// parseMountinfo returns a mountinfo line's mount point, file system type
// and super-block options (proc(5)).
func parseMountinfo(line string) (mount, fstype, opts string, ok bool) {
	pre, post, found := strings.Cut(line, " - ")
	if !found {
		return "", "", "", false
	}
	f, g := strings.Fields(pre), strings.Fields(post)
	if len(f) < 5 || len(g) < 3 {
		return "", "", "", false
	}
	return unescapeMountinfo(f[4]), g[0], g[2], true
}

// unescapeMountinfo undoes the octal escapes of mountinfo (\040 for space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// procCgroup returns pid's cgroup in hierarchy h, as a path under h.Mount,
// from /proc/PID/cgroup.
func procCgroup(h cpuHierarchy, pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(data)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if h.V2 && parts[0] == "0" && parts[1] == "" || !h.V2 && slices.Contains(strings.Split(parts[1], ","), "cpu") {
			return filepath.Join(h.Mount, filepath.Clean("/"+parts[2])), nil
		}
	}
	return "", fmt.Errorf("no cpu cgroup in /proc/%d/cgroup", pid)
}

// labCgroup is the lab's own cgroup, made on the first LimitCPU.
type labCgroup struct {
	mu     sync.Mutex
	hier   cpuHierarchy
	dir    string // "" until made
	limits map[*CPULimit]struct{}
}

// A CPULimit caps the CPU time of one process, set by Process.LimitCPU.
type CPULimit struct {
	lab     *Lab
	proc    *Process
	dir     string // the process's cgroup while limited
	orig    string // where it was before
	Percent float64

	once sync.Once
	err  error
}

// LimitCPU caps the process at percent of one CPU (1.5 for 1.5 %; at least
// 1, the kernel's smallest quota of 1 ms per 100 ms period) until Remove: it
// moves the process (all its threads) and the other processes of its
// process group (a daemon's workers) into a child cgroup of a cgroup of the
// lab's own, with a CPU quota they share. Threads and processes they start
// later inherit the cap. Remove, or Close, puts them back into the
// process's own cgroup and removes the groups.
func (p *Process) LimitCPU(percent float64) (*CPULimit, error) {
	l := p.host.lab
	if math.IsNaN(percent) || percent < 1 || percent > 100*1024 {
		return nil, fmt.Errorf("lab: %s: limit to %v%% of a CPU: want at least 1", p.host.NS, percent)
	}
	if p.Exited() {
		return nil, fmt.Errorf("lab: limit the CPU of %s: %w", p, os.ErrProcessDone)
	}
	parent, hier, err := l.cgroupDir()
	if err != nil {
		return nil, err
	}
	orig, err := procCgroup(hier, p.Pid())
	if err != nil {
		return nil, fmt.Errorf("lab: limit the CPU of %s: %w", p, err)
	}
	c := &CPULimit{lab: l, proc: p, orig: orig, Percent: percent,
		dir: filepath.Join(parent, fmt.Sprintf("%s-%d", p.host.Name, p.Pid()))}
	if err := os.Mkdir(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: limit the CPU of %s: %w", p, err)
	}
	quota := strconv.FormatInt(int64(math.Round(percent/100*float64(cpuPeriod/time.Microsecond))), 10)
	period := strconv.FormatInt(int64(cpuPeriod/time.Microsecond), 10)
	var settings [][2]string
	if hier.V2 {
		settings = [][2]string{{"cpu.max", quota + " " + period}}
	} else {
		settings = [][2]string{{"cpu.cfs_period_us", period}, {"cpu.cfs_quota_us", quota}}
		if exists(filepath.Join(c.dir, "cpu.rt_runtime_us")) {
			settings = append(settings,
				[2]string{"cpu.rt_period_us", strconv.FormatInt(int64(rtPeriod/time.Microsecond), 10)},
				[2]string{"cpu.rt_runtime_us", strconv.FormatInt(int64(rtChildRuntime/time.Microsecond), 10)})
		}
	}
	settings = append(settings, [2]string{"cgroup.procs", strconv.Itoa(p.Pid())})
	for _, pid := range groupMembers(p.Pid()) {
		settings = append(settings, [2]string{"cgroup.procs", strconv.Itoa(pid)})
	}
	for _, s := range settings {
		if err := writeCgroup(c.dir, s[0], s[1]); err != nil {
			rmdirCgroup(c.dir)
			return nil, fmt.Errorf("lab: limit the CPU of %s to %v%%: %w", p, percent, err)
		}
	}
	cg := &l.cgroup
	cg.mu.Lock()
	cg.limits[c] = struct{}{}
	cg.mu.Unlock()
	return c, nil
}

// Remove lifts the cap: the process goes back into the cgroup it came
// from (unless it has exited) and the limit's group is removed. Later calls
// return the first one's result.
func (c *CPULimit) Remove() error {
	c.once.Do(func() {
		var errs []error
		// Every process in the group now: the leader, its group, and
		// whatever they started meanwhile.
		data, err := os.ReadFile(filepath.Join(c.dir, "cgroup.procs"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		for _, f := range strings.Fields(string(data)) {
			err := writeCgroup(c.orig, "cgroup.procs", f)
			if err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, err)
			}
		}
		if err := rmdirCgroup(c.dir); err != nil {
			errs = append(errs, err)
		}
		cg := &c.lab.cgroup
		cg.mu.Lock()
		delete(cg.limits, c)
		cg.mu.Unlock()
		if err := errors.Join(errs...); err != nil {
			c.err = fmt.Errorf("lab: lift the CPU limit of %s: %w", c.proc, err)
		}
	})
	return c.err
}

// groupMembers returns the other processes of process group pgid, from
// /proc (best effort).
func groupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == pgid {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold anything; the
		// fields after its last ')' are plain.
		i := strings.LastIndexByte(string(data), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}

// Dir returns the cgroup directory the process runs in while limited.
func (c *CPULimit) Dir() string { return c.dir }

// cgroupDir returns the lab's own cgroup, making it on first use; Close
// removes it after lifting every limit.
func (l *Lab) cgroupDir() (string, cpuHierarchy, error) {
	cg := &l.cgroup
	cg.mu.Lock()
	defer cg.mu.Unlock()
	if cg.dir != "" {
		return cg.dir, cg.hier, nil
	}
	hier, err := findCPUHierarchy()
	if err != nil {
		return "", hier, err
	}
	dir := filepath.Join(hier.Mount, "wackamole-lab-"+l.Prefix)
	if hier.V2 {
		// The root must hand the cpu controller down to our group, and our
		// group to its children.
		if err := enableCPU(hier.Mount); err != nil {
			return "", hier, err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", hier, fmt.Errorf("lab: cgroup for the lab: %w", err)
	}
	var setup error
	if hier.V2 {
		setup = enableCPU(dir)
	} else if exists(filepath.Join(dir, "cpu.rt_runtime_us")) {
		setup = errors.Join(
			writeCgroup(dir, "cpu.rt_period_us", strconv.FormatInt(int64(rtPeriod/time.Microsecond), 10)),
			writeCgroup(dir, "cpu.rt_runtime_us", strconv.FormatInt(int64(rtLabRuntime/time.Microsecond), 10)))
	}
	if setup != nil {
		rmdirCgroup(dir)
		return "", hier, fmt.Errorf("lab: cgroup for the lab: %w", setup)
	}
	if err := l.track(l.removeCgroup); err != nil {
		rmdirCgroup(dir)
		return "", hier, err
	}
	cg.hier, cg.dir, cg.limits = hier, dir, map[*CPULimit]struct{}{}
	return dir, hier, nil
}

// removeCgroup lifts every limit and removes the lab's cgroup (on Close).
func (l *Lab) removeCgroup() {
	cg := &l.cgroup
	cg.mu.Lock()
	limits := make([]*CPULimit, 0, len(cg.limits))
	for c := range cg.limits {
		limits = append(limits, c)
	}
	dir := cg.dir
	cg.mu.Unlock()
	for _, c := range limits {
		if err := c.Remove(); err != nil {
			l.logf("lab %s: %v", l.Prefix, err)
		}
	}
	if dir != "" {
		if err := rmdirCgroup(dir); err != nil {
			l.logf("lab %s: %v", l.Prefix, err)
		}
	}
}

// enableCPU makes sure dir hands the cpu controller to its children.
func enableCPU(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return fmt.Errorf("lab: cgroup %s: %w", dir, err)
	}
	if slices.Contains(strings.Fields(string(data)), "cpu") {
		return nil
	}
	return writeCgroup(dir, "cgroup.subtree_control", "+cpu")
}

func writeCgroup(dir, file, value string) error {
	path := filepath.Join(dir, file)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, path, err)
	}
	return nil
}

// rmdirCgroup removes an empty cgroup; the kernel may need a moment after
// the last process left (or exited) before it lets go.
func rmdirCgroup(dir string) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := syscall.Rmdir(dir)
		switch {
		case err == nil, errors.Is(err, fs.ErrNotExist):
			return nil
		case errors.Is(err, syscall.EBUSY) && time.Now().Before(deadline):
			time.Sleep(20 * time.Millisecond)
		default:
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
