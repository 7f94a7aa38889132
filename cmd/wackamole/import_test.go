package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// "wackamole import" prints a configuration that "wackamole check"
// accepts, given the key it names.
func TestImportThenCheck(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "gossip.key")
	var kb bytes.Buffer
	if code := run([]string{"keygen"}, &kb, &bytes.Buffer{}); code != 0 {
		t.Fatal("keygen failed")
	}
	if err := os.WriteFile(key, kb.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// Sources without hook or check programs, which would have to exist.
	ka := filepath.Join(dir, "keepalived.conf")
	os.WriteFile(ka, []byte("global_defs {\n router_id web1\n}\nvrrp_instance VI_1 {\n interface eth0\n unicast_src_ip 198.18.0.11\n unicast_peer {\n  198.18.0.12\n }\n virtual_ipaddress {\n  198.18.0.100/32\n }\n}\n"), 0o644)
	old := filepath.Join(dir, "wackamole.conf")
	os.WriteFile(old, []byte("Spread = 4803\nGroup = wack1\nMature = 5s\nVirtualInterfaces {\n { eth0:198.18.0.100/32 eth1:198.18.1.100/32 }\n}\n"), 0o644)
	for _, tt := range []struct{ format, file, want string }{
		{"keepalived", ka, `name = "VI_1"`},
		{"wackamole", old, `addresses = ["eth0:198.18.0.100/32", "eth1:198.18.1.100/32"]`},
	} {
		var out, errb bytes.Buffer
		if code := run([]string{"import", tt.format, "--key-file", key, tt.file}, &out, &errb); code != 0 {
			t.Fatalf("import %s: exit %d: %s", tt.format, code, errb.String())
		}
		if !strings.Contains(out.String(), tt.want) {
			t.Errorf("import %s: no %s in\n%s", tt.format, tt.want, out.String())
		}
		conf := filepath.Join(dir, tt.format+".toml")
		if err := os.WriteFile(conf, out.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		var cout, cerr bytes.Buffer
		if code := run([]string{"check", "-c", conf}, &cout, &cerr); code != 0 {
			t.Errorf("check of the %s import: exit %d: %s\n%s", tt.format, code, cerr.String(), out.String())
		}
	}
}

func TestImportCommandLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("vrrp_instance A {\n"), 0o644)
	for _, tt := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"import", "--help"}, 0, "wackamole import keepalived", ""},
		{[]string{"import"}, 2, "USAGE", ""},
		{[]string{"import", "vrrpd", bad}, 2, "", `"vrrpd" is not a format`},
		{[]string{"import", "keepalived"}, 2, "", "no FILE"},
		{[]string{"import", "keepalived", "--bogus", bad}, 2, "", "--help"},
		{[]string{"import", "keepalived", bad}, 2, "", "bad.conf:1: the block opened here is not closed"},
		{[]string{"import", "wackamole", filepath.Join(dir, "missing.conf")}, 2, "", "missing.conf"},
	} {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		if code != tt.code || !strings.Contains(out.String(), tt.out) || !strings.Contains(errb.String(), tt.err) {
			t.Errorf("wackamole %v: exit %d (want %d)\nstdout: %s\nstderr: %s", tt.args, code, tt.code, out.String(), errb.String())
		}
		if tt.code != 0 && tt.out == "" && out.Len() > 0 {
			t.Errorf("wackamole %v printed a configuration on failure: %s", tt.args, out.String())
		}
	}
}
