package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestMaskPhones(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+33679500001", "+*********01"},
		{"from whatsapp:+5521989500003 to +447491000002", "from whatsapp:+***********03 to +**********02"},
		{"call +33 6 79 50 00 01 now", "call +** * ** ** ** 01 now"},
		{"CH" + strings.Repeat("a1", 16), "CH" + strings.Repeat("a1", 16)}, // SIDs stay readable
		{"index 12, 200 ms", "index 12, 200 ms"},
		{"no digits", "no digits"},
		// URL-encoded, as in the query of a URL an error quotes.
		{"?a=%2B447491000002&b=whatsapp%3A%2B447491000002", "?a=%2B**********02&b=whatsapp%3A%2B**********02"},
		{"q=%2b33679500001", "q=%2b*********01"},
		{"q=whatsapp%3A447491000002", "q=whatsapp%3A**********02"},
		{"q=%2B44+7491+000002&r=1", "q=%2B**+****+****02&r=1"},
		{"q=%2B44%20%287491%29%20000002", "q=%2B**%20%28****%29%20****02"},
		{"/customers/%2F447491000002/x", "/customers/%2F**********02/x"},
		{"%2012345678", "%20******78"},
		{"CH" + strings.Repeat("a1", 16) + "%2F", "CH" + strings.Repeat("a1", 16) + "%2F"},
		{"50%25 of 200", "50%25 of 200"},
	}
	for _, tt := range tests {
		if got := MaskPhones(tt.in); got != tt.want {
			t.Errorf("MaskPhones(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLoggerFieldsAndMasking(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "info")
	log.Warn("message from +33679500001", "author", "whatsapp:+5521989500003",
		"err", errors.New("no customer +447491000002"), "count", 3)
	log.Debug("hidden")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1 (debug must be filtered): %q", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["severity"] != "WARNING" || rec["message"] != "message from +*********01" {
		t.Errorf("severity/message = %v / %v", rec["severity"], rec["message"])
	}
	for _, digits := range []string{"33679500001", "5521989500003", "447491000002"} {
		if strings.Contains(buf.String(), digits) {
			t.Errorf("log line leaks %s: %s", digits, buf.String())
		}
	}
}

// TestFunctionFromContext: a line logged with a context from WithFunction
// names the function once, and a function the logger or the call names
// already is kept.
func TestFunctionFromContext(t *testing.T) {
	ctx := WithFunction(t.Context(), "pre-event")
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want any // the "function" value; nil: none
	}{
		{"no function in the context", func(l *slog.Logger) { l.InfoContext(t.Context(), "x") }, nil},
		{"function in the context", func(l *slog.Logger) { l.InfoContext(ctx, "x") }, "pre-event"},
		{"logger names it", func(l *slog.Logger) { l.With(FunctionKey, "sync").InfoContext(ctx, "x") }, "sync"},
		{"call names it", func(l *slog.Logger) { l.InfoContext(ctx, "x", FunctionKey, "crm") }, "crm"},
		{"logger with other attributes", func(l *slog.Logger) { l.With("k", "v").InfoContext(ctx, "x") }, "pre-event"},
		{"inner context wins", func(l *slog.Logger) { l.InfoContext(WithFunction(ctx, "routing"), "x") }, "routing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(New(&buf, "info"))
			line := strings.TrimSpace(buf.String())
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatal(err)
			}
			if rec[FunctionKey] != tt.want {
				t.Errorf("function = %v, want %v: %s", rec[FunctionKey], tt.want, line)
			}
			if n := strings.Count(line, `"function":`); n > 1 {
				t.Errorf("function named %d times: %s", n, line)
			}
		})
	}
}
