package main

import (
	"fmt"
	"strings"
)

// packagedUnit turns examples/wackamole.service, written for binaries
// installed by hand in /usr/local, into the package's unit: the programs
// are in /usr/sbin, and the comment on how to install it by hand gives way
// to one on how to enable the packaged service.
func packagedUnit(example []byte) ([]byte, error) {
	lines := strings.SplitAfter(string(example), "\n")
	var out strings.Builder
	skipping, replaced := false, false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "# /etc/systemd/system/wackamole.service"):
			l = strings.Replace(l, "/etc/systemd/system/", "/lib/systemd/system/", 1)
		case strings.HasPrefix(l, "# Install"):
			skipping, replaced = true, true
			out.WriteString("# Installed by the wackamole package, disabled: configure the node in\n" +
				"# /etc/wackamole/wackamole.toml (see wackamole.toml(5)), put the group's\n" +
				"# key in /etc/wackamole/gossip.key, then\n" +
				"#   systemctl enable --now wackamole\n")
			continue
		case skipping && strings.TrimSpace(l) == "#":
			skipping = false
		case skipping:
			continue
		}
		out.WriteString(strings.ReplaceAll(l, "/usr/local/sbin/", "/usr/sbin/"))
	}
	unit := out.String()
	if !replaced {
		return nil, fmt.Errorf("the example unit has no \"# Install\" comment to replace")
	}
	if strings.Contains(unit, "/usr/local") {
		return nil, fmt.Errorf("the packaged unit still names /usr/local")
	}
	for _, want := range []string{"Type=notify\n", "ExecStart=/usr/sbin/wackamole ", "ExecStopPost=-/usr/sbin/wackamole cleanup", "WatchdogSec="} {
		if !strings.Contains(unit, want) {
			return nil, fmt.Errorf("the packaged unit has no %q", strings.TrimSpace(want))
		}
	}
	return []byte(unit), nil
}
