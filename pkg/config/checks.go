package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Health check kinds (Check.Kind).
const (
	// CheckExec runs a program (no shell); exit status 0 is healthy.
	CheckExec = "exec"
	// CheckHTTP sends a GET; the expected status is healthy.
	CheckHTTP = "http"
	// CheckTCP connects; an accepted connection is healthy.
	CheckTCP = "tcp"
	// CheckICMP sends an ICMP echo request; a reply is healthy. The usual
	// target is the gateway: a node that cannot reach it serves nobody
	// beyond its segment (heartbeat's ping nodes).
	CheckICMP = "icmp"
)

// checkKinds are the kinds, in the order messages name them.
var checkKinds = []string{CheckExec, CheckHTTP, CheckTCP, CheckICMP}

// Defaults of [[check]] and [hooks] keys absent from the file.
const (
	// DefaultCheckInterval is how often a check runs.
	DefaultCheckInterval = 2 * time.Second
	// DefaultCheckTimeout bounds one run of a check.
	DefaultCheckTimeout = time.Second
	// DefaultRise is the number of consecutive successes that make a
	// check healthy.
	DefaultRise = 2
	// DefaultFall is the number of consecutive failures that make a
	// check unhealthy.
	DefaultFall = 3
	// DefaultExpectStatus is the HTTP status an http check expects.
	DefaultExpectStatus = 200
	// DefaultHookTimeout bounds one run of a hook.
	DefaultHookTimeout = 10 * time.Second
)

// Check is one local health check, a [[check]] table. While any check of a
// node is unhealthy the node is not eligible for VIPs.
//
// Checks are node-local: nodes may check different things, so checks are
// not part of Fingerprint.
type Check struct {
	// Name identifies the check in logs and status; unique among the
	// checks. 1 to 63 characters of ASCII letters, digits, '.', '_' and
	// '-'. Default: the kind and the check's 0-based position in the
	// file, e.g. "http-0" for check[0].
	Name string
	// Kind is CheckExec, CheckHTTP or CheckTCP. Required.
	Kind string
	// URL is what an http check GETs: http or https with a host. Required
	// for http checks, not allowed for others.
	URL string
	// ExpectStatus is the status an http check expects (100-599); any
	// other status, redirects included, is a failure. Default 200 for
	// http checks; 0 for others.
	ExpectStatus int
	// Command is what an exec check runs: an absolute program path and its
	// arguments, without a shell. Required for exec checks, not allowed
	// for others.
	Command []string
	// Address is what a tcp check connects to, host:port (IPv6 in
	// brackets), or what an icmp check pings, an IP address. Required for
	// tcp and icmp checks, not allowed for others.
	Address string
	// Interval separates the starts of two runs. Default 2s.
	Interval time.Duration
	// Timeout bounds one run; it must be shorter than Interval, so that
	// runs of one check never overlap. Default 1s.
	Timeout time.Duration
	// Rise is the number of consecutive successes that make the check
	// healthy. At least 1; default 2.
	Rise int
	// Fall is the number of consecutive failures that make the check
	// unhealthy. At least 1; default 3.
	Fall int
	// Line is where the check's table starts in the file (for messages).
	Line int
}

// Hooks are programs the daemon runs when this node acquires or releases
// a VIP or sees another host claim one of its VIPs, the [hooks] table. An
// empty path means no hook. Hooks are node-local and not part of
// Fingerprint.
type Hooks struct {
	// OnAcquire runs after this node added a VIP's addresses.
	OnAcquire string
	// OnRelease runs after this node removed a VIP's addresses.
	OnRelease string
	// OnConflict runs when another host claims a VIP this node holds.
	OnConflict string
	// Timeout bounds one run of a hook. Default 10s; must be positive
	// when a hook is set.
	Timeout time.Duration
}

// The keys of [[check]] and [hooks].
var (
	checkKeys = []string{"name", "kind", "url", "expect_status", "command", "address", "interval", "timeout", "rise", "fall"}
	hooksKeys = []string{"on_acquire", "on_release", "on_conflict", "timeout"}
	// checkKindKeys are the keys that belong to one kind only.
	checkKindKeys = map[string][]string{
		CheckExec: {"command"},
		CheckHTTP: {"url", "expect_status"},
		CheckTCP:  {"address"},
		CheckICMP: {"address"},
	}
)

