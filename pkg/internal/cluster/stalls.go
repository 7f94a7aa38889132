package cluster

import (
	"bufio"
	"io"
	"os"
	"regexp"
	"time"
)

// Stall is a stall a daemon noticed of itself (its heartbeat loop did not
// run for a while): on a VM, often the whole machine at once.
type Stall struct {
	Node   string
	End    time.Time // when the daemon noticed it
	Length time.Duration
}

// Start is when the stall began.
func (s Stall) Start() time.Time { return s.End.Add(-s.Length) }

// stallLine matches the warning membership logs on a stall, in the text
// log format the harness runs the daemons with.
var stallLine = regexp.MustCompile(`^time=(\S+) level=WARN msg="this node did not run for a while[^"]*".* stalled=(\S+)`)

// ParseStalls returns the stalls a daemon's log reports, in order; lines
// it cannot read are skipped.
func ParseStalls(node string, r io.Reader) []Stall {
	var out []Stall
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		m := stallLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		at, err1 := time.Parse(time.RFC3339Nano, m[1])
		d, err2 := time.ParseDuration(m[2])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, Stall{Node: node, End: at, Length: d})
	}
	return out
}

// Stalls returns the stalls every node's daemon logged (all its runs).
func (c *Cluster) Stalls() []Stall {
	var out []Stall
	for _, n := range c.Nodes {
		for _, f := range n.logFiles() {
			fh, err := os.Open(f)
			if err != nil {
				continue
			}
			out = append(out, ParseStalls(n.Name, fh)...)
			fh.Close()
		}
	}
	return out
}

// StallBefore returns a stall that explains a change of owner at t: one
// that began before t and ended at most after later (the failure timeout
// and some room: the others fail the stalled node while it stalls, or it
// comes back to a contest).
func StallBefore(stalls []Stall, t time.Time, after time.Duration) (Stall, bool) {
	for _, s := range stalls {
		if !s.Start().After(t) && !t.After(s.End.Add(after)) {
			return s, true
		}
	}
	return Stall{}, false
}
