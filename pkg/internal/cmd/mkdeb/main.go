// Command mkdeb builds the wackamole Debian package from the repository
// alone, with nfpm as a library: "make deb" runs it after building the
// two programs. It is a developer tool, not part of what the package
// installs.
//
//	go run ./pkg/internal/cmd/mkdeb -bin DIR [-out DIR] [-version V] [-arch A]
//
// The package holds the programs (/usr/sbin/wackamole, /usr/bin/wackatrl),
// the systemd unit, the commented configuration as a conffile, the manual
// pages rendered from their Markdown, bash and zsh completions, the
// examples, a machine-readable copyright file made from the modules linked
// into the programs, and a changelog for the commit it is made from. Its
// version comes from "git describe" (see debVersion); its files are dated
// at the commit, so that the same commit and programs give the same bytes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"

	"github.com/wackamole/wackamole/pkg/internal/manpage"
)

const pkgName = "wackamole"

const description = `peer-to-peer virtual IP balancer for web fleets
Every web node runs the daemon wackamole. The daemons form one encrypted
gossip group, and a deterministic allocator spreads the configured virtual
IPs over the live nodes, about one per node; when a node dies its VIPs
move to the survivors in about a second. Publish every VIP under one DNS
name and every node takes traffic. A node that loses quorum never takes
over everything, so a partition does not give a VIP two owners.

wackatrl shows the group and who owns which VIP, and drains a node for
maintenance without losing a packet.

The service is installed disabled: configure /etc/wackamole/wackamole.toml
and the group's key, then enable it.`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(1)
	}
}

// options are mkdeb's inputs.
type options struct {
	top, bin, out    string
	version, arch    string
	maintainer       string
	modCache, goRoot string
	commit           commit
	compression      string // nfpm's; default xz, as Debian's packages
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mkdeb", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.top, "top", ".", "the top of the repository")
	fs.StringVar(&o.bin, "bin", "", "the directory holding the built wackamole, wackatrl and wackamole-bgp")
	fs.StringVar(&o.out, "out", ".", "where to write the .deb")
	fs.StringVar(&o.version, "version", "", "the Debian version (default: from git describe)")
	fs.StringVar(&o.arch, "arch", runtime.GOARCH, "the Debian architecture of the programs")
	fs.StringVar(&o.maintainer, "maintainer", "", `"Name <address>" (default: the commit's author)`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.bin == "" || fs.NArg() > 0 {
		return errors.New("usage: mkdeb -bin DIR [-out DIR] [-version V] [-arch A] [-maintainer M] [-top DIR]")
	}
	c, err := gitCommit(o.top)
	if err != nil {
		return fmt.Errorf("reading the version from git (or give -version and run in a git checkout): %w", err)
	}
	o.commit = c
	if o.version == "" {
		if o.version, err = debVersion(c.describe, c.date); err != nil {
			return err
		}
	}
	if o.maintainer == "" {
		o.maintainer = c.author
	}
	if o.modCache, err = goEnv("GOMODCACHE"); err != nil {
		return err
	}
	if o.goRoot, err = goEnv("GOROOT"); err != nil {
		return err
	}
	path, err := build(o)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, path)
	return nil
}

func goEnv(key string) (string, error) {
	goCmd := "go"
	if _, err := exec.LookPath(goCmd); err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goCmd, "env", key).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", key, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// build writes the package into o.out and returns its path.
