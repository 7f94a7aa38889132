package daemon

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/wackamole/wackamole/membership"
	"github.com/wackamole/wackamole/pkg/config"
)

func TestMembershipConfig(t *testing.T) {
	c, err := config.Parse("t.toml", []byte(`
node_name = "n1"
bind = "198.18.0.11:7946"
peers = ["198.18.0.11", "198.18.0.12"]
insecure = true
timing = "fast"
[membership]
failure_timeout = "300ms"
[[vip]]
name = "a"
addresses = ["198.18.0.100/32", "eth1:2001:2::100/128"]
`))
	if err != nil {
		t.Fatal(err)
	}
	mc, err := MembershipConfig(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if mc.Name != "n1" || mc.Bind != netip.MustParseAddrPort("198.18.0.11:7946") || mc.Key != nil {
		t.Errorf("identity: %+v", mc)
	}
	if mc.Timing.FailureTimeout != 300*time.Millisecond || mc.Timing.HeartbeatInterval != membership.Fast().HeartbeatInterval {
		t.Errorf("timing: fast profile with an override, got %+v", mc.Timing)
	}
	if len(mc.Exclude) != 2 {
		t.Errorf("the VIPs must never be advertised: exclude %v", mc.Exclude)
	}
}

func TestSameChecksIgnoresLines(t *testing.T) {
	a := []config.Check{{Name: "web", Kind: "http", URL: "http://127.0.0.1/", Interval: time.Second, Line: 3}}
	b := []config.Check{{Name: "web", Kind: "http", URL: "http://127.0.0.1/", Interval: time.Second, Line: 9}}
	if !sameChecks(a, b) {
		t.Error("checks that only moved in the file differ")
	}
	b[0].Interval = 2 * time.Second
	if sameChecks(a, b) {
		t.Error("a changed interval is the same check")
	}
	if !sameChecks(nil, nil) || sameChecks(a, nil) {
		t.Error("empty lists")
	}
}

func TestKeysEqual(t *testing.T) {
	k1, k2 := []byte("0123456789abcdef"), []byte("fedcba9876543210")
	a := &config.Config{SecretKey: k1}
	if !keysEqual(a, &config.Config{SecretKey: k1}) {
		t.Error("same key")
	}
	if keysEqual(a, &config.Config{SecretKey: k1, SecondaryKeys: [][]byte{k2}}) {
		t.Error("an added secondary key is no change")
	}
	if keysEqual(a, &config.Config{SecretKey: k2}) {
		t.Error("a new primary is no change")
	}
}
