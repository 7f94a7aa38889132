package health

import (
	"testing"

	"github.com/wackamole/wackamole/internal/testenv"
)

// The tests start servers on 127.0.0.1: they run in a network namespace of
// their own.
func TestMain(m *testing.M) { testenv.RunIsolated(m) }
