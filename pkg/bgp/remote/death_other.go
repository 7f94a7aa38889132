//go:build !linux

package remote

import "syscall"

func deathSignal() *syscall.SysProcAttr { return nil }
