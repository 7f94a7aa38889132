package control_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/wackamole/wackamole/pkg/control"
)

// node stands in for the daemon (in wackamole, *daemon.Daemon).
type node struct{ status control.Status }

func (n *node) Status() control.Status            { return n.status }
func (n *node) Drain(ctx context.Context) error   { return nil }
func (n *node) Undrain(ctx context.Context) error { return nil }
func (n *node) Reload(ctx context.Context) error  { return nil }

func Example() {
	dir, err := os.MkdirTemp("", "wkc-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "wackamole.sock")

	// The daemon side.
	n := &node{status: control.Status{
		Node:   "web1",
		Quorum: control.Quorum{Have: 2, Need: 2, OK: true},
		VIPs: []control.VIP{
			{Name: "www-1", Addresses: []string{"eth0:192.0.2.10/32"}, Owner: "web1", Holders: []string{"web1"}, Planned: "web1"},
			{Name: "www-2", Addresses: []string{"eth0:192.0.2.11/32"}, Owner: "web2", Holders: []string{"web2"}, Planned: "web2"},
		},
	}}
	// The socket admits root and the members of Group: here the group of
	// whoever runs the example.
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		log.Fatal(err)
	}
	srv, err := control.Listen(control.Options{Path: path, Group: g.Name, Backend: n})
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()

	// The wackatrl side.
	c := control.NewClient(path)
	defer c.Close()
	vips, err := c.VIPs(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	control.WriteVIPs(os.Stdout, vips, time.Now())
	r, err := c.Drain(context.Background(), 30*time.Second)
	fmt.Println(r.Command, r.OK, err)
	// Output:
	// VIP    ADDRESSES           OWNER  SINCE  HAND-OVER
	// www-1  eth0:192.0.2.10/32  web1   -      -
	// www-2  eth0:192.0.2.11/32  web2   -      -
	// drain true <nil>
}
