// Package apptest builds a whole Expert Hub for tests: the App from an
// in-memory configuration, a fake Twilio and, if asked, a fake Strapi,
// every log line in a buffer, and an HTTP server that hands each function
// its requests as Cloud Functions' front end does (function name stripped
// from the path, plain HTTP to localhost, X-Forwarded-* headers).
package apptest

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/strapitest"
	"github.com/experthub/experthub/internal/twiliofake"
)

// The configured secrets. They look like the real thing, so that a test
// scanning the logs for them would find a leak, but are obviously fake.
const (
	StrapiAPIToken   = "strapi-api-token-f4ke00000000000000000000000000c0ffee"
	WebhookSecret    = "strapi-webhook-secret-f4ke0000000000000000000000beef"
	SchedulerAccount = "sync-scheduler@expert-hub-test.iam.gserviceaccount.com"
	// ProxyNumber and ProxyNumberGB are the company numbers.
	ProxyNumber   = "+15555550100"
	ProxyNumberGB = "+445555550100"
)

// Options configure New.
type Options struct {
	// StrapiVersion is 3, 4 or 5 to run a fake Strapi and sync from it;
	// 0 runs none (the built-in sample customers only).
	StrapiVersion int
	// StrapiCustomers is how many customers the fake Strapi starts with.
	StrapiCustomers int
	// Env adds or overrides variables; an empty value removes one.
	Env config.Env
	// LogLevel defaults to "debug", where most is logged.
	LogLevel string
}

// Harness is a running Expert Hub with its fakes.
type Harness struct {
	App    *app.App
	Config *config.Config
	Twilio *twiliofake.Server
	Strapi *strapitest.Server // nil without Options.StrapiVersion
	// Server serves function <name> at Server.URL + "/<name>", which is
	// also its public URL: the URL Twilio signs.
	Server *httptest.Server
	// Logs holds every line the App logged.
	Logs *Buffer
}

// New builds and starts an Expert Hub; everything stops when t ends.
func New(t testing.TB, opts Options) *Harness {
	t.Helper()
	h := &Harness{Logs: &Buffer{}}

	var built atomic.Pointer[app.App] // set below, before the first request
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.Trim(r.URL.Path, "/")
		ProxyRequest(r, h.Server.URL)
		built.Load().ServeFunction(name, w, r)
	}))
	t.Cleanup(h.Server.Close)

	h.Twilio = twiliofake.NewServer(twiliofake.Config{})
	t.Cleanup(h.Twilio.Close)

	env := config.Env{
		"PUBLIC_BASE_URL":              h.Server.URL,
		"TWILIO_ACCOUNT_SID":           h.Twilio.AccountSID(),
		"TWILIO_AUTH_TOKEN":            h.Twilio.AuthToken(),
		"TWILIO_API_BASE_URL":          h.Twilio.URL,
		"FRONTLINE_WORKSPACE":          h.Twilio.WorkspaceSID(),
		"FRONTLINE_DEFAULT_POOL_QUEUE": h.Twilio.QueueSID(),
		"FRONTLINE_MESSAGING_SERVICE":  twiliofake.DefaultMessaging,
		"FRONTLINE_PROXY_NUMBER":       ProxyNumber,
		"FRONTLINE_PROXY_NUMBER_GB":    ProxyNumberGB,
		"CACHE_TTL":                    "0",
	}
	if opts.StrapiVersion != 0 {
		sopts := []strapitest.Option{strapitest.WithCustomers(opts.StrapiCustomers), strapitest.WithExtraFields()}
		if opts.StrapiVersion != 3 {
			sopts = append(sopts, strapitest.WithAPIToken(StrapiAPIToken))
		}
		h.Strapi = strapitest.NewServer(opts.StrapiVersion, sopts...)
		t.Cleanup(h.Strapi.Close)
		maps.Copy(env, config.Env{
			"STRAPI_URL":                     h.Strapi.URL,
			"STRAPI_API_TOKEN":               StrapiAPIToken,
			"STRAPI_VERSION":                 strconv.Itoa(opts.StrapiVersion),
			"STRAPI_WEBHOOK_SECRET":          WebhookSecret,
			"SYNC_SCHEDULER_SERVICE_ACCOUNT": SchedulerAccount,
		})
	}
	for k, v := range opts.Env {
		if v == "" {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	cfg, err := config.Parse(env)
	if err != nil {
		t.Fatalf("apptest: %v", err)
	}
	h.Config = cfg
	level := opts.LogLevel
	if level == "" {
		level = "debug"
	}
	a, err := app.New(context.Background(), cfg, logging.New(h.Logs, level))
	if err != nil {
		t.Fatalf("apptest: app.New: %v", err)
	}
	h.App = a
	built.Store(a)
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("apptest: close: %v", err)
		}
	})
	h.Twilio.SetWebhooks(twiliofake.Webhooks{
		PreWebhookURL:  cfg.PublicURL("pre-event"),
		PostWebhookURL: cfg.PublicURL("post-event"),
		Filters:        []string{"onConversationAdd", "onMessageAdd", "onParticipantAdded", "onMessageAdded"},
		RoutingURL:     cfg.PublicURL("routing"),
	})
	return h
}

// ProxyRequest rewrites r as Cloud Functions' front end hands it to the
// function: the function name stripped from the path, the public host in
// X-Forwarded-Host, the container's own address in Host.
func ProxyRequest(r *http.Request, publicOrigin string) {
	pub, _ := url.Parse(publicOrigin)
	r.Header.Set("X-Forwarded-Proto", "https")
	if pub != nil {
		r.Header.Set("X-Forwarded-Host", pub.Host)
	}
	r.Header.Set("X-Forwarded-For", "66.249.84.1")
	r.Header.Set("Forwarded", `for=66.249.84.1;proto=https`)
	r.Host = "localhost:8080"
	r.URL.Path, r.URL.RawPath = "/", ""
	r.RequestURI = r.URL.RequestURI()
}

// Serve sends r to the named function directly, as the front end would
// hand it over, and returns the answer.
func (h *Harness) Serve(name string, r *http.Request) *httptest.ResponseRecorder {
	ProxyRequest(r, h.Server.URL)
	rec := httptest.NewRecorder()
	h.App.ServeFunction(name, rec, r)
	return rec
}

// SignedForm returns a form POST to the named function, signed as Twilio
// signs it for the function's public URL.
func (h *Harness) SignedForm(name string, params url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(params.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", twiliofake.Sign(h.Config.TwilioAuthToken, h.Config.PublicURL(name), params))
	return r
}

// Buffer is a bytes.Buffer safe for concurrent use, as log output is.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
