// Package bot decides what the Expert Hub bot answers a customer and where
// the conversation goes next. It does no I/O: text in, decision out.
package bot

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Route says who the conversation should go to.
type Route int

const (
	// RouteNone keeps the customer with the bot.
	RouteNone Route = iota
	// RouteWorker asks for a named worker (Decision.Worker).
	RouteWorker
	// RouteAgent asks for the longest-idle available worker.
	RouteAgent
	// RouteArea asks for the longest-idle available expert of an area
	// (Decision.Area).
	RouteArea
	// RouteWait answers the advisor's offer: wait for the advisor
	// (Decision.Worker).
	RouteWait
	// RouteOther answers the advisor's offer: someone else, please.
	RouteOther
)

// Decision is the bot's answer to one customer message.
type Decision struct {
	Route Route
	// Worker is the lower-cased e-mail the customer asked for (RouteWorker),
	// or the advisor to wait for (RouteWait).
	Worker string
	// Area is the key of the expertise area asked for (RouteArea).
	Area string
	// Reply is what to send the customer now. For RouteWorker and
	// RouteAgent the reply depends on whether a worker is found: see
	// Connecting, UnknownWorker and NoAgentAvailable.
	Reply string
}

// DefaultWelcome is the bot's first message in a new conversation when
// WELCOME_MESSAGE does not set another.
const DefaultWelcome = "Welcome to the Expert Hub. How can I help you?"

// Menu is the prompt for anything the bot does not understand.
const Menu = "If you know the email of the agent you want to speak, please write:\n" +
	"person@email.com\n" +
	"Otherwise write:\n" +
	"AGENT\n" +
	"and we will connect you with an expert."

var (
	emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	agentPattern = regexp.MustCompile(`(?i)\bagents?\b`)
)

// Decide reads one customer message. An e-mail address anywhere in the text
// wins over the word "agent", which wins over the menu.
func Decide(text string) Decision {
	if email := emailPattern.FindString(text); email != "" {
		return Decision{Route: RouteWorker, Worker: strings.ToLower(email)}
	}
	if agentPattern.MatchString(text) {
		return Decision{Route: RouteAgent}
	}
	return Decision{Route: RouteNone, Reply: Menu}
}

// The Connecting… replies name the chosen worker by name: their display
// name (SafeName), or "" for a neutral wording. A staff e-mail address is
// never a name: only the customer's own typing is repeated to them.

// Connecting is the reply once the worker the customer asked for (by
// e-mail, or by waiting for them) has been chosen.
func Connecting(name string) string {
	if name == "" {
		return "Bear with us while we connect you to the expert you asked for."
	}
	return fmt.Sprintf("Bear with us while we connect you to %s.", name)
}

// ConnectingAgent is the reply once the longest-idle worker has been chosen;
// the customer asked for anyone, so the name is not the point.
func ConnectingAgent(name string) string {
	if name == "" {
		return "Bear with us while we connect you to one of our experts."
	}
	return fmt.Sprintf("Bear with us while we connect you to %s, one of our experts.", name)
}

// ConnectingLast is the welcome's note once a returning customer's last
// worker has been chosen.
func ConnectingLast(name string) string {
	if name == "" {
		return "Bear with us while we connect you to the expert you spoke with last time."
	}
	return fmt.Sprintf("Bear with us while we connect you to %s, whom you spoke with last time.", name)
}

// maxName bounds a name shown to a customer: a display name is short, and
// an SMS reply has 1,600 characters in all.
const maxName = 64

// SafeName returns name as a reply may show it, or "" when it may not:
// blank, or holding an e-mail address (a display name left as the
// identity), which must not reach a customer. Control and bidi-override
// characters are dropped, spaces collapsed, and the name cut to maxName.
func SafeName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, name)
	name = strings.Join(strings.Fields(name), " ")
	if name == "" || strings.Contains(name, "@") {
		return ""
	}
	return cut(name, maxName)
}

// maxQuoted bounds what a reply repeats of the customer's text: no real
// address is longer, and an SMS reply has 1,600 characters in all.
const maxQuoted = 64

// UnknownWorker is the reply when the e-mail is not a Frontline worker. It
// repeats at most maxQuoted characters of it.
func UnknownWorker(email string) string {
	return notFound(email) + "\n\n" + Menu
}

// NotAvailable is the reply when the e-mail is a worker's who left
// (their Frontline user is deactivated): that person is not available,
// then the menu. It repeats at most maxQuoted characters of it.
func NotAvailable(email string) string {
	return fmt.Sprintf("Sorry, %s is not available any more.", quote(email)) + "\n\n" + Menu
}

// notFound says that email is no expert's, repeating at most maxQuoted
// characters of it.
func notFound(email string) string {
	return fmt.Sprintf("Sorry, we could not find an expert with the email %s.", quote(email))
}

// NoAgentAvailable is the reply when every expert is busy.
const NoAgentAvailable = "All our experts are busy right now. Write AGENT again in a few minutes, " +
	"or send the email of the expert you want to speak with."

// OfferLastWorker offers a returning customer the worker they spoke with
// last time, named name ("" for a neutral wording); the customer answers
// as they answer AdvisorAway (DecideOffer).
func OfferLastWorker(name string) string {
	if name == "" {
		return "Welcome back! Write WAIT to talk to the expert you spoke with last time as soon as they are free, " +
			"or AGENT for the first available expert."
	}
	return fmt.Sprintf("Welcome back! Last time you spoke with %s. Write WAIT to talk to them again as soon as they are free, "+
		"or AGENT for the first available expert.", name)
}

