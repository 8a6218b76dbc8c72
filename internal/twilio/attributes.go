package twilio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// Attributes are JSON objects carried as strings by Twilio resources
// (https://www.twilio.com/docs/conversations/attributes). They are decoded
// with json.Number so that values we do not touch are written back
// exactly (a worker's numeric attributes, say), and what we add is kept
// within Twilio's size limits (limits.go).

// ParseAttributes decodes attributes, a JSON object; "" and "null" are an empty object.
func ParseAttributes(s string) (map[string]any, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "null" {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("attributes: %w", err)
	}
	if dec.More() {
		return nil, errors.New("attributes: trailing data")
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// EmptyAttributes reports whether s is "", "null" or an object with no keys.
func EmptyAttributes(s string) bool {
	m, err := ParseAttributes(s)
	return err == nil && len(m) == 0
}

// EncodeAttributes returns m as a JSON string.
func EncodeAttributes(m map[string]any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Avatars are URLs; keep "&" readable for whoever looks at them.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return "", fmt.Errorf("attributes: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// AddMissing sets each non-empty value of add whose key m lacks or holds
// as null or "". It never overwrites: whatever a worker or Frontline set
// stays. It reports whether m changed.
func AddMissing(m map[string]any, add map[string]string) bool {
	changed := false
	for k, v := range add {
		if v == "" {
			continue
		}
		if cur, ok := m[k]; ok && cur != nil && cur != "" {
			continue
		}
		m[k] = v
		changed = true
	}
	return changed
}

// MergeAttributes adds the missing values of add to a copy of m, as
// AddMissing does, and encodes it in at most limit bytes. When the JSON
// would not fit, it leaves out the additions named in optional, one at a
// time in order, until it does; what m held is never touched. It returns
// "" when there is nothing to add, the keys it left out, and an error when
// even the other additions do not fit.
func MergeAttributes(m map[string]any, add map[string]string, optional []string, limit int) (string, []string, error) {
	add = maps.Clone(add)
	var dropped []string
	for {
		out := maps.Clone(m)
		if !AddMissing(out, add) {
			return "", dropped, nil
		}
		s, err := EncodeAttributes(out)
		if err != nil {
			return "", dropped, err
		}
		if len(s) <= limit {
			return s, dropped, nil
		}
		if len(optional) == 0 {
			return "", dropped, fmt.Errorf("attributes: %d bytes, over Twilio's limit of %d", len(s), limit)
		}
		if _, ok := add[optional[0]]; ok {
			delete(add, optional[0])
			dropped = append(dropped, optional[0])
		}
		optional = optional[1:]
	}
}

// Millis reads an epoch-milliseconds attribute: a JSON number, or a
// numeric string as some tools write it.
func Millis(v any) (int64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return 0, false
		}
		n = int64(f)
	}
	if n <= 0 {
		return 0, false
	}
	return n, true
}

// IsSID reports whether s looks like a Twilio SID with prefix: two
// letters and 32 hex digits.
func IsSID(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, c := range s[2:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// CustomerAttributes returns current (a participant's attributes) with
// the customer's attributes Frontline reads added where missing
// (https://www.twilio.com/docs/frontline/conversations-webhooks):
// customer_id, which Customer Details needs, display_name (cut to a
// friendly name's length) and avatar. Within MaxParticipantAttributes,
// the avatar and then the name give way first: a long avatar URL (a
// data: URL, say) is left out before the customer_id is. It returns ""
// when nothing is missing, and what it left out.
func CustomerAttributes(current, id, name, avatar string) (string, []string, error) {
	m, err := ParseAttributes(current)
	if err != nil {
		return "", nil, err
	}
	return MergeAttributes(m, map[string]string{
		"customer_id":  id,
		"display_name": Truncate(name, MaxFriendlyName),
		"avatar":       avatar,
	}, []string{"avatar", "display_name"}, MaxParticipantAttributes)
}

// CustomerConversation returns a customer's conversation attributes,
// current with customer_id (empty: none) and avatar added where missing,
// within MaxConversationAttributes: the avatar gives way first. It
// returns "" when nothing is missing, and what it left out.
func CustomerConversation(current, id, avatar string) (string, []string, error) {
	m, err := ParseAttributes(current)
	if err != nil {
		return "", nil, err
	}
	return MergeAttributes(m, map[string]string{"customer_id": id, "avatar": avatar}, []string{"avatar"}, MaxConversationAttributes)
}
