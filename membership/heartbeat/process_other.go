//go:build !linux

package heartbeat

func scheduleProcess(s Sched) error {
	if s.Policy == PolicyOther {
		return nil
	}
	return errNotLinux
}

func onOrdinaryThread(f func() error) error { return f() }
