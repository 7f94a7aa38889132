package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// top is the repository's top directory.
const top = "../../../.."

func TestIdentifyLicenses(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"Apache License\n Version 2.0, January 2004\n", "Apache-2.0"},
		{"Mozilla Public License, version 2.0\n", "MPL-2.0"},
		{"Copyright (c) 2015 A\n\nPermission is hereby granted, free of charge, to any person", "Expat"},
		{"Redistribution and use in source and binary forms, with or without\nmodification... Neither the name of X", "BSD-3-Clause"},
		{"Redistribution and use in source and binary forms, with or without modification", "BSD-2-Clause"},
		{"Permission to use, copy, modify, and/or distribute this software", "ISC"},
	} {
		if got, err := identify(tt.text); err != nil || got != tt.want {
			t.Errorf("identify(%.40q) = %q, %v; want %q", tt.text, got, err, tt.want)
		}
	}
	if _, err := identify("All rights reserved. Do not copy."); err == nil {
		t.Error("an unknown license was identified")
	}
}

func TestHolders(t *testing.T) {
	text := "MIT License\n\nCopyright (c) 2013 TOML authors\nCopyright © 2014 B\n\nThe above copyright notice and this permission notice\n   Copyright [yyyy] [name of copyright owner]\nCopyright IBM Corp. 2013, 2026\n"
	want := []string{"2013 TOML authors", "2014 B", "IBM Corp. 2013, 2026"}
	if got := holders(text); !slices.Equal(got, want) {
		t.Errorf("holders = %q, want %q", got, want)
	}
}

func TestEscapePath(t *testing.T) {
	if got := escapePath("github.com/BurntSushi/toml"); got != "github.com/!burnt!sushi/toml" {
		t.Errorf("escapePath = %q", got)
	}
}

func TestPackagedUnit(t *testing.T) {
	example, err := os.ReadFile(filepath.Join(top, "examples/wackamole.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit, err := packagedUnit(example)
	if err != nil {
		t.Fatal(err)
	}
	u := string(unit)
	for _, want := range []string{
		"# /lib/systemd/system/wackamole.service:",
		"systemctl enable --now wackamole",
		"ExecStartPre=/usr/sbin/wackamole check -c /etc/wackamole/wackamole.toml\n",
		"ExecStart=/usr/sbin/wackamole -c /etc/wackamole/wackamole.toml\n",
		"ExecStopPost=-/usr/sbin/wackamole cleanup -c /etc/wackamole/wackamole.toml\n",
		"Type=notify\n", "NotifyAccess=main\n", "WatchdogSec=30s\n",
	} {
		if !strings.Contains(u, want) {
			t.Errorf("the packaged unit has no %q", want)
		}
	}
	if strings.Contains(u, "/usr/local") || strings.Contains(u, "useradd") {
		t.Errorf("the packaged unit still tells how to install by hand:\n%s", u)
	}
	// Every directive of the example is in the package's, but for paths.
	directives := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				out = append(out, strings.ReplaceAll(l, "/usr/local/sbin/", "/usr/sbin/"))
			}
		}
		return out
	}
	if !slices.Equal(directives(string(example)), directives(u)) {
		t.Error("the packaged unit's directives differ from the example's")
	}
	if _, err := packagedUnit([]byte("[Service]\nExecStart=/usr/local/sbin/wackamole\n")); err == nil {
		t.Error("a unit without the install comment was accepted")
	}
}

func TestChangelog(t *testing.T) {
	c := commit{describe: "v1.0-2-gabc1234", hash: "abc1234def", subject: "agent: a subject\tthat is long enough to be wrapped over more than one line of the entry",
		date: time.Date(2026, 11, 26, 5, 14, 41, 0, time.UTC)}
	got := string(changelog("wackamole", "1.0+git20261126.2.abc1234-1", "A B <a@b.example>", c))
	for _, want := range []string{
		"wackamole (1.0+git20261126.2.abc1234-1) unstable; urgency=medium\n\n  * ",
		"\n -- A B <a@b.example>  Thu, 26 Nov 2026 05:14:41 +0000\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("changelog has no %q:\n%s", want, got)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if len(l) > 80 || strings.Contains(l, "\t") {
			t.Errorf("line %q: too long or with a tab", l)
		}
	}
}

