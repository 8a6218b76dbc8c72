package twilio_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/experthub/experthub/internal/twilio"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  string // "" checks the length only
	}{
		{name: "short", in: "Ann Smith", limit: 256, want: "Ann Smith"},
		{name: "exactly the limit", in: strings.Repeat("a", 256), limit: 256, want: strings.Repeat("a", 256)},
		{name: "one over", in: strings.Repeat("a", 257), limit: 256, want: strings.Repeat("a", 255) + "…"},
		{name: "333-character name", in: strings.Repeat("Zoë ", 83) + "Z", limit: twilio.MaxFriendlyName},
		{name: "accents cut between runes", in: strings.Repeat("é", 300), limit: 10, want: strings.Repeat("é", 9) + "…"},
		// An emoji is two UTF-16 code units: one more would not fit.
		{name: "emoji", in: strings.Repeat("😀", 10), limit: 6, want: "😀😀…"},
		{name: "CJK", in: strings.Repeat("名", 2000), limit: twilio.MaxMessageBody},
		{name: "limit of the ellipsis", in: "abc", limit: 1, want: "…"},
		{name: "no room", in: "abc", limit: 0, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := twilio.Truncate(tt.in, tt.limit)
			if tt.want != "" && got != tt.want {
				t.Errorf("Truncate = %q, want %q", got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Truncate = %q: not valid UTF-8", got)
			}
			if n := twilio.Chars(got); n > tt.limit {
				t.Errorf("Truncate has %d characters, limit %d", n, tt.limit)
			}
			if utf8.RuneCountInString(got) > tt.limit {
				t.Errorf("Truncate has %d runes, limit %d", utf8.RuneCountInString(got), tt.limit)
			}
			if twilio.Chars(tt.in) > tt.limit && tt.limit > 0 && !strings.HasSuffix(got, "…") {
				t.Errorf("Truncate = %q: cut without an ellipsis", got)
			}
			if twilio.Chars(tt.in) > tt.limit && tt.limit > 1 && twilio.Chars(got) < tt.limit-1 {
				t.Errorf("Truncate kept %d characters of %d allowed: cut more than needed", twilio.Chars(got), tt.limit)
			}
		})
	}
}

func TestChars(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"é", 1},
		{"名前", 2},
		{"😀", 2},
	}
	for _, tt := range tests {
		if got := twilio.Chars(tt.in); got != tt.want {
			t.Errorf("Chars(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
