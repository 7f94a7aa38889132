package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Load reads the configuration file at path and parses it with Parse.
//
// A file that cannot be read gives a plain error; a file with problems
// gives Errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses data, the content of the file named path (used in messages
// and to resolve a relative secret_key_file), applies defaults and
// validates the result. On any problem it returns a nil Config and an
// Errors value listing every problem found, each with file, line and key.
//
// Besides data, Parse reads only four things: the secret_key_file (unless
// insecure = true; the file must be a regular file that other users cannot
// access, holding the base64 of 16, 24 or 32 bytes), the BGP peers'
// password_files (under the same rules), when node_name is absent, the
// hostname, and the metadata of the hook programs and of the exec checks'
// programs (each must be an executable regular file that not every user
// may write). It is otherwise deterministic.
//
// The returned VIPs are ordered by name, which the allocator relies on.
func Parse(path string, data []byte) (*Config, error) {
	return parse(path, data, sources{readKey: readKeyFile, hostname: os.Hostname, executable: checkExecutable})
}

// sources are Parse's inputs other than the file, replaceable in tests.
type sources struct {
	// readKey reads a secret: the gossip key file, BGP password files.
	readKey  func(name string) ([]byte, error)
	hostname func() (string, error)
	// executable checks a program to run; nil skips the check.
	executable func(name string) error
}

func parse(file string, data []byte, src sources) (*Config, error) {
	raw, err := decodeTOML(data)
	if err != nil {
		return nil, Errors{syntaxError(file, err)}
	}
	lines := keyLines(string(data))
	r := &reporter{file: file, line: func(p path) int {
		for n := len(p); n > 0; n-- {
			if l, ok := lines[p[:n].String()]; ok {
				return l
			}
		}
		return 0
	}}
	d := &decoder{r: r}
	c := d.config(raw, file)
	d.nodeName(c, raw, src.hostname)
	d.secretKey(c, file, src.readKey)
	d.bgpPasswords(c, file, src.readKey)
	check(r, c)
	d.executables(c, src.executable)
	if err := r.err(); err != nil {
		return nil, err
	}
	slices.SortFunc(c.VIPs, func(a, b VIP) int { return strings.Compare(a.Name, b.Name) })
	return c, nil
}

// decodeTOML decodes data into generic values: decoding into the Config
// types would stop at the first type error and match keys without regard
// to case, while this way every key is seen and every problem reported.
func decodeTOML(data []byte) (raw map[string]any, err error) {
	defer func() {
		// The library panics on its own bugs; a configuration file must
		// never crash the daemon.
		if p := recover(); p != nil {
			raw, err = nil, fmt.Errorf("TOML parser failed: %v", p)
		}
	}()
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

func syntaxError(file string, err error) *Error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{File: file, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
	}
	return &Error{File: file, Msg: err.Error()}
}

// The keys of each table.
var (
	topKeys = []string{
		"node_name", "bind", "advertise", "peers", "secret_key_file", "insecure",
		"quorum", "mature", "interface", "control_socket", "control_group",
		"metrics_listen", "timing", "drain_timeout", "mode",
		"realtime", "realtime_priority", "lock_memory", "witness", "tie_breaker",
		"membership", "arp", "balance", "damping", "vip", "check", "hooks", "bgp",
	}
	membershipKeys = []string{"heartbeat_interval", "failure_timeout", "rejoin_interval", "gossip_interval", "heartbeat_port"}
	arpKeys        = []string{"repeat", "interval", "refresh", "cache", "notify"}
	balanceKeys    = []string{"max_moves"}
	dampingKeys    = []string{"penalty", "suppress", "reuse", "max_penalty", "half_life"}
	vipKeys        = []string{"name", "addresses", "prefer", "interface"}
)

// decoder turns the generic values into a Config, reporting keys that are
// unknown or have the wrong type or syntax. Constraints between values are
// check's job. A value with a problem is left at its default or, in a
// list, kept as a placeholder so that counts stay right; check skips it.
type decoder struct {
	r *reporter
}

