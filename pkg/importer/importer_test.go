package importer

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wackamole/wackamole/pkg/config"
)

// loaded is an import that went through pkg/config's loader, as "wackamole
// check" does.
type loaded struct {
	text string
	cfg  *config.Config
}

// programRE finds the programs an output runs (hooks, exec checks): they
// must exist for the loader to accept it.
var programRE = regexp.MustCompile(`(?m)^(?:on_acquire|on_release|on_conflict) = "([^"]+)"|^command = \["([^"]+)"`)

// roundTrip writes out as a wackamole.toml beside a fresh gossip key and
// loads it with config.Load. The programs it names that do not exist here
// (the source's scripts) are made, as empty executables, under a
// temporary root, and the output pointed at them: everything else is
// loaded as imported.
func roundTrip(t *testing.T, out []byte) loaded {
	t.Helper()
	dir := t.TempDir()
	text := string(out)
	key, err := config.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "gossip.key")
	if err := os.WriteFile(keyPath, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text = strings.ReplaceAll(text, tomlString(DefaultKeyFile), tomlString(keyPath))
	root := filepath.Join(dir, "root")
	for _, m := range programRE.FindAllStringSubmatch(text, -1) {
		prog := m[1] + m[2]
		if _, err := os.Stat(prog); err == nil {
			continue
		}
		fake := filepath.Join(root, prog)
		if err := os.MkdirAll(filepath.Dir(fake), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fake, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		text = strings.ReplaceAll(text, `"`+prog+`"`, `"`+fake+`"`)
	}
	path := filepath.Join(dir, "wackamole.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatalf("the import does not load: %v\n%s", err, out)
	}
	return loaded{text: string(out), cfg: c}
}

func (l loaded) vip(t *testing.T, name string) config.VIP {
	t.Helper()
	for _, v := range l.cfg.VIPs {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no VIP %s in\n%s", name, l.text)
	return config.VIP{}
}

func addrs(v config.VIP) []string {
	var out []string
	for _, a := range v.Addresses {
		out = append(out, a.Interface+":"+a.Prefix.String())
	}
	slices.Sort(out)
	return out
}

// noted reports whether the output's heading lists a note naming file and
// line (0: the file as a whole) with the text.
func (l loaded) noted(file string, line int, text string) bool {
	where := file + ": "
	if line > 0 {
		where = file + ":" + strconv.Itoa(line) + ": "
	}
	for _, ln := range strings.Split(l.text, "\n") {
		if strings.HasPrefix(ln, "#   "+where) && strings.Contains(ln, text) {
			return true
		}
	}
	return false
}
