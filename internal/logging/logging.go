// Package logging builds the structured JSON logger every function uses:
// Cloud Logging field names, phone numbers masked wherever they appear,
// every value bounded in length (MaxField), and, read from the context,
// the function a line was logged for and the trace of the request it
// serves.
package logging

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// New returns a JSON logger writing Cloud Logging's "severity" and
// "message" fields, masking phone numbers in every string it writes and
// cutting every value longer than MaxField characters. A line logged
// with a context from WithFunction names its function; one logged with a
// context from WithTrace carries the request's trace.
func New(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level)) // config has validated it; unknown falls back to info
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       lv,
		ReplaceAttr: replaceAttr,
	})
	return slog.New(functionHandler{Handler: h})
}

// FunctionKey is the attribute naming the Cloud Function a line was
// logged for.
const FunctionKey = "function"

type functionContextKey struct{}

// WithFunction returns a copy of ctx that names the function it serves:
// every line logged with it by a logger from New carries
// "function": name, unless the logger or the call names a function
// already. One handler can thus serve several functions and still log
// which one a line is about.
func WithFunction(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, functionContextKey{}, name)
}

// functionHandler adds the function WithFunction put in a line's context.
type functionHandler struct {
	slog.Handler
	// named: the logger's own attributes name the function already; a
	// second "function" key would repeat it in the JSON.
	named bool
	// grouped: attributes added from now on go into a group, so they no
	// longer name the function at the top level.
	grouped bool
}

func (h functionHandler) Handle(ctx context.Context, r slog.Record) error {
	if name, ok := ctx.Value(functionContextKey{}).(string); ok && !h.named && !namesFunction(r) {
		r.AddAttrs(slog.String(FunctionKey, name))
	}
	// In a group, Cloud Logging would not see the trace fields.
	if trace := traceAttrs(ctx); trace != nil && !h.grouped {
		r.AddAttrs(trace...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h functionHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	named := h.named
	if !h.grouped {
		for _, a := range attrs {
			named = named || a.Key == FunctionKey
		}
	}
	return functionHandler{Handler: h.Handler.WithAttrs(attrs), named: named, grouped: h.grouped}
}

func (h functionHandler) WithGroup(name string) slog.Handler {
	return functionHandler{Handler: h.Handler.WithGroup(name), named: h.named, grouped: h.grouped || name != ""}
}

func namesFunction(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == FunctionKey
		return !found
	})
	return found
}

// MaxField bounds every value a log line carries: a string attribute
// (in a group too), an error's or a Stringer's text, a structured
// value's JSON, in characters. A longer one is cut there and ends with
// its length, "…(102400 chars)": a request field, an id in a task or a
// CRM value is as long as its sender makes it, and a log line must stay
// small whoever sends what.
const MaxField = 256

// maxMessage bounds a line's message, which the code writes: longer than
// a field, as it may quote one.
const maxMessage = 4 * MaxField

func replaceAttr(groups []string, a slog.Attr) slog.Attr {
	limit := MaxField
	if len(groups) == 0 {
		switch a.Key {
		case slog.LevelKey:
			a.Key = "severity"
			if lv, ok := a.Value.Any().(slog.Level); ok {
				a.Value = slog.StringValue(severity(lv))
			}
		case slog.MessageKey:
			a.Key = "message"
			limit = maxMessage
		case slog.TimeKey:
			a.Key = "time"
		case TraceKey, SpanKey:
			// Hexadecimal IDs, which may start with seven decimal
			// digits: masking them as a phone number would unlink the
			// line from its trace.
			return a
		case "message", "severity":
			// An attribute of that name would repeat the key Cloud
			// Logging reads, and the last one wins there: the message
			// would show "IM…" instead of what happened.
			a.Key = "attr_" + a.Key
		}
	}
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(clean(a.Value.String(), limit))
	case slog.KindAny:
		// Errors and Stringers often quote the address that failed.
		switch v := a.Value.Any().(type) {
		case error:
			a.Value = slog.StringValue(clean(v.Error(), limit))
		case fmt.Stringer:
			a.Value = slog.StringValue(clean(v.String(), limit))
		default:
			a.Value = cleanStructured(v, limit)
		}
	}
	return a
}

// cleanStructured bounds and masks a value the handler would write as
// JSON (a slice, a map): one that is short and holds no phone number is
// kept as it is; any other is written as its bounded, masked JSON text.
func cleanStructured(v any, limit int) slog.Value {
	b, err := json.Marshal(v)
	if err != nil {
		return slog.StringValue(clean(fmt.Sprintf("%+v", v), limit))
	}
	if s := string(b); len(s) > limit || MaskPhones(s) != s {
		return slog.StringValue(clean(s, limit))
	}
	return slog.AnyValue(v)
}

// maskMargin is how far past the cut clean masks: a phone number running
// across the cut is then masked as a whole, or its visible last digits
// lie past the cut, in what is dropped.
const maskMargin = 32

// clean masks the phone numbers in s and cuts it after limit characters,
// noting its length. Only the head of a long s is masked: an attacker's
// 100 KB field costs no more than a short one.
func clean(s string, limit int) string {
	if len(s) <= limit {
		return MaskPhones(s)
	}
	n := utf8.RuneCountInString(s)
	if n <= limit {
		return MaskPhones(s)
	}
	// Masking changes digits into '*', byte for byte: the cut stays
	// where it was.
	head := MaskPhones(s[:runeOffset(s, limit+maskMargin)])
	return head[:runeOffset(head, limit)] + "…(" + strconv.Itoa(n) + " chars)"
}

// runeOffset returns the byte offset of s's n-th character, or len(s).
func runeOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// phonePattern matches anything that looks like a phone number: an optional
// +, then 7 or more digits possibly split by spaces, dots, dashes, pluses
// or brackets. Twilio SIDs are 32 hex digits after two letters; the letter
// boundary keeps them out.
//
// A number also shows URL-encoded, in the query of a URL an error quotes:
// "%2B447491000002", "whatsapp%3A%2B447491000002", "%2B44+7491%20000002".
// An escape sets the digits after it off as a space would, and %20, %28
// and %29 (space and brackets) may split them.
var phonePattern = regexp.MustCompile(`(?:\+|\b|%[0-9A-Fa-f]{2})\d(?:(?:[ .\-()+]|%2[089]){0,2}\d){6,}`)

// MaskPhones replaces all but the last two digits of every phone number in
// s with '*': "+33679500001" → "+*********01", and URL-encoded
// "%2B33679500001" → "%2B*********01".
func MaskPhones(s string) string {
	if !strings.ContainsAny(s, "0123456789") {
		return s
	}
	return phonePattern.ReplaceAllStringFunc(s, Mask)
}

// Mask hides all but the last two digits of one phone number. The digits
// of a URL escape ("%2B") are not the number's and stay.
func Mask(number string) string {
	b := []byte(number)
	keep := 2
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '0' || b[i] > '9' || inEscape(number, i) {
			continue
		}
		if keep > 0 {
			keep--
			continue
		}
		b[i] = '*'
	}
	return string(b)
}

// inEscape reports whether s[i] is one of the two hex digits of a %XX
// escape.
func inEscape(s string, i int) bool {
	switch {
	case i >= 1 && s[i-1] == '%':
		return i+1 < len(s) && isHex(s[i]) && isHex(s[i+1])
	case i >= 2 && s[i-2] == '%':
		return isHex(s[i-1]) && isHex(s[i])
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
