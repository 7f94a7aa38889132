package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// vips is base with one VIP: 8 lines, so that what follows starts on line 9.
const vips = base + vip1

// checkErrCases are the [[check]] and [hooks] problems. They join errCases
// so that TestErrors checks them (file, line, key and message) and
// FuzzParse starts from them. The programs named are real files: a
// missing one, /etc/passwd (not executable) and /etc (a directory).
var checkErrCases = []errCase{
	// The [[check]] array itself.
	{name: "check not an array", doc: base + "check = 1\n" + vip1, line: 5, key: "check", msg: "want an array of tables ([[check]]), got integer 1"},
	{name: "check table", doc: vips + "[check]\nkind = \"tcp\"\n", line: 9, key: "check", msg: "want an array of tables ([[check]]), got a table"},
	{name: "check element", doc: base + "check = [1]\n" + vip1, line: 5, key: "check[0]", msg: "want a table, got integer 1"},
	{name: "unknown check key", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\nintervall = \"1s\"\n", line: 12, key: "check[0].intervall", msg: `unknown key (did you mean "interval"?)`},

	// Kinds.
	{name: "check kind missing", doc: vips + "[[check]]\nrise = 1\n", line: 9, key: "check[0].kind", msg: `missing: want "exec", "http", "tcp" or "icmp"`},
	{name: "check kind missing hint", doc: vips + "[[check]]\nurl = \"http://127.0.0.1/\"\n", line: 9, key: "check[0].kind", msg: `missing: set kind = "http"`},
	{name: "check kind unknown", doc: vips + "[[check]]\nkind = \"htp\"\n", line: 10, key: "check[0].kind", msg: `"htp" is not a check kind`},
	{name: "check kind case", doc: vips + "[[check]]\nkind = \"TCP\"\naddress = \"127.0.0.1:80\"\n", line: 10, key: "check[0].kind", msg: "not a check kind"},
	{name: "check kind type", doc: vips + "[[check]]\nkind = 1\n", line: 10, key: "check[0].kind", msg: "want a string, got integer 1"},
	{name: "url in tcp check", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\nurl = \"http://127.0.0.1/\"\n", line: 12, key: "check[0].url", msg: "not used by tcp checks (only by http checks)"},
	{name: "zero expect_status in tcp check", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\nexpect_status = 0\n", line: 12, key: "check[0].expect_status", msg: "not used by tcp checks"},
	{name: "empty command in http check", doc: vips + "[[check]]\nkind = \"http\"\nurl = \"http://127.0.0.1/\"\ncommand = []\n", line: 12, key: "check[0].command", msg: "not used by http checks (only by exec checks)"},
	{name: "address in exec check", doc: vips + "[[check]]\nkind = \"exec\"\ncommand = [\"/bin/true\"]\naddress = \"127.0.0.1:80\"\n", line: 12, key: "check[0].address", msg: "not used by exec checks (only by tcp and icmp checks)"},
	{name: "icmp check without an address", doc: vips + "[[check]]\nkind = \"icmp\"\n", line: 9, key: "check[0].address", msg: "missing or empty"},
	{name: "icmp check with host:port", doc: vips + "[[check]]\nkind = \"icmp\"\naddress = \"198.18.0.1:80\"\n", line: 11, key: "check[0].address", msg: "is not an IP address"},
	{name: "url in an icmp check", doc: vips + "[[check]]\nkind = \"icmp\"\naddress = \"198.18.0.1\"\nurl = \"http://x/\"\n", line: 12, key: "check[0].url", msg: "not used by icmp checks (only by http checks)"},

	// http.
	{name: "http url missing", doc: vips + "[[check]]\nkind = \"http\"\n", line: 9, key: "check[0].url", msg: "missing or empty"},
	{name: "http url scheme", doc: vips + "[[check]]\nkind = \"http\"\nurl = \"ftp://127.0.0.1/\"\n", line: 11, key: "check[0].url", msg: "want an http:// or https:// URL"},
	{name: "http url relative", doc: vips + "[[check]]\nkind = \"http\"\nurl = \"/healthz\"\n", line: 11, key: "check[0].url", msg: "want an http:// or https:// URL"},
	{name: "http url no host", doc: vips + "[[check]]\nkind = \"http\"\nurl = \"http:///healthz\"\n", line: 11, key: "check[0].url", msg: "has no host"},
	{name: "http url port only", doc: vips + "[[check]]\nkind = \"http\"\nurl = \"http://:80/\"\n", line: 11, key: "check[0].url", msg: "has no host"},
	{name: "http url syntax", doc: vips + "[[check]]\nkind = \"http\"\nurl = \"http://[::1/\"\n", line: 11, key: "check[0].url", msg: "is not a URL"},
	{name: "http url port range", doc: vips + "[[check]]\nkind = \"http\"\nurl = \"http://127.0.0.1:99999/\"\n", line: 11, key: "check[0].url", msg: "out of range"},
	{name: "http url empty port", doc: vips + "[[check]]\nkind = \"http\"\nurl = \"http://127.0.0.1:/\"\n", line: 11, key: "check[0].url", msg: "empty port"},
	{name: "expect_status range", doc: vips + "[[check]]\nkind = \"http\"\nurl = \"http://127.0.0.1/\"\nexpect_status = 600\n", line: 12, key: "check[0].expect_status", msg: "600 is not an HTTP status"},
	{name: "expect_status type", doc: vips + "[[check]]\nkind = \"http\"\nurl = \"http://127.0.0.1/\"\nexpect_status = \"200\"\n", line: 12, key: "check[0].expect_status", msg: "want an integer"},

	// exec.
	{name: "exec command missing", doc: vips + "[[check]]\nkind = \"exec\"\n", line: 9, key: "check[0].command", msg: "missing or empty"},
	{name: "exec command empty", doc: vips + "[[check]]\nkind = \"exec\"\ncommand = []\n", line: 11, key: "check[0].command", msg: "missing or empty"},
	{name: "exec command string", doc: vips + "[[check]]\nkind = \"exec\"\ncommand = \"/bin/true\"\n", line: 11, key: "check[0].command", msg: "want an array of strings"},
	{name: "exec command element", doc: vips + "[[check]]\nkind = \"exec\"\ncommand = [\n  \"/bin/true\",\n  1,\n]\n", line: 13, key: "check[0].command[1]", msg: "want a string"},
	{name: "exec relative program", doc: vips + "[[check]]\nkind = \"exec\"\ncommand = [\"check-web\", \"--quick\"]\n", line: 11, key: "check[0].command[0]", msg: `"check-web" is not an absolute path`},
	{name: "exec NUL", doc: vips + "[[check]]\nkind = \"exec\"\ncommand = [\"/bin/true\", \"a\\u0000b\"]\n", line: 11, key: "check[0].command[1]", msg: "NUL"},
	{name: "exec missing program", doc: vips + "[[check]]\nkind = \"exec\"\ncommand = [\"/nonexistent/check-web\"]\n", line: 11, key: "check[0].command[0]", msg: "/nonexistent/check-web does not exist"},
	{name: "exec program not executable", doc: vips + "[[check]]\nkind = \"exec\"\ncommand = [\"/etc/passwd\"]\n", line: 11, key: "check[0].command[0]", msg: "/etc/passwd is not executable"},
	{name: "exec program directory", doc: vips + "[[check]]\nkind = \"exec\"\ncommand = [\"/etc\"]\n", line: 11, key: "check[0].command[0]", msg: "/etc is not a regular file"},

	// tcp.
	{name: "tcp address missing", doc: vips + "[[check]]\nkind = \"tcp\"\n", line: 9, key: "check[0].address", msg: "missing or empty"},
	{name: "tcp address no port", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1\"\n", line: 11, key: "check[0].address", msg: "has no port"},
	{name: "tcp address IPv6", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"::1:80\"\n", line: 11, key: "check[0].address", msg: `need brackets, e.g. "[::1]:80"`},
	{name: "tcp address host", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"web 1:80\"\n", line: 11, key: "check[0].address", msg: "not an IP address or host name"},
	{name: "tcp address unspecified", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"0.0.0.0:80\"\n", line: 11, key: "check[0].address", msg: "unspecified"},
	{name: "tcp address port", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:0\"\n", line: 11, key: "check[0].address", msg: "out of range"},

	// Timings and counts.
	{name: "check interval zero", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\ninterval = \"0s\"\n", line: 12, key: "check[0].interval", msg: "0s: must be positive"},
	{name: "check interval syntax", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\ninterval = \"2\"\n", line: 12, key: "check[0].interval", msg: "not a duration"},
	{name: "check timeout zero", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\ntimeout = \"0s\"\n", line: 12, key: "check[0].timeout", msg: "must be positive"},
	{name: "check timeout negative", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\ntimeout = \"-1s\"\n", line: 12, key: "check[0].timeout", msg: "-1s: must be positive"},
	{name: "check timeout default interval", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\ntimeout = \"2s\"\n", line: 12, key: "check[0].timeout", msg: "2s is not shorter than interval (2s)"},
	{name: "check timeout above interval", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\ninterval = \"500ms\"\n", line: 9, key: "check[0].timeout", msg: "1s is not shorter than interval (500ms)"},
	{name: "check rise zero", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\nrise = 0\n", line: 12, key: "check[0].rise", msg: "at least one success"},
	{name: "check fall negative", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\nfall = -1\n", line: 12, key: "check[0].fall", msg: "at least one failure"},

	// Names.
	{name: "check name", doc: vips + "[[check]]\nname = \"my check\"\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\n", line: 10, key: "check[0].name", msg: "use only letters"},
	{name: "check name empty", doc: vips + "[[check]]\nname = \"\"\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\n", line: 10, key: "check[0].name", msg: "empty check name"},
	{name: "check name duplicate", doc: vips + "[[check]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\n[[check]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"127.0.0.1:81\"\n", line: 14, key: "check[1].name", msg: `duplicate check name "web" (first used by check[0].name at line 10)`},
	{name: "check name duplicates a default", doc: vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\n[[check]]\nname = \"tcp-0\"\nkind = \"tcp\"\naddress = \"127.0.0.1:81\"\n", line: 13, key: "check[1].name", msg: `duplicate check name "tcp-0" (first used by check[0].name at line 9)`},

	// Hooks.
	{name: "hooks not a table", doc: base + "hooks = 1\n" + vip1, line: 5, key: "hooks", msg: "want a table, got integer 1"},
	{name: "hooks unknown key", doc: vips + "[hooks]\non_aquire = \"/bin/true\"\n", line: 10, key: "hooks.on_aquire", msg: `did you mean "on_acquire"?`},
	{name: "hook type", doc: vips + "[hooks]\non_release = 1\n", line: 10, key: "hooks.on_release", msg: "want a string"},
	{name: "hook relative", doc: vips + "[hooks]\non_acquire = \"hooks/acquire\"\n", line: 10, key: "hooks.on_acquire", msg: `"hooks/acquire" is not an absolute path`},
	{name: "hook NUL", doc: vips + "[hooks]\non_acquire = \"/a\\u0000\"\n", line: 10, key: "hooks.on_acquire", msg: "NUL"},
	{name: "hook missing", doc: vips + "[hooks]\non_conflict = \"/nonexistent/conflict\"\n", line: 10, key: "hooks.on_conflict", msg: "/nonexistent/conflict does not exist"},
	{name: "hook not executable", doc: vips + "[hooks]\non_release = \"/etc/passwd\"\n", line: 10, key: "hooks.on_release", msg: "/etc/passwd is not executable"},
	{name: "hook timeout zero", doc: vips + "[hooks]\non_acquire = \"/bin/true\"\ntimeout = \"0s\"\n", line: 11, key: "hooks.timeout", msg: "must be positive"},
	{name: "hook timeout negative", doc: vips + "[hooks]\ntimeout = \"-1s\"\n", line: 10, key: "hooks.timeout", msg: "negative"},
	{name: "hook timeout syntax", doc: vips + "[hooks]\ntimeout = 10\n", line: 10, key: "hooks.timeout", msg: "want a duration string"},
	{name: "hooks inline table", doc: base + "hooks = { on_acquire = \"acquire\" }\n" + vip1, line: 5, key: "hooks.on_acquire", msg: "not an absolute path"},
}

func init() {
	// Appended rather than written into errCases so that the [[check]]
	// and [hooks] cases live beside the code they test.
	errCases = append(errCases, checkErrCases...)
}

func TestParseChecks(t *testing.T) {
	doc := vips + `
[[check]]
kind = "http"
url = "https://[::1]:8443/healthz?full=1"

[[check]]
name = "app.local"
kind = "exec"
command = ["/bin/true"]
interval = "100ms"
timeout = "99ms"
rise = 1
fall = 1

check2 = 1 # not a key of the file: a key of check[1]
`
	_, err := parse("t.toml", []byte(doc), testSources(nil))
	if err == nil || !strings.Contains(err.Error(), "check[1].check2: unknown key") {
		t.Errorf("unknown key in the second check: %v", err)
	}

	doc = base + `check = [
  { kind = "http", url = "https://[::1]:8443/healthz?full=1" },
  { name = "app.local", kind = "exec", command = ["/bin/true"], interval = "100ms", timeout = "99ms", rise = 1, fall = 1 },
  { kind = "tcp", address = "localhost:80" },
]
` + vip1 + `
[hooks]
on_acquire = "/bin/true"
on_release = ""
`
	c, err := parse("t.toml", []byte(doc), testSources(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []Check{
		{Name: "http-0", Kind: CheckHTTP, URL: "https://[::1]:8443/healthz?full=1", ExpectStatus: 200, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 3, Line: 6},
		{Name: "app.local", Kind: CheckExec, Command: []string{"/bin/true"}, Interval: 100 * time.Millisecond, Timeout: 99 * time.Millisecond, Rise: 1, Fall: 1, Line: 7},
		{Name: "tcp-2", Kind: CheckTCP, Address: "localhost:80", Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 3, Line: 8},
	}
	if !reflect.DeepEqual(c.Checks, want) {
		t.Errorf("checks:\n got %+v\nwant %+v", c.Checks, want)
	}
	if h := (Hooks{OnAcquire: "/bin/true", Timeout: 10 * time.Second}); c.Hooks != h {
		t.Errorf("hooks = %+v, want %+v", c.Hooks, h)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	// Without hooks, a zero timeout does no harm.
	c, err = parse("t.toml", []byte(vips+"[hooks]\ntimeout = \"0s\"\n"), testSources(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Checks != nil || c.Hooks != (Hooks{}) {
		t.Errorf("checks %+v, hooks %+v; want none", c.Checks, c.Hooks)
	}
}

// TestCheckExecutable checks the file rules for hooks and exec checks.
func TestCheckExecutable(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // despite the umask
			t.Fatal(err)
		}
		return p
	}
	ok := write("ok", 0o755)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(ok, link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "nothing"), dangling); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, err string
	}{
		{"0755", ok, ""},
		{"owner only", write("owner", 0o700), ""},
		{"group writable", write("group", 0o775), ""},
		{"symbolic link", link, ""},
		{"not executable", write("plain", 0o644), "is not executable (mode 0644): run chmod +x"},
		{"world writable", write("world", 0o777), "is writable by every user (mode 0777)"},
		{"directory", dir, "is not a regular file"},
		{"device", "/dev/null", "is not a regular file"},
		{"missing", filepath.Join(dir, "missing"), "does not exist"},
		{"dangling link", dangling, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkExecutable(tt.file)
			if tt.err == "" {
				if err != nil {
					t.Errorf("checkExecutable(%s): %v", tt.file, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), tt.file) {
				t.Errorf("checkExecutable(%s) = %v, want %s ...%s...", tt.file, err, tt.file, tt.err)
			}
			// The same through Parse, for a hook and an exec check.
			doc := vips + "[hooks]\non_acquire = \"" + tt.file + "\"\n[[check]]\nkind = \"exec\"\ncommand = [\"" + tt.file + "\"]\n"
			_, err = parse("t.toml", []byte(doc), testSources(nil))
			want := []string{"t.toml:10: hooks.on_acquire: " + tt.file, "t.toml:13: check[0].command[0]: " + tt.file}
			if err == nil {
				t.Fatalf("Parse: no error, want\n%s", strings.Join(want, "\n"))
			}
			if lines := strings.Split(err.Error(), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], want[0]) || !strings.HasPrefix(lines[1], want[1]) {
				t.Errorf("Parse:\n%v\nwant lines starting with\n%s", err, strings.Join(want, "\n"))
			}
		})
	}
}

func TestValidateChecks(t *testing.T) {
	good := func() *Config {
		return &Config{
			NodeName:      "web1",
			Insecure:      true,
			Interface:     "eth0",
			ControlSocket: DefaultControlSocket,
			Timing:        TimingLAN,
			ARP:           ARP{Repeat: 1},
			Bind:          DefaultBind,
			VIPs:          []VIP{{Name: "a", Addresses: []Address{{Interface: "eth0", Prefix: netip.MustParsePrefix("198.18.1.10/32")}}}},
			Checks: []Check{
				{Name: "web", Kind: CheckHTTP, URL: "http://127.0.0.1/", ExpectStatus: 200, Interval: time.Second, Timeout: time.Millisecond, Rise: 1, Fall: 1, Line: 7},
				{Name: "x", Kind: CheckExec, Command: []string{"/nonexistent/not/looked/at"}, Interval: time.Second, Timeout: time.Millisecond, Rise: 1, Fall: 1},
			},
			Hooks: Hooks{OnAcquire: "/nonexistent/not/looked/at", Timeout: time.Second},
		}
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"zero interval", func(c *Config) { c.Checks[1].Interval = 0 }, "check[1].interval: 0s: must be positive"},
		{"zero timeout", func(c *Config) { c.Checks[1].Timeout = 0 }, "check[1].timeout: 0s: must be positive"},
		{"zero rise", func(c *Config) { c.Checks[0].Rise = 0 }, "line 7: check[0].rise: 0: at least one"},
		{"zero fall", func(c *Config) { c.Checks[0].Fall = 0 }, "line 7: check[0].fall: 0: at least one"},
		{"zero expect_status", func(c *Config) { c.Checks[0].ExpectStatus = 0 }, "check[0].expect_status: 0 is not an HTTP status"},
		{"no kind", func(c *Config) { c.Checks[0].Kind = "" }, `line 7: check[0].kind: "" is not a check kind`},
		{"command in http", func(c *Config) { c.Checks[0].Command = []string{"/bin/true"} }, "check[0].command: not used by http checks"},
		{"status in exec", func(c *Config) { c.Checks[1].ExpectStatus = 200 }, "check[1].expect_status: not used by exec checks"},
		{"no name", func(c *Config) { c.Checks[1].Name = "" }, "check[1].name: empty check name"},
		{"same name", func(c *Config) { c.Checks[1].Name = "web" }, `check[1].name: duplicate check name "web" (first used by check[0].name at line 7)`},
		{"zero hook timeout", func(c *Config) { c.Hooks.Timeout = 0 }, "hooks.timeout: 0s: must be positive"},
		{"relative hook", func(c *Config) { c.Hooks.OnRelease = "release" }, `hooks.on_release: "release" is not an absolute path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.change(c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestChecksNotInFingerprint: checks and hooks are node-local, so nodes
// with different ones still agree.
func TestChecksNotInFingerprint(t *testing.T) {
	plain, err := parse("t.toml", []byte(vips), testSources(nil))
	if err != nil {
		t.Fatal(err)
	}
	doc := vips + "[[check]]\nkind = \"tcp\"\naddress = \"127.0.0.1:80\"\n[hooks]\non_acquire = \"/bin/true\"\ntimeout = \"3s\"\n"
	with, err := parse("t.toml", []byte(doc), testSources(nil))
	if err != nil {
		t.Fatal(err)
	}
	if plain.Fingerprint() != with.Fingerprint() {
		t.Errorf("checks and hooks changed the fingerprint: %s, %s", plain.Fingerprint(), with.Fingerprint())
	}
}
