package heartbeat

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

// handled records when each beat was handed over (the receive goroutine's
// clock) and when it arrived (the at it got).
type handled struct {
	mu sync.Mutex
	nopHandler
	ats, handled []time.Time
}

func (h *handled) OnBeat(_ netip.AddrPort, _ *Beat, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ats = append(h.ats, at)
	h.handled = append(h.handled, time.Now())
}

func (h *handled) times() (ats, handled []time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.ats...), append([]time.Time(nil), h.handled...)
}

// coalescing returns a receiver that coalesces over window, recording
// what it handles, and a sender with the address to send it beats at.
func coalescing(t *testing.T, window time.Duration) (h *handled, rx *Transport, tx node, to []netip.AddrPort) {
	t.Helper()
	h = &handled{}
	c := config("rx", h, key1)
	c.Coalesce = window
	rx = listen(t, c)
	tx = newNode(t, "tx", key1)
	return h, rx, tx, []netip.AddrPort{rx.LocalAddr()}
}

// TestCoalesce sends a dense stream (a beat every millisecond for 300 ms)
// and a sparse one (every 60 ms) to a transport that coalesces over 30
// ms: the dense stream is read in about one batch per 30 ms, with every
// beat's arrival time intact; the sparse one beat by beat, as it arrives.
func TestCoalesce(t *testing.T) {
	const window = 30 * time.Millisecond
	h, rx, tx, to := coalescing(t, window)
	send := func(n int, every time.Duration) (sent []time.Time) {
		for range n {
			sent = append(sent, time.Now())
			if err := tx.SendBeat(&Beat{}, to); err != nil {
				t.Fatal(err)
			}
			time.Sleep(every)
		}
		return sent
	}

	woke := rx.Counters().Wakeups
	sent := send(300, time.Millisecond)
	eventually(t, "dense beats received", func() bool { ats, _ := h.times(); return len(ats) == len(sent) })
	ats, got := h.times()
	span := got[len(got)-1].Sub(got[0])
	if w, most := int(rx.Counters().Wakeups-woke), int(span/window)+3; w > most {
		t.Errorf("dense: %d beats over %v read in %d wake-ups, want at most %d (one per %v)", len(got), span, w, most, window)
	}
	for i := range sent {
		// The arrival time is the kernel's, not the late read's.
		if d := ats[i].Sub(sent[i]); d < 0 || d > 5*time.Millisecond {
			t.Fatalf("dense: beat %d arrived %v after it was sent, by its at; want the send time (within 5 ms)", i, d)
		}
		if d := got[i].Sub(sent[i]); d > window+20*time.Millisecond {
			t.Fatalf("dense: beat %d handled %v after it was sent, want within the window %v (and 20 ms of slack)", i, d, window)
		}
	}

	time.Sleep(3 * window) // sparse again
	first := len(got)
	sent = send(8, 60*time.Millisecond)
	eventually(t, "sparse beats received", func() bool { ats, _ := h.times(); return len(ats) == first+len(sent) })
	_, got = h.times()
	late := 0
	for i := range sent {
		if got[first+i].Sub(sent[i]) > window/2 {
			late++
		}
	}
	// One may wait behind a coalescing sleep (the last dense read);
	// the rest are read as they come.
	if late > 1 {
		t.Errorf("sparse: %d of %d beats every 60 ms were handled more than %v after they were sent, want them read as they arrive", late, len(sent), window/2)
	}
}

// TestCoalesceNotNegative: a negative window is refused.
func TestCoalesceNotNegative(t *testing.T) {
	c := config("rx", nil, key1)
	c.Coalesce = -time.Millisecond
	if tr, err := Listen(c); err == nil {
		tr.Close()
		t.Fatal("Listen accepted a negative Coalesce")
	}
}

// TestCoalesceBurstsDoNotPause sends what a member receives from two
// peers that beat at the same instants as it does: pairs of datagrams a
// fraction of a millisecond apart, every 100 ms. The second of a pair
// looks dense (it came right after the first), but a pause after it finds
// nothing more: after one such idle pause the transport takes no more,
// instead of one per pair (a wake-up for nothing each).
func TestCoalesceBurstsDoNotPause(t *testing.T) {
	const window = 30 * time.Millisecond
	h, rx, tx, to := coalescing(t, window)
	const pairs = 8
	for i := range pairs {
		for range 2 {
			if err := tx.SendBeat(&Beat{}, to); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Microsecond)
		}
		eventually(t, "the pair read", func() bool { ats, _ := h.times(); return len(ats) == 2*(i+1) })
		time.Sleep(100 * time.Millisecond)
	}
	if p := rx.Counters().Pauses; p > 2 {
		t.Errorf("%d pairs of datagrams took %d coalescing pauses, want at most 2 (the first pauses find them all read already)", pairs, p)
	}
}
