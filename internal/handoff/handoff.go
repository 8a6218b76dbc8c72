// Package handoff keeps what the contact-center handoff remembers beside
// Twilio: whom a handoff id belongs to (Binding), and the agent's notes
// that only Frontline workers see (Note). The rules live here, once; the
// stores (internal/inmem, internal/fsstore) keep the records and make a
// change to one of them atomic.
package handoff

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/experthub/experthub/internal/logging"
)

// ErrNotFound is returned when a handoff id is not bound.
var ErrNotFound = errors.New("handoff: not found")

// Binding is what a handoff id was first accepted for: one customer, at
// one address, for one expert or area. A later request with the id is a
// retry only when it names the same.
type Binding struct {
	ID       string // the caller's handoff_id
	Customer string // the CRM customer_id
	Address  string // normalised: "+E.164" or "whatsapp:+E.164"
	Worker   string // the expert asked for, lower-cased; "" for any
	Area     string // the area asked for, lower-cased; "" for any
	At       time.Time
}

// Conflict says why b is not a retry of the handoff bound as stored:
// "customer" when it names another customer or address, "expert" when it
// asks for another expert or area, "" when it is a retry.
func (stored Binding) Conflict(b Binding) string {
	switch {
	case stored.Customer != b.Customer || stored.Address != b.Address:
		return "customer"
	case stored.Worker != b.Worker || stored.Area != b.Area:
		return "expert"
	}
	return ""
}

// BindingRetention is how long a binding is kept: far longer than the
// queue retries a handoff (WORK_MAX_AGE) or a Flex plugin retries its
// call. A handoff id reused after that binds anew, still refused when
// the conversation it named holds another customer.
const BindingRetention = 30 * 24 * time.Hour

// Bindings is a store of bindings. Implementations are safe for
// concurrent use; Bind is one atomic step.
type Bindings interface {
	// Binding returns the binding of id, or ErrNotFound.
	Binding(ctx context.Context, id string) (Binding, error)
	// Bind binds b.ID to b unless the id is bound already, and returns
	// the binding that stands: b, or the earlier one. Of concurrent
	// calls with one id, exactly one binds.
	Bind(ctx context.Context, b Binding) (Binding, error)
}

// Note is what the contact center said of a customer at one handoff: the
// agent's summary and the copied messages, cleaned (Clean).
type Note struct {
	HandoffID string
	At        time.Time
	Text      string
}

// Bounds of the notes kept per customer, in characters (runes):
// the customer's details are a card on the Frontline app's screen, read
// at a glance, not an archive.
const (
	MaxNote  = 2000
	MaxNotes = 4000
	// maxKept bounds the number of notes, however short.
	maxKept = 10
)

// NotesRetention is how long a note is kept after its handoff: long
// enough for the expert to look back, short enough that the contact
// center's words do not stay for good.
const NotesRetention = 30 * 24 * time.Hour

// Notes is a store of the customers' notes. Implementations are safe for
// concurrent use; AddNote is one atomic step.
type Notes interface {
	// Notes returns the customer's notes, latest first; none is no error.
	Notes(ctx context.Context, customer string) ([]Note, error)
	// AddNote adds n to the customer's notes as Add does.
	AddNote(ctx context.Context, customer string, n Note) error
}

// Add returns notes (latest first) with n added, and whether they
// changed: a note of a handoff already noted changes nothing, so a
// retried handoff notes once. The result is latest first and bounded:
// n cut to MaxNote, then the newest notes that fit MaxNotes together,
// none older than NotesRetention before n.
func Add(notes []Note, n Note) ([]Note, bool) {
	if slices.ContainsFunc(notes, func(o Note) bool { return o.HandoffID == n.HandoffID }) {
		return notes, false
	}
	n.Text = Clip(n.Text, MaxNote)
	all := append([]Note{n}, notes...)
	slices.SortStableFunc(all, func(a, b Note) int { return b.At.Compare(a.At) })
	out := make([]Note, 0, min(len(all), maxKept))
	total := 0
	for _, o := range all {
		if len(out) == maxKept || o.At.Before(n.At.Add(-NotesRetention)) {
			break
		}
		if total += utf8.RuneCountInString(o.Text); total > MaxNotes {
			break
		}
		out = append(out, o)
	}
	return out, true
}

// Expiry is when a customer's notes may go: NotesRetention after the
// latest.
func Expiry(notes []Note) time.Time {
	var last time.Time
	for _, n := range notes {
		if n.At.After(last) {
			last = n.At
		}
	}
	return last.Add(NotesRetention)
}

// Title is the title of the customer's details when the CRM gives none.
const Title = "Contact center"

// Render returns the notes as the text of the customer's details, latest
// first: each under a "From the contact center — <date>" line, the notes
// apart by a blank line.
func Render(notes []Note) string {
	var b strings.Builder
	for i, n := range notes {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString("From the contact center — ")
		b.WriteString(n.At.UTC().Format("2 Jan 2006 15:04 MST"))
		if n.Text != "" {
			b.WriteString("\n")
			b.WriteString(n.Text)
		}
	}
	return b.String()
}

// Clean makes text from the contact center fit to show: phone numbers
// masked (logging.MaskPhones), control characters but the line break
// removed, and so the bidirectional overrides and isolates (U+202A–202E,
// U+2066–2069 and the marks), which could make a line read otherwise
// than it is written; invalid UTF-8 is replaced. Line breaks are "\n",
// blank lines collapsed, and every line trimmed.
func Clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\r', r == '\t', r == '\u2028', r == '\u2029':
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r), r == '\uFEFF':
			return -1
		}
		return r
	}, s)
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			out = append(out, l)
		}
	}
	return logging.MaskPhones(strings.Join(out, "\n"))
}

// OneLine is Clean with the line breaks made spaces: a copied message
// stays on its line.
func OneLine(s string) string {
	return strings.ReplaceAll(Clean(s), "\n", " ")
}

// Clip cuts s to n characters (runes), "…" marking the cut.
func Clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
