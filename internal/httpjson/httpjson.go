// Package httpjson writes JSON answers to HTTP requests, the one way every
// handler of Expert Hub does.
package httpjson

import (
	"encoding/json"
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
