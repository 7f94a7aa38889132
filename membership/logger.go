package membership

import (
	"context"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// newMemberlistLogger routes memberlist's "[LEVEL] memberlist: ..." lines
// to slog. Its debug chatter goes to Debug; warnings and errors to Warn,
// at most once per message kind every repeatEvery: a stranger sending
// packets that do not decrypt must not flood the log.
func newMemberlistLogger(l *slog.Logger) *log.Logger {
	return log.New(&memberlistWriter{log: l, last: map[string]time.Time{}}, "", 0)
}

const repeatEvery = 10 * time.Second

type memberlistWriter struct {
	log  *slog.Logger
	mu   sync.Mutex
	last map[string]time.Time
}

func (w *memberlistWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelDebug
	switch {
	case strings.HasPrefix(line, "[ERR]"), strings.HasPrefix(line, "[ERROR]"), strings.HasPrefix(line, "[WARN]"):
		level = slog.LevelWarn
	}
	if _, rest, ok := strings.Cut(line, "] "); ok {
		line = rest
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	if level == slog.LevelWarn {
		kind := line
		if i := strings.IndexAny(kind, ":0123456789"); i > 0 {
			kind = kind[:i]
		}
		now := time.Now()
		w.mu.Lock()
		if t, ok := w.last[kind]; ok && now.Sub(t) < repeatEvery {
			w.mu.Unlock()
			return len(p), nil
		}
		if len(w.last) > 1000 {
			clear(w.last)
		}
		w.last[kind] = now
		w.mu.Unlock()
	}
	w.log.Log(context.Background(), level, line, "component", "memberlist")
	return len(p), nil
}
