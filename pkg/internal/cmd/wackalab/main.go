// Command wackalab runs wackamole in a throw-away network-namespace lab: the
// three-node demo, failover benchmarks, the soak test and the comparison
// with other tools. Each subcommand lives in its own file and registers
// itself with register from an init function; main only dispatches.
//
// It needs root (network namespaces), iproute2 and the Go toolchain, and it
// must run inside the wackamole source tree: it builds the binaries it runs.
// Run "wackalab --help" for the manual.
package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// A command is one wackalab subcommand.
type command struct {
	// Name is the word that selects the command.
	Name string
	// Args is the synopsis after the name, e.g. "[-keep] [-timing lan|fast]".
	Args string
	// Summary is one line for the command list.
	Summary string
	// Help is the command's manual page body: DESCRIPTION, OPTIONS, …
	// sections, indented like the main manual.
	Help string
	// Run runs the command with the arguments after its name, writing to
	// stdout and stderr, and returns the exit status.
	Run func(args []string, stdout, stderr io.Writer) int
}

// commands are the registered subcommands by name.
var commands = map[string]*command{}

// register adds c to the subcommands. Call it from an init function in the
// command's own file. Registering a name twice is a programming error and
// panics at start-up, like http.Handle.
func register(c *command) {
	if c == nil || c.Name == "" || c.Run == nil {
		panic("wackalab: register: command needs a name and a Run function")
	}
	if _, dup := commands[c.Name]; dup {
		panic("wackalab: register: command " + c.Name + " registered twice")
	}
	commands[c.Name] = c
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses shared by the subcommands.
const (
	exitOK    = 0
	exitFail  = 1 // a step failed, or the lab could not be built
	exitUsage = 2 // invalid command line
)

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, synopsis())
		fmt.Fprintln(stderr, "Run 'wackalab --help' for the manual.")
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, manual())
		return exitOK
	case "help":
		if len(args) == 1 {
			fmt.Fprint(stdout, manual())
			return exitOK
		}
		c, ok := commands[args[1]]
		if !ok {
			fmt.Fprintf(stderr, "wackalab: help: unknown command %q\n%s", args[1], synopsis())
			return exitUsage
		}
		fmt.Fprint(stdout, commandManual(c))
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "wackalab: unknown command %q\n%sRun 'wackalab --help' for the manual.\n", args[0], synopsis())
		return exitUsage
	}
	rest := args[1:]
	if slices.ContainsFunc(rest, isHelpFlag) {
		fmt.Fprint(stdout, commandManual(c))
		return exitOK
	}
	return c.Run(rest, stdout, stderr)
}

func isHelpFlag(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

func sortedCommands() []*command {
	cs := make([]*command, 0, len(commands))
	for _, c := range commands {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *command) int { return strings.Compare(a.Name, b.Name) })
	return cs
}

// synopsis is the short usage printed on a command-line error.
func synopsis() string {
	var b strings.Builder
	b.WriteString("usage:\n")
	for _, c := range sortedCommands() {
		fmt.Fprintf(&b, "    wackalab %s %s\n", c.Name, c.Args)
	}
	b.WriteString("    wackalab help [COMMAND] | --help\n")
	return b.String()
}

const manualHead = `WACKALAB(8)

NAME
    wackalab - run wackamole in a network-namespace lab

SYNOPSIS
`

const manualBody = `
DESCRIPTION
    wackalab builds a throw-away lab out of Linux network namespaces: web
    nodes and a client joined by a bridge, with no route to the outside
    world and addresses from 198.18.0.0/15 (RFC 2544 benchmark space). It
    runs the real wackamole daemon on every node and shows or measures what
    clients see when nodes fail.

    Every command builds the binaries it runs from the source tree with
    "go build" into a temporary directory, so run it from the wackamole
    checkout (the Makefile does: "make demo", "make bench-failover", ...).
    Everything a command creates (namespaces, processes, files) is removed
    when it ends, fails or is interrupted with Ctrl-C (SIGINT or SIGTERM).

COMMANDS
`

const manualTail = `
    Run "wackalab help COMMAND" or "wackalab COMMAND --help" for a
    command's manual.

REQUIREMENTS
    root (network namespaces), iproute2, the Go toolchain (go in PATH, or
    the GO environment variable), and per command the Debian packages that
    "make deps" installs (dnsmasq-base for the demo's DNS server, nftables
    for partitions, keepalived and ucarp for comparisons).

EXIT STATUS
    0    success
    1    a step failed (the reason is printed) or the lab could not be built
    2    invalid command line
    130  interrupted (Ctrl-C), after cleaning up

FILES
    Network namespaces are named PREFIX-br, PREFIX-cl, PREFIX-n1, ...
    (see "ip netns list"); PREFIX is "wk" and 6 random hex digits unless
    -prefix is given. After a crash of wackalab itself (SIGKILL), remove
    leftovers with "ip netns del NAME" for each of them.

SEE ALSO
    wackamole(8), wackatrl(8), ip-netns(8), examples/README.md
`

// manual is the full manual page, listing every registered command.
func manual() string {
	var b strings.Builder
	b.WriteString(manualHead)
	for _, c := range sortedCommands() {
		fmt.Fprintf(&b, "    wackalab %s %s\n", c.Name, c.Args)
	}
	b.WriteString("    wackalab help [COMMAND]\n")
	b.WriteString(manualBody)
	for _, c := range sortedCommands() {
		fmt.Fprintf(&b, "    %-16s %s\n", c.Name, c.Summary)
	}
	b.WriteString(manualTail)
	return b.String()
}

// commandManual is one command's manual page.
func commandManual(c *command) string {
	return fmt.Sprintf("WACKALAB-%s(8)\n\nNAME\n    wackalab %s - %s\n\nSYNOPSIS\n    wackalab %s %s\n\n%s",
		strings.ToUpper(c.Name), c.Name, c.Summary, c.Name, c.Args, c.Help)
}
