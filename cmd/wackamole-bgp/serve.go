package main

import (
	"log/slog"
	"os"

	"github.com/wackamole/wackamole/pkg/bgp"
)

func serve(log *slog.Logger) error { return bgp.Serve(os.Stdin, os.Stdout, log) }
