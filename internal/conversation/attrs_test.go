package conversation

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestParseObject(t *testing.T) {
	tests := []struct {
		in      string
		want    string // re-encoded
		wantErr bool
	}{
		{in: "", want: "{}"},
		{in: "null", want: "{}"},
		{in: " {} ", want: "{}"},
		{in: `{"n":12345678901234567890,"f":1.50,"s":"a&b"}`, want: `{"f":1.50,"n":12345678901234567890,"s":"a&b"}`},
		{in: `[1]`, wantErr: true},
		{in: `"x"`, wantErr: true},
		{in: `{"a":1} {"b":2}`, wantErr: true},
		{in: `{`, wantErr: true},
	}
	for _, tt := range tests {
		m, err := parseObject(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseObject(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if got, _ := encode(m); got != tt.want {
			t.Errorf("parseObject(%q) re-encoded = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestAddMissing(t *testing.T) {
	m := map[string]any{"customer_id": "7", "display_name": "", "avatar": nil, "tier": json.Number("2")}
	changed := addMissing(m, map[string]string{"customer_id": "1", "display_name": "Maria", "avatar": "https://a", "extra": ""})
	got, _ := encode(m)
	if want := `{"avatar":"https://a","customer_id":"7","display_name":"Maria","tier":2}`; !changed || got != want {
		t.Errorf("addMissing = %s changed=%v, want %s", got, changed, want)
	}
	if addMissing(m, map[string]string{"customer_id": "1"}) {
		t.Error("addMissing reported a change for a key already set")
	}
}

func TestMillis(t *testing.T) {
	tests := []struct {
		in   any
		want int64
		ok   bool
	}{
		{json.Number("1700000000000"), 1700000000000, true},
		{json.Number("1.7e12"), 1700000000000, true},
		{"1700000000000", 1700000000000, true},
		{float64(1700000000000), 1700000000000, true},
		{json.Number("0"), 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
		{nil, 0, false},
		{true, 0, false},
	}
	for _, tt := range tests {
		got, ok := millis(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("millis(%#v) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestIsSID(t *testing.T) {
	tests := map[string]bool{
		"CH0123456789abcdef0123456789ABCDEF":  true,
		"CH0123456789abcdef0123456789abcde":   false,
		"IM0123456789abcdef0123456789abcdef":  false,
		"CH0123456789abcdef0123456789abcdeg":  false,
		"CH../../../../../../../../../../../": false,
		"":                                    false,
	}
	for s, want := range tests {
		if got := isSID(s, "CH"); got != want {
			t.Errorf("isSID(%q, CH) = %v", s, got)
		}
	}
}

func TestNeverReject(t *testing.T) {
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
		{"no panic", func(w http.ResponseWriter, _ *http.Request) { ok(w) }, 200, "{}"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		neverReject(slog.New(slog.DiscardHandler), tt.h).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
		if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
			t.Errorf("%s: %d %q, want %d %q", tt.name, rec.Code, rec.Body, tt.wantCode, tt.wantBody)
		}
	}
}
