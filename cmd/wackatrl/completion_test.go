package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	for _, tt := range []struct {
		words []string
		want  []string
	}{
		{[]string{"wackatrl", ""}, []string{"status", "members", "vips", "drain", "undrain", "reload"}},
		{[]string{"wackatrl", "-s", "/run/x.sock", "d"}, []string{"drain"}},
		{[]string{"wackatrl", "drain", "--t"}, []string{"--timeout"}},
		{[]string{"wackatrl", "status", "--t"}, nil},
		{[]string{"wackatrl", "status", ""}, nil},
	} {
		var quoted []string
		for _, w := range tt.words {
			quoted = append(quoted, "'"+w+"'")
		}
		prog := `source completion.bash; COMP_WORDS=(` + strings.Join(quoted, " ") + `); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _wackatrl; printf '%s\n' "${COMPREPLY[@]}"`
		out, err := exec.Command(bash, "-c", prog).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Fields(string(out)); !slices.Equal(got, tt.want) {
			t.Errorf("%q: got %q, want %q", tt.words, got, tt.want)
		}
	}
}

func TestZshCompletionSyntax(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		if os.Getenv("WACKAMOLE_E2E") == "1" {
			t.Fatal("zsh is not installed (make deps installs it)")
		}
		t.Skip("zsh is not installed (make deps installs it)")
	}
	if out, err := exec.Command(zsh, "-n", "completion.zsh").CombinedOutput(); err != nil {
		t.Errorf("zsh -n: %v\n%s", err, out)
	}
}
