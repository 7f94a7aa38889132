package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// dnsTTL is the TTL dnsmasq gives the demo's records, in seconds.
const dnsTTL = 5

// dnsmasqArgs returns the command line of a dnsmasq that serves name as
// round-robin A records of vips on listen:53 and nothing else. It never
// forwards: no upstream servers (--no-resolv, no server= lines), and it
// reads neither /etc/dnsmasq.conf nor /etc/hosts.
func dnsmasqArgs(listen netip.Addr, name string, vips []netip.Addr) []string {
	args := []string{
		"--conf-file=/dev/null", // not the host's /etc/dnsmasq.conf
		"--no-daemon",           // stay in the foreground: the lab owns the process
		"--no-resolv",           // no upstream from /etc/resolv.conf...
		"--no-poll",             // ...and do not watch it
		"--no-hosts",            // not the host's /etc/hosts
		"--listen-address=" + listen.String(),
		"--bind-interfaces", // bind that address only, not the wildcard
		"--port=53",
		"--pid-file=", // no pid file: nothing outside the lab
		fmt.Sprintf("--local-ttl=%d", dnsTTL),
		"--log-queries",
		"--log-facility=-", // log to stderr, which the lab sends to a file
	}
	for _, v := range vips {
		args = append(args, "--host-record="+name+","+v.String())
	}
	return args
}

// startDNS starts dnsmasq on host h and waits until it answers.
func startDNS(ctx context.Context, h *lab.Host, name string, vips []netip.Addr, logPath string) (*lab.Process, error) {
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		return nil, fmt.Errorf("dnsmasq not found (install the Debian package dnsmasq-base, or run make deps): %w", err)
	}
	p, err := h.Start(bin, dnsmasqArgs(h.Addr, name, vips), logPath)
	if err != nil {
		return nil, err
	}
	server := netip.AddrPortFrom(h.Addr, 53)
	var last error
	for ctx.Err() == nil {
		if p.Exited() {
			return nil, fmt.Errorf("dnsmasq exited at start:\n%s", tailFile(logPath, 5))
		}
		qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, last = query(qctx, h, server, name)
		cancel()
		if last == nil {
			return p, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("dnsmasq does not answer on %s: %w\n%s", server, errors.Join(last, context.Cause(ctx)), tailFile(logPath, 5))
}

// tailFile returns the last n lines of the file at path, or why it cannot:
// error messages quote it, since the demo removes its files on exit.
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// An answer is a DNS response as the demo prints it.
type answer struct {
	msg    dnsmessage.Message
	server netip.AddrPort
	rtt    time.Duration
}

// query asks server for name's A records over UDP from inside host from,
// the way dig would.
func query(ctx context.Context, from *lab.Host, server netip.AddrPort, name string) (*answer, error) {
	qname, err := dnsmessage.NewName(strings.TrimSuffix(name, ".") + ".")
	if err != nil {
		return nil, fmt.Errorf("DNS name %q: %w", name, err)
	}
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: uint16(rand.Uint32()), RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: qname, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
	}
	packed, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("DNS query for %s: %w", name, err)
	}
	conn, err := from.DialContext(ctx, "udp", server.String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(2 * time.Second))
	}
	start := time.Now()
	if _, err := conn.Write(packed); err != nil {
		return nil, fmt.Errorf("DNS query to %s: %w", server, err)
	}
	buf := make([]byte, 1500)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("DNS query to %s: %w", server, err)
		}
		a := &answer{server: server, rtt: time.Since(start)}
		if err := a.msg.Unpack(buf[:n]); err != nil || a.msg.ID != q.ID || !a.msg.Response {
			continue // not the answer to our question
		}
		if a.msg.RCode != dnsmessage.RCodeSuccess {
			return a, fmt.Errorf("DNS query to %s for %s: %s", server, name, rcodeName(a.msg.RCode))
		}
		return a, nil
	}
}

// addrs returns the A records of the answer section, in the server's order.
func (a *answer) addrs() []netip.Addr {
	var out []netip.Addr
	for _, r := range a.msg.Answers {
		if b, ok := r.Body.(*dnsmessage.AResource); ok {
			out = append(out, netip.AddrFrom4(b.A))
		}
	}
	return out
}

// String formats the answer like dig's default output, without the
// sections that stay empty here.
func (a *answer) String() string {
	var b strings.Builder
	h := a.msg.Header
	fmt.Fprintf(&b, ";; ->>HEADER<<- opcode: QUERY, status: %s, id: %d\n", rcodeName(h.RCode), h.ID)
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{h.Response, "qr"}, {h.Authoritative, "aa"}, {h.Truncated, "tc"}, {h.RecursionDesired, "rd"}, {h.RecursionAvailable, "ra"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	fmt.Fprintf(&b, ";; flags: %s; QUERY: %d, ANSWER: %d, AUTHORITY: %d, ADDITIONAL: %d\n\n",
		strings.Join(flags, " "), len(a.msg.Questions), len(a.msg.Answers), len(a.msg.Authorities), len(a.msg.Additionals))
	b.WriteString(";; QUESTION SECTION:\n")
	for _, q := range a.msg.Questions {
		fmt.Fprintf(&b, ";%s\t\tIN\t%s\n", q.Name, typeName(q.Type))
	}
	b.WriteString("\n;; ANSWER SECTION:\n")
	for _, r := range a.msg.Answers {
		fmt.Fprintf(&b, "%s\t%d\tIN\t%s\t%s\n", r.Header.Name, r.Header.TTL, typeName(r.Header.Type), rdata(r.Body))
	}
	fmt.Fprintf(&b, "\n;; Query time: %d msec\n", a.rtt.Milliseconds())
	fmt.Fprintf(&b, ";; SERVER: %s#%d(%s) (UDP)\n", a.server.Addr(), a.server.Port(), a.server.Addr())
	return b.String()
}

func rdata(body dnsmessage.ResourceBody) string {
	switch r := body.(type) {
	case *dnsmessage.AResource:
		return netip.AddrFrom4(r.A).String()
	case *dnsmessage.AAAAResource:
		return netip.AddrFrom16(r.AAAA).String()
	case *dnsmessage.CNAMEResource:
		return r.CNAME.String()
	}
	return fmt.Sprint(body)
}

// typeName is "A" for dnsmessage.TypeA: dnsmessage spells it "TypeA".
func typeName(t dnsmessage.Type) string { return strings.TrimPrefix(t.String(), "Type") }

// rcodeName is dig's name for an RCode ("NOERROR", "NXDOMAIN", ...).
func rcodeName(c dnsmessage.RCode) string {
	switch c {
	case dnsmessage.RCodeSuccess:
		return "NOERROR"
	case dnsmessage.RCodeFormatError:
		return "FORMERR"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeNameError:
		return "NXDOMAIN"
	case dnsmessage.RCodeNotImplemented:
		return "NOTIMP"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	}
	return strings.ToUpper(strings.TrimPrefix(c.String(), "RCode"))
}

// resolver returns a resolver that sends every query to server from inside
// host from: what a client program in that namespace would use with
// "nameserver" pointing at server.
func resolver(from *lab.Host, server netip.AddrPort) *net.Resolver {
	return &net.Resolver{
		PreferGo: true, // the cgo resolver would not call Dial
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			// The address is the host's own resolv.conf nameserver:
			// ignore it, the lab has no route there.
			return from.DialContext(ctx, network, server.String())
		},
	}
}