func (d *decoder) config(t map[string]any, file string) *Config {
	c := &Config{
		Path:          file,
		Bind:          DefaultBind,
		Mature:        DefaultMature,
		Interface:     DefaultInterface,
		ControlSocket: DefaultControlSocket,
		Timing:        DefaultTiming,
		DrainTimeout:  DefaultDrainTimeout,
		ARP: ARP{
			Repeat:   DefaultARPRepeat,
			Interval: DefaultARPInterval,
			Refresh:  DefaultARPRefresh,
			Cache:    DefaultARPCache,
		},
		Balance: Balance{MaxMoves: DefaultMaxMoves},
		Damping: Damping{
			Penalty:  DefaultDampingPenalty,
			Suppress: DefaultDampingSuppress,
			Reuse:    DefaultDampingReuse,
			Max:      DefaultDampingMax,
			HalfLife: DefaultDampingHalfLife,
		},
		RealtimePriority: DefaultRealtimePriority,
		Hooks:            Hooks{Timeout: DefaultHookTimeout},
		Mode:             DefaultMode,
	}
	var root path
	d.unknown(t, root, topKeys)

	bindPort := DefaultPort
	bindSpecific := false
	if s, ok := d.str(t, root, "bind"); ok {
		if hp, err := parseHostPort(s, hostBind, DefaultPort); err != nil {
			d.r.add(root.key("bind"), err.Error())
		} else {
			c.Bind, bindPort = hp.String(), hp.port
			bindSpecific = !hp.addr.IsUnspecified()
		}
	}
	if s, ok := d.str(t, root, "advertise"); ok {
		if hp, err := parseHostPort(s, hostAdvertise, bindPort); err != nil {
			d.r.add(root.key("advertise"), err.Error())
		} else {
			c.Advertise = hp.String()
		}
	} else if bindSpecific {
		c.Advertise = c.Bind
	}
	if list, ok := d.strs(t, root, "peers"); ok {
		c.Peers = make([]string, len(list))
		for i, s := range list {
			c.Peers[i] = s // placeholder if it does not parse
			if d.r.isBad(root.key("peers").index(i)) {
				continue
			}
			if hp, err := parseHostPort(s, hostPeer, DefaultPort); err != nil {
				d.r.add(root.key("peers").index(i), err.Error())
			} else {
				c.Peers[i] = hp.String()
			}
		}
	}
	c.SecretKeyFile, _ = d.str(t, root, "secret_key_file")
	d.boolean(t, root, "insecure", &c.Insecure)
	d.integer(t, root, "quorum", &c.Quorum)
	d.duration(t, root, "mature", &c.Mature)
	d.strInto(t, root, "interface", &c.Interface)
	d.strInto(t, root, "control_socket", &c.ControlSocket)
	d.strInto(t, root, "control_group", &c.ControlGroup)
	d.strInto(t, root, "metrics_listen", &c.MetricsListen)
	d.strInto(t, root, "timing", &c.Timing)
	d.duration(t, root, "drain_timeout", &c.DrainTimeout)
	d.boolean(t, root, "realtime", &c.Realtime)
	d.integer(t, root, "realtime_priority", &c.RealtimePriority)
	d.boolean(t, root, "lock_memory", &c.LockMemory)
	d.boolean(t, root, "witness", &c.Witness)
	if list, ok := d.strs(t, root, "tie_breaker"); ok {
		c.TieBreaker = make([]netip.Addr, len(list))
		for i, s := range list {
			p := root.key("tie_breaker").index(i)
			if d.r.isBad(p) {
				continue
			}
			a, err := netip.ParseAddr(s)
			if err != nil {
				d.r.add(p, fmt.Sprintf("%q is not an IP address", s))
				continue
			}
			c.TieBreaker[i] = a
		}
	}

	if m, p, ok := d.table(t, root, "membership", membershipKeys); ok {
		d.duration(m, p, "heartbeat_interval", &c.Membership.HeartbeatInterval)
		d.duration(m, p, "failure_timeout", &c.Membership.FailureTimeout)
		d.duration(m, p, "rejoin_interval", &c.Membership.RejoinInterval)
		d.duration(m, p, "gossip_interval", &c.Membership.GossipInterval)
		d.integer(m, p, "heartbeat_port", &c.Membership.HeartbeatPort)
	}
	if m, p, ok := d.table(t, root, "arp", arpKeys); ok {
		d.integer(m, p, "repeat", &c.ARP.Repeat)
		d.duration(m, p, "interval", &c.ARP.Interval)
		d.duration(m, p, "refresh", &c.ARP.Refresh)
		d.duration(m, p, "cache", &c.ARP.Cache)
		if list, ok := d.strs(m, p, "notify"); ok {
			c.ARP.Notify = make([]netip.Addr, len(list))
			for i, s := range list {
				if d.r.isBad(p.key("notify").index(i)) {
					continue
				}
				a, err := netip.ParseAddr(s)
				if err != nil {
					d.r.add(p.key("notify").index(i), fmt.Sprintf("%q is not an IP address", s))
					continue
				}
				c.ARP.Notify[i] = a
			}
		}
	}
	if m, p, ok := d.table(t, root, "balance", balanceKeys); ok {
		switch v := m["max_moves"].(type) {
		case nil:
		case string:
			if v == "all" {
				c.Balance.MaxMoves = 0
			} else {
				d.r.add(p.key("max_moves"), fmt.Sprintf(`want an integer or "all", got %s`, describe(v)))
			}
		default:
			d.integer(m, p, "max_moves", &c.Balance.MaxMoves)
		}
	}
	if m, p, ok := d.table(t, root, "damping", dampingKeys); ok {
		d.integer(m, p, "penalty", &c.Damping.Penalty)
		d.integer(m, p, "suppress", &c.Damping.Suppress)
		d.integer(m, p, "reuse", &c.Damping.Reuse)
		d.integer(m, p, "max_penalty", &c.Damping.Max)
		d.duration(m, p, "half_life", &c.Damping.HalfLife)
	}
	d.bgp(c, t)
	if c.Mode == ModeBGP && !c.BGP.RouterID.IsValid() && c.Advertise != "" {
		if hp, err := parseHostPort(c.Advertise, hostAdvertise, 0); err == nil && hp.addr.Is4() {
			c.BGP.RouterID = hp.addr
		}
	}
	c.VIPs = d.vips(t, c.Interface)
	c.Checks = d.checks(t)
	d.hooks(t, &c.Hooks)
	return c
}

