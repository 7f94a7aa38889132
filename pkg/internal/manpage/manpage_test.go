package manpage

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// top is the repository's top directory, where Page.Source starts.
const top = "../../.."

var date = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// Each page renders, and man(1) and groff(1) read it without a warning, as
// lintian does.
func TestPagesRenderWithoutWarnings(t *testing.T) {
	man, err := exec.LookPath("man")
	if err != nil {
		if os.Getenv("WACKAMOLE_E2E") == "1" {
			t.Fatalf("man(1) is needed (Debian package man-db): %v", err)
		}
		t.Skipf("man(1) not installed (Debian package man-db): %v", err)
	}
	dir := t.TempDir()
	for _, p := range Pages {
		src, err := os.ReadFile(filepath.Join(top, p.Source))
		if err != nil {
			t.Fatal(err)
		}
		roff, err := Render(p, src, date, "1.2.3-1")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(roff, []byte(`.TH `+strings.ToUpper(p.Name)+` `)) {
			t.Errorf("%s: no title line", p.Source)
		}
		if !bytes.Contains(roff, []byte(".SH NAME\n"+p.Name+` \- `)) {
			t.Errorf("%s: the NAME section is not \"%s \\- what it is\", which whatis needs", p.Source, p.Name)
		}
		file := filepath.Join(dir, p.FileName())
		if err := os.WriteFile(file, roff, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(man, "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", file)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "LC_ALL=C.UTF-8")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Errorf("man -l %s: %v\n%s", p.FileName(), err, stderr.String())
		}
		if len(out) < 1000 {
			t.Errorf("man -l %s: %d bytes of output", p.FileName(), len(out))
		}
		groff := exec.Command("groff", "-ww", "-z", "-t", "-man", file)
		if msg, err := groff.CombinedOutput(); err != nil || len(msg) > 0 {
			t.Errorf("groff -ww %s: %v\n%s", p.FileName(), err, msg)
		}
	}
}

func TestRenderWantsItsHeading(t *testing.T) {
	p := Page{Name: "x", Section: 1, Source: "x.1.md", Manual: "M"}
	if _, err := Render(p, []byte("# y(1)\n\n## NAME\n\nx - y\n"), date, "1"); err == nil {
		t.Error("a source headed for another page rendered")
	}
	if _, err := Render(p, []byte("# x(1)\n"), date, `1"`); err == nil {
		t.Error("a quote in the version rendered")
	}
}

func TestMinusSigns(t *testing.T) {
	in := ".TP\n\\fB--config\\fP \\fIFILE-NAME\\fP\nmake-before-break \\fB-c\\fR\n.EX\nwackamole -c x\n.EE\n.TH A-B\n"
	want := ".TP\n\\fB\\-\\-config\\fP \\fIFILE-NAME\\fP\nmake-before-break \\fB\\-c\\fR\n.EX\nwackamole \\-c x\n.EE\n.TH A-B\n"
	if got := string(minusSigns([]byte(in))); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
