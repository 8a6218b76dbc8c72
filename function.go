// Package experthub is the Cloud Functions entry package of Expert Hub: it
// registers one HTTP function per Twilio/Strapi callback. The logic lives
// in internal/; this file only wires it.
package experthub

import (
	"context"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/logging"
)

// served is built on the first request; see app.Lazy.
var served = app.NewLazy(app.Load, logging.New(os.Stderr, "info"))

// init registers every function of internal/function. Each is deployed as
// its own Cloud Function (entry point = name) and served locally at /<name>.
func init() {
	for _, name := range function.All() {
		functions.HTTP(string(name), served.Handler(name).ServeHTTP)
	}
}

// Instance returns the application the functions serve, building it from
// the environment on first use. The local runner uses it to share the
// in-memory cache with a start-up sync.
func Instance(ctx context.Context) (*app.App, error) { return served.App(ctx) }
