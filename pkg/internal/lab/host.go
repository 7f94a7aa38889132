package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
)

// A Host is one network namespace of a lab. Node and client hosts have a
// veth "eth0" on the lab bridge; the bridge host has none. Its methods are
// safe for concurrent use.
type Host struct {
	// Name is the short name: "n1", "n2", …, "cl" or "br".
	Name string
	// NS is the network namespace name, "<prefix>-<Name>".
	NS string
	// Addr is the address of eth0 (zero for the bridge host).
	Addr netip.Addr
	// MAC is the hardware address of eth0 (nil for the bridge host): 02:00
	// followed by the four bytes of Addr.
	MAC net.HardwareAddr

	lab  *Lab
	peer string // the bridge-side end of eth0
	// gateway is the default route's next hop (a routed lab), which the
	// kernel drops with the link and LinkUp puts back.
	gateway netip.Addr
}

// String returns the namespace name.
func (h *Host) String() string { return h.NS }

// ErrNoNeighbor is returned by Host.Neigh when the neighbour table has no
// entry for the address.
var ErrNoNeighbor = errors.New("lab: no neighbour entry")

// IfName is the name of every host's interface on the lab bridge.
const IfName = hostIf

// ip runs "ip -n NS ARGS...".
func (h *Host) ip(ctx context.Context, args ...string) (string, error) {
	return ipCmd(ctx, append([]string{"-n", h.NS}, args...)...)
}

// Run runs the command name with args inside the host's namespace
// ("ip netns exec NS name args...") and returns its standard output. The
// error includes the standard error. When ctx is done the command's whole
// process group is killed.
func (h *Host) Run(ctx context.Context, name string, args ...string) (string, error) {
	return h.runStdin(ctx, nil, name, args...)
}

func (h *Host) runStdin(ctx context.Context, stdin io.Reader, name string, args ...string) (string, error) {
	ip, err := lookIP()
	if err != nil {
		return "", err
	}
	return run(ctx, stdin, append([]string{ip, "netns", "exec", h.NS, name}, args...)...)
}

// Sysctl sets the network sysctl key (e.g. "net.ipv4.conf.eth0.arp_ignore")
// to value inside the host's namespace. Only "net." keys are accepted: the
// others are not per namespace and would change the machine.
func (h *Host) Sysctl(key, value string) error {
	if !strings.HasPrefix(key, "net.") || strings.Contains(key, "..") || strings.ContainsAny(key, "/ \t\n") {
		return fmt.Errorf("lab: %s: sysctl %q: only net.* keys are allowed", h.NS, key)
	}
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	// /proc/sys/net shows the namespace of the thread that opens it.
	err := h.Do(func() error {
		return os.WriteFile(path, []byte(value+"\n"), 0)
	})
	if err != nil {
		return fmt.Errorf("lab: %s: sysctl %s=%s: %w", h.NS, key, value, err)
	}
	return nil
}

func (h *Host) mac(ctx context.Context) (net.HardwareAddr, error) {
	out, err := h.ip(ctx, "-j", "link", "show", "dev", hostIf)
	if err != nil {
		return nil, err
	}
	var links []struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return nil, fmt.Errorf("lab: %s: parsing ip -j link: %w", h.NS, err)
	}
	for _, l := range links {
		if l.Address != "" {
			mac, err := net.ParseMAC(l.Address)
			if err != nil {
				return nil, fmt.Errorf("lab: %s: %s address %q: %w", h.NS, hostIf, l.Address, err)
			}
			return mac, nil
		}
	}
	return nil, fmt.Errorf("lab: %s: %s has no hardware address", h.NS, hostIf)
}

// Addrs returns the addresses on interface ifname, as address/prefix-length
// (IPv6 link-local addresses included, without zone). It reads them
// through netlink from inside the namespace, not with ip(8): a run of ip
// costs milliseconds and a process, and a lab of 50 nodes polled every
// 20 ms would spend a whole core on it.
func (h *Host) Addrs(ctx context.Context, ifname string) ([]netip.Prefix, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lab: %s: addresses of %s: %w", h.NS, ifname, err)
	}
	var ps []netip.Prefix
	err := h.Do(func() error {
		link, err := netlink.LinkByName(ifname)
		if err != nil {
			return err
		}
		var addrs []netlink.Addr
		for range 3 {
			addrs, err = netlink.AddrList(link, netlink.FAMILY_ALL)
			if !errors.Is(err, netlink.ErrDumpInterrupted) {
				break
			}
		}
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if a.IPNet == nil {
				continue
			}
			addr, ok := netip.AddrFromSlice(a.IPNet.IP)
			if !ok {
				return fmt.Errorf("address %v", a.IPNet.IP)
			}
			addr = addr.Unmap()
			bits, _ := a.IPNet.Mask.Size()
			p := netip.PrefixFrom(addr, bits)
			if !p.IsValid() {
				return fmt.Errorf("bad prefix length %d for %s", bits, addr)
			}
			ps = append(ps, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lab: %s: addresses of %s: %w", h.NS, ifname, err)
	}
	return ps, nil
}

// HasAddr reports whether addr is configured on eth0.
func (h *Host) HasAddr(ctx context.Context, addr netip.Addr) (bool, error) {
	ps, err := h.Addrs(ctx, hostIf)
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		if p.Addr() == addr.WithZone("") {
			return true, nil
		}
	}
	return false, nil
}

