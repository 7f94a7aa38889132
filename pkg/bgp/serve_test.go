package bgp

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wackamole/wackamole/pkg/bgp/remote"
)

// The daemon's end (package remote) drives a real wackamole-bgp: routes
// set, status read, and Close withdraws and ends the child.
func TestRemoteSpeaker(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "wackamole-bgp")
	if out, err := exec.Command("go", "build", "-o", prog, "github.com/wackamole/wackamole/cmd/wackamole-bgp").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	c, err := remote.Start(prog, remote.Config{
		ASN: 65101, RouterID: netip.MustParseAddr("198.18.0.11"), ListenPort: -1,
		Peers: []remote.Peer{{Address: netip.MustParseAddr("198.18.0.1"), ASN: 65000}},
	}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	want := []remote.Route{
		{Prefix: netip.MustParsePrefix("198.18.1.100/32")},
		{Prefix: netip.MustParsePrefix("198.18.1.101/32"), Standby: true},
	}
	if err := c.SetRoutes(want); err != nil {
		t.Fatal(err)
	}
	got, peers, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || len(peers) != 1 || peers[0].Address != netip.MustParseAddr("198.18.0.1") || peers[0].State == "established" {
		t.Fatalf("status: routes %v (want %v), peers %+v", got, want, peers)
	}
	if err := c.SetRoutes(want[1:]); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := c.Status(); !slices.Equal(got, want[1:]) {
		t.Fatalf("routes after a withdrawal: %v", got)
	}
	if err := c.SetRoutes([]remote.Route{{Prefix: netip.MustParsePrefix("198.18.1.0/24")}}); err == nil {
		t.Fatal("a /24 was announced")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Status(); err == nil {
		t.Fatal("a closed speaker answers")
	}
	// A second speaker with a bad configuration is refused at Start.
	if _, err := remote.Start(prog, remote.Config{ASN: 0}, os.Stderr); err == nil {
		t.Fatal("a speaker without an AS number started")
	}
}
