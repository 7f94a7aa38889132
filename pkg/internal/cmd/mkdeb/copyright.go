package main

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// The copyright file is in the machine-readable format
// (https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/).
// Go links every module a program imports into it, so the file names the
// project's own license and then each module's (and the Go standard
// library's) that the binaries were built from, as their build
// information lists them: what is in the package, not what go.mod says.

const copyrightFormat = "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"

// commonLicenses are the licenses Debian ships in /usr/share/common-licenses,
// which a copyright file refers to rather than copies.
var commonLicenses = map[string]string{
	"Apache-2.0": "the Apache License, Version 2.0",
	"MPL-2.0":    "the Mozilla Public License, version 2.0",
}

// licenseFileRE names the files that hold a module's license.
var licenseFileRE = regexp.MustCompile(`(?i)^(licen[cs]e|copying)(\.(txt|md))?$`)

// copyrightLineRE finds copyright statements in a license text (not the
// license's own words about "the above copyright notice", nor Apache's
// template "Copyright [yyyy] [name of copyright owner]").
var copyrightLineRE = regexp.MustCompile(`^\s*Copyright\s+(\([cC]\)|©|[0-9]|[A-Z])`)

// identify names a license by its text, in SPDX terms (Debian's "Expat" for
// the MIT license).
func identify(text string) (string, error) {
	t := strings.Join(strings.Fields(text), " ")
	switch {
	case strings.Contains(t, "Apache License") && strings.Contains(t, "Version 2.0"):
		return "Apache-2.0", nil
	case strings.Contains(t, "Mozilla Public License") && strings.Contains(t, "2.0"):
		return "MPL-2.0", nil
	case strings.Contains(t, "Permission is hereby granted, free of charge"):
		return "Expat", nil
	case strings.Contains(t, "Redistribution and use in source and binary forms"):
		if strings.Contains(t, "Neither the name") || strings.Contains(t, "names of its contributors may be used") {
			return "BSD-3-Clause", nil
		}
		return "BSD-2-Clause", nil
	case strings.Contains(t, "Permission to use, copy, modify, and/or distribute") ||
		strings.Contains(t, "Permission to use, copy, modify, and distribute this software for any purpose with or without fee"):
		return "ISC", nil
	}
	return "", errors.New("not a license this tool knows (Apache-2.0, MPL-2.0, Expat, BSD-2-Clause, BSD-3-Clause, ISC)")
}

// holders are the copyright statements of a license text, without the
// word Copyright and its sign.
func holders(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if !copyrightLineRE.MatchString(l) || strings.Contains(l, "[yyyy]") || strings.Contains(l, "{yyyy}") {
			continue
		}
		l = strings.TrimSpace(l)
		l = strings.TrimSpace(strings.TrimPrefix(l, "Copyright"))
		for _, sign := range []string{"(c)", "(C)", "©"} {
			l = strings.TrimSpace(strings.TrimPrefix(l, sign))
		}
		if l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// module is one module linked into the binaries.
type module struct {
	path, version string
	dir           string   // where its source is
	into          []string // the binaries it is linked into
}

// linkedModules reads the modules the binaries were built from, and the Go
// version, from their build information.
func linkedModules(binaries map[string]string, modCache string) (mods []*module, goVersion string, err error) {
	byPath := map[string]*module{}
	for _, name := range slices.Sorted(maps.Keys(binaries)) {
		bi, err := buildinfo.ReadFile(binaries[name])
		if err != nil {
			return nil, "", fmt.Errorf("%s: build information: %w", binaries[name], err)
		}
		if goVersion != "" && goVersion != bi.GoVersion {
			return nil, "", fmt.Errorf("%s was built with %s, the others with %s", name, bi.GoVersion, goVersion)
		}
		goVersion = bi.GoVersion
		for _, d := range bi.Deps {
			path, version := d.Path, d.Version
			dir := filepath.Join(modCache, escapePath(path)+"@"+version)
			if d.Replace != nil {
				path, version = d.Replace.Path, d.Replace.Version
				dir = filepath.Join(modCache, escapePath(path)+"@"+version)
				if version == "" { // a directory on disk
					dir = path
				}
			}
			m := byPath[path]
			if m == nil {
				m = &module{path: path, version: version, dir: dir}
				byPath[path] = m
				mods = append(mods, m)
			}
			m.into = append(m.into, name)
		}
	}
	slices.SortFunc(mods, func(a, b *module) int { return strings.Compare(a.path, b.path) })
	return mods, goVersion, nil
}

// escapePath is the module cache's spelling of a module path: an upper
// case letter becomes "!" and its lower case (golang.org/ref/mod#module-cache).
func escapePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// licenseText reads the license files of a directory.
func licenseText(dir string) (name, text string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", "", err
	}
	var texts []string
	for _, e := range entries {
		if e.Type().IsRegular() && licenseFileRE.MatchString(e.Name()) {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return "", "", err
			}
			texts = append(texts, strings.TrimSpace(strings.ReplaceAll(string(data), "\r\n", "\n")))
		}
	}
	if len(texts) == 0 {
		return "", "", fmt.Errorf("%s: no license file (LICENSE, COPYING)", dir)
	}
	text = strings.Join(texts, "\n\n")
	name, err = identify(text)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", dir, err)
	}
	return name, text, nil
}

