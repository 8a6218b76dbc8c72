package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestFront hands requests to live instances in turn, skips one that
// refuses connections, and fails — without resending — a request whose
// instance died with it.
func TestFront(t *testing.T) {
	type seen struct{ instance, method, uri, host, body string }
	var (
		mu  sync.Mutex
		got []seen
	)
	instance := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got = append(got, seen{name, r.Method, r.URL.RequestURI(), r.Host, string(b)})
			mu.Unlock()
			if r.URL.Path == "/crash" {
				// The instance dies with the request: no answer at all.
				c, _, _ := w.(http.Hijacker).Hijack()
				c.Close()
				return
			}
			w.Header().Set("X-Instance", name)
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, name)
		}))
		t.Cleanup(s.Close)
		return s
	}
	one, three := instance("one"), instance("three")
	down := httptest.NewServer(nil)
	down.Close() // refuses connections
	var log syncBuffer
	srv := httptest.NewServer(newFrontend([]string{one.URL, down.URL, three.URL}, &log))
	defer srv.Close()

	post := func(path, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusAccepted && resp.Header.Get("X-Instance") != string(b) {
			t.Errorf("answer headers not passed on: %v", resp.Header)
		}
		return resp.StatusCode, string(b)
	}
	var answered []string
	for i := range 4 {
		status, body := post("/post-event?x=1", "n="+string(rune('0'+i)))
		if status != http.StatusAccepted {
			t.Fatalf("request %d: %d %s", i, status, body)
		}
		answered = append(answered, body)
	}
	// Round robin over one, down (skipped: three), three: every live
	// instance gets requests, and the dead one none.
	if n := strings.Count(strings.Join(answered, ","), "one"); n == 0 || n == 4 {
		t.Errorf("answered by %v: want both live instances", answered)
	}
	mu.Lock()
	for i, s := range got {
		if s.method != http.MethodPost || s.uri != "/post-event?x=1" || s.body != "n="+string(rune('0'+i)) ||
			s.host != strings.TrimPrefix(srv.URL, "http://") {
			t.Errorf("instance saw %+v", s)
		}
	}
	got = nil
	mu.Unlock()

	if status, _ := post("/crash", "EventType=onMessageAdded&Body=AGENT"); status != http.StatusBadGateway {
		t.Errorf("instance died with the request: %d, want 502", status)
	}
	mu.Lock()
	if len(got) != 1 {
		t.Errorf("the request was sent %d times, want once: %+v", len(got), got)
	}
	mu.Unlock()
	// front.log shows the webhook's event, and the 502 its caller got
	// (the crash demo of scripts/local-cluster.sh waits for the one and
	// shows the other).
	for _, want := range []string{
		"POST /crash (onMessageAdded) → instance ",
		"POST /crash (onMessageAdded) ← instance ", ": 502, not resent",
		"POST /post-event ← instance ", ": 202",
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("front log lacks %q:\n%s", want, log.String())
		}
	}

	none := httptest.NewServer(newFrontend([]string{down.URL}, io.Discard))
	defer none.Close()
	resp, err := http.Get(none.URL + "/crm")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("no instance up: %d, want 503", resp.StatusCode)
	}
}

// syncBuffer is a log the front's handlers write while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFrontBadArgs(t *testing.T) {
	for _, args := range [][]string{
		{"front"},
		{"front", "localhost:8081"},
		{"front", "http://127.0.0.1:8081/crm"},
		{"front", "-addr"},
	} {
		if err := run(context.Background(), args, nil, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
