package main

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// The demo's dnsmasq must answer only for the demo name, on the lab
// address only, and never forward anywhere.
func TestDNSMasqArgs(t *testing.T) {
	vips := []netip.Addr{netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101")}
	args := dnsmasqArgs(netip.MustParseAddr("198.18.0.3"), "www.wackamole.test", vips)
	for _, want := range []string{
		"--no-resolv", "--no-hosts", "--no-poll", "--conf-file=/dev/null", "--no-daemon",
		"--listen-address=198.18.0.3", "--bind-interfaces", "--port=53",
		"--host-record=www.wackamole.test,198.18.0.100",
		"--host-record=www.wackamole.test,198.18.0.101",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("dnsmasq arguments lack %s: %q", want, args)
		}
	}
	for _, a := range args {
		for _, bad := range []string{"--server", "-S", "--resolv-file", "--interface", "--except-interface", "--address"} {
			if a == bad || strings.HasPrefix(a, bad+"=") {
				t.Errorf("dnsmasq argument %q could make it forward or listen elsewhere", a)
			}
		}
	}
}

func TestAnswerFormat(t *testing.T) {
	name := dnsmessage.MustNewName("www.wackamole.test.")
	a := &answer{
		server: netip.MustParseAddrPort("198.18.0.3:53"),
		msg: dnsmessage.Message{
			Header:    dnsmessage.Header{ID: 7, Response: true, Authoritative: true, RecursionDesired: true},
			Questions: []dnsmessage.Question{{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
			Answers: []dnsmessage.Resource{
				{Header: dnsmessage.ResourceHeader{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 5}, Body: &dnsmessage.AResource{A: [4]byte{198, 18, 0, 101}}},
				{Header: dnsmessage.ResourceHeader{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 5}, Body: &dnsmessage.AResource{A: [4]byte{198, 18, 0, 100}}},
			},
		},
	}
	got := a.String()
	for _, want := range []string{
		"status: NOERROR, id: 7",
		"flags: qr aa rd; QUERY: 1, ANSWER: 2,",
		";www.wackamole.test.\t\tIN\tA",
		"www.wackamole.test.\t5\tIN\tA\t198.18.0.101\n",
		"SERVER: 198.18.0.3#53(198.18.0.3)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("answer lacks %q:\n%s", want, got)
		}
	}
	if addrs := a.addrs(); len(addrs) != 2 || addrs[0].String() != "198.18.0.101" {
		t.Errorf("addrs() = %v, want the server's order", addrs)
	}
	for code, want := range map[dnsmessage.RCode]string{
		dnsmessage.RCodeSuccess: "NOERROR", dnsmessage.RCodeNameError: "NXDOMAIN",
		dnsmessage.RCodeRefused: "REFUSED", dnsmessage.RCodeServerFailure: "SERVFAIL",
	} {
		if got := rcodeName(code); got != want {
			t.Errorf("rcodeName(%v) = %q, want %q", code, got, want)
		}
	}
}

func TestTailFile(t *testing.T) {
	path := t.TempDir() + "/log"
	if got := tailFile(path, 2); !strings.Contains(got, "no such file") {
		t.Errorf("tailFile of a missing file = %q", got)
	}
	for _, tt := range []struct{ content, want string }{
		{"", ""},
		{"a\n", "a"},
		{"a\nb\nc\n", "b\nc"},
		{"a\nb", "a\nb"},
	} {
		if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := tailFile(path, 2); got != tt.want {
			t.Errorf("tailFile(%q) = %q, want %q", tt.content, got, tt.want)
		}
	}
}
