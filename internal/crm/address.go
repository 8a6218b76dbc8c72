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

// ValidRegion reports whether region is an ISO 3166 country code the
// phone-number rules know ("FR", "GB").
func ValidRegion(region string) bool {
	return phonenumbers.GetCountryCodeForRegion(strings.ToUpper(region)) != 0
}

// Localize returns a channel value written as a national number ("06 79
// 50 00 98") in E.164 for region ("+33679500098"), keeping a "whatsapp:"
// prefix. Any other value (international, a chat identity, not a valid
// number of region) comes back as it is: only a number that is valid in
// region is rewritten, so a value the CRM meant otherwise is never turned
// into a stranger's number.
func Localize(value, region string) string {
	if region == "" {
		return value
	}
	s := strings.TrimSpace(value)
	prefix := ""
	if strings.HasPrefix(strings.ToLower(s), whatsappPrefix) {
		prefix, s = whatsappPrefix, strings.TrimSpace(s[len(whatsappPrefix):])
	}
	if s == "" || len(s) > 64 || !looksLikePhone(s) || strings.HasPrefix(s, "+") || strings.HasPrefix(s, "00") {
		return value
	}
	num, err := phonenumbers.Parse(s, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsValidNumberForRegion(num, strings.ToUpper(region)) {
		return value
	}
	return prefix + phonenumbers.Format(num, phonenumbers.E164)
}

// Spellings returns the ways a CRM may hold the phone number e164 (E.164,
// as NormalizeAddress returns it): E.164, international and national
// formats with and without spaces, the 00 prefix, and each with
// "whatsapp:". A CRM that matches channel values exactly can then be
// asked for any of them at once. A value that is not a phone number
// comes back alone.
func Spellings(e164 string) []string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil || !strings.HasPrefix(e164, "+") {
		return []string{e164}
	}
	intl := phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
	national := phonenumbers.Format(num, phonenumbers.NATIONAL)
	compact := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' {
				return -1
			}
			return r
		}, s)
	}
	forms := []string{e164, intl, "00" + e164[1:], national, compact(national)}
	if dotted := strings.ReplaceAll(national, " ", "."); dotted != national {
		forms = append(forms, dotted)
	}
	var out []string
	seen := map[string]bool{}
	for _, f := range forms {
		for _, v := range []string{f, whatsappPrefix + f} {
			if v != "" && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// ChannelAddress returns raw as the address of an SMS or WhatsApp
// channel, in the form addresses are bound and compared in: "+E.164" for
// SMS, "whatsapp:+E.164" for WhatsApp, a national number read as one of
// region (Localize). It reports false for anything else: another channel
// ("messenger:…"), an e-mail, a chat identity, a number that is not one.
func ChannelAddress(raw, region string) (string, bool) {
	s := strings.TrimSpace(raw)
	wa := IsWhatsApp(s)
	if wa {
		s = strings.TrimSpace(s[len(whatsappPrefix):])
	}
	if s == "" || strings.Contains(s, ":") {
		return "", false
	}
	a, err := NormalizeAddress(Localize(s, region))
	if err != nil || !strings.HasPrefix(a, "+") {
		return "", false
	}
	if wa {
		a = whatsappPrefix + a
	}
	return a, true
}

// HasNumber reports whether address (ChannelAddress's form) is the phone
// number of one of c's channels, read as the sync reads them (Localize
// with region, NormalizeAddress). The channel (SMS or WhatsApp) may
// differ: the number is the customer's.
func (c Customer) HasNumber(address, region string) bool {
	number := strings.TrimPrefix(address, whatsappPrefix)
	for _, ch := range c.Channels {
		if a, err := NormalizeAddress(Localize(ch.Value, region)); err == nil && a == number {
			return true
		}
	}
	return false
}

// MessagingAddress returns the address of c's first SMS or WhatsApp
// channel that is a phone number (ChannelAddress's form).
func (c Customer) MessagingAddress(region string) (string, bool) {
	for _, ch := range c.Channels {
		t := strings.ToLower(ch.Type)
		if t != "sms" && t != "whatsapp" {
			continue
		}
		v := ch.Value
		if t == "whatsapp" && !IsWhatsApp(v) {
			v = whatsappPrefix + v
		}
		if a, ok := ChannelAddress(v, region); ok {
			return a, true
		}
	}
	return "", false
}
