// Package manpage renders the project's manual pages, written once in
// Markdown beside what they document, to roff (man(7)) with go-md2man.
//
// A source starts with a level-1 heading naming its page, "# wackamole(8)";
// Render replaces it with the title line (.TH) carrying the date and the
// version, so that the source reads well as Markdown too.
package manpage

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cpuguy83/go-md2man/v2/md2man"
)

// Page is one manual page.
type Page struct {
	// Name and Section name the page: wackamole(8).
	Name    string
	Section int
	// Source is the Markdown, relative to the top of the repository.
	Source string
	// Manual is the title of the manual it belongs to.
	Manual string
}

// Pages are the project's manual pages.
var Pages = []Page{
	{Name: "wackamole", Section: 8, Source: "cmd/wackamole/wackamole.8.md", Manual: "System Manager's Manual"},
	{Name: "wackatrl", Section: 8, Source: "cmd/wackatrl/wackatrl.8.md", Manual: "System Manager's Manual"},
	{Name: "wackamole.toml", Section: 5, Source: "pkg/config/wackamole.toml.5.md", Manual: "File Formats Manual"},
}

// FileName is the page's file name: "wackamole.8".
func (p Page) FileName() string { return p.Name + "." + strconv.Itoa(p.Section) }

// Render turns the page's Markdown source into roff, dated date, for
// version. Hyphens in what is meant to be typed (code spans, bold text
// and code blocks: commands, options, keys, examples) become \- , the
// hyphen-minus one can copy and search for, rather than a typographic
// hyphen.
func Render(p Page, src []byte, date time.Time, version string) ([]byte, error) {
	want := fmt.Sprintf("# %s(%d)", p.Name, p.Section)
	first, rest, _ := bytes.Cut(src, []byte("\n"))
	if string(bytes.TrimSpace(first)) != want {
		return nil, fmt.Errorf("%s: the first line is %q, want %q", p.Source, first, want)
	}
	for _, s := range []string{version, p.Manual} {
		if strings.ContainsAny(s, "\"\\\n") {
			return nil, fmt.Errorf("%s: %q cannot go in a title line", p.Source, s)
		}
	}
	title := fmt.Sprintf("# %s %d \"%s\" \"wackamole %s\" \"%s\"\n",
		strings.ToUpper(p.Name), p.Section, date.UTC().Format("2006-01-02"), version, p.Manual)
	roff := md2man.Render(append([]byte(title), rest...))
	return minusSigns(roff), nil
}

// minusSigns escapes the hyphens of bold text and code blocks.
func minusSigns(roff []byte) []byte {
	var out bytes.Buffer
	inCode := false
	for _, line := range strings.SplitAfter(string(roff), "\n") {
		trimmed := strings.TrimSuffix(line, "\n")
		switch {
		case trimmed == ".EX":
			inCode = true
			out.WriteString(line)
			continue
		case trimmed == ".EE":
			inCode = false
			out.WriteString(line)
			continue
		case strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'"):
			if !strings.HasPrefix(line, ".TP") && !strings.HasPrefix(line, ".IP") {
				out.WriteString(line)
				continue
			}
		}
		out.WriteString(escapeLine(line, inCode))
	}
	return out.Bytes()
}

// escapeLine writes \- for each "-" of line that is in bold (between \fB
// and the next font change) or, with all, anywhere; roff escapes are
// copied as they are.
func escapeLine(line string, all bool) string {
	var b strings.Builder
	bold := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' && i+1 < len(line) {
			next := line[i+1]
			if next == 'f' && i+2 < len(line) {
				bold = line[i+2] == 'B'
				b.WriteString(line[i : i+3])
				i += 2
				continue
			}
			b.WriteString(line[i : i+2])
			i++
			continue
		}
		if c == '-' && (bold || all) {
			b.WriteString(`\-`)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
