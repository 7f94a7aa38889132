package router

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
	"github.com/wackamole/wackamole/pkg/internal/lab"
	"github.com/wackamole/wackamole/pkg/internal/labtest"
)

func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// closeOnCleanup closes r when the test ends, logging its log first if
// the test failed, and checks that its directory is gone.
func closeOnCleanup(t *testing.T, r interface {
	Log() string
	Close() error
}, dir string) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%T log:\n%s", r, r.Log())
		}
		if err := r.Close(); err != nil {
			t.Errorf("close %T: %v", r, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%T left %s behind (%v)", r, dir, err)
		}
	})
}

// TestBIRDPeersWithFRR runs both routers against each other: eBGP with BFD
// and a TCP MD5 password, each announcing a prefix the other installs in
// its kernel table.
func TestBIRDPeersWithFRR(t *testing.T) {
	testenv.RequireNetns(t, "bird", "birdc", "vtysh")
	l := labtest.New(t, lab.Options{})
	ctx := within(t, time.Minute)
	bh, err := l.AddHost(ctx, "bird")
	if err != nil {
		t.Fatal(err)
	}
	fh, err := l.AddHost(ctx, "frr")
	if err != nil {
		t.Fatal(err)
	}
	birdNet := netip.MustParsePrefix("198.19.1.0/24")
	frrNet := netip.MustParsePrefix("198.19.2.0/24")
	b, err := StartBIRD(ctx, bh, Config{ASN: 65000, Address: bh.Addr, Neighbors: []Neighbor{{
		Address: fh.Addr, ASN: 65001, Password: "s3cret", BFD: true, Export: []netip.Prefix{birdNet},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	closeOnCleanup(t, b, b.dir)
	f, err := StartFRR(ctx, fh, Config{ASN: 65001, Address: fh.Addr, Neighbors: []Neighbor{{
		Address: bh.Addr, ASN: 65000, Password: "s3cret", BFD: true, Export: []netip.Prefix{frrNet},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	closeOnCleanup(t, f, f.dir)

	if err := WaitEstablished(ctx, b, true, fh.Addr); err != nil {
		t.Fatal(err)
	}
	if err := WaitEstablished(ctx, f, true, bh.Addr); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitRoute(ctx, f, birdNet, bh.Addr); err != nil {
		t.Errorf("FRR: %v", err)
	}
	if _, err := WaitRoute(ctx, b, frrNet, fh.Addr); err != nil {
		t.Errorf("BIRD: %v", err)
	}
	ss, _ := b.Sessions(ctx)
	t.Logf("BIRD sessions: %+v", ss)
	ss, _ = f.Sessions(ctx)
	t.Logf("FRR sessions: %+v", ss)

	// A crashed BIRD takes its routes down on the FRR side within the
	// BFD detection time, long before the hold time.
	start := time.Now()
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitRoute(within(t, 5*time.Second), f, birdNet); err != nil {
		t.Fatalf("FRR kept BIRD's route: %v", err)
	}
	t.Logf("FRR withdrew the crashed BIRD's route after %v", time.Since(start).Round(time.Millisecond))
	if err := b.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := WaitEstablished(ctx, f, true, bh.Addr); err != nil {
		t.Fatal(err)
	}
}

// TestExaBGPHealthcheck announces a VIP from ExaBGP's healthcheck to BIRD
// while a file exists, and withdraws it when the file goes.
func TestExaBGPHealthcheck(t *testing.T) {
	testenv.RequireNetns(t, "bird", "birdc", "exabgp")
	l := labtest.New(t, lab.Options{Nodes: 1})
	ctx := within(t, time.Minute)
	rh, err := l.AddHost(ctx, "router")
	if err != nil {
		t.Fatal(err)
	}
	node := l.Nodes[0]
	vip := netip.PrefixFrom(l.VIP(0), 32)
	b, err := StartBIRD(ctx, rh, Config{ASN: 65000, Address: rh.Addr, Neighbors: []Neighbor{{Address: node.Addr, ASN: 65101}}})
	if err != nil {
		t.Fatal(err)
	}
	closeOnCleanup(t, b, b.dir)
	flag := filepath.Join(t.TempDir(), "healthy")
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := StartExaBGP(ctx, node, ExaBGPConfig{
		ASN: 65101, Address: node.Addr,
		Peers: []ExaBGPPeer{{Address: rh.Addr, ASN: 65000}},
		Checks: []Healthcheck{{
			Name: "www", Command: "test -e " + flag, VIPs: []netip.Prefix{vip},
			Interval: 200 * time.Millisecond,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	closeOnCleanup(t, e, e.dir)
	if err := WaitEstablished(ctx, b, false, node.Addr); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitRoute(ctx, b, vip, node.Addr); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	d, err := WaitRoute(within(t, 10*time.Second), b, vip)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the failed healthcheck withdrew the VIP after %v", d.Round(time.Millisecond))
}