// quote returns s cut to maxQuoted runes, "…" marking the cut.
func quote(s string) string { return cut(s, maxQuoted) }

// cut returns s cut to n runes, "…" marking the cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for at := range s {
		if i == n-1 {
			return s[:at] + "…"
		}
		i++
	}
	return s
}

// CouldNotConnect takes back a promise to connect the customer to the
// worker named name ("" for a neutral wording), who could not be added
// after all.
func CouldNotConnect(name string) string {
	if name == "" {
		name = "that expert"
	}
	return fmt.Sprintf("Sorry, we could not connect you to %s after all.\n\n%s", name, Menu)
}

// DefaultContactCenterKeywords are the words with which a customer asks
// for the contact center when CONTACT_CENTER_KEYWORDS does not set others
// (comma-separated, as the setting).
const DefaultContactCenterKeywords = "contact center,contact centre,support,service client"

// WantsContactCenter reports whether text asks for the contact center:
// it holds one of keywords (lower-case) as whole words, in any case.
// An e-mail address or the word "agent" wins over it, as they name whom
// the customer wants.
func WantsContactCenter(text string, keywords []string) bool {
	if len(keywords) == 0 || Decide(text).Route != RouteNone {
		return false
	}
	words := strings.Fields(strings.ToLower(wordsOnly(text)))
	for _, k := range keywords {
		kw := strings.Fields(wordsOnly(k))
		if len(kw) == 0 {
			continue
		}
		for i := 0; i+len(kw) <= len(words); i++ {
			if slices.Equal(words[i:i+len(kw)], kw) {
				return true
			}
		}
	}
	return false
}

// wordsOnly replaces everything but letters and digits by spaces.
func wordsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return ' '
	}, s)
}

// PassingToContactCenter tells the customer the bot hands them to the
// contact center; the bot is silent afterwards.
const PassingToContactCenter = "We are passing you to our contact center: an agent will answer you here shortly."

// DefaultHandoffMessage is the one message a customer the contact center
// hands over gets, when HANDOFF_MESSAGE does not set another: {name} is
// the expert who takes them. The agent's notes never go to the customer
// (Twilio delivers every message of a conversation to their phone).
const DefaultHandoffMessage = "{name} will continue with you here."

// someExpert stands for {name} when the expert's name is unknown.
const someExpert = "one of our experts"

// HandoffMessage is the message a customer the contact center handed
// over gets: message (DefaultHandoffMessage when empty) with {name}
// replaced by the expert's display name, or by "one of our experts" when
// the name is unknown or an e-mail address (staff addresses are never
// sent to customers). A message starting with the neutral words starts
// with a capital.
func HandoffMessage(message, name string) string {
	if message == "" {
		message = DefaultHandoffMessage
	}
	name = strings.TrimSpace(name)
	if name == "" || strings.Contains(name, "@") {
		name = someExpert
		if strings.HasPrefix(message, "{name}") {
			name = "One" + someExpert[len("one"):]
		}
	}
	return strings.ReplaceAll(message, "{name}", quote(name))
}

// NamedExpert names, in InLine, a worker the customer waits for whose
// name may not be shown.
const NamedExpert = "The expert you asked for"

// InLine is the reply to a customer put in the waiting line: their place
// (1 is next) and whom they wait for — worker or area (an expertise area's
// label), both empty for anyone. worker is the name the reply may show: a
// display name (SafeName), the address the customer typed, or NamedExpert.
// again says they were in line already and keep their place.
func InLine(place int, worker, area string, again bool) string {
	switch {
	case again:
		return fmt.Sprintf("You're still number %d in line: we'll connect you as soon as someone is free.", place)
	case worker != "":
		return fmt.Sprintf("%s is not available right now. You're number %d in line for them: we'll connect you as soon as they are back. "+
			"Write AGENT to talk to the first available expert instead.", quote(worker), place)
	case area != "":
		return fmt.Sprintf("All our %s experts are busy right now. You're number %d in line: we'll connect you as soon as one is free.", quote(area), place)
	}
	return fmt.Sprintf("All our experts are busy right now. You're number %d in line: we'll connect you as soon as one is free. "+
		"No need to write again.", place)
}

// StillInLine answers a customer waiting in line whose message makes no
// new choice: their place (1 is next). unknown is an e-mail they wrote
// that is no expert's, "" for none: they are told so, and keep their
// place.
func StillInLine(place int, unknown string) string {
	s := InLine(place, "", "", true)
	if unknown != "" {
		s = notFound(unknown) + " " + s
	}
	return s
}

// LineOverdue tells a customer, once, that they wait longer than
// expected; they keep their place.
const LineOverdue = "Sorry for the wait: everyone is still busy. You keep your place in line, " +
	"and we'll connect you as soon as someone is free."

// BackFromContactCenter tells a customer whose contact-center task
// ended before an agent took it (canceled, deleted) that the bot serves
// them again; the menu follows it in the same message.
const BackFromContactCenter = "Our contact center could not take your request this time. Let's find someone for you here."

// DefaultContactCenterClosing is the last message a customer gets when
// the contact center has completed their request, before their Frontline
// conversation is closed, unless CONTACT_CENTER_CLOSING_MESSAGE sets
// another (or off: none). Their next message starts a new conversation.
const DefaultContactCenterClosing = "Thank you for contacting us. This conversation is now closed: write to us any time to start a new one."