func build(o options) (string, error) {
	stage, err := os.MkdirTemp("", "mkdeb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	date := o.commit.date

	var contents files.Contents
	add := func(dst string, data []byte, mode os.FileMode, kind string) error {
		src := filepath.Join(stage, strings.TrimPrefix(dst, "/"))
		if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(src, data, mode); err != nil {
			return err
		}
		contents = append(contents, &files.Content{Source: src, Destination: dst, Type: kind,
			FileInfo: &files.ContentFileInfo{Mode: mode, MTime: date}})
		return nil
	}
	copyFrom := func(dst, src string, mode os.FileMode, kind string) error {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		return add(dst, data, mode, kind)
	}
	doc := "/usr/share/doc/" + pkgName

	binaries := map[string]string{
		"wackamole": filepath.Join(o.bin, "wackamole"),
		"wackatrl":  filepath.Join(o.bin, "wackatrl"),
		// The BGP speaker of bgp mode, a process of its own (pkg/bgp/remote),
		// started by the daemon and not by users: no man page, not on PATH.
		"wackamole-bgp": filepath.Join(o.bin, "wackamole-bgp"),
	}
	steps := []error{
		copyFrom("/usr/sbin/wackamole", binaries["wackamole"], 0o755, files.TypeFile),
		copyFrom("/usr/bin/wackatrl", binaries["wackatrl"], 0o755, files.TypeFile),
		copyFrom("/usr/lib/wackamole/wackamole-bgp", binaries["wackamole-bgp"], 0o755, files.TypeFile),
		copyFrom("/etc/wackamole/wackamole.toml", filepath.Join(o.top, "examples/wackamole.toml"), 0o644, files.TypeConfig),
		copyFrom("/usr/share/bash-completion/completions/wackamole", filepath.Join(o.top, "cmd/wackamole/completion.bash"), 0o644, files.TypeFile),
		copyFrom("/usr/share/bash-completion/completions/wackatrl", filepath.Join(o.top, "cmd/wackatrl/completion.bash"), 0o644, files.TypeFile),
		copyFrom("/usr/share/zsh/vendor-completions/_wackamole", filepath.Join(o.top, "cmd/wackamole/completion.zsh"), 0o644, files.TypeFile),
		copyFrom("/usr/share/zsh/vendor-completions/_wackatrl", filepath.Join(o.top, "cmd/wackatrl/completion.zsh"), 0o644, files.TypeFile),
	}
	for _, ex := range []string{"README.md", "wackamole.toml", "wackamole.service", "zone.example", "grafana-dashboard.json", "realtime.conf"} {
		data, err := os.ReadFile(filepath.Join(o.top, "examples", ex))
		if err != nil {
			steps = append(steps, err)
			continue
		}
		// Debian compresses documentation larger than 4 kB.
		dst := doc + "/examples/" + ex
		if len(data) > 4096 {
			if data, err = gzipBest(data); err != nil {
				return "", err
			}
			dst += ".gz"
		}
		steps = append(steps, add(dst, data, 0o644, files.TypeFile))
	}
	if err := errors.Join(steps...); err != nil {
		return "", err
	}

	example, err := os.ReadFile(filepath.Join(o.top, "examples/wackamole.service"))
	if err != nil {
		return "", err
	}
	unit, err := packagedUnit(example)
	if err != nil {
		return "", err
	}
	if err := add("/lib/systemd/system/wackamole.service", unit, 0o644, files.TypeFile); err != nil {
		return "", err
	}

	for _, p := range manpage.Pages {
		src, err := os.ReadFile(filepath.Join(o.top, p.Source))
		if err != nil {
			return "", err
		}
		roff, err := manpage.Render(p, src, date, o.version)
		if err != nil {
			return "", err
		}
		gz, err := gzipBest(roff)
		if err != nil {
			return "", err
		}
		if err := add(fmt.Sprintf("/usr/share/man/man%d/%s.gz", p.Section, p.FileName()), gz, 0o644, files.TypeFile); err != nil {
			return "", err
		}
	}

	copyright, err := copyrightFile(o.top, o.maintainer, binaries, o.modCache, o.goRoot)
	if err != nil {
		return "", err
	}
	if err := add(doc+"/copyright", copyright, 0o644, files.TypeFile); err != nil {
		return "", err
	}
	cl, err := gzipBest(changelog(pkgName, o.version, o.maintainer, o.commit))
	if err != nil {
		return "", err
	}
	if err := add(doc+"/changelog.Debian.gz", cl, 0o644, files.TypeFile); err != nil {
		return "", err
	}
	overrides := filepath.Join(o.top, "pkg/internal/cmd/mkdeb/debian/lintian-overrides")
	if _, err := os.Stat(overrides); err == nil {
		if err := copyFrom("/usr/share/lintian/overrides/"+pkgName, overrides, 0o644, files.TypeFile); err != nil {
			return "", err
		}
	}

	i := strings.LastIndex(o.version, "-")
	if i < 0 {
		return "", fmt.Errorf("version %q has no Debian revision", o.version)
	}
	upstream, revision := o.version[:i], o.version[i+1:]
	scripts := filepath.Join(o.top, "pkg/internal/cmd/mkdeb/debian")
	compression := o.compression
	if compression == "" {
		compression = "xz"
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:          pkgName,
		Arch:          o.arch,
		Platform:      "linux",
		Version:       upstream,
		VersionSchema: "none",
		Release:       revision,
		Section:       "net",
		Priority:      "optional",
		Maintainer:    o.maintainer,
		Description:   description,
		Homepage:      "https://github.com/wackamole/wackamole",
		License:       "Expat",
		MTime:         date,
		Overridables: nfpm.Overridables{
			Depends:  []string{"adduser"},
			Contents: contents,
			Umask:    0o022,
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(scripts, "postinst"),
				PreRemove:   filepath.Join(scripts, "prerm"),
				PostRemove:  filepath.Join(scripts, "postrm"),
			},
			Deb: nfpm.Deb{Compression: compression},
		},
	})
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(o.out, fmt.Sprintf("%s_%s_%s.deb", pkgName, o.version, o.arch))
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(path + ".tmp")
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("nfpm: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return "", err
	}
	return path, nil
}
