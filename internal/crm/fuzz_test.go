package crm

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzNormalizeAddress checks NormalizeAddress and RegionOf on any text: no
// panic, only ErrBadAddress as an error, and normalising an output again
// gives the same output, so the cache's address index has one key per
// customer address whichever form it came in.
func FuzzNormalizeAddress(f *testing.F) {
	for _, s := range []string{
		"+33679500001", "+33 6 79 50 00 01", "0033679500001", "whatsapp:+33679500001",
		"WhatsApp: +33 (6) 79-50-00-01", "447491000002", "Ann@Example.com", "", "whatsapp:", "+1",
		"+999999999999999999999", "whatsapp:whatsapp:+1", "00", "+", "(((1)))", "İ", "whatsapp:İstanbul",
		"+800 1234 5678", "+882 3456 7890", "+1 (800) 555-0100", "+7 495 123-45-67", "0",
		"  +44 20 7946 0958  ", "+44 (0) 20 7946 0958", "+33 0 6 79 50 00 01", "00 00 44 20 7946 0958",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := NormalizeAddress(raw)
		region := RegionOf(raw)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("NormalizeAddress(%q): error %v is not ErrBadAddress", raw, err)
			}
			if region != "" {
				t.Fatalf("RegionOf(%q) = %q for an address that does not normalise", raw, region)
			}
			return
		}
		if got == "" {
			t.Fatalf("NormalizeAddress(%q) = \"\" without an error", raw)
		}
		again, err := NormalizeAddress(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeAddress(%q) = %q, and again %q, %v: not idempotent", raw, got, again, err)
		}
		if wa, err := NormalizeAddress("whatsapp:" + got); err == nil && wa != got && strings.HasPrefix(got, "+") {
			t.Fatalf("whatsapp:%s normalises to %q, not %q", got, wa, got)
		}
		if RegionOf(got) != region {
			t.Fatalf("RegionOf(%q) = %q but RegionOf(%q) = %q", raw, region, got, RegionOf(got))
		}
		if utf8.ValidString(raw) && !utf8.ValidString(got) {
			t.Fatalf("NormalizeAddress(%q) = %q: invalid UTF-8", raw, got)
		}
	})
}
