package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/logging"
)

// TestLazyRetriesFailedBuild: while the App cannot be built every
// function answers as app.Unavailable does, the pre-event hook 200 {} so
// that Twilio keeps the customer's message; the next request tries the
// build again, and once it succeeds the App is built no more.
func TestLazyRetriesFailedBuild(t *testing.T) {
	h := apptest.New(t, apptest.Options{})
	var builds atomic.Int32
	failing := atomic.Bool{}
	failing.Store(true)
	var logs apptest.Buffer
	lazy := app.NewLazy(func(context.Context) (*app.App, error) {
		builds.Add(1)
		if failing.Load() {
			return nil, errors.New("firestore: unreachable")
		}
		return h.App, nil
	}, logging.New(&logs, "info"))

	serve := func(name function.Name) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		lazy.Handler(name).ServeHTTP(rec, h.SignedForm(name, validParams(name)))
		return rec
	}
	for _, name := range function.All() {
		rec := serve(name)
		want := http.StatusServiceUnavailable
		if name == "pre-event" {
			want = http.StatusOK
			if rec.Body.String() != "{}" || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("pre-event without an App: %q (%s), want {} as JSON", rec.Body, rec.Header().Get("Content-Type"))
			}
		}
		if rec.Code != want {
			t.Errorf("%s without an App: %d, want %d", name, rec.Code, want)
		}
	}
	if n := builds.Load(); n != int32(len(function.All())) {
		t.Errorf("%d builds for %d requests: a failed build must be retried by the next request", n, len(function.All()))
	}
	if lines := logs.Lines("function not ready"); len(lines) != len(function.All()) || lines[0][logging.FunctionKey] != string(function.All()[0]) {
		t.Errorf("failed builds logged as %v, want one line per request naming its function", lines)
	}

	failing.Store(false)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if rec := serve(function.PreEvent); rec.Code != http.StatusOK {
				t.Errorf("pre-event once built: %d %s", rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
	if rec := serve(function.CRM); rec.Code != http.StatusOK {
		t.Errorf("crm once built: %d %s", rec.Code, rec.Body)
	}
	if n := builds.Load(); n != int32(len(function.All()))+1 {
		t.Errorf("%d builds, want one more than the failed ones", n)
	}
	if a, err := lazy.App(t.Context()); a != h.App || err != nil {
		t.Errorf("App() = %p, %v; want the built App", a, err)
	}
}

// TestLogsNameTheirFunction: one conversation flow serves routing,
// pre-event and post-event, and each line logged for a request names the
// function that received it, once.
func TestLogsNameTheirFunction(t *testing.T) {
	h := apptest.New(t, apptest.Options{Env: config.Env{"PUBLIC_BASE_URL": publicBase}})
	requests := []struct {
		function function.Name
		params   url.Values
		message  string // a line the function logs
	}{
		{"crm", url.Values{"Location": {"GetTemplatesByCustomerId"}}, "crm callback: unknown location"},
		{"outgoing", url.Values{"Location": {"GetTemplatesByCustomerId"}}, "outgoing callback: unknown location"},
		{"routing", url.Values{"ConversationSid": {"nonsense"}}, "routing callback without a valid ConversationSid"},
		{"pre-event", url.Values{"EventType": {"onMessageAdd"}}, "onMessageAdd is let through untouched"},
		{"post-event", url.Values{"EventType": {"onConversationUpdated"}}, "post-event ignored"},
	}
	for _, r := range requests {
		if rec := h.Serve(r.function, h.SignedForm(r.function, r.params)); rec.Code/100 == 5 {
			t.Errorf("%s: %d %s", r.function, rec.Code, rec.Body)
		}
		forged := h.SignedForm(r.function, r.params)
		forged.Header.Set("X-Twilio-Signature", "forged")
		h.Serve(r.function, forged)
	}
	h.Serve("sync", httptest.NewRequest(http.MethodPost, "/", nil))

	for _, r := range requests {
		lines := h.Logs.Lines(r.message)
		if len(lines) != 1 || lines[0][logging.FunctionKey] != string(r.function) {
			t.Errorf("%q logged as %v, want once with function %s", r.message, lines, r.function)
		}
	}
	named := map[any]int{}
	for _, l := range h.Logs.Lines("webhook rejected") {
		named[l[logging.FunctionKey]]++
	}
	for _, r := range requests {
		if named[string(r.function)] != 1 {
			t.Errorf("forgery to %s logged with its function %d times, want 1 (%v)", r.function, named[string(r.function)], named)
		}
	}
	if l := h.Logs.Lines("sync request refused"); len(l) != 1 || l[0][logging.FunctionKey] != "sync" {
		t.Errorf("sync logged %v, want its function", l)
	}
	for i, line := range strings.Split(h.Logs.String(), "\n") {
		if n := strings.Count(line, `"function":`); n > 1 {
			t.Errorf("log line %d names %d functions: %s", i+1, n, line)
		}
	}
}
