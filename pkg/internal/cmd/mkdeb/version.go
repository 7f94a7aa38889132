package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Debian versions (deb-version(7)): [epoch:]upstream[-revision], the
// upstream part starting with a digit and made of alphanumerics and
// ".+~-"; "~" sorts before anything, even the end, so "1.0~rc1" comes
// before "1.0".
var debVersionRE = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*(-[A-Za-z0-9.+~]+)?-[A-Za-z0-9.+~]+$`)

var (
	describeExact = regexp.MustCompile(`^v?([0-9][A-Za-z0-9.]*)(-[A-Za-z0-9.]+)?$`)
	describeAfter = regexp.MustCompile(`^v?([0-9][A-Za-z0-9.]*)(-[A-Za-z0-9.]+)?-([0-9]+)-g([0-9a-f]{4,40})$`)
	describeBare  = regexp.MustCompile(`^[0-9a-f]{7,40}$`)
)

// debianRevision is the packaging revision: the package is made from
// the repository alone, once per upstream version.
const debianRevision = "1"

// debVersion turns the output of "git describe --tags --always --dirty"
// and the commit's date into a Debian version that sorts like the
// history:
//
//	v1.2.3                    1.2.3-1
//	v1.2.3-rc1                1.2.3~rc1-1
//	v1.2.3-4-gabc1234         1.2.3+git20261126.4.abc1234-1
//	abc1234 (no tag yet)      0.0~git20261126.abc1234-1
//	any of them -dirty        ...+dirty-1
func debVersion(describe string, date time.Time) (string, error) {
	d := strings.TrimSpace(describe)
	d, dirty := strings.CutSuffix(d, "-dirty")
	day := date.UTC().Format("20060102")
	var up string
	switch {
	case describeAfter.MatchString(d):
		m := describeAfter.FindStringSubmatch(d)
		up = m[1] + pre(m[2]) + "+git" + day + "." + m[3] + "." + m[4]
	case describeBare.MatchString(d):
		// Before tags: an abbreviated hash may start with a digit.
		up = "0.0~git" + day + "." + d
	case describeExact.MatchString(d):
		m := describeExact.FindStringSubmatch(d)
		up = m[1] + pre(m[2])
	default:
		return "", fmt.Errorf("git describe said %q: want a tag like v1.2.3, optionally -N-gHASH after it, or a bare commit hash", describe)
	}
	if dirty {
		up += "+dirty"
	}
	v := up + "-" + debianRevision
	if !debVersionRE.MatchString(v) {
		return "", fmt.Errorf("%q (from git describe %q) is not a Debian version", v, describe)
	}
	return v, nil
}

// pre turns a tag's "-rc1" into "~rc1", which sorts before the release.
func pre(s string) string {
	if s == "" {
		return ""
	}
	return "~" + strings.TrimPrefix(s, "-")
}

// commit is what the package says about the commit it was made from.
type commit struct {
	describe string
	hash     string
	subject  string
	date     time.Time
	author   string // "Name <address>"
}

// gitCommit reads HEAD's description in the repository at top.
func gitCommit(top string) (commit, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", append([]string{"-C", top}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
			}
			return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	var c commit
	var err error
	if c.describe, err = git("describe", "--tags", "--always", "--dirty"); err != nil {
		return c, err
	}
	log, err := git("log", "-1", "--format=%H%x00%ct%x00%an <%ae>%x00%s")
	if err != nil {
		return c, err
	}
	f := strings.Split(log, "\x00")
	if len(f) != 4 {
		return c, fmt.Errorf("git log: unexpected output %q", log)
	}
	secs, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return c, fmt.Errorf("git log: commit time %q: %w", f[1], err)
	}
	c.hash, c.date, c.author, c.subject = f[0], time.Unix(secs, 0).UTC(), f[2], f[3]
	return c, nil
}
