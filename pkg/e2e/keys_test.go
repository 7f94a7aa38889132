package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/control"
	"github.com/wackamole/wackamole/pkg/internal/cluster"
)

// A key rotation in three reloads (add the new key, make it primary, drop
// the old one), each done on every node before the next, never splits the
// group: nobody fails over. Afterwards a node that still has only the old
// key can neither join nor take a VIP.
func TestKeyRotationWithoutDowntime(t *testing.T) {
	c := newCluster(t, cluster.Options{Nodes: 3})
	h := start(t, c)
	oldKey, err := os.ReadFile(c.Nodes[0].KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	newKey := base64.StdEncoding.EncodeToString(raw) + "\n"
	steps := []string{
		string(oldKey) + newKey, // 1: accept the new key
		newKey + string(oldKey), // 2: send with it
		newKey,                  // 3: forget the old one
	}
	for i, keys := range steps {
		for _, n := range c.Nodes {
			if err := os.WriteFile(n.KeyPath, []byte(keys), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := n.Process().Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		}
		// Longer than the failure timeout: a member that could not read
		// the others would have failed over by now.
		stable(t, c, 2*time.Second, h)
		t.Logf("rotation step %d done on every node: no ownership change", i+1)
	}
	for _, n := range c.Nodes {
		st, err := control.NewClient(n.Socket).Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Quorum.Have != 3 {
			t.Fatalf("%s sees %d members after the rotation", n.Name, st.Quorum.Have)
		}
	}

	stale, err := c.AddNode(within(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale.KeyPath, oldKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(stale); err != nil {
		t.Fatal(err)
	}
	stable(t, c, 4*time.Second, h)
	st, err := control.NewClient(c.Nodes[0].Socket).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Members {
		if m.Name == stale.Name {
			t.Fatalf("a node with the old key is a member: %+v", m)
		}
	}
}