// checks decodes the [[check]] tables.
func (d *decoder) checks(t map[string]any) []Check {
	p := path{"check"}
	elems, ok := d.arrayOfTables(t, "check")
	if !ok {
		return nil
	}
	checks := make([]Check, 0, len(elems))
	for i, el := range elems {
		cp := p.index(i)
		c := Check{
			Interval: DefaultCheckInterval,
			Timeout:  DefaultCheckTimeout,
			Rise:     DefaultRise,
			Fall:     DefaultFall,
			Line:     d.r.line(cp),
		}
		m, ok := el.(map[string]any)
		if !ok {
			d.r.add(cp, "want a table, got "+describe(el))
			checks = append(checks, c)
			continue
		}
		d.unknown(m, cp, checkKeys)
		d.strInto(m, cp, "name", &c.Name)
		d.strInto(m, cp, "url", &c.URL)
		d.integer(m, cp, "expect_status", &c.ExpectStatus)
		if list, ok := d.strs(m, cp, "command"); ok {
			c.Command = list
		}
		d.strInto(m, cp, "address", &c.Address)
		d.duration(m, cp, "interval", &c.Interval)
		d.duration(m, cp, "timeout", &c.Timeout)
		d.integer(m, cp, "rise", &c.Rise)
		d.integer(m, cp, "fall", &c.Fall)

		if _, ok := m["kind"]; !ok {
			msg := fmt.Sprintf("missing: want %s", kindList())
			for _, kind := range []string{CheckExec, CheckHTTP} {
				if _, ok := m[checkKindKeys[kind][0]]; ok {
					msg = fmt.Sprintf("missing: set kind = %q", kind)
				}
			}
			if _, ok := m["address"]; ok {
				msg = fmt.Sprintf("missing: set kind = %q (host:port) or %q (an IP address)", CheckTCP, CheckICMP)
			}
			d.r.add(cp.key("kind"), msg)
		}
		d.strInto(m, cp, "kind", &c.Kind)
		if _, ok := checkKindKeys[c.Kind]; ok {
			// Keys of another kind, reported by presence: an empty
			// command or a zero expect_status would pass check.
			for _, k := range foreignKeys(c.Kind) {
				if _, ok := m[k]; ok && !d.r.isBad(cp.key(k)) {
					d.r.add(cp.key(k), foreignMessage(c.Kind, k))
				}
			}
			if _, ok := m["expect_status"]; !ok && c.Kind == CheckHTTP {
				c.ExpectStatus = DefaultExpectStatus
			}
		}
		if _, ok := m["name"]; !ok {
			c.Name = defaultCheckName(c.Kind, i)
		}
		checks = append(checks, c)
	}
	return checks
}

// defaultCheckName names check[i] after its kind; a check without a valid
// kind already has a problem and gets a neutral name, so that the one
// problem is not reported twice.
func defaultCheckName(kind string, i int) string {
	if _, ok := checkKindKeys[kind]; !ok {
		kind = "check"
	}
	return fmt.Sprintf("%s-%d", kind, i)
}

// hooks decodes the [hooks] table into h, which holds the defaults.
func (d *decoder) hooks(t map[string]any, h *Hooks) {
	m, p, ok := d.table(t, nil, "hooks", hooksKeys)
	if !ok {
		return
	}
	d.strInto(m, p, "on_acquire", &h.OnAcquire)
	d.strInto(m, p, "on_release", &h.OnRelease)
	d.strInto(m, p, "on_conflict", &h.OnConflict)
	d.duration(m, p, "timeout", &h.Timeout)
}

// arrayOfTables returns the elements of t[key], which must be an array
// ([[key]] tables or an inline array); ok is false when it is absent or
// not an array (which it reports).
func (d *decoder) arrayOfTables(t map[string]any, key string) (elems []any, ok bool) {
	switch v := t[key].(type) {
	case nil:
		return nil, false
	case []map[string]any: // [[key]]
		for _, m := range v {
			elems = append(elems, m)
		}
		return elems, true
	case []any: // key = [{...}, ...]
		return v, true
	default:
		d.r.add(path{key}, fmt.Sprintf("want an array of tables ([[%s]]), got %s", key, describe(v)))
		return nil, false
	}
}

// executables checks, at load time, that the programs of exec checks and
// the hooks exist and may be run, so that a typo is an error now rather
// than a node that silently never becomes healthy or a hook that never
// runs. exists is the file check (checkExecutable outside tests); paths
// that already have a problem are skipped.
func (d *decoder) executables(c *Config, exists func(name string) error) {
	if exists == nil {
		return
	}
	for i, ch := range c.Checks {
		p := path{"check"}.index(i).key("command").index(0)
		if ch.Kind != CheckExec || len(ch.Command) == 0 || d.r.isBad(p) {
			continue
		}
		if err := exists(ch.Command[0]); err != nil {
			d.r.add(p, err.Error())
		}
	}
	hp := path{"hooks"}
	for _, h := range []struct {
		key, name string
	}{
		{"on_acquire", c.Hooks.OnAcquire},
		{"on_release", c.Hooks.OnRelease},
		{"on_conflict", c.Hooks.OnConflict},
	} {
		if h.name == "" || d.r.isBad(hp.key(h.key)) {
			continue
		}
		if err := exists(h.name); err != nil {
			d.r.add(hp.key(h.key), err.Error())
		}
	}
}