// AddAddr adds p (e.g. a VIP with the subnet's prefix length) to eth0.
// IPv6 addresses skip duplicate address detection.
func (h *Host) AddAddr(ctx context.Context, p netip.Prefix) error {
	args := []string{"addr", "add", p.String(), "dev", hostIf}
	if p.Addr().Is6() {
		args = append(args, "nodad")
	}
	_, err := h.ip(ctx, args...)
	return err
}

// DelAddr removes p from eth0.
func (h *Host) DelAddr(ctx context.Context, p netip.Prefix) error {
	_, err := h.ip(ctx, "addr", "del", p.String(), "dev", hostIf)
	return err
}

// LinkDown takes eth0 down at both ends (the host's and the bridge's), so the
// host loses carrier as if its cable were pulled.
func (h *Host) LinkDown(ctx context.Context) error {
	if h.peer == "" {
		return fmt.Errorf("lab: %s has no link to the bridge", h.NS)
	}
	if _, err := h.ip(ctx, "link", "set", hostIf, "down"); err != nil {
		return err
	}
	_, err := h.lab.Bridge.ip(ctx, "link", "set", h.peer, "down")
	return err
}

// LinkUp brings eth0 back up at both ends. IPv4 addresses survive LinkDown;
// the kernel restores the subnet route, and LinkUp the default route of a
// routed lab's host, which the kernel removed with the link. With
// Options.StaticNeighbors a node's permanent neighbour entries, which
// LinkDown removed, are put back.
func (h *Host) LinkUp(ctx context.Context) error {
	if h.peer == "" {
		return fmt.Errorf("lab: %s has no link to the bridge", h.NS)
	}
	if _, err := h.lab.Bridge.ip(ctx, "link", "set", h.peer, "up"); err != nil {
		return err
	}
	if _, err := h.ip(ctx, "link", "set", hostIf, "up"); err != nil {
		return err
	}
	if h.gateway.IsValid() {
		if _, err := h.ip(ctx, "route", "replace", "default", "via", h.gateway.String(), "dev", hostIf); err != nil {
			return err
		}
	}
	if h.lab.static && h.isNode() {
		// Taking eth0 down removed its permanent entries too.
		return h.lab.restoreNeighbors(h)
	}
	return nil
}

// isNode reports whether h is one of the lab's nodes.
func (h *Host) isNode() bool {
	h.lab.topo.Lock()
	defer h.lab.topo.Unlock()
	return slices.Contains(h.lab.Nodes, h)
}

// Neigh returns the host's neighbour-table entry for addr: the hardware
// address ("" while unresolved) and the state, such as "REACHABLE" or
// "STALE" (several states are joined with ","). It returns ErrNoNeighbor if
// there is no entry.
func (h *Host) Neigh(ctx context.Context, addr netip.Addr) (mac, state string, err error) {
	out, err := h.ip(ctx, "-j", "neigh", "show", "to", addr.WithZone("").String())
	if err != nil {
		return "", "", err
	}
	var entries []struct {
		Dst    string   `json:"dst"`
		LLAddr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		return "", "", fmt.Errorf("lab: %s: parsing ip -j neigh: %w", h.NS, err)
	}
	for _, e := range entries {
		if a, err := netip.ParseAddr(e.Dst); err == nil && a == addr.WithZone("") {
			return e.LLAddr, strings.Join(e.State, ","), nil
		}
	}
	return "", "", fmt.Errorf("lab: %s: %s: %w", h.NS, addr, ErrNoNeighbor)
}

// FlushNeigh empties the host's neighbour table on eth0.
func (h *Host) FlushNeigh(ctx context.Context) error {
	_, err := h.ip(ctx, "neigh", "flush", "dev", hostIf)
	return err
}

// nftTable is the nftables table the partition helpers own in a host.
const nftTable = "wklab"

// nftReset starts every script: it creates the table if needed and deletes
// it, so that the script replaces any previous isolation atomically.
const nftReset = "table inet " + nftTable + "\ndelete table inet " + nftTable + "\n" +
	"table netdev " + nftTable + "\ndelete table netdev " + nftTable + "\n"

