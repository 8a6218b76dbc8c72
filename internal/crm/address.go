package crm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrBadAddress is returned when an address is not a usable phone number
// or chat identity.
var ErrBadAddress = errors.New("crm: bad address")

const whatsappPrefix = "whatsapp:"

// NormalizeAddress turns a customer address into the form the cache indexes:
// E.164 for phone numbers whatever the channel, so "+33 6 79 50 00 01",
// "0033679500001" and "whatsapp:+33679500001" are one customer. Chat
// identities and e-mail addresses are lower-cased and kept as they are.
func NormalizeAddress(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if len(s) > 256 {
		return "", fmt.Errorf("%w: too long", ErrBadAddress)
	}
	// A channel value prefixed twice ("whatsapp:whatsapp:+33…") is still
	// the phone number; stripping once would index it as a chat identity.
	for strings.HasPrefix(strings.ToLower(s), whatsappPrefix) {
		s = strings.TrimSpace(s[len(whatsappPrefix):])
	}
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrBadAddress)
	}
	if !looksLikePhone(s) {
		// Lower-casing may lengthen the text (invalid UTF-8 becomes U+FFFD):
		// check the length again, or the result would not normalise.
		if s = strings.ToLower(s); len(s) > 256 {
			return "", fmt.Errorf("%w: too long", ErrBadAddress)
		}
		return s, nil
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	switch {
	case strings.HasPrefix(s, "+"):
	case strings.HasPrefix(digits, "00"):
		// International call prefix used across Europe and most of the world.
		digits = digits[2:]
	default:
		// Without a country we cannot tell a national number from an
		// international one; treat it as international without the "+".
	}
	num, err := phonenumbers.Parse("+"+digits, "")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadAddress, err)
	}
	if !phonenumbers.IsPossibleNumber(num) {
		return "", fmt.Errorf("%w: not a possible phone number", ErrBadAddress)
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	// Parsing drops a national prefix after the country code ("+44 (0) 20…").
	// If the result still starts with one ("+20 0 0…"), parsing it again
	// would drop another digit: no real number does that, and the cache
	// must get one key per address.
	if again, err := phonenumbers.Parse(e164, ""); err != nil || phonenumbers.Format(again, phonenumbers.E164) != e164 {
		return "", fmt.Errorf("%w: not a stable phone number", ErrBadAddress)
	}
	return e164, nil
}

// IsWhatsApp reports whether the address is on the WhatsApp channel.
func IsWhatsApp(raw string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(raw)), whatsappPrefix)
}

// RegionOf returns the ISO 3166 country code ("FR", "GB") of a phone
// address, or "" when it has none.
func RegionOf(raw string) string {
	a, err := NormalizeAddress(raw)
	if err != nil || !strings.HasPrefix(a, "+") {
		return ""
	}
	num, err := phonenumbers.Parse(a, "")
	if err != nil {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(num)
}

// looksLikePhone reports whether s is made of phone-number characters only.
func looksLikePhone(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return false
		}
	}
	return digits > 0
}
