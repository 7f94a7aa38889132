package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		name  string
		local net.Addr
		want  string
	}{
		{"ipv4", &net.TCPAddr{IP: net.ParseIP("198.18.0.101"), Port: 80}, "hello from n1 (you reached 198.18.0.101)\n"},
		{"ipv4-mapped", &net.TCPAddr{IP: net.ParseIP("::ffff:198.18.0.102"), Port: 80}, "hello from n1 (you reached 198.18.0.102)\n"},
		{"ipv6", &net.TCPAddr{IP: net.ParseIP("2001:db8::10"), Port: 8080}, "hello from n1 (you reached 2001:db8::10)\n"},
		{"no address", nil, "hello from n1 (you reached an unknown address)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.local != nil {
				req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, tt.local))
			}
			rec := httptest.NewRecorder()
			Handler("n1").ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Body.String() != tt.want {
				t.Errorf("got %d %q, want 200 %q", rec.Code, rec.Body.String(), tt.want)
			}
		})
	}
}

// A real server reports the address the client connected to.
func TestServer(t *testing.T) {
	srv := httptest.NewServer(Handler("web7"))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/any/path")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello from web7 (you reached 127.0.0.1)\n"; string(body) != want {
		t.Errorf("body %q, want %q", body, want)
	}
}

func TestRunFlags(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"extra"}, {"-listen", "not an address"}} {
		var stderr bytes.Buffer
		code := run(args, &stderr)
		if code == 0 {
			t.Errorf("run(%q) = 0, want failure", args)
		}
		if !strings.Contains(stderr.String(), "webserver") && !strings.Contains(stderr.String(), "flag") {
			t.Errorf("run(%q): unhelpful message %q", args, stderr.String())
		}
	}
}
