// Package importer turns the configuration of another VIP daemon into an
// equivalent wackamole.toml: keepalived's keepalived.conf (Keepalived) and
// the original C wackamole's wackamole.conf (Wackamole).
//
// What has an equivalent is carried over, each key with a comment naming
// the source line it came from; what has none is listed in a comment at
// the top of the output, each with its file and line, so that an operator
// reads in one place what to decide by hand. The output is meant to pass
// "wackamole check" as it is once the gossip key exists (and the hook and
// check programs it names).
//
// Some settings are per node in the source and per group in wackamole:
// keepalived's priorities and the old wackamole's Prefer lines become
// prefer lists, which must be identical on every node (they are part of
// the configuration fingerprint). A single node's file cannot give them:
// pass every node's file (Options.Others) and the lists come out the same
// whichever node's output it is; with one file they are written as
// comments.
package importer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultKeyFile is the secret_key_file of the output unless
// Options.KeyFile says otherwise.
const DefaultKeyFile = "/etc/wackamole/gossip.key"

// Options tune an import.
type Options struct {
	// NodeName is this node's node_name. Default: what the source says
	// (keepalived's router_id); without it the output sets none and the
	// daemon uses the hostname.
	NodeName string
	// KeyFile is the output's secret_key_file. Default DefaultKeyFile.
	KeyFile string
	// Others are the other nodes' configuration files, read for what
	// must be the same on every node (prefer lists) and, from keepalived,
	// their addresses (peers).
	Others []Node
}

// Node is another node's configuration file.
type Node struct {
	// Name is the node's node_name. For keepalived it defaults to the
	// file's router_id; the old wackamole.conf names no node, so it is
	// needed there.
	Name string
	Path string
}

// Note is something of the source that has no equivalent, or not an
// exact one.
type Note struct {
	File string
	Line int
	Text string
}

func (n Note) String() string {
	if n.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", n.File, n.Line, n.Text)
	}
	return fmt.Sprintf("%s: %s", n.File, n.Text)
}

// SyntaxError is a source file that cannot be read as its format.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return Note{File: e.File, Line: e.Line, Text: e.Msg}.String()
}

// entry is one key = value line of the output.
type entry struct {
	key   string
	value string // a TOML value, encoded
	// from says where the value came from, one comment line each.
	from []string
	// commented writes the line as a comment: a value the operator must
	// confirm (see the package documentation on prefer).
	commented bool
}

// table is the top level ("" header) or one table of the output.
type table struct {
	header  string // "[arp]", "[[vip]]"
	comment []string
	entries []entry
}

func (t *table) set(key, value string, from ...string) {
	t.entries = append(t.entries, entry{key: key, value: value, from: from})
}

// draft is an output being built.
type draft struct {
	file   string // this node's source file
	title  []string
	notes  []Note
	advice []string
	top    table
	tables []*table
}

func (d *draft) note(file string, line int, format string, args ...any) {
	d.notes = append(d.notes, Note{File: file, Line: line, Text: fmt.Sprintf(format, args...)})
}

func (d *draft) table(header string, comment ...string) *table {
	t := &table{header: header, comment: comment}
	d.tables = append(d.tables, t)
	return t
}

// bytes renders the draft as TOML.
func (d *draft) bytes() []byte {
	var b strings.Builder
	for _, l := range d.title {
		comment(&b, "", l)
	}
	if len(d.notes) > 0 {
		// By file, this node's first, then in order of appearance, and
		// by line within a file.
		rank := map[string]int{d.file: 0}
		for _, n := range d.notes {
			if _, ok := rank[n.File]; !ok {
				rank[n.File] = len(rank)
			}
		}
		slices.SortStableFunc(d.notes, func(x, y Note) int {
			if c := rank[x.File] - rank[y.File]; c != 0 {
				return c
			}
			return x.Line - y.Line
		})
		comment(&b, "", "")
		comment(&b, "", "Not carried over, or not exactly: decide each by hand.")
		for _, n := range d.notes {
			comment(&b, "  ", n.String())
		}
	}
	if len(d.advice) > 0 {
		comment(&b, "", "")
		for _, l := range d.advice {
			comment(&b, "", l)
		}
	}
	writeEntries(&b, d.top.entries)
	for _, t := range d.tables {
		if len(t.entries) == 0 {
			continue
		}
		b.WriteString("\n")
		for _, l := range t.comment {
			comment(&b, "", l)
		}
		b.WriteString(t.header + "\n")
		writeEntries(&b, t.entries)
	}
	return []byte(b.String())
}

func writeEntries(b *strings.Builder, es []entry) {
	for _, e := range es {
		for _, f := range e.from {
			comment(b, "", f)
		}
		line := e.key + " = " + e.value
		if e.commented {
			comment(b, "", line)
			continue
		}
		b.WriteString(line + "\n")
	}
}

// comment writes text as one comment line, with what TOML comments may
// not hold (control characters, invalid UTF-8) replaced.
func comment(b *strings.Builder, indent, text string) {
	text = strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(text, "?"))
	if text == "" {
		b.WriteString("#\n")
		return
	}
	b.WriteString("# " + indent + text + "\n")
}

// tomlString encodes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func tomlStrings(list []string) string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = tomlString(s)
	}
	return "[" + strings.Join(out, ", ") + "]"
}

func tomlInt(n int) string { return strconv.Itoa(n) }

func tomlDuration(d time.Duration) string { return tomlString(formatDuration(d)) }

// formatDuration writes d the way a person would: "5s", "1100ms", "2m".
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return d.String()
}

// vipName makes a wackamole VIP name (1 to 63 of letters, digits, '.',
// '_' and '-') out of a source's name, unique among used.
func vipName(s string, used map[string]bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	if len(name) > 60 {
		name = name[:60]
	}
	if name == "" {
		name = "vip"
	}
	base := name
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	used[name] = true
	return name
}

// preferOrder sorts candidates for a VIP's prefer list: by rank (higher
// first), then by name, so that every node's output has the same list.
type candidate struct {
	name string
	rank int
}

func preferOrder(cs []candidate) []string {
	slices.SortFunc(cs, func(a, b candidate) int {
		if a.rank != b.rank {
			return b.rank - a.rank
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return out
}

// keyAdvice is the advice every output ends its heading with.
func keyAdvice(keyFile string) []string {
	return []string{
		"Before the first start: make the gossip key once with",
		`"wackamole keygen > ` + keyFile + `" and copy it to every node`,
		`(root:wackamole, mode 0640), then run "wackamole check -c FILE".`,
	}
}

func keyFile(opt Options) string {
	if opt.KeyFile != "" {
		return opt.KeyFile
	}
	return DefaultKeyFile
}
