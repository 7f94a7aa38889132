package arp

import (
	"net"
	"net/netip"
	"reflect"
	"testing"
)

func TestPlanNotify(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	view := linkView{
		prefixes: []netip.Prefix{p("198.18.0.1/24"), p("2001:2::1/64")},
		neigh: map[netip.Addr]net.HardwareAddr{
			a("198.18.0.2"): macB,
			a("198.18.9.9"): macB, // outside the subnets, but a neighbour on the link
		},
		direct: func(h netip.Addr) bool { return h == a("198.18.7.7") },
	}
	tests := []struct {
		name    string
		addr    netip.Addr
		hosts   []netip.Addr
		want    []notifyTarget
		skipped []netip.Addr
	}{
		{
			name:  "known neighbour gets unicast",
			addr:  vip4,
			hosts: []netip.Addr{a("198.18.0.2")},
			want:  []notifyTarget{{host: a("198.18.0.2"), mac: macB}},
		},
		{
			name:  "unknown host in subnet gets broadcast",
			addr:  vip4,
			hosts: []netip.Addr{a("198.18.0.3")},
			want:  []notifyTarget{{host: a("198.18.0.3")}},
		},
		{
			name:  "neighbour outside the subnets",
			addr:  vip4,
			hosts: []netip.Addr{a("198.18.9.9")},
			want:  []notifyTarget{{host: a("198.18.9.9"), mac: macB}},
		},
		{
			name:  "directly routed",
			addr:  vip4,
			hosts: []netip.Addr{a("198.18.7.7")},
			want:  []notifyTarget{{host: a("198.18.7.7")}},
		},
		{
			name:    "off link",
			addr:    vip4,
			hosts:   []netip.Addr{a("198.19.0.1")},
			skipped: []netip.Addr{a("198.19.0.1")},
		},
		{
			name:  "mapped host, duplicates",
			addr:  mapped,
			hosts: []netip.Addr{netip.AddrFrom16(a("198.18.0.2").As16()), a("198.18.0.2")},
			want:  []notifyTarget{{host: a("198.18.0.2"), mac: macB}},
		},
		{
			name:    "other family, self, non-unicast",
			addr:    vip4,
			hosts:   []netip.Addr{host6, vip4, a("0.0.0.0"), a("224.0.0.1"), a("255.255.255.255"), a("127.0.0.1"), {}},
			skipped: []netip.Addr{host6, vip4, a("0.0.0.0"), a("224.0.0.1"), a("255.255.255.255"), a("127.0.0.1"), {}},
		},
		{
			name:    "IPv6 subnet and link-local",
			addr:    vip6,
			hosts:   []netip.Addr{host6, a("fe80::1%eth0"), a("2001:3::1"), vip4},
			want:    []notifyTarget{{host: host6}, {host: a("fe80::1")}},
			skipped: []netip.Addr{a("2001:3::1"), vip4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skipped := planNotify(tt.addr, Hosts(tt.hosts), view)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("targets = %v, want %v", got, tt.want)
			}
			if !reflect.DeepEqual(skipped, tt.skipped) {
				t.Errorf("skipped = %v, want %v", skipped, tt.skipped)
			}
		})
	}
}

func TestPlanNotifyHintsAndOwnAddresses(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	view := linkView{
		prefixes: []netip.Prefix{p("198.18.0.1/24")},
		neigh:    map[netip.Addr]net.HardwareAddr{a("198.18.0.2"): macB},
	}
	hint := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x77}
	got, skipped := planNotify(vip4, []Host{
		{Addr: a("198.18.0.2"), MAC: hint},                               // the kernel's entry wins
		{Addr: a("198.18.0.3"), MAC: hint},                               // unknown here: the hint
		{Addr: a("198.18.0.4"), MAC: net.HardwareAddr{0, 0, 0, 0, 0, 0}}, // useless hint: broadcast
		{Addr: a("198.18.0.1")},                                          // our own address
	}, view)
	want := []notifyTarget{{host: a("198.18.0.2"), mac: macB}, {host: a("198.18.0.3"), mac: hint}, {host: a("198.18.0.4")}}
	if !reflect.DeepEqual(got, want) || len(skipped) != 1 || skipped[0] != a("198.18.0.1") {
		t.Fatalf("got %v skipped %v", got, skipped)
	}
}
