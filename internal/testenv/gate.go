package testenv

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"testing"
)

// E2EEnv is the environment variable that turns a test's missing
// prerequisites from a skip into a failure: set it to "1" where every test
// must run (make e2e, CI).
const E2EEnv = "WACKAMOLE_E2E"

// RequireRoot skips t unless it runs as root and every one of commands is
// on the PATH; with E2EEnv=1 it fails t instead.
func RequireRoot(t testing.TB, commands ...string) {
	t.Helper()
	if problem := missing(commands); problem != "" {
		refuse(t, problem)
	}
}

// RequireNetns is RequireRoot for a test that builds network namespaces:
// it needs root and ip(8) from iproute2, besides commands (such as "nft").
func RequireNetns(t testing.TB, commands ...string) {
	t.Helper()
	RequireRoot(t, append([]string{"ip"}, commands...)...)
}

// missing says what this machine lacks of root and commands, "" if nothing.
func missing(commands []string) string {
	if uid := os.Geteuid(); uid != 0 {
		return "needs root (running as uid " + strconv.Itoa(uid) + ")"
	}
	for _, c := range commands {
		if _, err := exec.LookPath(c); err != nil {
			return "command " + c + " not found: " + err.Error()
		}
	}
	return ""
}

// refuse skips t, or fails it when E2EEnv=1 demands that it runs.
func refuse(t testing.TB, problem string) {
	t.Helper()
	if os.Getenv(E2EEnv) == "1" {
		t.Fatalf("%s (%s=1, so this is a failure)", problem, E2EEnv)
		return
	}
	t.Skipf("%s (set %s=1 to fail instead)", problem, E2EEnv)
}

// UserGroup returns "" when the test runs as root, and else the name of its
// primary group: the group to give a server that admits root and the
// members of one group (wackamole's control socket), so that its tests
// talk to it as root, unchanged, and as any other user through the group.
func UserGroup(t testing.TB) string {
	t.Helper()
	if os.Geteuid() == 0 {
		return ""
	}
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatalf("testenv: the name of group %d: %v", os.Getgid(), err)
	}
	return g.Name
}
