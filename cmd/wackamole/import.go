package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/wackamole/wackamole/pkg/importer"
)

const importUsage = `USAGE
    wackamole import keepalived [--node NAME] [--key-file FILE] FILE [[NAME=]FILE...]
    wackamole import wackamole  [--node NAME] [--key-file FILE] FILE [NAME=FILE...]

    Print a wackamole.toml equivalent to FILE, this node's keepalived.conf or
    old wackamole.conf. What has no equivalent is listed in comments at the
    top, each with its file and line. The other nodes' files, when given,
    make the prefer lists (from keepalived's priorities or the old Prefer
    lines), which must be the same on every node; NAME= names a node (for
    keepalived it defaults to the file's router_id).

FLAGS
    --node NAME       this node's node_name (default: keepalived's router_id,
                      else the hostname when the daemon starts)
    --key-file FILE   secret_key_file of the output (default /etc/wackamole/gossip.key)
`

// runImport is "wackamole import FORMAT ...".
func runImport(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(stdout, importUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	format := args[0]
	var run func(string, importer.Options) ([]byte, error)
	switch format {
	case "keepalived":
		run = importer.Keepalived
	case "wackamole":
		run = importer.Wackamole
	default:
		fmt.Fprintf(stderr, "wackamole import: %q is not a format: keepalived or wackamole\nRun 'wackamole import --help' for usage.\n", format)
		return 2
	}
	fs := flag.NewFlagSet("wackamole import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var opt importer.Options
	fs.StringVar(&opt.NodeName, "node", "", "")
	fs.StringVar(&opt.KeyFile, "key-file", "", "")
	help := fs.Bool("help", false, "")
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(stderr, "wackamole import: %v\nRun 'wackamole import --help' for usage.\n", err)
		return 2
	}
	if *help {
		fmt.Fprint(stdout, importUsage)
		return 0
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "wackamole import %s: no FILE\nRun 'wackamole import --help' for usage.\n", format)
		return 2
	}
	for _, a := range fs.Args()[1:] {
		n := importer.Node{Path: a}
		if name, path, ok := strings.Cut(a, "="); ok && !strings.Contains(name, "/") {
			n = importer.Node{Name: name, Path: path}
		}
		opt.Others = append(opt.Others, n)
	}
	out, err := run(fs.Arg(0), opt)
	if err != nil {
		fmt.Fprintf(stderr, "wackamole import %s: %v\n", format, err)
		return 2
	}
	stdout.Write(out)
	return 0
}
