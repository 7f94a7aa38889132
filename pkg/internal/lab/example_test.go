package lab_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// A client measures the outage while a VIP moves from node 1 to node 2 by
// hand. (Needs root, so it is compiled but not run by go test.)
func Example() {
	ctx := context.Background()
	l, err := lab.New(ctx, lab.Options{Nodes: 2, Logf: log.Printf})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	defer l.CloseOnSignal()()

	vip := netip.PrefixFrom(l.VIP(0), l.Subnet.Bits())
	if err := l.Nodes[0].AddAddr(ctx, vip); err != nil {
		log.Fatal(err)
	}
	p, err := l.Client.Ping(ctx, vip.Addr(), 10*time.Millisecond)
	if err != nil {
		log.Fatal(err)
	}
	if err := p.WaitReplies(ctx, 10); err != nil {
		log.Fatal(err)
	}

	// Move the VIP. Flushing the client's neighbour table stands in for the
	// gratuitous ARP a daemon would send.
	if err := l.Nodes[0].DelAddr(ctx, vip); err != nil {
		log.Fatal(err)
	}
	if err := l.Nodes[1].AddAddr(ctx, vip); err != nil {
		log.Fatal(err)
	}
	if err := l.Client.FlushNeigh(ctx); err != nil {
		log.Fatal(err)
	}
	if err := p.WaitReplies(ctx, 10); err != nil {
		log.Fatal(err)
	}
	r := p.Stop()
	fmt.Printf("outage %v, %d lost\n", r.MaxGap.Round(time.Millisecond), r.Lost())
}
