package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
)

// changelog is the package's changelog.Debian in deb-changelog(5) format:
// one entry, for the commit the package is made from.
func changelog(pkg, version, maintainer string, c commit) []byte {
	subject := strings.Map(func(r rune) rune {
		if r < 0x20 {
			return ' '
		}
		return r
	}, c.subject)
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s) unstable; urgency=medium\n\n", pkg, version)
	fmt.Fprintf(&b, "  * Built with \"make deb\" from commit %s\n    (git describe: %s):\n", c.hash, c.describe)
	b.WriteString(wrap("    ", subject, 76))
	fmt.Fprintf(&b, "\n -- %s  %s\n", maintainer, c.date.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	return []byte(b.String())
}

// wrap fills text into lines of at most width, each starting with indent.
func wrap(indent, text string, width int) string {
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	if len(line) > len(indent) {
		b.WriteString(line + "\n")
	}
	return b.String()
}

// gzipBest compresses data as Debian wants documentation compressed:
// gzip -9n, without a name or a time stamp in the header, so that the
// same input always gives the same bytes.
func gzipBest(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
