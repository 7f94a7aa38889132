package daemon

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/wackamole/wackamole/pkg/agent"
)

// filler sets every field of a value to a distinct non-zero value.
type filler struct{ n int }

var timeType = reflect.TypeFor[time.Time]()

func (f *filler) fill(v reflect.Value) {
	f.n++
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(time.Date(2026, 11, 26, 0, 0, f.n, 0, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", f.n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(f.n))
	case reflect.Uint64:
		v.SetUint(uint64(f.n))
	case reflect.Struct:
		for i := range v.NumField() {
			f.fill(v.Field(i))
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			f.fill(v.Index(i))
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			f.fill(k)
			f.fill(e)
			v.SetMapIndex(k, e)
		}
	default:
		panic("filler: no rule for " + v.Type().String())
	}
}

// same reports where want (the agent's) and got (control's) differ: every
// field of got must carry the value of want's field of the same name.
func same(path string, want, got reflect.Value) []string {
	if got.Type() == timeType {
		if !want.Interface().(time.Time).Equal(got.Interface().(time.Time)) || got.Interface().(time.Time).IsZero() {
			return []string{path}
		}
		return nil
	}
	switch got.Kind() {
	case reflect.Struct:
		var diffs []string
		for i := range got.NumField() {
			name := got.Type().Field(i).Name
			if path+"."+name == "Status.BGP" {
				continue // the speaker's, not the agent's (bgpStatus)
			}
			w := want.FieldByName(name)
			if !w.IsValid() {
				diffs = append(diffs, path+"."+name+" (no such field in the agent's status)")
				continue
			}
			diffs = append(diffs, same(path+"."+name, w, got.Field(i))...)
		}
		return diffs
	case reflect.Slice:
		if got.Len() != want.Len() || got.Len() == 0 {
			return []string{path}
		}
		var diffs []string
		for i := range got.Len() {
			diffs = append(diffs, same(fmt.Sprintf("%s[%d]", path, i), want.Index(i), got.Index(i))...)
		}
		return diffs
	}
	if got.IsZero() || !reflect.DeepEqual(want.Interface(), got.Interface()) {
		return []string{path}
	}
	return nil
}

// Every field of the control protocol's status is filled from the agent's
// field of the same name: a field added to control.Status and forgotten in
// the conversion shows up here.
func TestControlStatusFillsEveryField(t *testing.T) {
	var s agent.Status
	(&filler{}).fill(reflect.ValueOf(&s).Elem())
	got := controlStatus(s)
	for _, d := range same("Status", reflect.ValueOf(s), reflect.ValueOf(got)) {
		t.Errorf("%s: not carried over from the agent's status", d)
	}
}

// An agent status before the first round has no members, VIPs or checks:
// the wire shows null for them, as it did when it was the agent's status.
func TestControlStatusKeepsNil(t *testing.T) {
	b, err := json.Marshal(controlStatus(agent.Status{}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"node":"","state":"","healthy":false,"quorum":{"have":0,"need":0,"ok":false},"fingerprint":"","timing":"","started":"0001-01-01T00:00:00Z","gossip_health":0,"damping":{"damped":false,"penalty":0,"flaps":0},"members":null,"vips":null,"counters":{"acquired":null,"released":null,"conflicts":0,"announcements":0,"errors":0}}`
	if string(b) != want {
		t.Errorf("empty status:\n got %s\nwant %s", b, want)
	}
}