func (d *decoder) vips(t map[string]any, defIface string) []VIP {
	p := path{"vip"}
	var elems []any
	switch v := t["vip"].(type) {
	case nil:
		return nil
	case []map[string]any: // [[vip]]
		for _, m := range v {
			elems = append(elems, m)
		}
	case []any: // vip = [{...}, ...]
		elems = v
	default:
		d.r.add(p, "want an array of tables ([[vip]]), got "+describe(v))
		return nil
	}
	vips := make([]VIP, 0, len(elems))
	for i, el := range elems {
		vp := p.index(i)
		v := VIP{Line: d.r.line(vp)}
		m, ok := el.(map[string]any)
		if !ok {
			d.r.add(vp, "want a table, got "+describe(el))
			vips = append(vips, v)
			continue
		}
		d.unknown(m, vp, vipKeys)
		d.strInto(m, vp, "name", &v.Name)
		d.strInto(m, vp, "interface", &v.Interface)
		iface := defIface
		if v.Interface != "" {
			iface = v.Interface
		}
		if list, ok := d.strs(m, vp, "addresses"); ok {
			v.Addresses = make([]Address, len(list))
			for j, s := range list {
				if d.r.isBad(vp.key("addresses").index(j)) {
					continue
				}
				ifname, prefix, err := parseAddress(s)
				if err != nil {
					d.r.add(vp.key("addresses").index(j), err.Error())
					continue
				}
				if ifname == "" {
					ifname = iface
				}
				v.Addresses[j] = Address{Interface: ifname, Prefix: prefix}
			}
		}
		if list, ok := d.strs(m, vp, "prefer"); ok {
			v.Prefer = list
		}
		vips = append(vips, v)
	}
	return vips
}

// nodeName sets the default node name, the hostname.
func (d *decoder) nodeName(c *Config, t map[string]any, hostname func() (string, error)) {
	if _, ok := t["node_name"]; ok {
		d.strInto(t, nil, "node_name", &c.NodeName)
		return
	}
	h, err := hostname()
	if err != nil {
		d.r.add(path{"node_name"}, fmt.Sprintf("not set, and the hostname is unavailable (%v): set node_name", err))
		return
	}
	if err := checkNodeName(h); err != nil {
		d.r.add(path{"node_name"}, fmt.Sprintf("not set, and the hostname cannot be used: %v: set node_name", err))
		return
	}
	c.NodeName = h
}

