package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a configuration.
type Error struct {
	// File is the configuration file (Config.Path); may be empty.
	File string
	// Line is the 1-based line the problem is on, or 0 when it has no
	// line, typically because a required key is absent.
	Line int
	// Key is the path of the key, e.g. "quorum", "arp.repeat" or
	// "vip[1].addresses[0]" (0-based indexes in file order); empty for a
	// TOML syntax error whose key is unknown.
	Key string
	// Msg says what is wrong and, where it helps, how to fix it.
	Msg string
}

// Error formats e as "FILE:LINE: KEY: MSG", leaving out the parts that are
// unknown ("FILE: KEY: MSG" without a line).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if e.File != "" {
			b.WriteByte(':')
		} else {
			b.WriteString("line ")
		}
		b.WriteString(strconv.Itoa(e.Line))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a configuration, ordered by line (those
// without a line first). Parse, Load and Validate return it, never empty,
// as their error; get at it with errors.As.
type Errors []*Error

// Error returns one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As and errors.Is see each *Error.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// path is a key path: string elements are keys, int elements are array
// indexes. It renders as "vip[1].addresses[0]".
type path []any

// key returns p extended by key k, never sharing p's backing array.
func (p path) key(k string) path { return append(p[:len(p):len(p)], k) }

// index returns p extended by array index i.
func (p path) index(i int) path { return append(p[:len(p):len(p)], i) }

func (p path) String() string {
	var b strings.Builder
	for _, el := range p {
		switch el := el.(type) {
		case int:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(el))
			b.WriteByte(']')
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(quoteKey(el))
		}
	}
	return b.String()
}

// quoteKey writes a key as TOML would: bare when it can be, quoted
// otherwise.
func quoteKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		if !isBareKeyByte(k[i]) {
			return strconv.Quote(k)
		}
	}
	return k
}

func isBareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// reporter collects problems. line maps a key path to its line; it falls
// back to the closest ancestor that has one.
type reporter struct {
	file  string
	line  func(path) int
	errs  Errors
	paths []path // paths[i] is the path of errs[i], for sorting
	// bad holds the paths that already have a problem, so that later
	// checks skip values that could not be decoded instead of reporting
	// them a second time.
	bad map[string]bool
}

func (r *reporter) add(p path, msg string) {
	key := p.String()
	if r.bad == nil {
		r.bad = make(map[string]bool)
	}
	r.bad[key] = true
	line := 0
	if r.line != nil {
		line = r.line(p)
	}
	r.errs = append(r.errs, &Error{File: r.file, Line: line, Key: key, Msg: msg})
	r.paths = append(r.paths, p)
}

// isBad reports whether p or one of its ancestors already has a problem.
func (r *reporter) isBad(p path) bool {
	for n := len(p); n > 0; n-- {
		if r.bad[p[:n].String()] {
			return true
		}
	}
	return false
}

// err returns the collected problems ordered by line, then by key path, or
// nil.
func (r *reporter) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	idx := make([]int, len(r.errs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := cmp.Compare(r.errs[a].Line, r.errs[b].Line); c != 0 {
			return c
		}
		return comparePaths(r.paths[a], r.paths[b])
	})
	errs := make(Errors, len(idx))
	for i, j := range idx {
		errs[i] = r.errs[j]
	}
	return errs
}

// comparePaths orders paths element by element, indexes numerically, a
// key before an index, a prefix first.
func comparePaths(a, b path) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		switch x := a[i].(type) {
		case string:
			y, ok := b[i].(string)
			if !ok {
				return -1
			}
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		case int:
			y, ok := b[i].(int)
			if !ok {
				return 1
			}
			if c := cmp.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(a), len(b))
}
