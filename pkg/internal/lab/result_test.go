package lab

import (
	"net/netip"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	replies := func(ms ...int) []Reply {
		var rs []Reply
		for i, m := range ms {
			rs = append(rs, Reply{Seq: i, Sent: at(m), Received: at(m)})
		}
		return rs
	}
	tests := []struct {
		name    string
		end     int
		replies []Reply
		maxGap  time.Duration
		gaps    []Gap
	}{{
		name:   "no replies: one open gap",
		end:    500,
		maxGap: 500 * time.Millisecond,
		gaps:   []Gap{{Start: at(0), End: at(500), Open: true}},
	}, {
		name:    "steady",
		end:     41,
		replies: replies(1, 11, 21, 31, 41),
		maxGap:  10 * time.Millisecond,
	}, {
		name:    "outage in the middle",
		end:     321,
		replies: replies(1, 11, 21, 301, 311, 321),
		maxGap:  280 * time.Millisecond,
		gaps:    []Gap{{Start: at(21), End: at(301)}},
	}, {
		name:    "target never came back",
		end:     400,
		replies: replies(1, 11, 21),
		maxGap:  379 * time.Millisecond,
		gaps:    []Gap{{Start: at(21), End: at(400), Open: true}},
	}, {
		name:    "slow start counts from Start",
		end:     221,
		replies: replies(200, 210, 220),
		maxGap:  200 * time.Millisecond,
		gaps:    []Gap{{Start: at(0), End: at(200)}},
	}, {
		name:    "gap of exactly 3 intervals is not listed",
		end:     40,
		replies: replies(0, 30, 40),
		maxGap:  30 * time.Millisecond,
	}, {
		name:    "out-of-order replies are sorted by arrival",
		end:     100,
		replies: []Reply{{Seq: 1, Received: at(100)}, {Seq: 0, Received: at(10)}},
		maxGap:  90 * time.Millisecond,
		gaps:    []Gap{{Start: at(10), End: at(100)}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Result{
				Target:   netip.MustParseAddr("198.18.0.11"),
				Interval: 10 * time.Millisecond,
				Start:    t0,
				End:      at(tt.end),
				Replies:  tt.replies,
			}
			r.summarize()
			if r.MaxGap != tt.maxGap {
				t.Errorf("MaxGap = %v, want %v", r.MaxGap, tt.maxGap)
			}
			if len(r.Gaps) != len(tt.gaps) {
				t.Fatalf("Gaps = %+v, want %+v", r.Gaps, tt.gaps)
			}
			for i, g := range r.Gaps {
				w := tt.gaps[i]
				if !g.Start.Equal(w.Start) || !g.End.Equal(w.End) || g.Open != w.Open {
					t.Errorf("Gaps[%d] = %+v, want %+v", i, g, w)
				}
			}
			_ = r.String() // must not panic
		})
	}
}

func TestCheckSubnet(t *testing.T) {
	tests := []struct {
		in   string // "" for the zero Prefix
		want string // "" for an error
	}{
		{"", "198.18.0.0/24"},
		{"198.18.0.0/24", "198.18.0.0/24"},
		{"198.18.7.9/24", "198.18.7.0/24"},
		{"198.19.255.0/24", "198.19.255.0/24"},
		{"198.18.0.0/15", "198.18.0.0/15"},
		{"198.18.0.0/16", "198.18.0.0/16"},
		{"198.16.0.0/14", ""},
		{"198.20.0.0/24", ""},
		{"10.0.0.0/24", ""},
		{"198.18.0.0/25", ""},
		{"::ffff:198.18.0.0/120", ""},
		{"2001:db8::/64", ""},
	}
	for _, tt := range tests {
		var in netip.Prefix
		if tt.in != "" {
			in = netip.MustParsePrefix(tt.in)
		}
		got, err := checkSubnet(in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("checkSubnet(%s) = %s, want an error", tt.in, got)
		case tt.want != "" && err != nil:
			t.Errorf("checkSubnet(%s): %v", tt.in, err)
		case tt.want != "" && got.String() != tt.want:
			t.Errorf("checkSubnet(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, ok := range []string{"wk", "wkt0a1b2c", "a_b-C9", "x"} {
		if err := checkPrefix(ok); err != nil {
			t.Errorf("checkPrefix(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a/b", "a.b", "../x", "wk\n", "0123456789abcdef0123456789abcdef0"} {
		if err := checkPrefix(bad); err == nil {
			t.Errorf("checkPrefix(%q) succeeded, want an error", bad)
		}
	}
}

func TestAddressPlan(t *testing.T) {
	l := &Lab{Subnet: netip.MustParsePrefix("198.19.4.0/23")}
	tests := []struct {
		got  netip.Addr
		want string
	}{
		{l.addrAt(clientOffset), "198.19.4.2"},
		{l.NodeAddr(1), "198.19.4.11"},
		{l.NodeAddr(MaxNodes), "198.19.4.99"},
		{l.VIP(0), "198.19.4.100"},
		{l.VIP(NumVIPs - 1), "198.19.4.199"},
	}
	for _, tt := range tests {
		if tt.got.String() != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
	for _, bad := range []netip.Addr{l.VIP(-1), l.VIP(NumVIPs), l.NodeAddr(0), l.NodeAddr(MaxNodes + 1)} {
		if bad.IsValid() {
			t.Errorf("out-of-range address %s, want the zero Addr", bad)
		}
	}
}

func TestSysctlRefusesGlobalKeys(t *testing.T) {
	h := &Host{NS: "wktnone-n1"}
	for _, key := range []string{"kernel.pid_max", "net/../kernel/x", "net.ipv4..x", "vm.swappiness", "net.ipv4 x"} {
		if err := h.Sysctl(key, "1"); err == nil {
			t.Errorf("Sysctl(%q) succeeded, want an error", key)
		}
	}
}

func TestCheckHostName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"dns", true},
		{"router2", true},
		{"n", true},
		{"nx1", true},
		{"abcdefghijklmn", true},
		{"", false},
		{"abcdefghijklmno", false}, // 15: "v" + name exceeds IFNAMSIZ
		{"br", false},
		{"cl", false},
		{"n1", false},
		{"n42", false},
		{"1dns", false},
		{"DNS", false},
		{"d-ns", false},
		{"d ns", false},
		{"dns/x", false},
	}
	for _, tt := range tests {
		if err := checkHostName(tt.name); (err == nil) != tt.ok {
			t.Errorf("checkHostName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

// A snapshot must not count the requests still in flight as lost (it did:
// a probe sent 1 ms before the snapshot made a lossless hand-over fail).
func TestInFlight(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name    string
		sent    []int
		replied []bool
		now     int
		want    int
	}{
		{"nothing sent", nil, nil, 0, 0},
		{"all answered", []int{0, 10, 20}, []bool{true, true, true}, 21, 0},
		{"last in flight", []int{0, 10, 20}, []bool{true, true, false}, 21, 1},
		{"two in flight", []int{0, 10, 20}, []bool{true, false, false}, 21, 2},
		{"older than the grace: lost", []int{0, 10, 20}, []bool{true, true, false}, 45, 0},
		{"a lost one before an answered one stays lost", []int{0, 10, 20}, []bool{false, true, true}, 21, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Prober{interval: 10 * time.Millisecond, replied: tt.replied}
			for _, ms := range tt.sent {
				p.sent = append(p.sent, at(ms))
			}
			if got := p.inFlightLocked(at(tt.now)); got != tt.want {
				t.Errorf("inFlightLocked = %d, want %d", got, tt.want)
			}
		})
	}
}
