package cluster

import (
	"strings"
	"testing"
	"time"
)

func TestParseStalls(t *testing.T) {
	log := `time=2026-12-01T20:26:37.700Z level=INFO msg="quorum reached" have=3 need=2
time=2026-12-01T20:26:37.789Z level=WARN msg="this node did not run for a while (stalled); the members' silence meanwhile is forgiven, and nothing is decided until they are heard again" stalled=17ms awaiting=2
time=garbage level=WARN msg="this node did not run for a while (stalled)" stalled=17ms awaiting=2
time=2026-12-01T20:26:42.132Z level=WARN msg="this node did not run for a while (stalled); x" stalled=1.5s awaiting=0
`
	got := ParseStalls("n1", strings.NewReader(log))
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	want := []Stall{{"n1", at("2026-12-01T20:26:37.789Z"), 17 * time.Millisecond}, {"n1", at("2026-12-01T20:26:42.132Z"), 1500 * time.Millisecond}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("ParseStalls = %v, want %v", got, want)
	}
	for _, c := range []struct {
		at   string
		want bool
	}{
		{"2026-12-01T20:26:37.771Z", false}, // before the first began
		{"2026-12-01T20:26:37.772Z", true},  // as it began
		{"2026-12-01T20:26:37.889Z", true},  // 100 ms after its end
		{"2026-12-01T20:26:37.890Z", false},
		{"2026-12-01T20:26:41.000Z", true}, // during the second
	} {
		if _, ok := StallBefore(got, at(c.at), 100*time.Millisecond); ok != c.want {
			t.Errorf("StallBefore(%s) = %v, want %v", c.at, ok, c.want)
		}
	}
}
