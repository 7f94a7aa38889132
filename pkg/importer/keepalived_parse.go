package importer

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// kaStmt is one keepalived.conf statement: a keyword and its arguments on
// one line, and the block that follows when the line opens one.
//
// keepalived's syntax (keepalived.conf(5)) is line-oriented: a statement
// is the words of one line; "{" opens a block of statements and "}"
// closes it, on the same line or on lines of their own; "#" and "!" start
// a comment; a double-quoted string is one word; a line ending with "\"
// goes on on the next; "include PATTERN" reads the files that match, a
// relative pattern being relative to the including file.
type kaStmt struct {
	words    []string
	file     string
	line     int
	block    []*kaStmt
	hasBlock bool
}

func (s *kaStmt) key() string {
	if len(s.words) == 0 {
		return ""
	}
	return s.words[0]
}

func (s *kaStmt) arg(i int) string {
	if i+1 < len(s.words) {
		return s.words[i+1]
	}
	return ""
}

// text is the statement as written, for notes.
func (s *kaStmt) text() string {
	out := make([]string, len(s.words))
	for i, w := range s.words {
		if w == "" || strings.ContainsAny(w, " \t") {
			w = `"` + w + `"`
		}
		out[i] = w
	}
	t := strings.Join(out, " ")
	if s.hasBlock {
		t += " { ... }"
	}
	return t
}

func (s *kaStmt) where() string { return fmt.Sprintf("%s:%d", s.file, s.line) }

// kaToken kinds.
const (
	kaWord = iota
	kaOpen
	kaClose
	kaEOL
)

type kaToken struct {
	kind int
	text string
	line int
}

// Limits that keep a hostile file from exhausting the importer.
const (
	kaMaxDepth    = 32       // nested blocks
	kaMaxIncludes = 8        // nested includes
	kaMaxFileSize = 16 << 20 // bytes per file
	kaMaxFiles    = 256      // files read by includes in all
)

type kaParser struct {
	files int
	stack []string // files being read, for include cycles
}

// parseKeepalivedFile reads a keepalived.conf and the files it includes.
func parseKeepalivedFile(path string) ([]*kaStmt, error) {
	p := &kaParser{}
	return p.file(path, 0)
}

func (p *kaParser) file(path string, depth int) ([]*kaStmt, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if slices.Contains(p.stack, abs) {
		return nil, fmt.Errorf("%s: included again while it is being read (an include cycle)", path)
	}
	if p.files++; p.files > kaMaxFiles {
		return nil, fmt.Errorf("%s: more than %d files included", path, kaMaxFiles)
	}
	data, err := readBounded(path, kaMaxFileSize)
	if err != nil {
		return nil, err
	}
	toks, err := kaLex(path, string(data))
	if err != nil {
		return nil, err
	}
	stmts, rest, err := kaBlock(path, toks, 0, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, &SyntaxError{File: path, Line: rest[0].line, Msg: `"}" closes no block`}
	}
	p.stack = append(p.stack, abs)
	defer func() { p.stack = p.stack[:len(p.stack)-1] }()
	return p.expand(path, stmts, depth)
}

// expand replaces include statements, at any depth, by what they include.
func (p *kaParser) expand(path string, stmts []*kaStmt, depth int) ([]*kaStmt, error) {
	var out []*kaStmt
	for _, s := range stmts {
		if s.hasBlock {
			inner, err := p.expand(path, s.block, depth)
			if err != nil {
				return nil, err
			}
			s.block = inner
		}
		if s.key() != "include" || s.hasBlock {
			out = append(out, s)
			continue
		}
		if len(s.words) != 2 {
			return nil, &SyntaxError{File: path, Line: s.line, Msg: "include wants one file name or pattern"}
		}
		if depth >= kaMaxIncludes {
			return nil, &SyntaxError{File: path, Line: s.line, Msg: fmt.Sprintf("includes nested more than %d deep", kaMaxIncludes)}
		}
		pattern := s.words[1]
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(filepath.Dir(path), pattern)
		}
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return nil, &SyntaxError{File: path, Line: s.line, Msg: fmt.Sprintf("include %s: %v", s.words[1], err)}
		}
		// keepalived skips a pattern that matches nothing; so do we.
		slices.Sort(matches)
		for _, m := range matches {
			inc, err := p.file(m, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: included from %s: %w", m, s.where(), err)
			}
			out = append(out, inc...)
		}
	}
	return out, nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than a configuration file has (%d)", path, st.Size(), limit)
	}
	return os.ReadFile(path)
}

