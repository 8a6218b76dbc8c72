// Package experthub is the Cloud Functions entry package of Expert Hub: it
// registers one HTTP function per Twilio/Strapi callback. The logic lives
// in internal/; this file only wires it.
package experthub

import (
	"context"
	"net/http"
	"os"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/logging"
)

// EntryPoints are the registered function names. Each is deployed as its
// own Cloud Function (entry point = name) and served locally at /<name>.
var EntryPoints = app.Functions

func init() {
	for _, name := range EntryPoints {
		functions.HTTP(name, handler(name))
	}
}

// The application is built on the first request, not at import: a cold
// start that only registers handlers is fast, and a failed build (say,
// Firestore unreachable) is retried by the next request instead of
// poisoning the instance as sync.Once would.
var (
	mu      sync.Mutex
	current *app.App
)

// Instance returns the application the functions serve, building it from
// the environment on first use. The local runner uses it to share the
// in-memory cache with a start-up sync.
func Instance(ctx context.Context) (*app.App, error) {
	mu.Lock()
	defer mu.Unlock()
	if current != nil {
		return current, nil
	}
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	a, err := app.New(ctx, cfg, logging.New(os.Stderr, cfg.LogLevel))
	if err != nil {
		return nil, err
	}
	current = a
	return a, nil
}

func handler(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := Instance(r.Context())
		if err != nil {
			logging.New(os.Stderr, "info").ErrorContext(r.Context(), "function not ready", "function", name, "err", err)
			app.Unavailable(name).ServeHTTP(w, r)
			return
		}
		a.ServeFunction(name, w, r)
	}
}
