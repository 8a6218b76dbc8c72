package main

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/function"
)

// startServer serves a function "crm" that answers 200 within limits, on
// a port of its own.
func startServer(t *testing.T, limits serverLimits) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ok := func(function.Name) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	}
	srv := newServer(l.Addr().String(), ok, []function.Name{function.CRM}, limits, slog.New(slog.DiscardHandler))
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// readAll reads what the server sends until it closes the connection. The
// read deadline only keeps a broken server from hanging the test: it is
// set from the test's own deadline, far beyond the limits under test.
func readAll(t *testing.T, c net.Conn) (string, error) {
	t.Helper()
	guard := time.Now().Add(5 * time.Minute)
	if d, ok := t.Deadline(); ok {
		guard = d.Add(-10 * time.Second)
	}
	c.SetReadDeadline(guard)
	b, err := io.ReadAll(c)
	return string(b), err
}

// TestServerLimits checks that a client sending its headers slowly, or
// never finishing them, has its connection closed without an answer, and
// that headers over the limit get 431, while a normal request is served.
func TestServerLimits(t *testing.T) {
	limits := serverLimits{ReadHeaderTimeout: 50 * time.Millisecond, ReadTimeout: 100 * time.Millisecond,
		IdleTimeout: 100 * time.Millisecond, MaxHeaderBytes: 64 << 10}
	addr := startServer(t, limits)

	t.Run("normal request", func(t *testing.T) {
		resp, err := http.Get("http://" + startServer(t, defaultLimits) + "/crm")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status %d, want 200", resp.StatusCode)
		}
	})

	t.Run("headers never finished", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /crm HTTP/1.1\r\nHost: x\r\n")
		got, err := readAll(t, c)
		if isTimeout(err) {
			t.Fatal("the server kept the connection open")
		}
		if strings.Contains(got, "200 OK") {
			t.Errorf("got an answer to an unfinished request: %q", got)
		}
	})

	t.Run("headers dripped", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// One byte at a time, forever: only the server can end it.
		go func() {
			io.WriteString(c, "GET /crm HTTP/1.1\r\nHost: x\r\n")
			for {
				if _, err := io.WriteString(c, "X"); err != nil {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		got, err := readAll(t, c)
		if isTimeout(err) {
			t.Fatal("the server kept the connection open")
		}
		if strings.Contains(got, "200 OK") {
			t.Errorf("got an answer to a dripped request: %q", got)
		}
	})

	t.Run("100 KiB of headers", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go io.WriteString(c, "GET /crm HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 100<<10)+"\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", resp.StatusCode)
		}
	})
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestDefaultLimits checks the limits the local server runs with.
func TestDefaultLimits(t *testing.T) {
	srv := newServer("127.0.0.1:0", func(function.Name) http.Handler { return http.NotFoundHandler() }, nil, defaultLimits, slog.New(slog.DiscardHandler))
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Errorf("timeouts header %v, read %v, idle %v: a slow client could hold a connection forever",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout)
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 64<<10 {
		t.Errorf("MaxHeaderBytes = %d, want at most 64 KiB", srv.MaxHeaderBytes)
	}
}
