package app

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"

	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/logging"
)

// Load builds the application from the environment, logging to stderr as
// Cloud Functions expects.
func Load(ctx context.Context, opts ...Option) (*App, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	return New(ctx, cfg, logging.New(os.Stderr, cfg.LogLevel), opts...)
}

// Lazy is an App built on the first request rather than at import: a cold
// start that only registers handlers is fast, and a failed build (say,
// Firestore unreachable) is retried by the next request instead of
// poisoning the instance as sync.Once would.
type Lazy struct {
	build func(context.Context) (*App, error)
	log   *slog.Logger // for failed builds, which have no App to log with

	mu  sync.Mutex // serialises builds
	app atomic.Pointer[App]
}

// NewLazy returns a Lazy that builds its App with build (Load, in the
// functions) and logs the builds that fail to log.
func NewLazy(build func(context.Context) (*App, error), log *slog.Logger) *Lazy {
	return &Lazy{build: build, log: log}
}

// App returns the App, building it if no build has succeeded yet.
func (l *Lazy) App(ctx context.Context) (*App, error) {
	if a := l.app.Load(); a != nil {
		return a, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if a := l.app.Load(); a != nil {
		return a, nil // built while this request waited
	}
	a, err := l.build(ctx)
	if err != nil {
		return nil, err
	}
	l.app.Store(a)
	return a, nil
}

// Handler returns the named function's handler, to register with the
// functions framework. Until the App can be built it answers as
// Unavailable does.
func (l *Lazy) Handler(name function.Name) http.Handler {
	unavailable := Unavailable(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := l.App(r.Context())
		if err != nil {
			l.log.ErrorContext(r.Context(), "function not ready", logging.FunctionKey, string(name), "err", err)
			unavailable.ServeHTTP(w, r)
			return
		}
		a.Handler(name).ServeHTTP(w, r)
	})
}
