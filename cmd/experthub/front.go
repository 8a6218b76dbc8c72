package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// front runs a local stand-in for the front end Cloud
// Functions puts before a function's instances: one public URL, each
// request handed to the next instance that is up. An instance that
// refuses the connection is skipped; one that dies with a request in
// flight fails that request (502), which is not sent elsewhere: the
// front cannot know what the instance did of it, and neither does Cloud
// Run's.
func front(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("front", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on: the instances' PUBLIC_BASE_URL")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: experthub front [-addr host:port] http://instance1 http://instance2 …")
		fs.PrintDefaults()
	}
	instances, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(instances) == 0 {
		return fmt.Errorf("%w: front needs the instances' URLs", errUsage)
	}
	var backends []string
	for _, a := range instances {
		u, err := url.Parse(a)
		if err != nil || u.Scheme != "http" || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return fmt.Errorf("%w: %q is not an instance origin like http://127.0.0.1:8081", errUsage, a)
		}
		backends = append(backends, "http://"+u.Host)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	f := newFrontend(backends, stderr)
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "experthub: front on http://%s for %d instances %v; stop with Ctrl-C\n", l.Addr(), len(backends), backends)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		fmt.Fprintln(stderr, "experthub: stopping the front")
		return srv.Close()
	}
}

// maxFrontBody bounds a request the front buffers to resend it.
const maxFrontBody = 32 << 20

type frontend struct {
	backends []string
	client   *http.Client
	next     atomic.Uint64
	mu       sync.Mutex // serializes log lines
	log      io.Writer
}

func newFrontend(backends []string, log io.Writer) *frontend {
	return &frontend{
		backends: backends,
		log:      log,
		client: &http.Client{
			Transport:     &http.Transport{MaxIdleConnsPerHost: 16},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

func (f *frontend) logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(f.log, time.Now().Format("15:04:05.000")+" front: "+format+"\n", args...)
}

func (f *frontend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The body is kept to resend it when an instance refuses the
	// connection.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFrontBody))
	if err != nil {
		http.Error(w, "front: cannot read the request body", http.StatusRequestEntityTooLarge)
		return
	}
	what := r.Method + " " + r.URL.Path
	if ev := eventType(r, body); ev != "" {
		what += " (" + ev + ")"
	}
	first := f.next.Add(1)
	for i := range uint64(len(f.backends)) {
		n := (first + i) % uint64(len(f.backends))
		instance := n + 1
		f.logf("%s → instance %d (%s)", what, instance, f.backends[n])
		resp, err := f.forward(r, f.backends[n], body)
		if errors.Is(err, errRefused) {
			f.logf("instance %d is down; trying the next", instance)
			continue
		}
		if err != nil {
			f.logf("%s ← instance %d: %d, not resent (the instance failed: %v)", what, instance, http.StatusBadGateway, err)
			http.Error(w, "front: the instance failed", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		dropHopByHop(w.Header())
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		f.logf("%s ← instance %d: %d", what, instance, resp.StatusCode)
		return
	}
	f.logf("%s: %d, no instance is up", what, http.StatusServiceUnavailable)
	http.Error(w, "front: no instance is up", http.StatusServiceUnavailable)
}

// eventType is a Conversations webhook's EventType (onMessageAdded…),
// for the log: the crash demo waits for a bot turn's webhook, not any
// post-event.
func eventType(r *http.Request, body []byte) string {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return ""
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return ""
	}
	if ev := form.Get("EventType"); eventName.MatchString(ev) {
		return ev
	}
	return "" // not a name Twilio sends: kept out of the log
}

var eventName = regexp.MustCompile(`^[A-Za-z.]{1,40}$`)

// errRefused is returned when an instance cannot be connected to: the
// request never reached it.
var errRefused = errors.New("front: connection refused")

// forward sends r to the instance at origin, with the headers a proxy
// adds; the instance sees the public host, as behind Cloud Run.
func (f *frontend) forward(r *http.Request, origin string, body []byte) (*http.Response, error) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, origin+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out.Header = r.Header.Clone()
	dropHopByHop(out.Header)
	out.Host = r.Host
	out.Header.Set("X-Forwarded-Host", r.Host)
	out.Header.Set("X-Forwarded-Proto", "http")
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		out.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := f.client.Do(out)
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return nil, fmt.Errorf("%w: %v", errRefused, err)
	}
	return resp, err
}

// dropHopByHop removes the headers that concern one connection, not the
// request (RFC 9110 §7.6.1).
func dropHopByHop(h http.Header) {
	for _, f := range h.Values("Connection") {
		for name := range strings.SplitSeq(f, ",") {
			h.Del(strings.TrimSpace(name))
		}
	}
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		h.Del(k)
	}
}
