package flexauth_test

import (
	"testing"

	"github.com/experthub/experthub/internal/flexauth"
)

// TestAllows: exact origins, and any port of a host listed with :*;
// nothing that merely starts or ends like an allowed origin.
func TestAllows(t *testing.T) {
	o := flexauth.Origins{"https://flex.twilio.com", "http://localhost:*"}
	for origin, want := range map[string]bool{
		"https://flex.twilio.com":              true,
		"HTTPS://FLEX.TWILIO.COM":              true,
		"http://localhost:3000":                true,
		"http://localhost:5173":                true,
		"http://flex.twilio.com":               false,
		"https://flex.twilio.com:8443":         false,
		"https://flex.twilio.com.evil.example": false,
		"https://evil.flex.twilio.com":         false,
		"http://localhost":                     false,
		"http://localhost:":                    false,
		"http://localhost:80.evil.example":     false,
		"http://localhost.evil.example:80":     false,
		"https://localhost:3000":               false,
		"null":                                 false,
		"":                                     false,
	} {
		if got := o.Allows(origin); got != want {
			t.Errorf("Allows(%q) = %v, want %v", origin, got, want)
		}
	}
	if (flexauth.Origins{}).Allows("https://flex.twilio.com") {
		t.Error("no origins allow one")
	}
}
