package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestDispatch(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings
		stderr   []string
		noStdout bool
	}{
		{name: "no arguments", args: nil, code: exitUsage, stderr: []string{"usage:", "wackalab demo [-keep]"}, noStdout: true},
		{name: "--help", args: []string{"--help"}, code: exitOK, stdout: []string{"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "SEE ALSO", "    demo "}},
		{name: "-h", args: []string{"-h"}, code: exitOK, stdout: []string{"WACKALAB(8)"}},
		{name: "help", args: []string{"help"}, code: exitOK, stdout: []string{"WACKALAB(8)"}},
		{name: "help demo", args: []string{"help", "demo"}, code: exitOK, stdout: []string{"WACKALAB-DEMO(8)", "wackalab demo [-keep]", "OPTIONS", "-timing lan|fast"}},
		{name: "demo --help", args: []string{"demo", "--help"}, code: exitOK, stdout: []string{"WACKALAB-DEMO(8)"}},
		{name: "demo -keep -h", args: []string{"demo", "-keep", "-h"}, code: exitOK, stdout: []string{"WACKALAB-DEMO(8)"}},
		{name: "help unknown", args: []string{"help", "nope"}, code: exitUsage, stderr: []string{`unknown command "nope"`}, noStdout: true},
		{name: "unknown command", args: []string{"nope"}, code: exitUsage, stderr: []string{`unknown command "nope"`, "--help"}, noStdout: true},
		{name: "demo bad flag", args: []string{"demo", "-bogus"}, code: exitUsage, stderr: []string{"-bogus"}, noStdout: true},
		{name: "demo bad timing", args: []string{"demo", "-timing", "wan"}, code: exitUsage, stderr: []string{`-timing "wan"`}, noStdout: true},
		{name: "demo extra argument", args: []string{"demo", "now"}, code: exitUsage, stderr: []string{`unexpected argument "now"`}, noStdout: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, &stdout, &stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, &stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, &stderr)
				}
			}
			if tt.noStdout && stdout.Len() > 0 {
				t.Errorf("unexpected stdout: %s", &stdout)
			}
		})
	}
}

// Every registered command appears in the manual and has a manual of its
// own.
func TestEveryCommandDocumented(t *testing.T) {
	m := manual()
	for name, c := range commands {
		if c.Summary == "" || c.Args == "" || c.Help == "" {
			t.Errorf("%s: summary, args and help are required", name)
		}
		if !strings.Contains(m, "wackalab "+name+" ") {
			t.Errorf("the manual does not list %s", name)
		}
		if cm := commandManual(c); !strings.Contains(cm, "DESCRIPTION") {
			t.Errorf("%s's manual has no DESCRIPTION:\n%s", name, cm)
		}
	}
}

func TestRegisterRefusesDuplicates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering demo twice did not panic")
		}
	}()
	register(&command{Name: "demo", Run: func([]string, io.Writer, io.Writer) int { return 0 }})
}

func TestIndent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"\n\n", ""},
		{"a", "  a\n"},
		{"a\nb\n", "  a\n  b\n"},
		{"a\n\nb", "  a\n  \n  b\n"},
	}
	for _, tt := range tests {
		if got := indent(tt.in, "  "); got != tt.want {
			t.Errorf("indent(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
