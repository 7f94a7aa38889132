// Command webserver is the tiny web server of the wackamole demo: it answers
// every request with the name of the node it runs on and the address the
// client reached, so that a client can see which node serves which VIP.
//
//	webserver -listen :80 -name n1
//
// answers "hello from n1 (you reached 198.18.0.101)". It listens on the
// wildcard address, so VIPs that wackamole adds to the node later are served
// without a restart. SIGTERM or SIGINT stops it gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("webserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", ":80", "address to listen on")
	name := fs.String("name", "", "name to answer with (default: the hostname)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "webserver: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *name == "" {
		h, err := os.Hostname()
		if err != nil {
			fmt.Fprintln(stderr, "webserver: -name not set and no hostname:", err)
			return 2
		}
		*name = h
	}
	logger := log.New(stderr, "webserver: ", log.LstdFlags)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		logger.Print(err)
		return 1
	}
	srv := &http.Server{
		Handler:           Handler(*name),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       30 * time.Second,
		ErrorLog:          logger,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Printf("%s listening on %s", *name, ln.Addr())
	select {
	case err := <-errc:
		logger.Print(err)
		return 1
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Print(err)
		return 1
	}
	return 0
}

// Handler answers every request with "hello from NAME (you reached ADDR)",
// ADDR being the local address the request came in on: with wackamole, the
// VIP the client connected to.
func Handler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, "hello from %s (you reached %s)\n", name, localAddr(r))
	})
}

// localAddr returns the address the request was received on, without the
// port, or "an unknown address".
func localAddr(r *http.Request) string {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return "an unknown address"
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return a.String()
	}
	return ap.Addr().Unmap().String()
}
