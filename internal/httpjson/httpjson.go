// Package httpjson writes JSON answers to HTTP requests, the one way every
// handler of Expert Hub does.
package httpjson

import (
	"encoding/json"
	"log/slog"
	"net/http"
)

// Write answers status with v encoded as JSON. A value that cannot be
// encoded is a bug: the answer is then a 500 naming no detail.
func Write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, status = []byte(`{"error":"internal error"}`), http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client has gone if this fails
}

// Error answers status with {"error": msg}.
func Error(w http.ResponseWriter, status int, msg string) {
	Write(w, status, map[string]string{"error": msg})
}

// OKOnPanic answers 200 {} for a handler that panicked before answering,
// logging the panic: funcframework would answer 500, which makes Twilio
// drop the action a pre-event hook was asked about.
func OKOnPanic(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &answered{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				log.ErrorContext(r.Context(), "pre-event handler panicked; letting the action through", "panic", v)
				if !rw.wrote {
					Write(w, http.StatusOK, struct{}{})
				}
			}
		}()
		h.ServeHTTP(rw, r)
	})
}

// answered records whether a response was started.
type answered struct {
	http.ResponseWriter
	wrote bool
}

func (w *answered) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *answered) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}
