package handoff

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// TestClean: what the contact center wrote reaches the expert's screen
// without phone numbers, control characters or bidi overrides.
func TestClean(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"plain", "Watch repair under warranty.", "Watch repair under warranty."},
		{"E.164 masked", "call me on +447491000002", "call me on +**********02"},
		{"spaced number masked", "my number is 06 79 50 00 01 ok", "my number is ** ** ** ** 01 ok"},
		{"whatsapp address masked", "whatsapp:+5521989500003", "whatsapp:+***********03"},
		{"short numbers stay", "order 1234, 2 items", "order 1234, 2 items"},
		{"NUL and ESC removed", "a\x00b\x1b[31mred", "ab[31mred"},
		{"RLO removed", "file\u202Egnp.exe", "filegnp.exe"},
		{"every override and isolate removed", "\u202Aa\u202Bb\u202Cc\u202Dd\u202Ee\u2066f\u2067g\u2068h\u2069i\u200Ej\u200Fk\u061Cl", "abcdefghijkl"},
		{"C1 control removed", "a\u0085b\u009bc", "abc"},
		{"line breaks kept, blank lines and spaces folded", "line one\r\n\r\n\n  line   two \t\n", "line one\nline two"},
		{"invalid UTF-8 replaced", "a\xffb", "a\uFFFDb"},
		{"BOM removed", "\uFEFFhello", "hello"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Clean(tt.in)
			if got != tt.want {
				t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
			for _, r := range got {
				if (unicode.IsControl(r) && r != '\n') || unicode.Is(unicode.Bidi_Control, r) {
					t.Errorf("Clean(%q) keeps %U", tt.in, r)
				}
			}
			if !utf8.ValidString(got) {
				t.Errorf("Clean(%q) is not valid UTF-8", tt.in)
			}
		})
	}
	if got := OneLine("a\nb"); got != "a b" {
		t.Errorf("OneLine = %q", got)
	}
}

func TestAdd(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	n := func(id string, h int, text string) Note {
		return Note{HandoffID: id, At: t0.Add(time.Duration(h) * time.Hour), Text: text}
	}
	var notes []Note
	for _, x := range []Note{n("a", 0, "A"), n("b", 2, "B"), n("c", 1, "C")} {
		var changed bool
		if notes, changed = Add(notes, x); !changed {
			t.Fatalf("Add(%s) changed nothing", x.HandoffID)
		}
	}
	if got := ids(notes); got != "b,c,a" {
		t.Errorf("notes = %s, want latest first", got)
	}
	if again, changed := Add(notes, n("a", 5, "A again")); changed || ids(again) != "b,c,a" {
		t.Errorf("a retried handoff changed the notes: %s", ids(again))
	}
	// A month later the old notes go.
	late, _ := Add(notes, n("d", 24*31, "D"))
	if got := ids(late); got != "d" {
		t.Errorf("notes a month later = %s, want d alone", got)
	}
	// Long notes: each cut, the oldest dropped.
	var long []Note
	for i := range 5 {
		long, _ = Add(long, n(string(rune('p'+i)), i, strings.Repeat("x", 5000)))
	}
	total := 0
	for _, o := range long {
		if c := utf8.RuneCountInString(o.Text); c > MaxNote {
			t.Errorf("note of %d characters", c)
		}
		total += utf8.RuneCountInString(o.Text)
	}
	if total > MaxNotes || long[0].HandoffID != "t" {
		t.Errorf("long notes %s: %d characters", ids(long), total)
	}
	if e := Expiry(late); !e.Equal(t0.Add(24 * 31 * time.Hour).Add(NotesRetention)) {
		t.Errorf("Expiry = %v", e)
	}
}

func TestRender(t *testing.T) {
	at := time.Date(2026, 3, 4, 10, 5, 0, 0, time.FixedZone("CET", 3600))
	got := Render([]Note{{HandoffID: "b", At: at, Text: "second\nline"}, {HandoffID: "a", At: at.Add(-time.Hour)}})
	want := "From the contact center — 4 Mar 2026 09:05 UTC\nsecond\nline\n\nFrom the contact center — 4 Mar 2026 08:05 UTC"
	if got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
}

func ids(notes []Note) string {
	var out []string
	for _, n := range notes {
		out = append(out, n.HandoffID)
	}
	return strings.Join(out, ",")
}

func TestConflict(t *testing.T) {
	b := Binding{ID: "x", Customer: "2", Address: "+447491000002", Worker: "ann@example.com"}
	for _, tt := range []struct {
		name   string
		change func(*Binding)
		want   string
	}{
		{"same", func(*Binding) {}, ""},
		{"same, later", func(o *Binding) { o.At = o.At.Add(time.Hour) }, ""},
		{"other customer", func(o *Binding) { o.Customer = "3" }, "customer"},
		{"other address", func(o *Binding) { o.Address = "whatsapp:+447491000002" }, "customer"},
		{"other worker", func(o *Binding) { o.Worker = "bob@example.com" }, "expert"},
		{"other area", func(o *Binding) { o.Area = "watches" }, "expert"},
	} {
		o := b
		tt.change(&o)
		if got := b.Conflict(o); got != tt.want {
			t.Errorf("%s: Conflict = %q, want %q", tt.name, got, tt.want)
		}
	}
}
