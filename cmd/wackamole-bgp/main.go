// Command wackamole-bgp is the BGP speaker of a wackamole node in bgp
// mode. The daemon starts it and talks to it over its standard input and
// output (package pkg/bgp/remote); it is not meant to be run by hand. It
// is a program of its own so that the daemon does not carry GoBGP: see
// pkg/bgp/remote.
package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/wackamole/wackamole/pkg/bgp/remote"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "wackamole-bgp: the BGP speaker of wackamole's bgp mode, started by the daemon; it takes no arguments")
		os.Exit(2)
	}
	var level slog.Level
	level.UnmarshalText([]byte(os.Getenv(remote.EnvLogLevel))) // info if unset or bad
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if os.Getenv(remote.EnvLogFormat) == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	log := slog.New(h).With("component", "bgp")
	if err := serve(log); err != nil {
		log.Error("speaker stopped", "err", err)
		os.Exit(1)
	}
}
