package membership

import (
	"testing"
	"time"
)

func TestGridPhase(t *testing.T) {
	const ms = time.Millisecond
	at := func(unixNano int64) time.Time { return time.Unix(0, unixNano) }
	for _, tt := range []struct {
		now      time.Time
		interval time.Duration
		want     time.Duration
	}{
		{at(0), 200 * ms, 200 * ms}, // on the grid: the next point
		{at(int64(1 * ms)), 200 * ms, 199 * ms},
		{at(int64(199 * ms)), 200 * ms, 1 * ms},
		{at(int64(1234567*time.Second + 350*ms)), 200 * ms, 50 * ms},
		{at(int64(7 * ms)), 5 * ms, 3 * ms},
		{at(-int64(50 * ms)), 200 * ms, 50 * ms}, // before 1970
	} {
		if got := gridPhase(tt.now, tt.interval); got != tt.want {
			t.Errorf("gridPhase(%v, %v) = %v, want %v", tt.now.UnixNano(), tt.interval, got, tt.want)
		}
	}
}
