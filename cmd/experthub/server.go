package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	// Cloud Functions' build generates a main that serves the functions
	// with funcframework; the local server no longer does, and this import
	// keeps its requirements in go.mod and go.sum, which the build uses
	// as they are.
	_ "github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/logging"
)

// serverLimits bound what one client may hold of the local server. The
// functions framework's own server has none: a client dripping its headers
// kept a connection open as long as it liked, with up to 1 MiB of them.
type serverLimits struct {
	// ReadHeaderTimeout is how long a client has to send its headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is how long it has to send the whole request; Twilio
	// sends a webhook at once.
	ReadTimeout time.Duration
	// IdleTimeout closes a kept-alive connection with no request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers; more gets 431.
	MaxHeaderBytes int
}

// defaultLimits leave Twilio's requests, a few KB sent at once, far inside.
// There is no write timeout: a full sync answers when it is done.
var defaultLimits = serverLimits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       30 * time.Second,
	IdleTimeout:       2 * time.Minute,
	MaxHeaderBytes:    64 << 10,
}

// newServer returns the local server of the functions: each at /<name>,
// as the functions framework serves them, within limits.
func newServer(addr string, handler func(name function.Name) http.Handler, names []function.Name, limits serverLimits, log *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	for _, name := range names {
		mux.Handle("/"+string(name), recoverPanics(name, handler(name), log))
	}
	return &http.Server{
		Addr:              addr,
		Handler:           mux,
		ReadHeaderTimeout: limits.ReadHeaderTimeout,
		ReadTimeout:       limits.ReadTimeout,
		IdleTimeout:       limits.IdleTimeout,
		MaxHeaderBytes:    limits.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// recoverPanics answers 500 to a request whose handler panicked, as the
// functions framework does, instead of dropping the connection.
func recoverPanics(name function.Name, h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "function panicked", logging.FunctionKey, string(name), "panic", fmt.Sprint(v))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r)
	})
}
