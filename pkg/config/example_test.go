package config_test

import (
	"errors"
	"fmt"

	"github.com/wackamole/wackamole/pkg/config"
)

// Load a configuration and print every problem, one per line, as
// "wackamole check" does.
func ExampleLoad() {
	c, err := config.Load("testdata/invalid.toml")
	var errs config.Errors
	switch {
	case errors.As(err, &errs):
		for _, e := range errs {
			fmt.Println(e)
		}
		// The parts are there for tools:
		fmt.Printf("first problem: line %d, key %s\n", errs[0].Line, errs[0].Key)
	case err != nil:
		fmt.Println("cannot read the file:", err)
	default:
		fmt.Println("ok:", len(c.VIPs), "VIPs, fingerprint", c.Fingerprint())
	}
	// Output:
	// testdata/invalid.toml:6: quorom: unknown key (did you mean "quorum"?)
	// testdata/invalid.toml:7: quorum: 5 is more than the 3 configured peers: the group could never reach it
	// testdata/invalid.toml:8: mature: "5" is not a duration (write e.g. "5s", "1100ms" or "1m30s")
	// testdata/invalid.toml:9: timing: "slow" is not a timing profile: want "lan", "fast" or "wan"
	// testdata/invalid.toml:12: arp.repeat: 0: at least one announcement is needed
	// testdata/invalid.toml:16: vip[0].addresses[1]: "198.18.0.300/32" is not a valid prefix
	// testdata/invalid.toml:19: vip[1].name: duplicate VIP name "www-1" (first used by vip[0].name at line 15)
	// testdata/invalid.toml:20: vip[1].addresses[0]: address 198.18.1.10 is already used by vip[0].addresses[0] at line 16
	// first problem: line 6, key quorom
}

// Parse a configuration held in memory.
func ExampleParse() {
	c, err := config.Parse("inline.toml", []byte(`
node_name = "web1"
bind = "198.18.0.11"
peers = ["198.18.0.11", "198.18.0.12", "198.18.0.13"]
insecure = true

[[vip]]
name = "www-2"
addresses = ["198.18.1.20/32", "eth1:2001:db8::20/128"]

[[vip]]
name = "www-1"
addresses = ["198.18.1.10/32"]
prefer = ["web1"]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("advertise:", c.Advertise, "quorum:", c.QuorumNeeded())
	for _, v := range c.VIPs {
		for _, a := range v.Addresses {
			fmt.Println(v.Name, a.Interface, a.Prefix)
		}
	}
	// Output:
	// advertise: 198.18.0.11:7946 quorum: 2
	// www-1 eth0 198.18.1.10/32
	// www-2 eth0 198.18.1.20/32
	// www-2 eth1 2001:db8::20/128
}