// A package built from stand-in programs has
// every file where it belongs, the conffile, the maintainer scripts and
// the control fields; built twice, it is the same bytes.
func TestBuildPackage(t *testing.T) {
	for _, tool := range []string{"dpkg-deb", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	// wackatrl stands in for the three programs: a Go binary with modules,
	// smaller than the daemon (the test compresses it twice).
	bin := t.TempDir()
	gobuild := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(bin, "wackatrl"), "github.com/wackamole/wackamole/cmd/wackatrl")
	if b, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	data, err := os.ReadFile(filepath.Join(bin, "wackatrl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"wackamole", "wackamole-bgp"} {
		if err := os.WriteFile(filepath.Join(bin, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c, err := gitCommit(top)
	if err != nil {
		t.Fatal(err)
	}
	modCache, err := goEnv("GOMODCACHE")
	if err != nil {
		t.Fatal(err)
	}
	goRoot, err := goEnv("GOROOT")
	if err != nil {
		t.Fatal(err)
	}
	o := options{top: top, bin: bin, version: "1.2.3~test-1", arch: "amd64", maintainer: "T <t@example.org>",
		modCache: modCache, goRoot: goRoot, commit: c, compression: "gzip:1"}
	var debs [][]byte
	var path string
	for range 2 {
		o.out = t.TempDir()
		if path, err = build(o); err != nil {
			t.Fatal(err)
		}
		if filepath.Base(path) != "wackamole_1.2.3~test-1_amd64.deb" {
			t.Errorf("file name %s", filepath.Base(path))
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		debs = append(debs, b)
	}
	if !bytes.Equal(debs[0], debs[1]) {
		t.Error("two builds of the same inputs differ")
	}
	out := func(args ...string) string {
		t.Helper()
		b, err := exec.Command("dpkg-deb", args...).Output()
		if err != nil {
			t.Fatalf("dpkg-deb %v: %v", args, err)
		}
		return string(b)
	}
	control := out("-f", path)
	for _, want := range []string{"Package: wackamole\n", "Version: 1.2.3~test-1\n", "Architecture: amd64\n",
		"Depends: adduser\n", "Section: net\n", "Maintainer: T <t@example.org>\n"} {
		if !strings.Contains(control, want) {
			t.Errorf("control has no %q:\n%s", want, control)
		}
	}
	list := out("-c", path)
	for _, want := range []string{
		"-rwxr-xr-x root/root", "./usr/sbin/wackamole\n", "./usr/bin/wackatrl\n", "./usr/lib/wackamole/wackamole-bgp\n",
		"./lib/systemd/system/wackamole.service\n", "./etc/wackamole/wackamole.toml\n",
		"./usr/share/man/man8/wackamole.8.gz\n", "./usr/share/man/man8/wackatrl.8.gz\n", "./usr/share/man/man5/wackamole.toml.5.gz\n",
		"./usr/share/bash-completion/completions/wackamole\n", "./usr/share/zsh/vendor-completions/_wackatrl\n",
		"./usr/share/doc/wackamole/copyright\n", "./usr/share/doc/wackamole/changelog.Debian.gz\n",
		"./usr/share/lintian/overrides/wackamole\n", "./usr/share/doc/wackamole/examples/grafana-dashboard.json.gz\n",
		"./usr/share/doc/wackamole/examples/realtime.conf\n",
	} {
		if !strings.Contains(list, want) {
			t.Errorf("the package has no %q", strings.TrimSpace(want))
		}
	}
	ctl := t.TempDir()
	if b, err := exec.Command("dpkg-deb", "-e", path, ctl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, b)
	}
	conffiles, err := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if err != nil || string(conffiles) != "/etc/wackamole/wackamole.toml\n" {
		t.Errorf("conffiles %q, %v", conffiles, err)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		st, err := os.Stat(filepath.Join(ctl, s))
		if err != nil || st.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if b, err := exec.Command("sh", "-n", filepath.Join(ctl, s)).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", s, err, b)
		}
	}
	copyright := out("--fsys-tarfile", path)
	if !strings.Contains(copyright, "Format: "+copyrightFormat) || !strings.Contains(copyright, "Files: github.com/BurntSushi/toml/*") {
		t.Error("the copyright file is not in the machine-readable format, or misses the stand-in's modules")
	}
}
