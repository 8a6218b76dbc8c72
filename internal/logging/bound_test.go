package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

type stringer string

func (s stringer) String() string { return string(s) }

// TestFieldsBounded: whatever a line is given, in whichever form, each of
// its values stays within MaxField characters (the message within
// maxMessage), notes the length it had, and still masks phone numbers.
func TestFieldsBounded(t *testing.T) {
	big := strings.Repeat("a", 100*1024)
	wide := strings.Repeat("é", 1000)
	// A number across the cut: its digits must not show on either side.
	across := strings.Repeat("x", MaxField-5) + "+33679500001" + strings.Repeat("y", 1000)
	tests := []struct {
		name   string
		log    func(l *slog.Logger)
		path   []string // where the value is in the JSON line
		length int      // the original length the value must note; 0: none
	}{
		{"string", func(l *slog.Logger) { l.Info("m", "worker_sid", big) }, []string{"worker_sid"}, len(big)},
		{"short string kept", func(l *slog.Logger) { l.Info("m", "k", "short") }, []string{"k"}, 0},
		{"exactly the bound", func(l *slog.Logger) { l.Info("m", "k", big[:MaxField]) }, []string{"k"}, 0},
		{"multibyte counted in characters", func(l *slog.Logger) { l.Info("m", "k", wide) }, []string{"k"}, 1000},
		{"in a group", func(l *slog.Logger) { l.Info("m", slog.Group("task", slog.String("id", big))) }, []string{"task", "id"}, len(big)},
		{"in nested groups", func(l *slog.Logger) {
			l.Info("m", slog.Group("a", slog.Group("b", slog.String("c", big))))
		}, []string{"a", "b", "c"}, len(big)},
		{"logger's group", func(l *slog.Logger) { l.WithGroup("g").Info("m", "k", big) }, []string{"g", "k"}, len(big)},
		{"logger's attribute", func(l *slog.Logger) { l.With("k", big).Info("m") }, []string{"k"}, len(big)},
		{"error", func(l *slog.Logger) { l.Error("m", "err", errors.New("bad id "+big)) }, []string{"err"}, len(big) + 7},
		{"wrapped error", func(l *slog.Logger) {
			l.Error("m", "err", fmt.Errorf("work: %w", errors.New(big)))
		}, []string{"err"}, len(big) + 6},
		{"stringer", func(l *slog.Logger) { l.Info("m", "v", stringer(big)) }, []string{"v"}, len(big)},
		{"slice", func(l *slog.Logger) { l.Info("m", "ids", []string{big, big}) }, []string{"ids"}, 2*len(big) + 7},
		{"message", func(l *slog.Logger) { l.Info(big) }, []string{"message"}, len(big)},
		{"number across the cut", func(l *slog.Logger) { l.Info("m", "k", across) }, []string{"k"}, len(across)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(New(&buf, "info"))
			line := strings.TrimSpace(buf.String())
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%v: %.300s", err, line)
			}
			var v any = rec
			for _, k := range tt.path {
				m, ok := v.(map[string]any)
				if !ok {
					t.Fatalf("no %q in %.300s", tt.path, line)
				}
				v = m[k]
			}
			s, ok := v.(string)
			if !ok {
				t.Fatalf("%q = %v, want a string", tt.path, v)
			}
			limit := MaxField
			if tt.path[0] == "message" {
				limit = maxMessage
			}
			note := fmt.Sprintf("…(%d chars)", tt.length)
			switch {
			case tt.length == 0 && strings.Contains(s, "chars)"):
				t.Errorf("a short value was cut: %q", s)
			case tt.length > 0 && !strings.HasSuffix(s, note):
				t.Errorf("%q does not end with %q: ...%q", tt.path, note, s[max(0, len(s)-40):])
			case utf8.RuneCountInString(strings.TrimSuffix(s, note)) > limit:
				t.Errorf("%q holds %d characters, more than %d", tt.path, utf8.RuneCountInString(s), limit)
			case !utf8.ValidString(s):
				t.Errorf("%q was cut inside a character", tt.path)
			}
			if len(line) > 4*maxMessage {
				t.Errorf("line of %d bytes", len(line))
			}
			if regexp.MustCompile(`\d{3}`).MatchString(strings.TrimSuffix(s, note)) {
				t.Errorf("digits of a phone number show: %q", s)
			}
		})
	}
}
