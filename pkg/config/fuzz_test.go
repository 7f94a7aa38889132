package config

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, that every problem is reported
// with a message and a line inside the file, that results are
// deterministic, and that an accepted config passes Validate.
//
// Seeds: testdata/valid.toml, testdata/invalid.toml, testdata/valid-bgp.toml,
// the error table and testdata/fuzz/FuzzParse. Run with go test
// -fuzz=FuzzParse.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/valid.toml", "testdata/invalid.toml", "testdata/valid-bgp.toml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, c := range errCases {
		f.Add([]byte(c.doc))
	}
	// The key file, hostname and programs are fixed, so that runs are
	// deterministic and the fuzzer cannot make Parse read arbitrary files.
	src := sources{
		readKey:    func(string) ([]byte, error) { return []byte(testKey), nil },
		hostname:   func() (string, error) { return "fuzzhost", nil },
		executable: func(string) error { return nil },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse("fuzz.toml", data, src)
		c2, err2 := parse("fuzz.toml", data, src)
		if !reflect.DeepEqual(c, c2) || (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("two parses differ:\n%+v %v\n%+v %v", c, err, c2, err2)
		}
		if err != nil {
			if c != nil {
				t.Fatalf("config returned with error %v", err)
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty Errors", err, err)
			}
			lines := bytes.Count(data, []byte("\n")) + 1
			for _, e := range errs {
				if e.Msg == "" || e.File != "fuzz.toml" || e.Line < 0 || e.Line > lines {
					t.Fatalf("bad error %#v in a %d-line file", e, lines)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not re-validate: %v\n%+v", err, c)
		}
		if len(c.VIPs) == 0 || len(c.VIPs) > MaxVIPs {
			t.Fatalf("accepted %d VIPs", len(c.VIPs))
		}
		if c.QuorumNeeded() < 1 {
			t.Fatalf("QuorumNeeded = %d", c.QuorumNeeded())
		}
		if fp := c.Fingerprint(); len(fp) != 16 {
			t.Fatalf("Fingerprint = %q", fp)
		}
	})
}
