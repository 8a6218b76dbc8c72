package crm

import (
	"errors"
	"strings"
	"testing"
)

// TestNormalizeAddressFuzzFindings keeps what FuzzNormalizeAddress found:
// inputs whose normalised form did not normalise to itself.
func TestNormalizeAddressFuzzFindings(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		// Was indexed as the chat identity "whatsapp:+33679500001", so the
		// customer texting from that number was not found.
		{in: "whatsapp:whatsapp:+33679500001", want: "+33679500001"},
		{in: "WhatsApp: whatsapp: +33 6 79 50 00 01", want: "+33679500001"},
		// Each normalisation dropped one more "national prefix" zero.
		{in: "200000000000", wantErr: true},
		{in: "+20 0 0 1012345678", wantErr: true},
		{in: "+20 0 1012345678", want: "+201012345678"},
		// Lower-casing made it longer than the limit.
		{in: strings.Repeat("\xff", 100), wantErr: true},
		{in: strings.Repeat("Ⱥ", 100), wantErr: true},
		{in: strings.Repeat("Ⱥ", 80), want: strings.Repeat("ⱥ", 80)},
	}
	for _, tt := range tests {
		got, err := NormalizeAddress(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrBadAddress) {
				t.Errorf("NormalizeAddress(%q) = %q, %v; want ErrBadAddress", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if again, err := NormalizeAddress(got); again != got || err != nil {
			t.Errorf("NormalizeAddress(%q) = %q, %v; not idempotent", got, again, err)
		}
	}
}
