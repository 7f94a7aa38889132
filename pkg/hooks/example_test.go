package hooks_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/wackamole/wackamole/pkg/config"
	"github.com/wackamole/wackamole/pkg/hooks"
)

// An on_acquire hook that records what it was told.
func ExampleRunner() {
	dir, err := os.MkdirTemp("", "hooks-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "log")
	hook := filepath.Join(dir, "acquire")
	script := "#!/bin/sh\necho \"$1 $2: $WACKAMOLE_ADDRESSES on $WACKAMOLE_INTERFACES ($WACKAMOLE_REASON)\" >> " + out + "\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		fmt.Println(err)
		return
	}

	r := hooks.New(config.Hooks{OnAcquire: hook, Timeout: 5 * time.Second}, slog.New(slog.DiscardHandler))
	r.Run(hooks.Event{
		Kind: hooks.Acquire, VIP: "www-1", Node: "web1", Reason: "orphan",
		Addresses: []string{"198.18.1.10/32"}, Interfaces: []string{"eth0"},
	})
	r.Run(hooks.Event{Kind: hooks.Release, VIP: "www-1"}) // no on_release: nothing runs
	r.Close()                                             // waits for the queued hooks

	data, _ := os.ReadFile(out)
	fmt.Print(string(data))
	ran, failed, dropped := r.Counts()
	fmt.Println(ran, failed, dropped)
	// Output:
	// acquire www-1: 198.18.1.10/32 on eth0 (orphan)
	// 1 0 0
}
