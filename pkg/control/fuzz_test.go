package control

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzRequest sends whatever bytes a client could write to the control
// socket, through the real server (HTTP parsing included): the server never
// panics and still answers a well-formed request afterwards. Drains are
// bounded by the fake backend, which answers at once.
func FuzzRequest(f *testing.F) {
	for _, seed := range []string{
		"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /v1/drain?timeout=5s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"POST /v1/drain?timeout=-1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /v1/undrain?x=1&x=2 HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"GET /v1/../v1/vips HTTP/1.0\r\n\r\n",
		"DELETE /v1/members HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
		"\x00\xff garbage",
	} {
		f.Add(seed)
	}
	dir, err := os.MkdirTemp("", "wkf")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	s, err := Listen(usable(f, Options{Path: filepath.Join(dir, "c.sock"), Backend: &fakeBackend{status: testStatus()}, Logger: quietLogger()}))
	if err != nil {
		f.Fatal(err)
	}
	go s.Serve()
	f.Cleanup(func() { s.Close() })
	c := NewClient(s.Path())
	f.Cleanup(c.Close)
	f.Fuzz(func(t *testing.T, req string) {
		conn, err := net.Dial("unix", s.Path())
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(conn, req)
		// End of request: the server answers or gives up at once instead
		// of waiting for more bytes.
		conn.(*net.UnixConn).CloseWrite()
		io.ReadAll(conn)
		conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.Status(ctx); err != nil && !strings.Contains(err.Error(), "closed") {
			t.Fatalf("the server no longer answers after %q: %v", req, err)
		}
	})
}
