package proc

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	ctx := context.Background()
	if err := Run(ctx, []string{"/bin/true"}, []string{Path}, KillLeftovers); err != nil {
		t.Fatalf("true: %v", err)
	}
	err := Run(ctx, []string{"/bin/sh", "-c", "echo first >&2; echo second >&2; exit 3"}, []string{Path}, KillLeftovers)
	if err == nil || !strings.Contains(err.Error(), "exit status 3: first") || strings.Contains(err.Error(), "second") {
		t.Fatalf("failing program: %v", err)
	}
	timeout, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := Run(timeout, []string{"/bin/sleep", "10"}, []string{Path}, KillLeftovers); err != context.DeadlineExceeded {
		t.Fatalf("timeout: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the timeout took %v", d)
	}
	if err := Run(ctx, nil, nil, KillLeftovers); err == nil {
		t.Fatal("no command accepted")
	}
}

// A program's background processes are killed or kept as asked.
func TestLeftovers(t *testing.T) {
	for _, tt := range []struct {
		leftovers Leftovers
		alive     bool
	}{{KillLeftovers, false}, {KeepLeftovers, true}} {
		pidFile := filepath.Join(t.TempDir(), "pid")
		script := "sleep 30 >/dev/null 2>&1 & echo $! > " + pidFile
		if err := Run(context.Background(), []string{"/bin/sh", "-c", script}, []string{Path}, tt.leftovers); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		pid := strings.TrimSpace(string(data))
		time.Sleep(50 * time.Millisecond)
		_, statErr := os.Stat("/proc/" + pid)
		alive := statErr == nil
		if alive {
			// Reaped by init or still running: read its state.
			st, _ := os.ReadFile("/proc/" + pid + "/stat")
			alive = !strings.Contains(string(st), ") Z ")
			n, _ := strconv.Atoi(pid)
			p, _ := os.FindProcess(n)
			p.Kill()
		}
		if alive != tt.alive {
			t.Errorf("leftovers %v: background process alive = %v", tt.leftovers, alive)
		}
	}
}

func TestFirstLine(t *testing.T) {
	var w firstLine
	w.Write([]byte("a\x1bb"))
	w.Write([]byte("c\nd"))
	if got := w.String(); got != "a?bc" {
		t.Fatalf("got %q", got)
	}
	var long firstLine
	long.Write([]byte(strings.Repeat("x", 3*FirstLineMax)))
	if len(long.String()) != FirstLineMax {
		t.Fatalf("kept %d bytes", len(long.String()))
	}
}