// checkExecutable accepts a regular file (symbolic links followed) with an
// execute bit that not every user may write: the daemon runs it with its
// own privileges (network capabilities at least), which a world-writable
// program would hand to every user.
func checkExecutable(name string) error {
	fi, err := os.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", name)
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", name)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not executable (mode %04o): run chmod +x on it", name, fi.Mode().Perm())
	case fi.Mode().Perm()&0o002 != 0:
		return fmt.Errorf("%s is writable by every user (mode %04o): run chmod o-w on it", name, fi.Mode().Perm())
	}
	return nil
}

// checkNameMax is the longest check name.
const checkNameMax = 63

// checkCheckName: names show up in logs, metrics labels and status tables,
// so they are plain, like VIP names.
func checkCheckName(name string) error {
	if name == "" {
		return errors.New("empty check name")
	}
	if len(name) > checkNameMax {
		return fmt.Errorf("check name is too long (%d bytes, at most %d)", len(name), checkNameMax)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isBareKeyByte(c) && c != '.' {
			return fmt.Errorf("check name %q: use only letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}

// checkChecks applies the rules on the [[check]] tables.
func checkChecks(r *reporter, c *Config) {
	ok := func(p path) bool { return !r.isBad(p) }
	names := make(map[string]path)
	for i, ch := range c.Checks {
		p := path{"check"}.index(i)
		if !ok(p) {
			continue
		}
		if np := p.key("name"); ok(np) {
			if err := checkCheckName(ch.Name); err != nil {
				r.add(np, err.Error())
			} else if first, dup := names[ch.Name]; dup {
				where := first.String()
				if l := r.line(first); l > 0 {
					where += fmt.Sprintf(" at line %d", l)
				}
				r.add(np, fmt.Sprintf("duplicate check name %q (first used by %s)", ch.Name, where))
			} else {
				names[ch.Name] = np
			}
		}

		kp := p.key("kind")
		if _, known := checkKindKeys[ch.Kind]; !known {
			if ok(kp) {
				r.add(kp, fmt.Sprintf("%q is not a check kind: want %s", ch.Kind, kindList()))
			}
		} else {
			checkCheckKind(r, p, &ch)
		}

		ip, tp := p.key("interval"), p.key("timeout")
		if ch.Interval <= 0 && ok(ip) {
			r.add(ip, fmt.Sprintf("%v: must be positive", ch.Interval))
		}
		switch {
		case !ok(tp):
		case ch.Timeout <= 0:
			r.add(tp, fmt.Sprintf("%v: must be positive", ch.Timeout))
		case ch.Interval > 0 && ch.Timeout >= ch.Interval && ok(ip):
			r.add(tp, fmt.Sprintf("%v is not shorter than interval (%v): runs would overlap", ch.Timeout, ch.Interval))
		}
		if rp := p.key("rise"); ch.Rise < 1 && ok(rp) {
			r.add(rp, fmt.Sprintf("%d: at least one success is needed to become healthy", ch.Rise))
		}
		if fp := p.key("fall"); ch.Fall < 1 && ok(fp) {
			r.add(fp, fmt.Sprintf("%d: at least one failure is needed to become unhealthy", ch.Fall))
		}
	}
}

// checkCheckKind checks the keys that depend on the check's kind: the
// kind's own are required, the others' must be unset.
func checkCheckKind(r *reporter, p path, ch *Check) {
	ok := func(p path) bool { return !r.isBad(p) }
	set := map[string]bool{
		"command":       len(ch.Command) > 0,
		"url":           ch.URL != "",
		"expect_status": ch.ExpectStatus != 0,
		"address":       ch.Address != "",
	}
	for _, k := range foreignKeys(ch.Kind) {
		if set[k] && ok(p.key(k)) {
			r.add(p.key(k), foreignMessage(ch.Kind, k))
		}
	}

	switch ch.Kind {
	case CheckExec:
		cp := p.key("command")
		if !ok(cp) {
			return
		}
		if len(ch.Command) == 0 {
			r.add(cp, `missing or empty: want the program and its arguments, e.g. ["/usr/local/bin/check-web", "--quick"]`)
			return
		}
		for j, arg := range ch.Command {
			if strings.IndexByte(arg, 0) >= 0 && ok(cp.index(j)) {
				r.add(cp.index(j), "contains a NUL byte")
			}
		}
		if pp := cp.index(0); ok(pp) && !filepath.IsAbs(ch.Command[0]) {
			r.add(pp, fmt.Sprintf("%q is not an absolute path: checks run without a shell or a PATH search", ch.Command[0]))
		}
	case CheckHTTP:
		if up := p.key("url"); ok(up) {
			if err := checkCheckURL(ch.URL); err != nil {
				r.add(up, err.Error())
			}
		}
		if sp := p.key("expect_status"); ok(sp) && (ch.ExpectStatus < 100 || ch.ExpectStatus > 599) {
			r.add(sp, fmt.Sprintf("%d is not an HTTP status (100-599)", ch.ExpectStatus))
		}
	case CheckTCP:
		if ap := p.key("address"); ok(ap) {
			if err := checkCheckAddress(ch.Address); err != nil {
				r.add(ap, err.Error())
			}
		}
	case CheckICMP:
		if ap := p.key("address"); ok(ap) {
			if err := checkPingAddress(ch.Address); err != nil {
				r.add(ap, err.Error())
			}
		}
	}
}

// checkPingAddress accepts a unicast IP address without zone.
func checkPingAddress(s string) error {
	if s == "" {
		return errors.New(`missing or empty: want the IP address to ping, e.g. "198.18.0.1" (the gateway)`)
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not an IP address (icmp checks ping an address, not host:port or a name)", s)
	case a.Zone() != "":
		return fmt.Errorf("%q: zones are not allowed", s)
	case a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s is not a unicast address", a)
	}
	return nil
}

// foreignKeys are the kind-specific keys that kind does not use.
func foreignKeys(kind string) []string {
	own := checkKindKeys[kind]
	var out []string
	for _, k := range checkKinds {
		for _, key := range checkKindKeys[k] {
			if !slices.Contains(own, key) && !slices.Contains(out, key) {
				out = append(out, key)
			}
		}
	}
	return out
}

// foreignMessage says that key is not a kind's, naming the kinds it is.
func foreignMessage(kind, key string) string {
	var users []string
	for _, k := range checkKinds {
		if slices.Contains(checkKindKeys[k], key) {
			users = append(users, k)
		}
	}
	return fmt.Sprintf("not used by %s checks (only by %s checks)", kind, strings.Join(users, " and "))
}

// kindList names the check kinds for messages: "exec", "http", "tcp" or "icmp".
func kindList() string {
	q := make([]string, len(checkKinds))
	for i, k := range checkKinds {
		q[i] = strconv.Quote(k)
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// checkCheckURL accepts absolute http and https URLs with a host.
func checkCheckURL(s string) error {
	if s == "" {
		return errors.New(`missing or empty: want the URL to GET, e.g. "http://127.0.0.1/healthz"`)
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%q is not a URL: %v", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: want an http:// or https:// URL", s)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if port := u.Port(); port != "" {
		if _, err := parsePort(port); err != nil {
			return fmt.Errorf("%q: %w", s, err)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return fmt.Errorf("%q: empty port", s)
	}
	return nil
}

// checkCheckAddress accepts host:port with the port required; the host
// is a specific IP address (IPv6 in brackets) or a DNS name.
func checkCheckAddress(s string) error {
	if s == "" {
		return errors.New(`missing or empty: want host:port, e.g. "127.0.0.1:80"`)
	}
	// splitHostPort's advice for IPv6 without brackets names the gossip
	// port, which would mislead here.
	if !strings.HasPrefix(s, "[") && strings.Count(s, ":") > 1 {
		return fmt.Errorf(`%q: IPv6 addresses need brackets, e.g. "[::1]:80"`, s)
	}
	_, err := parseHostPort(s, hostPeer, 0)
	return err
}

// checkHooks applies the rules on [hooks].
func checkHooks(r *reporter, c *Config) {
	hp := path{"hooks"}
	h := c.Hooks
	set := false
	for _, k := range []struct {
		key, name string
	}{
		{"on_acquire", h.OnAcquire},
		{"on_release", h.OnRelease},
		{"on_conflict", h.OnConflict},
	} {
		if k.name == "" {
			continue
		}
		set = true
		p := hp.key(k.key)
		if r.isBad(p) {
			continue
		}
		if err := checkPathName(k.name); err != nil {
			r.add(p, err.Error())
		} else if !filepath.IsAbs(k.name) {
			r.add(p, fmt.Sprintf("%q is not an absolute path: hooks run without a shell or a PATH search", k.name))
		}
	}
	if tp := hp.key("timeout"); !r.isBad(tp) {
		switch {
		case h.Timeout < 0:
			r.add(tp, fmt.Sprintf("%v is negative", h.Timeout))
		case h.Timeout == 0 && set:
			r.add(tp, "0s: must be positive")
		}
	}
}
