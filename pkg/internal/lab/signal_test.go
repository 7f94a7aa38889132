package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wackamole/wackamole/internal/testenv"
)

// signalHelperEnv makes TestCloseOnSignal's child run the helper.
const signalHelperEnv = "WKLAB_SIGNAL_HELPER"

// TestCloseOnSignalHelper is the child of TestCloseOnSignal: it builds a
// lab, prints its prefix and waits for a signal.
func TestCloseOnSignalHelper(t *testing.T) {
	if os.Getenv(signalHelperEnv) != "1" {
		t.Skip("helper process for TestCloseOnSignal")
	}
	l, err := New(context.Background(), Options{Prefix: os.Getenv(signalHelperEnv + "_PREFIX"), Nodes: 1})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	l.CloseOnSignal()
	if _, err := l.Nodes[0].Start("sleep", []string{"1000"}, ""); err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	time.Sleep(time.Minute)
	os.Exit(3)
}

func TestCloseOnSignal(t *testing.T) {
	testenv.RequireNetns(t)
	prefix := "wkt" + randomHex(3)
	t.Cleanup(func() { Sweep(prefix) })
	cmd := exec.Command(os.Args[0], "-test.run=^TestCloseOnSignalHelper$")
	cmd.Env = append(os.Environ(), signalHelperEnv+"=1", signalHelperEnv+"_PREFIX="+prefix)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	if got := namespacesWithPrefix(t, prefix); len(got) != 3 {
		t.Fatalf("helper's namespaces: %v", got)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Errorf("helper exit: %v, want status %d", err, 128+int(syscall.SIGTERM))
	}
	if got := namespacesWithPrefix(t, prefix); len(got) > 0 {
		t.Errorf("namespaces left after SIGTERM: %v", got)
	}
}
