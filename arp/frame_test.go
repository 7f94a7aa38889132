package arp

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	marp "github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/bpf"
)

var (
	macA   = net.HardwareAddr{0x02, 0, 0, 0, 0x0a, 0}
	macB   = net.HardwareAddr{0x02, 0, 0, 0, 0x0b, 0}
	vip4   = netip.MustParseAddr("198.18.0.50")
	host4  = netip.MustParseAddr("198.18.0.2")
	vip6   = netip.MustParseAddr("2001:2::50")
	host6  = netip.MustParseAddr("2001:2::2")
	ll6    = netip.MustParseAddr("fe80::1")
	mapped = netip.AddrFrom16(vip4.As16()) // ::ffff:198.18.0.50
)

// mustFrame returns a function that unwraps a frame builder's result.
func mustFrame(t testing.TB) func([]byte, error) []byte {
	return func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// ndFrame builds an Ethernet frame carrying an NDP message; the ICMPv6
// checksum is left zero (the parser does not check it).
func ndFrame(t testing.TB, ethSrc net.HardwareAddr, src, dst netip.Addr, hop uint8, m ndp.Message) []byte {
	t.Helper()
	body, err := ndp.MarshalMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	return ipv6Frame(ethSrc, src, dst, protoICMPv6, hop, body)
}

func ipv6Frame(ethSrc net.HardwareAddr, src, dst netip.Addr, next, hop uint8, body []byte) []byte {
	ip := make([]byte, ipv6HdrLen, ipv6HdrLen+len(body))
	ip[0] = 6 << 4
	binary.BigEndian.PutUint16(ip[4:6], uint16(len(body)))
	ip[6], ip[7] = next, hop
	s, d := src.As16(), dst.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], d[:])
	f := ethernet.Frame{
		Destination: ethernet.Broadcast,
		Source:      ethSrc,
		EtherType:   ethernet.EtherTypeIPv6,
		Payload:     append(ip, body...),
	}
	b, _ := f.MarshalBinary()
	return b
}

func unsolicitedNA(target netip.Addr, mac net.HardwareAddr) *ndp.NeighborAdvertisement {
	na := &ndp.NeighborAdvertisement{Override: true, TargetAddress: target}
	if mac != nil {
		na.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}}
	}
	return na
}

