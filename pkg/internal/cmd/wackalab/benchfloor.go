package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

func init() {
	register(&command{
		Name:    "bench-floor",
		Args:    "[-nodes N] [-interval D] [-for D] [-cc CC]",
		Summary: "CPU floor of a heartbeat node's work in this lab, without Go or crypto",
		Help:    benchFloorHelp,
		Run:     runBenchFloor,
	})
}

const benchFloorHelp = `DESCRIPTION
    Measures what the heartbeats alone cost on this machine, as a floor
    under the daemon's idle CPU: a small C program (compiled with -cc) runs
    on every node of a namespace lab and does a node's heartbeat work and
    nothing else. Every interval it wakes (clock_nanosleep(2), absolute),
    reads what arrived (recvmmsg(2), non-blocking) and sends a 256-byte
    datagram to each other node (one sendmmsg(2)): no encryption, no Go
    runtime, no gossip. It prints each node's CPU time (user and system)
    as a percentage of one core. In this lab the kernel delivers each
    datagram through two veths and the bridge into the receiver's
    namespace on the sender's time, as it does for the daemon.

OPTIONS
    -nodes N         nodes (default 3)
    -interval D      heartbeat interval (default 5ms, fast's)
    -for D           how long each node runs (default 20s)
    -cc CC           the C compiler (default cc)
`

func runBenchFloor(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodes := fs.Int("nodes", 3, "")
	interval := fs.Duration("interval", 5*time.Millisecond, "")
	run := fs.Duration("for", 20*time.Second, "")
	cc := fs.String("cc", "cc", "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *nodes < 2 || *nodes > 16 ||
		*interval < time.Millisecond || *run < time.Second {
		fmt.Fprintln(stderr, "usage: wackalab bench-floor [-nodes N (2-16)] [-interval D (>= 1ms)] [-for D (>= 1s)] [-cc CC]")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "wackalab-floor-")
	if err != nil {
		fmt.Fprintln(stderr, "wackalab:", err)
		return exitFail
	}
	defer os.RemoveAll(dir)
	bin, err := compileFloor(ctx, *cc, dir)
	if err != nil {
		fmt.Fprintln(stderr, "wackalab: bench-floor:", err)
		return exitFail
	}
	l, err := lab.New(ctx, lab.Options{Nodes: *nodes, StaticNeighbors: true})
	if err != nil {
		fmt.Fprintln(stderr, "wackalab:", err)
		return exitFail
	}
	defer l.Close()
	fmt.Fprintf(stdout, "%d nodes, a beat every %v to every other node, for %v ...\n", *nodes, *interval, *run)

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		cpus []float64
		errs []error
	)
	for _, h := range l.Nodes {
		args := []string{strconv.FormatInt(interval.Microseconds(), 10), strconv.Itoa(int(run.Seconds())), h.Addr.String()}
		for _, p := range l.Nodes {
			if p != h {
				args = append(args, p.Addr.String())
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := h.Run(ctx, bin, args...)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", h.NS, err))
				return
			}
			fmt.Fprint(stdout, out)
			// "ADDR: CPU % of a core over S s, N beats received"
			if f := strings.Fields(out); len(f) > 1 {
				if v, err := strconv.ParseFloat(f[1], 64); err == nil {
					cpus = append(cpus, v)
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintln(stderr, "wackalab: bench-floor:", err)
		}
		return exitFail
	}
	slices.Sort(cpus)
	fmt.Fprintf(stdout, "floor: %.2f %% of a core per node (median of %d; min %.2f, max %.2f)\n",
		cpus[len(cpus)/2], len(cpus), cpus[0], cpus[len(cpus)-1])
	return exitOK
}

// compileFloor writes floorSource to dir and compiles it.
func compileFloor(ctx context.Context, cc, dir string) (string, error) {
	path, err := exec.LookPath(cc)
	if err != nil {
		return "", fmt.Errorf("needs a C compiler (-cc %s): %w", cc, err)
	}
	src, bin := filepath.Join(dir, "floor.c"), filepath.Join(dir, "floor")
	if err := os.WriteFile(src, []byte(floorSource), 0o644); err != nil {
		return "", err
	}
	if out, err := exec.CommandContext(ctx, path, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s: %w\n%s", cc, err, out)
	}
	return bin, nil
}

// floorSource is the heartbeat work and nothing else; see benchFloorHelp.
const floorSource = `#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

enum { port = 9911, size = 256, batch = 64, maxPeers = 16 };

int main(int argc, char **argv) {
	if (argc < 5 || argc - 4 > maxPeers) {
		fprintf(stderr, "usage: floor INTERVAL_US SECONDS BIND_IP PEER_IP...\n");
		return 2;
	}
	long ns = atol(argv[1]) * 1000L;
	int secs = atoi(argv[2]), peers = argc - 4;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in self = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (fd < 0 || inet_pton(AF_INET, argv[3], &self.sin_addr) != 1 || bind(fd, (void *)&self, sizeof self) != 0) {
		perror("socket");
		return 1;
	}
	static char beat[size], in[batch][size];
	struct sockaddr_in to[maxPeers];
	struct iovec oiov[maxPeers], iiov[batch];
	struct mmsghdr out[maxPeers], hdrs[batch];
	for (int i = 0; i < peers; i++) {
		to[i] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port)};
		if (inet_pton(AF_INET, argv[4 + i], &to[i].sin_addr) != 1) {
			fprintf(stderr, "bad address %s\n", argv[4 + i]);
			return 2;
		}
		oiov[i] = (struct iovec){beat, size};
		out[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &to[i], .msg_namelen = sizeof to[i], .msg_iov = &oiov[i], .msg_iovlen = 1}};
	}
	for (int i = 0; i < batch; i++) {
		iiov[i] = (struct iovec){in[i], size};
		hdrs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iiov[i], .msg_iovlen = 1}};
	}
	struct timespec next, c0, c1;
	clock_gettime(CLOCK_MONOTONIC, &next);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	long rounds = secs * 1000000000L / ns, got = 0;
	for (long k = 0; k < rounds; k++) {
		next.tv_nsec += ns;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		int n;
		while ((n = recvmmsg(fd, hdrs, batch, MSG_DONTWAIT, NULL)) > 0) {
			got += n;
			if (n < batch)
				break;
		}
		sendmmsg(fd, out, peers, 0);
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	double cpu = (c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9;
	printf("%s: %.3f %% of a core over %d s, %ld beats received\n", argv[3], 100 * cpu / secs, secs, got);
	return 0;
}
`
