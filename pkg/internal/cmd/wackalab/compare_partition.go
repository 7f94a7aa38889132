package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// The partition is made at the switch, not on the node. lab.Host.IsolateAll
// filters with nftables inside the node, which cuts keepalived (raw IP
// sockets go through netfilter) but not ucarp: ucarp sends and captures
// its advertisements with libpcap, on packet sockets that netfilter's IP
// hooks never see. Filtering on the bridge cuts every tool the same way,
// as a broken switch port or VLAN would: the cut-off node exchanges no IP
// packet with the other nodes in either direction, while ARP still flows
// everywhere (as with IsolateAll) and the client still reaches every node.

// switchTable is the nftables table the comparison owns in the bridge
// namespace.
const switchTable = "wkcompare"

// partitionScript returns the nft script that cuts bridge port port off
// from every IP peer but those given (the client; in a fabric also the
// router, whose sessions and forwarding must go on).
func partitionScript(port string, peers ...netip.Addr) string {
	var b strings.Builder
	// Create then delete: replaces any previous partition atomically.
	fmt.Fprintf(&b, "table bridge %s\ndelete table bridge %s\n", switchTable, switchTable)
	fmt.Fprintf(&b, "table bridge %s {\n", switchTable)
	b.WriteString("\tchain forward {\n\t\ttype filter hook forward priority -10; policy accept;\n")
	for _, dir := range []struct{ port, peer string }{{"iifname", "daddr"}, {"oifname", "saddr"}} {
		fmt.Fprintf(&b, "\t\t%s %q ether type arp accept\n", dir.port, port)
		for _, peer := range peers {
			fmt.Fprintf(&b, "\t\t%s %q ip %s %s accept\n", dir.port, port, dir.peer, peer)
		}
		fmt.Fprintf(&b, "\t\t%s %q icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n", dir.port, port)
		fmt.Fprintf(&b, "\t\t%s %q counter drop\n", dir.port, port)
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// healScript removes the partition (and is harmless without one).
func healScript() string {
	return fmt.Sprintf("table bridge %s\ndelete table bridge %s\n", switchTable, switchTable)
}

// bridgePortOf returns the name of h's port on the lab bridge: the link in
// the bridge namespace whose index is eth0's peer index.
func bridgePortOf(ctx context.Context, l *lab.Lab, h *lab.Host) (string, error) {
	out, err := h.Run(ctx, "ip", "-j", "link", "show", "dev", lab.IfName)
	if err != nil {
		return "", err
	}
	var self []struct {
		LinkIndex int `json:"link_index"`
	}
	if err := json.Unmarshal([]byte(out), &self); err != nil || len(self) != 1 || self[0].LinkIndex == 0 {
		return "", fmt.Errorf("partition: %s: no veth peer index in ip -j link: %q", h.NS, out)
	}
	out, err = l.Bridge.Run(ctx, "ip", "-j", "link", "show")
	if err != nil {
		return "", err
	}
	var links []struct {
		Index int    `json:"ifindex"`
		Name  string `json:"ifname"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return "", fmt.Errorf("partition: parsing ip -j link of %s: %w", l.Bridge.NS, err)
	}
	for _, ln := range links {
		if ln.Index == self[0].LinkIndex {
			return ln.Name, nil
		}
	}
	return "", fmt.Errorf("partition: %s's bridge port (index %d) not found in %s", h.NS, self[0].LinkIndex, l.Bridge.NS)
}

// nftInBridge runs an nft script in the bridge namespace, through a file in dir
// (lab.Host.Run has no standard input).
func nftInBridge(ctx context.Context, l *lab.Lab, dir, script string) error {
	f, err := os.CreateTemp(dir, "partition-*.nft")
	if err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(script); err != nil {
		f.Close()
		return fmt.Errorf("partition: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	if _, err := l.Bridge.Run(ctx, "nft", "-f", filepath.Clean(f.Name())); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	return nil
}

// healSwitch removes the partition made by partitionScript.
func healSwitch(ctx context.Context, l *lab.Lab, dir string) error {
	return nftInBridge(ctx, l, dir, healScript())
}
