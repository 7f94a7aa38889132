package config

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wackamole/wackamole/membership"
)

// manPage is wackamole.toml(5)'s source.
const manPage = "wackamole.toml.5.md"

// documentedKeys reads the man page's keys: each is a definition-list term
// "`key` = ..." followed by its ": text", under a "## [table]" (or "##
// [[table]]", or "## TOP-LEVEL KEYS") heading. It returns the text of
// each, by "table.key" ("key" at the top level).
func documentedKeys(t *testing.T) map[string]string {
	t.Helper()
	src, err := os.ReadFile(manPage)
	if err != nil {
		t.Fatal(err)
	}
	term := regexp.MustCompile("^`([a-z_]+)` = ")
	out := map[string]string{}
	section, inKeys := "", false
	lines := strings.Split(string(src), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if h, ok := strings.CutPrefix(l, "## "); ok {
			inKeys = true
			switch {
			case h == "TOP-LEVEL KEYS":
				section = ""
			case strings.HasPrefix(h, "["):
				section = strings.Trim(h, "[]")
			default:
				inKeys = false
			}
			continue
		}
		m := term.FindStringSubmatch(l)
		if m == nil || !inKeys || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], ": ") {
			continue
		}
		key := m[1]
		if section != "" {
			key = section + "." + key
		}
		if _, dup := out[key]; dup {
			t.Errorf("%s: %s is documented twice", manPage, key)
		}
		var text []string
		for j := i + 1; j < len(lines) && (strings.HasPrefix(lines[j], ": ") || strings.HasPrefix(lines[j], "  ")); j++ {
			text = append(text, strings.TrimSpace(strings.TrimPrefix(lines[j], ": ")))
		}
		out[key] = strings.Join(text, " ")
	}
	return out
}

// Every key the parser accepts is in wackamole.toml(5), in its table's
// section, and the page documents no key the parser does not accept.
func TestManPageDocumentsEveryKey(t *testing.T) {
	doc := documentedKeys(t)
	tables := map[string][]string{
		"membership": membershipKeys, "arp": arpKeys, "balance": balanceKeys, "damping": dampingKeys,
		"vip": vipKeys, "check": checkKeys, "hooks": hooksKeys,
		"bgp": bgpKeys, "bgp.peer": bgpPeerKeys,
	}
	var accepted []string
	var add func(prefix, k string)
	add = func(prefix, k string) {
		if sub, isTable := tables[prefix+k]; isTable {
			for _, s := range sub {
				add(prefix+k+".", s)
			}
			return
		}
		accepted = append(accepted, prefix+k)
	}
	for _, k := range topKeys {
		add("", k)
	}
	for _, k := range accepted {
		if _, ok := doc[k]; !ok {
			t.Errorf("%s: the parser accepts %s, the page does not document it", manPage, k)
		}
	}
	for k := range doc {
		if !slices.Contains(accepted, k) {
			t.Errorf("%s documents %s, which the parser does not accept", manPage, k)
		}
	}
	for name := range tables {
		if top, _, _ := strings.Cut(name, "."); !slices.Contains(topKeys, top) {
			t.Errorf("table %s is not a top-level key of the parser", name)
		}
	}
}

