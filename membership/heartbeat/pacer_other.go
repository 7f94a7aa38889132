//go:build !linux

package heartbeat

import "time"

var epoch = time.Now()

func monotonicNow() int64 { return int64(time.Since(epoch)) }

func sleepUntil(deadline int64) { time.Sleep(time.Duration(deadline - monotonicNow())) }
