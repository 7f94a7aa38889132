package heartbeat

import "sync"

// window is the replay state of one sender: the newest process heard from
// it and, for that process, the newest counter accepted of each message
// type. Types have windows of their own so that a reply sent from the
// receive goroutine and a beat sent from the sender's thread at the same
// moment, which may leave in either order, are both accepted; a packet of
// one type cannot pass for another, the type is authenticated.
type window struct {
	process uint64
	counter [TypeMetaReply]uint64 // by type - 1; 0: none yet
	// proven is the counter of a reply of this process that echoed the
	// receiver's own process: packets with a higher counter were sealed
	// after the receiver started. 0: not proven.
	proven uint64
}

// admit reports whether a packet (process, counter) of type t is newer
// than all this window accepted, and if so records it. A newer process
// starts over; an older one is refused.
func (w *window) admit(t Type, process, counter uint64) bool {
	switch {
	case process > w.process:
		*w = window{process: process}
	case process < w.process:
		return false
	}
	if counter <= w.counter[t-1] {
		return false
	}
	w.counter[t-1] = counter
	return true
}

// replayTable holds the windows of every sender, up to max senders. Only
// authenticated packets reach it (in clear-text mode, only packets that
// pass their checksum), so the bound is there for clear-text groups, where
// anyone can make up senders.
type replayTable struct {
	mu      sync.Mutex
	max     int
	senders map[uint64]*window
}

func newReplayTable(max int) *replayTable {
	return &replayTable{max: max, senders: make(map[uint64]*window)}
}

// verdict is what the replay table says of a packet.
type verdict uint8

const (
	admitted  verdict = iota
	replayed          // not newer than what was accepted
	tableFull         // a new sender and no room for it
)

// admit checks a packet's header against its sender's window and records
// it; proven says whether the sender's process has proven itself live
// since this process started and the packet came after that proof.
func (r *replayTable) admit(h *Header) (v verdict, proven bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.senders[h.Sender]
	if w == nil {
		if len(r.senders) >= r.max {
			return tableFull, false
		}
		w = &window{}
		r.senders[h.Sender] = w
	}
	if !w.admit(h.Type, h.Process, h.Counter) {
		return replayed, false
	}
	return admitted, w.proven != 0 && h.Counter > w.proven
}

// prove records that an admitted reply h answered this process: every
// later packet of h's process is fresh.
func (r *replayTable) prove(h *Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w := r.senders[h.Sender]; w != nil && w.process == h.Process && h.Counter > w.proven {
		w.proven = h.Counter
	}
}

// forget drops a sender's window.
func (r *replayTable) forget(sender uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.senders, sender)
}

// len returns the number of senders known.
func (r *replayTable) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.senders)
}