// kaLex splits keepalived.conf text into words, braces and line ends.
func kaLex(file, text string) ([]kaToken, error) {
	var toks []kaToken
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := strings.TrimSuffix(lines[i], "\r")
		// A trailing backslash continues the statement on the next line.
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSuffix(lines[i], "\r")
		}
		var word strings.Builder
		inWord, quoted := false, false
		flush := func() {
			if inWord {
				toks = append(toks, kaToken{kind: kaWord, text: word.String(), line: lineNo})
				word.Reset()
				inWord = false
			}
		}
	scan:
		for j := 0; j < len(line); j++ {
			c := line[j]
			switch {
			case quoted:
				if c == '"' {
					quoted = false
					continue
				}
				word.WriteByte(c)
			case c == '"':
				quoted, inWord = true, true
			case c == '#' || c == '!':
				break scan
			case c == ' ' || c == '\t' || c == '\v' || c == '\f':
				flush()
			case c == '{' || c == '}':
				flush()
				kind := kaOpen
				if c == '}' {
					kind = kaClose
				}
				toks = append(toks, kaToken{kind: kind, text: string(c), line: lineNo})
			default:
				word.WriteByte(c)
				inWord = true
			}
		}
		if quoted {
			return nil, &SyntaxError{File: file, Line: lineNo, Msg: "a double-quoted string is not closed on its line"}
		}
		flush()
		toks = append(toks, kaToken{kind: kaEOL, line: lineNo})
	}
	return toks, nil
}

// kaBlock reads statements up to the "}" that closes the block (depth >
// 0) or to the end, and returns what follows.
func kaBlock(file string, toks []kaToken, depth, openLine int) ([]*kaStmt, []kaToken, error) {
	if depth > kaMaxDepth {
		return nil, nil, &SyntaxError{File: file, Line: openLine, Msg: fmt.Sprintf("blocks nested more than %d deep", kaMaxDepth)}
	}
	var stmts []*kaStmt
	var cur *kaStmt
	end := func() {
		if cur != nil {
			stmts = append(stmts, cur)
			cur = nil
		}
	}
	for len(toks) > 0 {
		t := toks[0]
		toks = toks[1:]
		switch t.kind {
		case kaWord:
			if cur == nil {
				cur = &kaStmt{file: file, line: t.line}
			}
			cur.words = append(cur.words, t.text)
		case kaEOL:
			end()
		case kaOpen:
			owner := cur
			if owner == nil {
				// "{" on a line of its own opens the block of the
				// statement just before.
				if n := len(stmts); n > 0 && !stmts[n-1].hasBlock {
					owner = stmts[n-1]
					stmts = stmts[:n-1]
				} else {
					return nil, nil, &SyntaxError{File: file, Line: t.line, Msg: `"{" opens a block that belongs to no keyword`}
				}
			}
			inner, rest, err := kaBlock(file, toks, depth+1, t.line)
			if err != nil {
				return nil, nil, err
			}
			owner.block, owner.hasBlock = inner, true
			stmts = append(stmts, owner)
			cur, toks = nil, rest
		case kaClose:
			end()
			if depth == 0 {
				return stmts, append([]kaToken{t}, toks...), nil
			}
			return stmts, toks, nil
		}
	}
	if depth > 0 {
		return nil, nil, &SyntaxError{File: file, Line: openLine, Msg: `the block opened here is not closed ("}" missing)`}
	}
	end()
	return stmts, nil, nil
}

// splitArgs splits a command line the way keepalived does for scripts:
// words separated by blanks, single or double quotes grouping words.
func splitArgs(s string) ([]string, error) {
	var out []string
	var w strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
				continue
			}
			w.WriteByte(c)
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed %c quote in %q", quote, s)
	}
	if in {
		out = append(out, w.String())
	}
	return out, nil
}
