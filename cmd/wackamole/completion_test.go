package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// complete runs the bash completion in script for the words typed so far
// (the last one being completed) and returns the candidates.
func complete(t *testing.T, script, fn string, words ...string) []string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
	}
	prog := `source "$1"; COMP_WORDS=(` + strings.Join(quoted, " ") + `); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); ` + fn + `; printf '%s\n' "${COMPREPLY[@]}"`
	out, err := exec.Command(bash, "-c", prog, "bash", script).Output()
	if err != nil {
		t.Fatalf("bash completion %v: %v", words, err)
	}
	return strings.Fields(string(out))
}

func TestBashCompletion(t *testing.T) {
	for _, tt := range []struct {
		words []string
		want  []string
	}{
		{[]string{"wackamole", ""}, []string{"run", "check", "cleanup", "keygen", "import"}},
		{[]string{"wackamole", "c"}, []string{"check", "cleanup"}},
		{[]string{"wackamole", "--log-level", ""}, []string{"debug", "info", "warn", "error"}},
		{[]string{"wackamole", "-c", "/x.toml", "ch"}, []string{"check"}},
		{[]string{"wackamole", "import", ""}, []string{"keepalived", "wackamole", "--help"}},
		{[]string{"wackamole", "import", "keepalived", "--"}, []string{"--node", "--key-file"}},
		{[]string{"wackamole", "check", "--c"}, []string{"--config"}},
	} {
		if got := complete(t, "completion.bash", "_wackamole", tt.words...); !slices.Equal(got, tt.want) {
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
