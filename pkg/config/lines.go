package config

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// keyLines maps the rendered path of every key, table, array-of-tables
// element and array element of a TOML document to the line (1-based) it
// starts on. When a path occurs more than once (a table that is implied by
// a dotted key and defined later) the first line wins.
//
// BurntSushi/toml keeps key positions to itself, and keeps only the last
// element of an array of tables, so this scanner exists. It is meant for
// documents the TOML library has accepted; on anything else it returns
// partial results but never panics or loops.
func keyLines(src string) map[string]int {
	s := &lineScanner{
		src:   src,
		lines: make(map[string]int),
		aot:   make(map[string]int),
	}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			s.newlines = append(s.newlines, i)
		}
	}
	s.src = strings.TrimPrefix(src, "\ufeff")
	s.off = len(src) - len(s.src) // keep offsets relative to src
	s.document()
	return s.lines
}

type lineScanner struct {
	src      string // the document, without a leading byte order mark
	off      int    // bytes removed from the front of src
	i        int    // read position in src
	newlines []int  // offsets of '\n' in the original document
	lines    map[string]int
	aot      map[string]int // elements so far of each array of tables
	current  path           // the table that key/value pairs go to
}

// lineAt returns the line of byte offset i of src.
func (s *lineScanner) lineAt(i int) int {
	return sort.SearchInts(s.newlines, i+s.off) + 1
}

func (s *lineScanner) record(p path, at int) {
	k := p.String()
	if _, ok := s.lines[k]; !ok {
		s.lines[k] = s.lineAt(at)
	}
}

func (s *lineScanner) eof() bool { return s.i >= len(s.src) }

func (s *lineScanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.i]
}

func (s *lineScanner) skipSpace() {
	for !s.eof() && (s.src[s.i] == ' ' || s.src[s.i] == '\t') {
		s.i++
	}
}

