package cluster

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/wackamole/wackamole/pkg/internal/lab"
)

// WebPort is the port ServeName serves on by default.
const WebPort = 80

// ServeName serves HTTP on port of every address of host h, the VIPs
// bound there included: every request is answered with h's name. It
// stands for the service that a VIP carries: a node's health check asks
// it on 127.0.0.1, and a client that asks a VIP learns from the answer
// which node served it. The server runs in this program, so it outlives
// the node's daemons; the lab closes it.
func ServeName(h *lab.Host, port int) error {
	ln, err := h.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("cluster: web server on %s: %w", h.Name, err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, h.Name)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(ln) // ends when the lab closes the listener
	return nil
}