// The defaults the page states are the parser's.
func TestManPageDefaults(t *testing.T) {
	doc := documentedKeys(t)
	lan, err := membership.Profile(TimingLAN)
	if err != nil {
		t.Fatal(err)
	}
	fast, _ := membership.Profile(TimingFast)
	wan, _ := membership.Profile(TimingWAN)
	profile := func(f func(membership.Timing) time.Duration) string {
		return fmt.Sprintf("Profile: %s / %s / %s.", short(f(lan)), short(f(fast)), short(f(wan)))
	}
	for key, want := range map[string]string{
		"node_name":      "Default: the hostname.",
		"bind":           "Default: `" + strconv.Quote(DefaultBind) + "`.",
		"peers":          "Default: none",
		"insecure":       "Default: false.",
		"quorum":         "Default: 0.",
		"mature":         "Default: `" + strconv.Quote(short(DefaultMature)) + "`.",
		"interface":      "Default: `" + strconv.Quote(DefaultInterface) + "`.",
		"control_socket": "Default: `" + strconv.Quote(DefaultControlSocket) + "`",
		"control_group":  "Default: none",
		"metrics_listen": "Default: none",
		"timing":         "Default: `" + strconv.Quote(DefaultTiming) + "`.",
		"drain_timeout":  "Default: `" + strconv.Quote(short(DefaultDrainTimeout)) + "`.",

		"membership.heartbeat_interval": profile(func(t membership.Timing) time.Duration { return t.HeartbeatInterval }),
		"membership.failure_timeout":    profile(func(t membership.Timing) time.Duration { return t.FailureTimeout }),
		"membership.rejoin_interval":    profile(func(t membership.Timing) time.Duration { return t.RejoinInterval }),
		"membership.gossip_interval":    profile(func(t membership.Timing) time.Duration { return t.GossipInterval }),

		"arp.repeat":   fmt.Sprintf("Default: %d.", DefaultARPRepeat),
		"arp.interval": "Default: `" + strconv.Quote(short(DefaultARPInterval)) + "`.",
		"arp.refresh":  "Default: `" + strconv.Quote(short(DefaultARPRefresh)) + "`.",
		"arp.cache":    "Default: `" + strconv.Quote(short(DefaultARPCache)) + "`.",
		"arp.notify":   "Default: none.",

		"balance.max_moves": fmt.Sprintf("Default: %d.", DefaultMaxMoves),

		"vip.interface": "Default: the top-level **interface**.",
		"vip.prefer":    "Default: none.",

		"check.expect_status": fmt.Sprintf("Default: %d.", DefaultExpectStatus),
		"check.interval":      "Default: `" + strconv.Quote(short(DefaultCheckInterval)) + "`.",
		"check.timeout":       "Default: `" + strconv.Quote(short(DefaultCheckTimeout)) + "`.",
		"check.rise":          fmt.Sprintf("Default: %d.", DefaultRise),
		"check.fall":          fmt.Sprintf("Default: %d.", DefaultFall),

		"hooks.timeout": "Default: `" + strconv.Quote(short(DefaultHookTimeout)) + "`.",

		"mode":                      "Default: `\"l2\"`.",
		"bgp.announce":              "Default: `\"owner\"`.",
		"bgp.interface":             "Default: `\"lo\"`.",
		"bgp.peer.hold_time":        "Default: `\"9s\"`.",
		"bgp.peer.bfd":              "Default: false.",
		"bgp.peer.bfd_interval":     "Default: `\"100ms\"`.",
		"bgp.peer.bfd_multiplier":   fmt.Sprintf("Default: %d.", DefaultBFDMultiplier),
		"realtime":                  "Default: false.",
		"witness":                   "Default: false.",
		"tie_breaker":               "Default: none.",
		"realtime_priority":         fmt.Sprintf("Default: %d.", DefaultRealtimePriority),
		"lock_memory":               "Default: false.",
		"membership.heartbeat_port": "Default: 0.",
		"damping.penalty":           fmt.Sprintf("Default: %d.", DefaultDampingPenalty),
		"damping.suppress":          fmt.Sprintf("Default: %d.", DefaultDampingSuppress),
		"damping.reuse":             fmt.Sprintf("Default: %d.", DefaultDampingReuse),
		"damping.max_penalty":       fmt.Sprintf("Default: %d.", DefaultDampingMax),
		"damping.half_life":         "Default: `" + strconv.Quote(short(DefaultDampingHalfLife)) + "`.",
	} {
		text, ok := doc[key]
		if !ok {
			t.Errorf("%s is not documented", key)
			continue
		}
		if !strings.Contains(text, want) {
			t.Errorf("%s: %s says %q, want it to say %q", manPage, key, text, want)
		}
	}
}

// short writes a duration as the page does: "1100ms", "5s", "2m".
func short(d time.Duration) string {
	switch {
	case d%time.Minute == 0 && d >= time.Minute && d != time.Minute:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d%time.Second == 0:
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	return strconv.Itoa(int(d/time.Millisecond)) + "ms"
}