// skipBlank skips whitespace, newlines and comments.
func (s *lineScanner) skipBlank() {
	for !s.eof() {
		switch s.src[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		case '#':
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine moves to the start of the next line.
func (s *lineScanner) skipLine() {
	if j := strings.IndexByte(s.src[s.i:], '\n'); j >= 0 {
		s.i += j + 1
	} else {
		s.i = len(s.src)
	}
}

func (s *lineScanner) document() {
	for {
		s.skipBlank()
		if s.eof() {
			return
		}
		start := s.i
		if s.peek() == '[' {
			s.header()
		} else {
			s.keyValue(s.current)
		}
		s.skipLine()
		if s.i <= start { // cannot happen; never loop
			s.i = start + 1
		}
	}
}

// header reads "[a.b]" or "[[a.b]]" and makes it the current table.
func (s *lineScanner) header() {
	at := s.i
	s.i++
	array := s.peek() == '['
	if array {
		s.i++
	}
	parts := s.keyParts()
	// A header names its path from the root; every array of tables on the
	// way means its latest element.
	var p path
	for j, part := range parts {
		p = p.key(part)
		if array && j == len(parts)-1 {
			break
		}
		if n := s.aot[p.String()]; n > 0 {
			p = p.index(n - 1)
		}
		s.record(p, at)
	}
	if array && len(parts) > 0 {
		k := p.String()
		n := s.aot[k]
		s.aot[k] = n + 1
		s.record(p, at)
		p = p.index(n)
	}
	s.record(p, at)
	s.current = p
}

// keyValue reads "a.b = value" relative to table base.
func (s *lineScanner) keyValue(base path) {
	at := s.i
	parts := s.keyParts()
	if len(parts) == 0 {
		s.i++ // not a key: make progress
		return
	}
	p := base
	for _, part := range parts {
		p = p.key(part)
		s.record(p, at)
	}
	s.skipSpace()
	if s.peek() != '=' {
		return
	}
	s.i++
	s.skipSpace()
	s.value(p)
}

// keyParts reads a dotted key, bare or quoted parts.
func (s *lineScanner) keyParts() []string {
	var parts []string
	for {
		s.skipSpace()
		var part string
		switch c := s.peek(); {
		case c == '"':
			s.i++
			part = s.basicString()
		case c == '\'':
			s.i++
			part = s.literalString()
		case c != 0 && isBareKeyByte(c):
			j := s.i
			for !s.eof() && isBareKeyByte(s.src[s.i]) {
				s.i++
			}
			part = s.src[j:s.i]
		default:
			return parts
		}
		parts = append(parts, part)
		s.skipSpace()
		if s.peek() != '.' {
			return parts
		}
		s.i++
	}
}

// value reads any value and records the elements of arrays and the keys of
// inline tables below p.
func (s *lineScanner) value(p path) {
	switch s.peek() {
	case '"':
		if strings.HasPrefix(s.src[s.i:], `"""`) {
			s.multiline('"')
			return
		}
		s.i++
		s.basicString()
	case '\'':
		if strings.HasPrefix(s.src[s.i:], `'''`) {
			s.multiline('\'')
			return
		}
		s.i++
		s.literalString()
	case '[':
		s.i++
		for n := 0; ; {
			s.skipBlank()
			switch s.peek() {
			case 0:
				return
			case ']':
				s.i++
				return
			case ',':
				s.i++
				continue
			}
			start := s.i
			el := p.index(n)
			s.record(el, start)
			s.value(el)
			n++
			if s.i == start {
				s.i++
			}
		}
	case '{':
		s.i++
		for {
			s.skipBlank() // TOML 1.1 allows newlines in inline tables
			switch s.peek() {
			case 0:
				return
			case '}':
				s.i++
				return
			case ',':
				s.i++
				continue
			}
			start := s.i
			s.keyValue(p)
			if s.i == start {
				s.i++
			}
		}
	default:
		// Numbers, booleans, dates: up to the next delimiter. Dates may
		// contain a space, so a space is not one.
		for !s.eof() && !strings.ContainsRune(",]}#\r\n", rune(s.src[s.i])) {
			s.i++
		}
	}
}

// basicString reads the rest of a "..." string (the opening quote already
// read) and returns its value.
func (s *lineScanner) basicString() string {
	var b strings.Builder
	for !s.eof() {
		c := s.src[s.i]
		switch {
		case c == '"':
			s.i++
			return b.String()
		case c == '\n':
			return b.String() // unterminated; the TOML library said no
		case c == '\\' && s.i+1 < len(s.src):
			s.i++
			s.escape(&b)
		default:
			b.WriteByte(c)
			s.i++
		}
	}
	return b.String()
}

// escape decodes the escape sequence after a backslash.
func (s *lineScanner) escape(b *strings.Builder) {
	c := s.src[s.i]
	s.i++
	hex := 0
	switch c {
	case 'b':
		b.WriteByte('\b')
	case 't':
		b.WriteByte('\t')
	case 'n':
		b.WriteByte('\n')
	case 'f':
		b.WriteByte('\f')
	case 'r':
		b.WriteByte('\r')
	case 'e':
		b.WriteByte(0x1b)
	case 'x':
		hex = 2
	case 'u':
		hex = 4
	case 'U':
		hex = 8
	default: // '"', '\\' and anything the library would have rejected
		b.WriteByte(c)
	}
	if hex == 0 {
		return
	}
	if s.i+hex > len(s.src) {
		return
	}
	v, err := strconv.ParseUint(s.src[s.i:s.i+hex], 16, 32)
	if err != nil {
		return
	}
	s.i += hex
	if v > utf8.MaxRune {
		v = utf8.RuneError
	}
	b.WriteRune(rune(v))
}

// literalString reads the rest of a '...' string.
func (s *lineScanner) literalString() string {
	j := s.i
	for !s.eof() && s.src[s.i] != '\'' && s.src[s.i] != '\n' {
		s.i++
	}
	v := s.src[j:s.i]
	if s.peek() == '\'' {
		s.i++
	}
	return v
}

// multiline skips a multi-line string, basic (q is a double quote) or
// literal (a single quote). Up to two quotes may directly precede the
// closing delimiter, so the closing run is read whole.
func (s *lineScanner) multiline(q byte) {
	s.i += 3
	for !s.eof() {
		c := s.src[s.i]
		switch {
		case c == '\\' && q == '"':
			s.i += 2
		case c == q && strings.HasPrefix(s.src[s.i:], strings.Repeat(string(q), 3)):
			for !s.eof() && s.src[s.i] == q {
				s.i++
			}
			return
		default:
			s.i++
		}
	}
	if s.i > len(s.src) {
		s.i = len(s.src)
	}
}
