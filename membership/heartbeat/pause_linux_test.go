package heartbeat

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPauseWakesNobody: datagrams that arrive while the receive goroutine
// pauses to coalesce (Config.Coalesce) wake no thread of the process; the
// pause ends, and the batch is read, once. Before the socket had an epoll
// instance of its own (see socket), each datagram woke the runtime's
// poller, pause or not: a wake-up per datagram.
func TestPauseWakesNobody(t *testing.T) {
	const pause = time.Second
	h := &handled{}
	c := config("rx", h, key1)
	c.Coalesce = pause
	rx := listen(t, c)

	// A sender of its own, so that its sleeps between datagrams are not
	// this process's wake-ups: two datagrams at once, then 250 every
	// millisecond, which arrive within the pause.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=sender", "SENDER_TO="+rx.LocalAddr().String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "burst" {
		t.Fatalf("sender: %q, want burst", lines.Text())
	}
	eventually(t, "the burst read", func() bool { return rx.Counters().Received >= 2 })
	before := voluntarySwitches(t)
	if !lines.Scan() || lines.Text() != "spaced" {
		t.Fatalf("sender: %q, want spaced", lines.Text())
	}
	woke := voluntarySwitches(t) - before
	// The pause begins after the second read: of the burst's second
	// datagram, or of the first spaced one if one read took the burst.
	if got := rx.Counters().Received; got > 3 {
		t.Fatalf("received %d datagrams before the pause ended, want at most 3 (the pause is %v)", got, pause)
	}
	t.Logf("%d datagrams during the pause: %d voluntary context switches", spaced, woke)
	// Scheduling noise of the test itself (its pipe from the sender, the
	// runtime's monitor, the race detector's) has been 2-60 here; one
	// wake-up per datagram is 250 or more.
	if woke > 120 {
		t.Errorf("%d datagrams during a coalescing pause woke this process's threads %d times, want nearly none", spaced, woke)
	}
	// Read after the pause; the socket's buffer may have dropped some.
	eventually(t, "the spaced datagrams read after the pause", func() bool { return rx.Counters().Received >= 2+spaced/2 })
}

// spaced is how many datagrams TestPauseWakesNobody sends during the
// pause, a millisecond apart.
const spaced = 250

// childSender sends the datagrams of TestPauseWakesNobody to SENDER_TO,
// saying on stdout when it has sent the burst and the spaced ones.
func childSender() int {
	conn, err := net.Dial("udp", os.Getenv("SENDER_TO"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p := []byte("not a heartbeat")
	for range 2 {
		conn.Write(p)
	}
	fmt.Println("burst")
	time.Sleep(20 * time.Millisecond)
	for range spaced {
		conn.Write(p)
		time.Sleep(time.Millisecond)
	}
	fmt.Println("spaced")
	return 0
}

// voluntarySwitches sums the voluntary context switches of this process's
// threads: how often they went to sleep, which is how often they woke.
func voluntarySwitches(t *testing.T) int {
	t.Helper()
	status, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, f := range status {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				total += n
			}
		}
	}
	return total
}