// testFrames are well-formed and malformed frames shared by the table test
// and the fuzz seed corpus.
func testFrames(t testing.TB) map[string][]byte {
	must := mustFrame(t)
	grat, err := gratuitousFrames(macA, vip4)
	if err != nil {
		t.Fatal(err)
	}
	request := must(notifyFrame(macA, vip4, host4, nil))
	reply := must(arpFrame(marp.OperationReply, macB, macA, vip4, macB, host4))
	probe := must(arpFrame(marp.OperationRequest, ethernet.Broadcast, macA, netip.IPv4Unspecified(), zeroMAC, vip4))

	nonARP := bytes.Clone(grat[0])
	binary.BigEndian.PutUint16(nonARP[12:14], uint16(ethernet.EtherTypeIPv4))
	vlan := append(append(bytes.Clone(grat[0][:12]), 0x81, 0x00, 0x00, 0x0a), grat[0][12:]...)
	badOp := bytes.Clone(grat[0])
	binary.BigEndian.PutUint16(badOp[ethHeaderLen+6:], 3)
	badHType := bytes.Clone(grat[0])
	binary.BigEndian.PutUint16(badHType[ethHeaderLen:], 6)
	badHLen := bytes.Clone(grat[0])
	badHLen[ethHeaderLen+4] = 8
	zeroSender := must(arpFrame(marp.OperationRequest, ethernet.Broadcast, zeroMAC, vip4, zeroMAC, vip4))
	groupSender := bytes.Clone(grat[0])
	groupSender[ethHeaderLen+8] = 0x01

	allNodes := netip.IPv6LinkLocalAllNodes()
	na := ndFrame(t, macA, ll6, allNodes, 255, unsolicitedNA(vip6, macA))
	naNoOpt := ndFrame(t, macA, ll6, allNodes, 255, unsolicitedNA(vip6, nil))
	naHop64 := ndFrame(t, macA, ll6, allNodes, 64, unsolicitedNA(vip6, macA))
	naSolicitedMcast := ndFrame(t, macA, ll6, allNodes, 255,
		&ndp.NeighborAdvertisement{Solicited: true, TargetAddress: vip6})
	ns := ndFrame(t, macA, vip6, host6, 255, &ndp.NeighborSolicitation{
		TargetAddress: host6,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: macA}},
	})
	dad, _ := ndp.SolicitedNodeMulticast(vip6)
	nsDAD := ndFrame(t, macA, netip.IPv6Unspecified(), dad, 255, &ndp.NeighborSolicitation{TargetAddress: vip6})
	naZeroOpt := append(bytes.Clone(naNoOpt), 2, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(naZeroOpt[ethHeaderLen+4:], ndMinLen+8)
	naLongLLA := append(bytes.Clone(naNoOpt), 2, 2, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(naLongLLA[ethHeaderLen+4:], ndMinLen+16)
	naOtherOptFirst := ndFrame(t, macA, ll6, allNodes, 255, &ndp.NeighborAdvertisement{
		Override: true, TargetAddress: vip6,
		Options: []ndp.Option{ndp.NewMTU(1500), &ndp.LinkLayerAddress{Direction: ndp.Target, Addr: macB}},
	})
	naOverlong := bytes.Clone(na)
	binary.BigEndian.PutUint16(naOverlong[ethHeaderLen+4:], 200)
	naExtHdr := bytes.Clone(na)
	naExtHdr[ethHeaderLen+6] = 0 // hop-by-hop
	ra := ndFrame(t, macA, ll6, allNodes, 255, &ndp.RouterAdvertisement{})
	// ndp refuses to marshal IPv4-mapped addresses, so patch them in.
	mapped := netip.MustParseAddr("::ffff:198.18.0.10").As16()
	naMapped := bytes.Clone(na)
	copy(naMapped[ethHeaderLen+ipv6HdrLen+8:], mapped[:])
	nsMapped := bytes.Clone(ns)
	copy(nsMapped[ethHeaderLen+8:], mapped[:])

	return map[string][]byte{
		"gratuitous request":   grat[0],
		"gratuitous reply":     grat[1],
		"request":              request,
		"reply":                reply,
		"probe":                probe,
		"truncated ARP":        grat[0][:ethHeaderLen+arpLen-1],
		"non-ARP EtherType":    nonARP,
		"VLAN tagged":          vlan,
		"bad opcode":           badOp,
		"bad hardware type":    badHType,
		"bad hardware length":  badHLen,
		"zero sender MAC":      zeroSender,
		"group sender MAC":     groupSender,
		"empty":                {},
		"header only":          grat[0][:ethHeaderLen],
		"NA":                   na,
		"NA without option":    naNoOpt,
		"NA hop limit 64":      naHop64,
		"NA solicited mcast":   naSolicitedMcast,
		"NS from address":      ns,
		"NS for DAD":           nsDAD,
		"NA zero-length opt":   naZeroOpt,
		"NA long LLA option":   naLongLLA,
		"NA other option":      naOtherOptFirst,
		"NA payload too long":  naOverlong,
		"NA extension header":  naExtHdr,
		"router advertisement": ra,
		"truncated NA":         na[:ethHeaderLen+ipv6HdrLen+ndMinLen-1],
		"NA for mapped IPv4":   naMapped,
		"NS from mapped IPv4":  nsMapped,
	}
}

func TestParseClaim(t *testing.T) {
	frames := testFrames(t)
	tests := []struct {
		frame string
		ok    bool
		want  Claim
	}{
		{"gratuitous request", true, Claim{Addr: vip4, MAC: macA, Op: OpGratuitous}},
		{"gratuitous reply", true, Claim{Addr: vip4, MAC: macA, Op: OpGratuitous, Reply: true}},
		{"request", true, Claim{Addr: vip4, MAC: macA, Op: OpRequest}},
		{"reply", true, Claim{Addr: vip4, MAC: macA, Op: OpReply, Reply: true}},
		{"probe", false, Claim{}},
		{"truncated ARP", false, Claim{}},
		{"non-ARP EtherType", false, Claim{}},
		{"VLAN tagged", false, Claim{}},
		{"bad opcode", false, Claim{}},
		{"bad hardware type", false, Claim{}},
		{"bad hardware length", false, Claim{}},
		{"zero sender MAC", false, Claim{}},
		{"group sender MAC", false, Claim{}},
		{"empty", false, Claim{}},
		{"header only", false, Claim{}},
		{"NA", true, Claim{Addr: vip6, MAC: macA, Op: OpNA}},
		{"NA without option", true, Claim{Addr: vip6, MAC: macA, Op: OpNA}},
		{"NA hop limit 64", false, Claim{}},
		{"NA solicited mcast", false, Claim{}},
		{"NS from address", true, Claim{Addr: vip6, MAC: macA, Op: OpNS}},
		{"NS for DAD", false, Claim{}},
		{"NA zero-length opt", false, Claim{}},
		{"NA long LLA option", false, Claim{}},
		{"NA other option", true, Claim{Addr: vip6, MAC: macB, Op: OpNA}},
		{"NA payload too long", false, Claim{}},
		{"NA extension header", false, Claim{}},
		{"router advertisement", false, Claim{}},
		{"truncated NA", false, Claim{}},
		{"NA for mapped IPv4", false, Claim{}},
		{"NS from mapped IPv4", false, Claim{}},
	}
	if len(tests) != len(frames) {
		t.Fatalf("%d tests for %d frames", len(tests), len(frames))
	}
	for _, tt := range tests {
		t.Run(tt.frame, func(t *testing.T) {
			frame, ok := frames[tt.frame]
			if !ok {
				t.Fatalf("no frame %q", tt.frame)
			}
			got, ok := parseClaim(bytes.Clone(frame))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v (claim %+v)", ok, tt.ok, got)
			}
			if !ok {
				return
			}
			if got.Addr != tt.want.Addr || !bytes.Equal(got.MAC, tt.want.MAC) ||
				got.Op != tt.want.Op || got.Reply != tt.want.Reply || got.Interface != "" {
				t.Errorf("claim = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// An IPv4-mapped address builds the same frames as the plain one, and the
// parser always reports a 4-byte address, which is what watched functions
// keyed on config addresses compare against.
func TestMappedAddresses(t *testing.T) {
	must := mustFrame(t)
	plain, err := gratuitousFrames(macA, vip4)
	if err != nil {
		t.Fatal(err)
	}
	fromMapped, err := gratuitousFrames(macA, mapped)
	if err != nil {
		t.Fatalf("gratuitousFrames(%v): %v", mapped, err)
	}
	for i := range plain {
		if !bytes.Equal(plain[i], fromMapped[i]) {
			t.Errorf("frame %d differs for mapped address:\n%x\n%x", i, plain[i], fromMapped[i])
		}
		c, ok := parseARP(fromMapped[i])
		if !ok || !c.Addr.Is4() || c.Addr != vip4 {
			t.Errorf("parseARP = %v, %v; want 4-byte %v", c.Addr, ok, vip4)
		}
	}
	n1 := must(notifyFrame(macA, mapped, netip.AddrFrom16(host4.As16()), macB))
	n2 := must(notifyFrame(macA, vip4, host4, macB))
	if !bytes.Equal(n1, n2) {
		t.Errorf("notify frame differs for mapped addresses")
	}
	if _, err := gratuitousFrames(macA, vip6); err == nil {
		t.Errorf("gratuitousFrames accepted IPv6 address %v", vip6)
	}
}

func TestBuiltFrames(t *testing.T) {
	must := mustFrame(t)
	grat, err := gratuitousFrames(macA, vip4)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range grat {
		if !bytes.Equal(f[0:6], ethernet.Broadcast) || !bytes.Equal(f[6:12], macA) {
			t.Errorf("frame %d: dst %x src %x, want broadcast from %v", i, f[0:6], f[6:12], macA)
		}
		if len(f) < 60 {
			t.Errorf("frame %d: %d bytes, want padded to 60", i, len(f))
		}
	}
	uni := must(notifyFrame(macA, vip4, host4, macB))
	if !bytes.Equal(uni[0:6], macB) {
		t.Errorf("notify frame to known host: dst %x, want %v", uni[0:6], macB)
	}
	c, ok := parseARP(uni)
	if !ok || c.Op != OpRequest || c.Addr != vip4 {
		t.Errorf("notify frame parses as %+v, %v", c, ok)
	}
	if tpa := netip.AddrFrom4([4]byte(uni[ethHeaderLen+24 : ethHeaderLen+28])); tpa != host4 {
		t.Errorf("notify frame asks for %v, want %v", tpa, host4)
	}
	bc := must(notifyFrame(macA, vip4, host4, nil))
	if !bytes.Equal(bc[0:6], ethernet.Broadcast) {
		t.Errorf("notify frame to unknown host: dst %x, want broadcast", bc[0:6])
	}
}

// The parser copies what it returns: the listener reuses its read buffer.
func TestParseClaimDoesNotRetain(t *testing.T) {
	frames := testFrames(t)
	for _, name := range []string{"gratuitous request", "NA", "NA without option"} {
		f := bytes.Clone(frames[name])
		c, ok := parseClaim(f)
		if !ok {
			t.Fatalf("%s: not a claim", name)
		}
		clear(f)
		if !bytes.Equal(c.MAC, macA) {
			t.Errorf("%s: MAC changed to %v after the frame was overwritten", name, c.MAC)
		}
	}
}

func FuzzParseClaim(f *testing.F) {
	for _, b := range testFrames(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		orig := bytes.Clone(frame)
		c, ok := parseClaim(frame)
		if !bytes.Equal(frame, orig) {
			t.Fatal("parseClaim modified its input")
		}
		if !ok {
			if c.Addr.IsValid() || c.MAC != nil || c.Op != "" {
				t.Fatalf("not ok but claim %+v", c)
			}
			return
		}
		if !c.Addr.IsValid() || c.Addr.IsUnspecified() || c.Addr.Is4In6() || c.Addr.Zone() != "" {
			t.Fatalf("bad address %v", c.Addr)
		}
		if !usableMAC(c.MAC) {
			t.Fatalf("bad MAC %v", c.MAC)
		}
		switch c.Op {
		case OpRequest, OpReply, OpGratuitous:
			if !c.Addr.Is4() {
				t.Fatalf("ARP claim for %v", c.Addr)
			}
		case OpNA, OpNS:
			if !c.Addr.Is6() || c.Reply {
				t.Fatalf("NDP claim %+v", c)
			}
		default:
			t.Fatalf("op %q", c.Op)
		}
		clear(frame)
		if !usableMAC(c.MAC) {
			t.Fatal("claim MAC shares memory with the frame")
		}
	})
}

func TestFilters(t *testing.T) {
	for name, f := range map[string][]bpf.Instruction{"send-only": sendOnly, "ARP": arpFilter, "ND": ndFilter} {
		if _, err := bpf.Assemble(f); err != nil {
			t.Errorf("%s filter: %v", name, err)
		}
	}

	vm, err := bpf.NewVM(ndMatch)
	if err != nil {
		t.Fatal(err)
	}
	frames := testFrames(t)
	echo := ipv6Frame(macA, ll6, host6, protoICMPv6, 64, []byte{128, 0, 0, 0, 0, 0, 0, 0})
	udp := ipv6Frame(macA, ll6, host6, 17, 64, make([]byte, 30))
	tests := []struct {
		name  string
		frame []byte
		keep  bool
	}{
		{"NA", frames["NA"], true},
		{"NS", frames["NS from address"], true},
		{"DAD NS", frames["NS for DAD"], true}, // the parser drops it
		{"RA", frames["router advertisement"], false},
		{"echo request", echo, false},
		{"UDP", udp, false},
		{"ARP", frames["gratuitous request"], false},
		{"extension header", frames["NA extension header"], false},
	}
	for _, tt := range tests {
		n, err := vm.Run(tt.frame)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if keep := n > 0; keep != tt.keep {
			t.Errorf("%s: filter keeps %d bytes, want keep=%v", tt.name, n, tt.keep)
		}
		if tt.keep && n < len(tt.frame) {
			t.Errorf("%s: filter keeps %d of %d bytes", tt.name, n, len(tt.frame))
		}
	}
}
