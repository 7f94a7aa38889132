package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("node_name = \"n1\"\nbind = \"198.18.0.11:7946\"\npeers = [\"198.18.0.11\"]\ninsecure = true\n[[vip]]\nname = \"a\"\naddresses = [\"198.18.0.100/32\"]\n"), 0o600)
	goodBGP := filepath.Join(dir, "bgp.toml")
	os.WriteFile(goodBGP, []byte("node_name = \"n1\"\nbind = \"198.18.0.11:7946\"\npeers = [\"198.18.0.11\"]\ninsecure = true\nmode = \"bgp\"\n[bgp]\nasn = 65101\n[[bgp.peer]]\naddress = \"198.18.0.1\"\nasn = 65000\nbfd = true\n[[vip]]\nname = \"a\"\naddresses = [\"198.18.0.100/32\"]\n"), 0o600)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("node_name = \"n1\"\nquorom = 2\n"), 0o600)
	tests := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"--help"}, 0, "USAGE", ""},
		{[]string{"help"}, 0, "SIGNALS", ""},
		{[]string{"--version"}, 0, "wackamole", ""},
		{[]string{"keygen"}, 0, "=", ""},
		{[]string{"check", "-c", good}, 0, "OK", ""},
		{[]string{"check", "-c", goodBGP}, 0, "OK", ""},
		{[]string{"check", "-c", bad}, 2, "", "bad.toml:2: quorom"},
		{[]string{"check", "-c", filepath.Join(dir, "missing.toml")}, 2, "", "missing.toml"},
		{[]string{"--bogus"}, 2, "", "--help"},
		{[]string{"check", "extra"}, 2, "", "unexpected argument"},
		{[]string{"check", "--log-level", "loud", "-c", good}, 2, "", "--log-level"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		if code != tt.code || !strings.Contains(out.String(), tt.out) || !strings.Contains(errb.String(), tt.err) {
			t.Errorf("wackamole %v: exit %d (want %d)\nstdout: %s\nstderr: %s", tt.args, code, tt.code, out.String(), errb.String())
		}
	}
}
