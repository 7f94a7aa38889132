//go:build linux

package heartbeat

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkNodeCPU runs a whole group, every node a process of its own
// (the test binary as the "node" child) on the loopback interface,
// heartbeating all-to-all at the given interval from a locked thread
// paced by a Pacer, and reports what one node costs: the CPU time of its
// process (user and system, all threads, the Go runtime included) over
// the rounds, as a percentage of one core, and the beats lost. One op is
// one interval. receive=goroutine is the default transport (a receive
// goroutine woken by every datagram); receive=polled is Config.Polled,
// the heartbeat loop draining the socket before it sends.
func BenchmarkNodeCPU(b *testing.B) {
	for _, mode := range []string{"goroutine", "polled"} {
		for _, c := range []struct {
			nodes    int
			interval time.Duration
		}{
			{3, 5 * time.Millisecond},
			{3, 25 * time.Millisecond},
			{3, 200 * time.Millisecond},
			{50, 25 * time.Millisecond},
			{50, 200 * time.Millisecond},
		} {
			b.Run(fmt.Sprintf("receive=%s/nodes=%d/interval=%v", mode, c.nodes, c.interval), func(b *testing.B) {
				runGroup(b, mode, c.nodes, c.interval, b.N)
			})
		}
	}
}

type child struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	port  uint16
	cpu   time.Duration
	recvd uint64
}

func runGroup(b *testing.B, mode string, n int, interval time.Duration, rounds int) {
	b.StopTimer()
	kids := make([]*child, n)
	defer func() {
		for _, k := range kids {
			if k != nil && k.cmd.Process != nil {
				k.cmd.Process.Kill()
				k.cmd.Wait()
			}
		}
	}()
	for i := range kids {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=node",
			"HEARTBEAT_NODE="+fmt.Sprintf("n%d", i),
			"HEARTBEAT_KEY="+hex.EncodeToString(key1),
			"HEARTBEAT_INTERVAL="+interval.String(),
			"HEARTBEAT_ROUNDS="+strconv.Itoa(rounds),
			"HEARTBEAT_RECEIVE="+mode)
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		kids[i] = &child{cmd: cmd, in: in, out: bufio.NewReader(out)}
	}
	ports := make([]string, n)
	for i, k := range kids {
		line, err := k.out.ReadString('\n')
		if _, err2 := fmt.Sscanf(line, "port %d", &k.port); err != nil || err2 != nil {
			b.Fatalf("node %d: %q %v %v", i, line, err, err2)
		}
		ports[i] = strconv.Itoa(int(k.port))
	}
	b.StartTimer()
	for _, k := range kids {
		fmt.Fprintln(k.in, strings.Join(ports, ","))
	}
	var total, most time.Duration
	var recvd uint64
	for i, k := range kids {
		line, err := k.out.ReadString('\n')
		var cpu int64
		if _, err2 := fmt.Sscanf(line, "cpu %d received %d", &cpu, &k.recvd); err != nil || err2 != nil {
			b.Fatalf("node %d: %q %v %v", i, line, err, err2)
		}
		k.cpu = time.Duration(cpu)
		total += k.cpu
		most = max(most, k.cpu)
		recvd += k.recvd
	}
	b.StopTimer()
	window := time.Duration(rounds) * interval
	b.ReportMetric(100*float64(total)/float64(n)/float64(window), "cpu-%/node")
	b.ReportMetric(100*float64(most)/float64(window), "max-cpu-%/node")
	// Each node sends rounds beats to n-1 peers; a node that starts or
	// stops a little before the others misses a few of theirs.
	want := uint64(n * (n - 1) * rounds)
	b.ReportMetric(100*(1-float64(recvd)/float64(want)), "lost-%")
	b.ReportMetric(float64(total)/float64(want)/float64(time.Microsecond), "cpu-µs/beat")
}

// childNode is one member of runGroup's group.
func childNode() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "node:", err); return 1 }
	key, err := hex.DecodeString(os.Getenv("HEARTBEAT_KEY"))
	if err != nil {
		return fail(err)
	}
	interval, err := time.ParseDuration(os.Getenv("HEARTBEAT_INTERVAL"))
	if err != nil {
		return fail(err)
	}
	rounds, err := strconv.Atoi(os.Getenv("HEARTBEAT_ROUNDS"))
	if err != nil {
		return fail(err)
	}
	h := &countBeats{}
	c := DefaultConfig()
	c.Name, c.Bind, c.Handler, c.Key = os.Getenv("HEARTBEAT_NODE"), loopback4, h, key
	c.Polled = os.Getenv("HEARTBEAT_RECEIVE") == "polled"
	tr, err := Listen(c)
	if err != nil {
		return fail(err)
	}
	defer tr.Close()
	fmt.Printf("port %d\n", tr.LocalAddr().Port())
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		return fail(err)
	}
	var peers []netip.AddrPort
	for _, p := range strings.Split(strings.TrimSpace(line), ",") {
		port, err := strconv.Atoi(p)
		if err != nil {
			return fail(err)
		}
		if uint16(port) != tr.LocalAddr().Port() {
			peers = append(peers, netip.AddrPortFrom(loopback4.Addr(), uint16(port)))
		}
	}
	if err := LockThread(Sched{}); err != nil {
		return fail(err)
	}
	before := cpuTime()
	pace, err := NewPacer(interval)
	if err != nil {
		return fail(err)
	}
	beat := Beat{MetaVersion: 1, Interval: interval}
	poll := func() error {
		if !c.Polled {
			return nil
		}
		_, err := tr.Poll()
		return err
	}
	for range rounds {
		if err := poll(); err != nil {
			return fail(err)
		}
		if err := tr.SendBeat(&beat, peers); err != nil {
			return fail(err)
		}
		pace.Wait()
	}
	// The others' last beats.
	time.Sleep(min(2*interval, 100*time.Millisecond))
	if err := poll(); err != nil {
		return fail(err)
	}
	fmt.Printf("cpu %d received %d\n", cpuTime()-before, h.n.Load())
	return 0
}

type countBeats struct{ n atomic.Uint64 }

func (c *countBeats) OnBeat(netip.AddrPort, *Beat, time.Time) { c.n.Add(1) }
func (c *countBeats) OnMetaRequest(netip.AddrPort, *MetaRequest, time.Time) (uint64, []byte, bool) {
	return 0, nil, false
}
func (c *countBeats) OnMetaReply(netip.AddrPort, *MetaReply, time.Time) {}

// cpuTime returns the process's CPU time, user and system, all threads.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
