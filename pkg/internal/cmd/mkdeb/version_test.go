package main

import (
	"os/exec"
	"testing"
	"time"
)

func TestDebVersion(t *testing.T) {
	day := time.Date(2026, 11, 26, 5, 14, 41, 0, time.UTC)
	for _, tt := range []struct{ in, want string }{
		{"v1.2.3", "1.2.3-1"},
		{"1.2.3", "1.2.3-1"},
		{"v1.2.3-rc1", "1.2.3~rc1-1"},
		{"v1.2.3-4-gabc1234", "1.2.3+git20261126.4.abc1234-1"},
		{"v1.2.3-rc1-4-gabc1234", "1.2.3~rc1+git20261126.4.abc1234-1"},
		{"6964af2", "0.0~git20261126.6964af2-1"},
		{"6964af2-dirty", "0.0~git20261126.6964af2+dirty-1"},
		{"v2.0-10-g6964af2-dirty", "2.0+git20261126.10.6964af2+dirty-1"},
	} {
		got, err := debVersion(tt.in, day)
		if err != nil || got != tt.want {
			t.Errorf("debVersion(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "release-one", "v1.2_3", "zzz", "v1.2.3-4-gXYZ"} {
		if got, err := debVersion(bad, day); err == nil {
			t.Errorf("debVersion(%q) = %q, want an error", bad, got)
		}
	}
}

// The conversion keeps the history's order, as dpkg compares versions.
func TestDebVersionOrder(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("no dpkg")
	}
	d1 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	d2 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	order := []struct {
		describe string
		date     time.Time
	}{
		{"abc1234", d1}, {"def5678", d2}, {"v0.1-rc1", d2}, {"v0.1", d2}, {"v0.1-3-g1234abc", d2}, {"v0.2", d2},
	}
	var prev string
	for _, o := range order {
		v, err := debVersion(o.describe, o.date)
		if err != nil {
			t.Fatal(err)
		}
		if prev != "" {
			if err := exec.Command("dpkg", "--compare-versions", prev, "lt", v).Run(); err != nil {
				t.Errorf("dpkg does not sort %s before %s", prev, v)
			}
		}
		prev = v
	}
}