func (h *Host) nft(ctx context.Context, script string) error {
	nft, err := lookNft()
	if err != nil {
		return err
	}
	_, err = h.runStdin(ctx, strings.NewReader(script), nft, "-f", "-")
	return err
}

// Isolate cuts the host off from some ports: it drops every TCP and UDP
// packet to or from them, in both directions, while ARP, ICMP and other
// ports still flow. With the gossip and heartbeat ports this is the
// split-brain case: peers look dead to each other yet every node still
// answers clients. It replaces any previous Isolate or IsolateAll; Heal
// undoes it. Needs nft.
func (h *Host) Isolate(ctx context.Context, ports ...int) error {
	var rules strings.Builder
	for _, port := range ports {
		if port < 1 || port > 65535 {
			return fmt.Errorf("lab: %s: isolate: port %d out of range", h.NS, port)
		}
		p := strconv.Itoa(port)
		for _, proto := range []string{"tcp", "udp"} {
			for _, dir := range []string{"dport", "sport"} {
				fmt.Fprintf(&rules, "\t\t%s %s %s counter drop\n", proto, dir, p)
			}
		}
	}
	script := nftReset + "table inet " + nftTable + " {\n" +
		"\tchain input {\n\t\ttype filter hook input priority -10; policy accept;\n" + rules.String() + "\t}\n" +
		"\tchain output {\n\t\ttype filter hook output priority -10; policy accept;\n" + rules.String() + "\t}\n" +
		"}\n"
	if err := h.nft(ctx, script); err != nil {
		return fmt.Errorf("lab: %s: isolate ports %v: %w", h.NS, ports, err)
	}
	return nil
}

// IsolateAll drops every IP packet the host sends or receives except on
// loopback, to or from the except addresses (typically the client), and
// IPv6 neighbour discovery. ARP still flows. Passing the client and the
// nodes on the same side splits the lab into groups: node 1 with
// IsolateAll(client, n2.Addr) and node 2 with IsolateAll(client, n1.Addr)
// form a pair cut off from the others. It replaces any previous Isolate or
// IsolateAll; Heal undoes it. Needs nft.
func (h *Host) IsolateAll(ctx context.Context, except ...netip.Addr) error {
	var v4, v6 []string
	for _, a := range except {
		a = a.Unmap().WithZone("")
		switch {
		case a.Is4():
			v4 = append(v4, a.String())
		case a.Is6():
			v6 = append(v6, a.String())
		default:
			return fmt.Errorf("lab: %s: isolate: invalid address in except", h.NS)
		}
	}
	chain := func(name, hook, iface, dir string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "\tchain %s {\n\t\ttype filter hook %s priority -10; policy drop;\n", name, hook)
		fmt.Fprintf(&b, "\t\t%s \"lo\" accept\n", iface)
		if len(v4) > 0 {
			fmt.Fprintf(&b, "\t\tip %s { %s } accept\n", dir, strings.Join(v4, ", "))
		}
		if len(v6) > 0 {
			fmt.Fprintf(&b, "\t\tip6 %s { %s } accept\n", dir, strings.Join(v6, ", "))
		}
		b.WriteString("\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept\n")
		b.WriteString("\t\tcounter\n\t}\n")
		return b.String()
	}
	script := nftReset + "table inet " + nftTable + " {\n" +
		chain("input", "input", "iif", "saddr") +
		chain("output", "output", "oif", "daddr") +
		"}\n"
	if err := h.nft(ctx, script); err != nil {
		return fmt.Errorf("lab: %s: isolate: %w", h.NS, err)
	}
	return nil
}

// Silence drops every frame eth0 sends or receives, ARP included, while
// its carrier stays up: the host is cut off from the segment as by a dead
// switch port that the host cannot see (its VIPs stay on an interface that
// is up). It replaces any previous isolation; Heal undoes it. Needs nft.
func (h *Host) Silence(ctx context.Context) error {
	script := nftReset + "table netdev " + nftTable + " {\n" +
		"\tchain in {\n\t\ttype filter hook ingress device eth0 priority -10; policy drop;\n\t}\n" +
		"\tchain out {\n\t\ttype filter hook egress device eth0 priority -10; policy drop;\n\t}\n" +
		"}\n"
	if err := h.nft(ctx, script); err != nil {
		return fmt.Errorf("lab: %s: silence: %w", h.NS, err)
	}
	return nil
}

// Heal removes the isolation set by Isolate or IsolateAll and the loss set
// by DropRandom. Healing a host that is neither isolated nor lossy is not
// an error.
func (h *Host) Heal(ctx context.Context) error {
	if err := h.nft(ctx, nftReset+resetTable("inet", lossTable)); err != nil {
		return fmt.Errorf("lab: %s: heal: %w", h.NS, err)
	}
	return nil
}
