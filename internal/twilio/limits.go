package twilio

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Size limits of the Conversations API. Twilio refuses a value over its
// limit, which for a pre-event answer drops the customer's conversation:
// whatever Expert Hub sends is cut to fit first.
//
// Sources: https://www.twilio.com/docs/conversations/conversations-limits
// (length limits) and https://www.twilio.com/docs/conversations/attributes
// ("Participant (up to 4 KB) … Conversation (up to 16 KB) … Message (up
// to 4 KiB)").
const (
	// MaxFriendlyName is the most characters of a conversation's
	// friendly_name.
	MaxFriendlyName = 256
	// MaxMessageBody is the most characters of a message to an SMS or
	// WhatsApp participant (a chat-only conversation takes 32 KB).
	MaxMessageBody = 1600
	// MaxParticipantAttributes, MaxMessageAttributes and
	// MaxConversationAttributes are the most bytes of the attributes JSON
	// of a participant (4 KB), a message (4 KiB) and a conversation
	// (16 KB). Twilio does not say whether a KB is 1000 or 1024 bytes, and
	// counts whitespace: these stay under either reading.
	MaxParticipantAttributes  = 4000
	MaxMessageAttributes      = 4000
	MaxConversationAttributes = 16000
)

// MaxWorkerFriendlyName is the most characters of a TaskRouter worker's
// friendly_name, its Frontline identity here: "up to 64 characters"
// (https://www.twilio.com/docs/taskrouter/api/worker).
const MaxWorkerFriendlyName = 64

// ellipsis ends a value Truncate cut.
const ellipsis = "…"

// Chars counts s as Twilio's character limits are checked against. Twilio
// does not say how it counts; UTF-16 code units (an emoji counts two)
// are never fewer than runes, so a value within a limit by Chars is
// within it by either count.
func Chars(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// Truncate returns s if it has at most limit characters (as Chars counts
// them), and otherwise its longest prefix that, followed by "…", has at
// most limit. It cuts between runes, so valid UTF-8 stays valid. A limit
// below one character returns "".
func Truncate(s string, limit int) string {
	if Chars(s) <= limit {
		return s
	}
	budget := limit - Chars(ellipsis)
	if budget < 0 {
		return ""
	}
	end := 0
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		w := utf16.RuneLen(r)
		if budget < w {
			break
		}
		budget -= w
		end += size
	}
	return s[:end] + ellipsis
}
