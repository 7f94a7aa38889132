package heartbeat

import (
	"errors"
	"testing"
	"time"
)

func TestAlarmOnce(t *testing.T) {
	a, err := NewAlarm()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	const d = 20 * time.Millisecond
	start := time.Now()
	if err := a.Set(d, 0); err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := time.Since(start); got < d {
		t.Errorf("a one-shot alarm of %v expired after %v", d, got)
	}
	// One shot: nothing more comes until it is set again.
	ended := make(chan error, 1)
	go func() { ended <- a.Wait() }()
	select {
	case err := <-ended:
		t.Fatalf("a one-shot alarm expired twice (%v)", err)
	case <-time.After(3 * d):
	}
	if err := a.Set(time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	if err := <-ended; err != nil {
		t.Fatalf("the Wait in progress, after Set: %v", err)
	}
}

func TestAlarmPeriodic(t *testing.T) {
	a, err := NewAlarm()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	const every = 5 * time.Millisecond
	start := time.Now()
	if err := a.Set(every, every); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := a.Wait(); err != nil {
			t.Fatalf("tick %d: %v", i, err)
		}
	}
	if got := time.Since(start); got < 4*every {
		t.Errorf("4 ticks of %v took %v", every, got)
	}
}

func TestAlarmCloseEndsWait(t *testing.T) {
	a, err := NewAlarm()
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- a.Wait() }() // not set: waits for Close
	time.Sleep(10 * time.Millisecond)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, ErrAlarmClosed) {
			t.Errorf("Wait after Close = %v, want ErrAlarmClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the Wait in progress")
	}
	if err := a.Set(time.Millisecond, 0); err == nil {
		t.Error("Set after Close succeeded")
	}
	if err := a.Wait(); !errors.Is(err, ErrAlarmClosed) {
		t.Errorf("Wait after Close = %v, want ErrAlarmClosed", err)
	}
}
