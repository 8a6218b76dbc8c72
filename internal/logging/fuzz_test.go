package logging

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// delimiters may stand next to a phone number in a log line.
var delimiters = []string{" ", "", ",", ":", "=", `"`, "'", "/", "<", ">", "\n", "\t", "[", "]", "{", "}", ";", "!", "?", "+", "*", "#", "&"}

// FuzzMaskPhones checks MaskPhones on any text: no panic, idempotent, it
// only ever turns digits into '*', and a phone number set off by any
// delimiter keeps at most its last two digits.
func FuzzMaskPhones(f *testing.F) {
	f.Add("message from +33679500001", "ok", uint64(33679500001), uint8(0), uint8(0))
	f.Add("call ", " now", uint64(447491000002), uint8(1), uint8(5))
	f.Add("CHa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "", uint64(5521989500003), uint8(2), uint8(3))
	f.Add("index 12, 200 ms", "2026-11-25T06:00:00Z", uint64(12345678), uint8(4), uint8(9))
	f.Add("+33 6 79 50 00 01", "(0)", uint64(999999999999999), uint8(6), uint8(7))
	f.Add("GET /api/customers?filters=", "&sort=customer_id%3Aasc", uint64(447491000002), uint8(4), uint8(22))
	f.Fuzz(func(t *testing.T, before, after string, number uint64, d1, d2 uint8) {
		for _, s := range []string{before, after} {
			got := MaskPhones(s)
			if MaskPhones(got) != got {
				t.Fatalf("MaskPhones(%q) = %q, masked again %q", s, got, MaskPhones(got))
			}
			if len(got) != len(s) {
				t.Fatalf("MaskPhones(%q) = %q: length changed", s, got)
			}
			for i := range len(s) {
				if got[i] != s[i] && (got[i] != '*' || s[i] < '0' || s[i] > '9') {
					t.Fatalf("MaskPhones(%q) = %q: byte %d changed to %q", s, got, i, got[i])
				}
			}
		}
		digits := fmt.Sprint(number)
		if len(digits) < 8 {
			return
		}
		pre, post := delimiters[int(d1)%len(delimiters)], delimiters[int(d2)%len(delimiters)]
		if pre == "" && before != "" && isWordByte(before[len(before)-1]) {
			return // "id12345678": an identifier, not a number
		}
		if post == "" && after != "" && isWordByte(after[0]) && !isDigit(after[0]) {
			return
		}
		s := before + pre + "+" + digits + post + after
		got := MaskPhones(s)
		start := len(before) + len(pre)
		if shown := countDigits(got[start : start+1+len(digits)]); shown > 2 {
			t.Fatalf("MaskPhones(%q) = %q: shows %d digits of +%s", s, got, shown, digits)
		}
		// The same number URL-encoded, as in the query of a URL an error
		// quotes: "%2B33679500001", "whatsapp%3A%2B33679500001".
		if pre == "" && strings.HasSuffix(before, "%") {
			return // "%" then "%2B…" would read as another escape
		}
		for _, prefix := range []string{"+", "whatsapp:+"} {
			enc := url.QueryEscape(prefix + digits)
			s := before + pre + enc + post + after
			got := MaskPhones(s)
			start := len(before) + len(pre)
			num := got[start+len(enc)-len(digits) : start+len(enc)]
			if shown := countDigits(num); shown > 2 {
				t.Fatalf("MaskPhones(%q) = %q: shows %d digits of %s", s, got, shown, enc)
			}
		}
	})
}

func countDigits(s string) int {
	n := 0
	for i := range len(s) {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isWordByte(b byte) bool {
	return isDigit(b) || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_'
}