// fieldText writes multi-line text as a field's continuation lines.
func fieldText(text string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		l = strings.TrimRightFunc(strings.ReplaceAll(l, "\t", "    "), unicode.IsSpace)
		if l == "" || l == "." {
			l = "."
		}
		b.WriteString("\n " + l)
	}
	return b.String()
}

// copyrightFile writes the package's copyright file.
func copyrightFile(top, contact string, binaries map[string]string, modCache, goRoot string) ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "Format: %s\nUpstream-Name: wackamole\nUpstream-Contact: %s\nSource: https://github.com/wackamole/wackamole\n", copyrightFormat, contact)
	fmt.Fprintf(&b, "Comment: The programs are written in Go, which links the Go modules they\n import into them: each is listed below by its module path, with the\n license it comes with.\n")

	common := map[string]bool{}
	paragraph := func(files, copyright, license, text, comment string) {
		first, more, _ := strings.Cut(copyright, "\n")
		fmt.Fprintf(&b, "\nFiles: %s\nCopyright: %s", files, first)
		if more != "" {
			b.WriteString(fieldText(more))
		}
		fmt.Fprintf(&b, "\nLicense: %s", license)
		if _, ok := commonLicenses[license]; ok {
			common[license] = true
		} else {
			b.WriteString(fieldText(text))
		}
		if comment != "" {
			fmt.Fprintf(&b, "\nComment:%s", fieldText(comment))
		}
		b.WriteString("\n")
	}
	owners := func(text, fallback string) string {
		if h := holders(text); len(h) > 0 {
			return strings.Join(h, "\n")
		}
		return fallback
	}

	name, text, err := licenseText(top)
	if err != nil {
		return nil, err
	}
	paragraph("*", owners(text, "The wackamole authors"), name, text, "")

	mods, goVersion, err := linkedModules(binaries, modCache)
	if err != nil {
		return nil, err
	}
	for _, m := range mods {
		name, text, err := licenseText(m.dir)
		if err != nil {
			return nil, fmt.Errorf("module %s %s: %w", m.path, m.version, err)
		}
		comment := fmt.Sprintf("Go module %s %s, linked into %s.", m.path, m.version, strings.Join(m.into, " and "))
		statements := text
		if notice, err := os.ReadFile(filepath.Join(m.dir, "NOTICE")); err == nil {
			// Apache-2.0 (4d): the NOTICE goes with the binaries.
			comment += "\nIts NOTICE file:\n\n" + strings.TrimSpace(string(notice))
			statements += "\n" + string(notice)
		}
		paragraph(m.path+"/*", owners(statements, "The "+m.path+" authors"), name, text, comment)
	}
	name, text, err = licenseText(goRoot)
	if err != nil {
		return nil, fmt.Errorf("the Go distribution: %w", err)
	}
	paragraph("go/src/*", owners(text, "The Go Authors"), name, text,
		fmt.Sprintf("The Go standard library and runtime, %s, linked into every Go program.", goVersion))

	for _, l := range slices.Sorted(maps.Keys(common)) {
		fmt.Fprintf(&b, "\nLicense: %s\n On Debian systems, the complete text of %s\n can be found in \"/usr/share/common-licenses/%s\".\n", l, commonLicenses[l], l)
	}
	return []byte(b.String()), nil
}
