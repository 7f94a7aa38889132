package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// modulePath is the module wackalab builds its binaries from.
const modulePath = "github.com/wackamole/wackamole"

// goTool returns the go command: $GO, else go in PATH, else the usual
// install location (sudo often resets PATH).
func goTool() (string, error) {
	if g := os.Getenv("GO"); g != "" {
		return g, nil
	}
	if g, err := exec.LookPath("go"); err == nil {
		return g, nil
	}
	if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		return "/usr/local/go/bin/go", nil
	}
	return "", errors.New("the go command is not in PATH (nor /usr/local/go/bin/go); set GO=/path/to/go")
}

// moduleRoot returns the root directory of the wackamole source tree that
// contains the working directory.
func moduleRoot(ctx context.Context, goBin string) (string, error) {
	out, err := exec.CommandContext(ctx, goBin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run wackalab from the wackamole source tree")
	}
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(string(data), "\n")
	if strings.TrimSpace(first) != "module "+modulePath {
		return "", fmt.Errorf("%s is not the wackamole module (%s): run wackalab from the wackamole source tree", gomod, modulePath)
	}
	return filepath.Dir(gomod), nil
}

// buildTools builds the main packages pkgs (paths inside the module, such
// as "cmd/wackamole") into dir with one go build, and returns each binary's
// path by package base name ("wackamole"). The error carries go's output.
func buildTools(ctx context.Context, dir string, pkgs ...string) (map[string]string, error) {
	goBin, err := goTool()
	if err != nil {
		return nil, err
	}
	root, err := moduleRoot(ctx, goBin)
	if err != nil {
		return nil, err
	}
	if slices.Contains(pkgs, "cmd/wackamole") && !slices.Contains(pkgs, "cmd/wackamole-bgp") {
		// The daemon finds its BGP speaker beside itself.
		pkgs = append(pkgs, "cmd/wackamole-bgp")
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, p := range pkgs {
		args = append(args, "./"+p)
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	bins := make(map[string]string, len(pkgs))
	for _, p := range pkgs {
		name := path.Base(p)
		bins[name] = filepath.Join(dir, name)
	}
	return bins, nil
}

// runOut runs a command in the program's own namespace and returns its
// standard output; the error carries its standard error.
func runOut(ctx context.Context, name string, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// buildInTemp builds pkgs (see buildTools) into a new temporary directory
// named after prefix, and returns the binaries and the directory; the
// caller removes it.
func buildInTemp(ctx context.Context, prefix string, pkgs ...string) (map[string]string, string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, "", err
	}
	bins, err := buildTools(ctx, dir, pkgs...)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	return bins, dir, nil
}
