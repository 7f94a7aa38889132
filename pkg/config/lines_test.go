package config

import (
	"testing"
)

func TestKeyLines(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want map[string]int
	}{
		{
			name: "top-level keys and comments",
			doc:  "# comment\na = 1\n\n  b = \"x # not a comment\" # comment\nc=true",
			want: map[string]int{"a": 2, "b": 4, "c": 5},
		},
		{
			name: "tables and dotted keys",
			doc:  "a.b = 1\n[t]\nx = 1\n[t.u]\ny.z = 2\n[ 'q k' . \"r\" ]\ns = 3",
			want: map[string]int{"a": 1, "a.b": 1, "t": 2, "t.x": 3, "t.u": 4, "t.u.y": 5, "t.u.y.z": 5, `"q k"`: 6, `"q k".r`: 6, `"q k".r.s`: 7},
		},
		{
			name: "arrays of tables",
			doc:  "[[vip]]\nname = \"a\"\n\n[[vip]]\nname = \"b\"\n[vip.sub]\nk = 1\n[[vip.list]]\n[[vip.list]]\nm = 2\n[[other]]",
			want: map[string]int{
				"vip": 1, "vip[0]": 1, "vip[0].name": 2, "vip[1]": 4, "vip[1].name": 5,
				"vip[1].sub": 6, "vip[1].sub.k": 7,
				"vip[1].list": 8, "vip[1].list[0]": 8, "vip[1].list[1]": 9, "vip[1].list[1].m": 10,
				"other": 11, "other[0]": 11,
			},
		},
		{
			name: "multi-line arrays",
			doc:  "a = [\n  \"x\",  # c\n  [1,\n   2],\n\n  \"y\", ]\nb = 1",
			want: map[string]int{"a": 1, "a[0]": 2, "a[1]": 3, "a[1][0]": 3, "a[1][1]": 4, "a[2]": 6, "b": 7},
		},
		{
			name: "inline tables",
			doc:  "t = { a = 1, b.c = [2,\n 3] }\nvip = [\n  {name = \"x\"},\n  { name = \"y\", addresses = [\"1\",\n \"2\"] },\n]",
			want: map[string]int{
				"t": 1, "t.a": 1, "t.b": 1, "t.b.c": 1, "t.b.c[0]": 1, "t.b.c[1]": 2,
				"vip": 3, "vip[0]": 4, "vip[0].name": 4, "vip[1]": 5, "vip[1].name": 5,
				"vip[1].addresses": 5, "vip[1].addresses[0]": 5, "vip[1].addresses[1]": 6,
			},
		},
		{
			name: "multi-line strings",
			doc:  "a = \"\"\"\n[not]\nb = 1\n\\\"\"\"\n\"\"\"\"\"\nc = '''\n''x'''''\nd = 1",
			want: map[string]int{"a": 1, "c": 6, "d": 8},
		},
		{
			name: "escaped quoted keys",
			doc:  "\"quor\\u0075m\" = 1\n\"a\\\"b\" = 2",
			want: map[string]int{"quorum": 1, `"a\"b"`: 2},
		},
		{
			name: "CRLF and BOM",
			doc:  "\ufeffa = 1\r\n[t]\r\nb = 2\r\n",
			want: map[string]int{"a": 1, "t": 2, "t.b": 3},
		},
		{
			name: "datetimes with spaces",
			doc:  "a = 1979-05-27 07:32:00Z\nb = [1979-05-27 07:32:00, 2]\nc = 1",
			want: map[string]int{"a": 1, "b": 2, "b[0]": 2, "b[1]": 2, "c": 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := keyLines(tt.doc)
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("line of %s = %d, want %d", k, got[k], want)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d paths, want %d: %v", len(got), len(tt.want), got)
			}
		})
	}
}

// TestKeyLinesGarbage feeds the scanner what the TOML library would
// reject: it must end and not panic.
func TestKeyLinesGarbage(t *testing.T) {
	for _, doc := range []string{
		"", "[", "[[", "[[a", "a", "a =", "a = [", "a = {", "a = \"", "a = '''", `a = """\`,
		"a = [1, {b = ", "= 1", "]]]", "a.=1", "\"a", "a = \"\\u12", "a = \"\\", "[a.\"b]", "\ufeff",
		"a = {b = 1,,,}", "a = [,,,]", "a = }", "a = ]", "a = \"\"\"\"\"\"\"\"", "a.b.c.d.e. = 1",
	} {
		keyLines(doc)
	}
}