// secretKey reads the gossip key. Having both a key file and insecure is
// check's to report.
func (d *decoder) secretKey(c *Config, file string, readKey func(string) ([]byte, error)) {
	p := path{"secret_key_file"}
	switch {
	case d.r.isBad(p) || d.r.isBad(path{"insecure"}) || c.Insecure:
		return
	case c.SecretKeyFile == "":
		msg := `missing: set secret_key_file to a key made with "wackamole keygen", or insecure = true to gossip in clear text`
		if d.r.line(p) > 0 {
			msg = `empty: set it to a key file made with "wackamole keygen", or set insecure = true to gossip in clear text`
		}
		d.r.add(p, msg)
		return
	}
	if err := checkPathName(c.SecretKeyFile); err != nil {
		d.r.add(p, err.Error())
		return
	}
	if !filepath.IsAbs(c.SecretKeyFile) && file != "" {
		c.SecretKeyFile = filepath.Join(filepath.Dir(file), c.SecretKeyFile)
	}
	data, err := readKey(c.SecretKeyFile)
	if err != nil {
		d.r.add(p, err.Error())
		return
	}
	keys, err := decodeKeys(data)
	if err != nil {
		d.r.add(p, fmt.Sprintf("%s: %v", c.SecretKeyFile, err))
		return
	}
	c.SecretKey = keys[0]
	if len(keys) > 1 {
		c.SecondaryKeys = keys[1:]
	}
}

// unknown reports the keys of t that are not in known, suggesting the
// closest known key for a typo.
func (d *decoder) unknown(t map[string]any, p path, known []string) {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if slices.Contains(known, k) {
			continue
		}
		msg := "unknown key"
		if s := suggest(k, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		d.r.add(p.key(k), msg)
	}
}

// suggest returns the known key closest to k, if close enough to be a typo.
func suggest(k string, known []string) string {
	best, bestDist := "", 3 // at most 2 edits
	lk := strings.ToLower(k)
	for _, kn := range known {
		if dist := editDistance(lk, kn); dist < bestDist {
			best, bestDist = kn, dist
		}
	}
	return best
}

// editDistance is the Damerau-Levenshtein (optimal string alignment)
// distance, so that a swap of two letters counts as one edit. Long keys
// are not worth comparing.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// table returns the sub-table t[key], having reported its unknown keys.
func (d *decoder) table(t map[string]any, p path, key string, known []string) (map[string]any, path, bool) {
	p = p.key(key)
	v, ok := t[key]
	if !ok {
		return nil, p, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		d.r.add(p, "want a table, got "+describe(v))
		return nil, p, false
	}
	d.unknown(m, p, known)
	return m, p, true
}

// str returns the string t[key]; ok is false when it is absent or not a
// string (which it reports).
func (d *decoder) str(t map[string]any, p path, key string) (string, bool) {
	v, ok := t[key]
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		d.r.add(p.key(key), "want a string, got "+describe(v))
	}
	return s, ok
}

func (d *decoder) strInto(t map[string]any, p path, key string, dst *string) {
	if s, ok := d.str(t, p, key); ok {
		*dst = s
	}
}

// strs returns the array of strings t[key]; a non-string element is
// reported and left empty.
func (d *decoder) strs(t map[string]any, p path, key string) ([]string, bool) {
	v, ok := t[key]
	if !ok {
		return nil, false
	}
	arr, ok := v.([]any)
	if !ok {
		d.r.add(p.key(key), "want an array of strings, got "+describe(v))
		return nil, false
	}
	list := make([]string, len(arr))
	for i, el := range arr {
		s, ok := el.(string)
		if !ok {
			d.r.add(p.key(key).index(i), "want a string, got "+describe(el))
			continue
		}
		list[i] = s
	}
	return list, true
}

func (d *decoder) boolean(t map[string]any, p path, key string, dst *bool) {
	v, ok := t[key]
	if !ok {
		return
	}
	b, ok := v.(bool)
	if !ok {
		d.r.add(p.key(key), "want true or false, got "+describe(v))
		return
	}
	*dst = b
}

func (d *decoder) integer(t map[string]any, p path, key string, dst *int) {
	v, ok := t[key]
	if !ok {
		return
	}
	n, ok := v.(int64)
	if !ok {
		d.r.add(p.key(key), "want an integer, got "+describe(v))
		return
	}
	if n > math.MaxInt32 || n < math.MinInt32 {
		d.r.add(p.key(key), fmt.Sprintf("%d is out of range", n))
		return
	}
	*dst = int(n)
}

func (d *decoder) duration(t map[string]any, p path, key string, dst *time.Duration) {
	v, ok := t[key]
	if !ok {
		return
	}
	s, ok := v.(string)
	if !ok {
		d.r.add(p.key(key), `want a duration string such as "5s" or "1100ms", got `+describe(v))
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.r.add(p.key(key), fmt.Sprintf(`%q is not a duration (write e.g. "5s", "1100ms" or "1m30s")`, s))
		return
	}
	*dst = dur
}

// describe names the TOML type of v, with the value when short.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		if len(v) > 40 {
			return "a string"
		}
		return fmt.Sprintf("string %q", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("float %v", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return "a date/time"
	}
}
