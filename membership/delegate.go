package membership

// delegate is the group as memberlist's Delegate.
type delegate Group

func (d *delegate) NodeMeta(limit int) []byte {
	g := (*Group)(d)
	g.mu.Lock()
	defer g.mu.Unlock()
	b := encodeEnvelope(g.version, g.hbPort, g.meta)
	if len(b) > limit {
		return nil // SetMeta refuses this; never make memberlist panic
	}
	return b
}

// NotifyMsg receives neighbour shares. It runs on
// memberlist's packet path: it must not block, and must not trust the bytes
// (a member with the key, or anyone when gossip is not encrypted, could send
// anything).
func (d *delegate) NotifyMsg(b []byte) {
	g := (*Group)(d)
	if len(b) < 2 {
		return
	}
	switch b[0] {
	case msgNeighbors:
		if name, s, _, err := decodeShare(b); err == nil {
			g.mergeShare(name, s)
		}
	}
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return (*Group)(d).broadcasts.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(join bool) []byte { return (*Group)(d).localState() }

func (d *delegate) MergeRemoteState(buf []byte, join bool) { (*Group)(d).mergeState(buf) }
