package httpjson_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/experthub/experthub/internal/httpjson"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		write      func(http.ResponseWriter)
		wantStatus int
		wantBody   string
	}{
		{"object", func(w http.ResponseWriter) { httpjson.Write(w, http.StatusOK, map[string]int{"n": 1}) },
			http.StatusOK, `{"n":1}`},
		{"empty object", func(w http.ResponseWriter) { httpjson.Write(w, http.StatusOK, struct{}{}) },
			http.StatusOK, `{}`},
		{"error", func(w http.ResponseWriter) { httpjson.Error(w, http.StatusBadRequest, `bad "x"`) },
			http.StatusBadRequest, `{"error":"bad \"x\""}`},
		{"unencodable", func(w http.ResponseWriter) { httpjson.Write(w, http.StatusOK, func() {}) },
			http.StatusInternalServerError, `{"error":"internal error"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.write(rec)
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestOKOnPanic(t *testing.T) {
	tests := []struct {
		name     string
		h        http.HandlerFunc
		wantCode int
		wantBody string
	}{
		{"panic before answering", func(http.ResponseWriter, *http.Request) { panic("bug") }, 200, "{}"},
		{"panic after answering", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			panic("bug")
		}, 202, ""},
		{"no panic", func(w http.ResponseWriter, _ *http.Request) { httpjson.Write(w, http.StatusOK, struct{}{}) }, 200, "{}"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		httpjson.OKOnPanic(slog.New(slog.DiscardHandler), tt.h).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
		if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
			t.Errorf("%s: %d %q, want %d %q", tt.name, rec.Code, rec.Body, tt.wantCode, tt.wantBody)
		}
	}
}
