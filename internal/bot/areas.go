package bot

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Area is an expertise area the menu can offer: workers carry its Key in
// their TaskRouter attributes ({"expertise": ["watches"]}); customers see
// its Label and may also write one of its Synonyms.
type Area struct {
	Key      string
	Label    string
	Synonyms []string
}

// Areas are the configured areas (EXPERTISE_AREAS), in menu order.
type Areas []Area

// ErrBadAreas is returned when EXPERTISE_AREAS cannot be read.
var ErrBadAreas = errors.New("bot: bad expertise areas")

// areaKeyPattern is what an area key may be: what reads unambiguously in
// a configuration string and is safe in a worker's attributes (TaskRouter
// warns that hyphens in attribute values may not parse:
// https://www.twilio.com/docs/taskrouter/api/worker).
var areaKeyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ParseAreas reads EXPERTISE_AREAS: areas separated by ";", each
// key=Label|synonym|synonym, e.g.
//
//	watches=Watches|montre|watch;bridal=Bridal|wedding
//
// The label and synonyms are optional ("watches" alone is labelled
// "Watches"). Keys are lower-cased; a key or a word given twice is an
// error, as it would make the customer's answer ambiguous.
func ParseAreas(spec string) (Areas, error) {
	var out Areas
	seen := map[string]string{} // folded word → key
	for part := range strings.SplitSeq(spec, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, rest, _ := strings.Cut(part, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !areaKeyPattern.MatchString(key) {
			return nil, fmt.Errorf("%w: %q is not a key (a lower-case letter, then letters, digits and _)", ErrBadAreas, key)
		}
		a := Area{Key: key}
		for i, w := range strings.Split(rest, "|") {
			w = strings.Join(strings.Fields(w), " ")
			switch {
			case w == "":
			case i == 0:
				a.Label = w
			default:
				a.Synonyms = append(a.Synonyms, w)
			}
		}
		if a.Label == "" {
			a.Label = defaultLabel(key)
		}
		for _, w := range append([]string{key, a.Label}, a.Synonyms...) {
			f := fold(w)
			if other, dup := seen[f]; dup && other != key {
				return nil, fmt.Errorf("%w: %q names both %s and %s", ErrBadAreas, w, other, key)
			}
			seen[f] = key
		}
		if slices.ContainsFunc(out, func(b Area) bool { return b.Key == key }) {
			return nil, fmt.Errorf("%w: %s is given twice", ErrBadAreas, key)
		}
		out = append(out, a)
	}
	return out, nil
}

// defaultLabel is the label of an area EXPERTISE_AREAS does not name: its
// key with a capital and spaces.
func defaultLabel(key string) string {
	s := strings.NewReplacer("_", " ", "-", " ").Replace(key)
	r := []rune(s)
	if len(r) > 0 {
		r[0] = unicode.ToUpper(r[0])
	}
	return string(r)
}

// Menu returns the areas to offer, numbered in this order: those of
// present (keys found among the pool's workers) that the configuration
// names, in its order, then the others in present's order.
func (as Areas) Menu(present []string) []Area {
	var out []Area
	for _, a := range as {
		if slices.Contains(present, a.Key) {
			out = append(out, a)
		}
	}
	for _, k := range present {
		if !slices.ContainsFunc(out, func(a Area) bool { return a.Key == k }) {
			out = append(out, Area{Key: k, Label: defaultLabel(k)})
		}
	}
	return out
}

// Label returns the label of the area keyed key.
func (as Areas) Label(key string) string {
	for _, a := range as {
		if a.Key == key {
			return a.Label
		}
	}
	return defaultLabel(key)
}

// AreaMenu is the menu when the pool's workers have areas of expertise:
// menu numbered from 1.
func AreaMenu(menu []Area) string {
	if len(menu) == 0 {
		return Menu
	}
	var b strings.Builder
	b.WriteString("Which of our experts would you like to speak with? Please write a number:\n")
	for i, a := range menu {
		fmt.Fprintf(&b, "%d. %s\n", i+1, a.Label)
	}
	b.WriteString("Or write AGENT for the first available expert, or the email of the agent you want to speak with.")
	return b.String()
}

// DecideMenu reads one customer message against the menu of areas the
// customer was offered: an e-mail address wins, then an area (its number
// as the whole message, or its key, label or a synonym as words of the
// text), then the word "agent". Without areas it is Decide.
func DecideMenu(text string, menu []Area) Decision {
	d := Decide(text)
	if len(menu) == 0 || d.Route == RouteWorker {
		return d
	}
	if a, ok := pickArea(text, menu); ok {
		return Decision{Route: RouteArea, Area: a.Key}
	}
	if d.Route == RouteNone {
		d.Reply = AreaMenu(menu)
	}
	return d
}

// maxAreaText bounds the text searched for an area's words: a menu answer
// is short, and the search costs per word and area.
const maxAreaText = 1024

// pickArea finds the area text asks for: a number alone ("2", "2."), or
// the first area (in menu order) one of whose words or phrases appears in
// text as whole words, compared without case or accents.
func pickArea(text string, menu []Area) (Area, bool) {
	t := strings.TrimSpace(text)
	t = strings.TrimLeft(strings.TrimRight(t, ".)!"), "#")
	if n, err := strconv.Atoi(t); err == nil {
		if n >= 1 && n <= len(menu) {
			return menu[n-1], true
		}
		return Area{}, false
	}
	if len(text) > maxAreaText {
		text = text[:maxAreaText]
	}
	words := " " + strings.Join(strings.Fields(fold(text)), " ") + " "
	for _, a := range menu {
		for _, w := range append([]string{a.Key, a.Label}, a.Synonyms...) {
			if f := strings.Join(strings.Fields(fold(w)), " "); f != "" && strings.Contains(words, " "+f+" ") {
				return a, true
			}
		}
	}
	return Area{}, false
}

// fold lower-cases s, strips the accents of Latin letters, and turns
// everything but letters and digits into spaces, so that "Montre!" and
// "montre" compare equal.
func fold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unaccent(r))
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// unaccent maps the accented Latin letters of the retail languages the
// menu is likely written in to their base letter.
func unaccent(r rune) rune {
	const from, to = "àáâãäåçèéêëìíîïñòóôõöùúûüýÿ", "aaaaaaceeeeiiiinooooouuuuyy"
	if i := strings.IndexRune(from, r); i >= 0 {
		return []rune(to)[len([]rune(from[:i]))]
	}
	return r
}

// Answers to the advisor's offer (AdvisorAway).
var (
	waitPattern  = regexp.MustCompile(`(?i)\bwait\b`)
	otherPattern = regexp.MustCompile(`(?i)\b(other|another|someone|anyone)\b`)
)

// DecideOffer reads the answer to an offer to wait for the worker advisor
// (AdvisorAway, OfferLastWorker): "wait" waits for them (RouteWait),
// "other" or "another" asks for someone else (RouteOther); anything else
// is read as DecideMenu reads it, except that a message it would answer
// with the menu gets RouteNone without a Reply: the caller makes the offer
// again (OfferAgain), naming the worker only if it needs to.
func DecideOffer(text, advisor string, menu []Area) Decision {
	d := DecideMenu(text, menu)
	if d.Route != RouteNone {
		return d
	}
	w, o := waitPattern.MatchString(text), otherPattern.MatchString(text)
	switch {
	case w && !o:
		return Decision{Route: RouteWait, Worker: advisor}
	case o && !w:
		return Decision{Route: RouteOther}
	}
	return Decision{Route: RouteNone}
}

// OfferAgain repeats an offer (AdvisorAway, OfferLastWorker) the
// customer's answer did not take up; name names the worker offered, ""
// for a neutral wording.
func OfferAgain(name string) string {
	if name == "" {
		name = "the expert we suggested"
	}
	return fmt.Sprintf("Write WAIT to wait for %s, or OTHER to talk to another expert.", name)
}

// AdvisorAway offers a customer whose advisor, named name ("" for a
// neutral wording), is not available to wait for them or to talk to
// another expert.
func AdvisorAway(name string) string {
	if name == "" {
		return "Your advisor is away right now. Write WAIT to wait for them, or OTHER to talk to another expert."
	}
	return fmt.Sprintf("Your advisor %s is away right now. Write WAIT to wait for %s, or OTHER to talk to another expert.", name, name)
}

// ConnectingAdvisor is the reply once the customer's own advisor, named
// name ("" for a neutral wording), has been chosen.
func ConnectingAdvisor(name string) string {
	if name == "" {
		return "Bear with us while we connect you to your advisor."
	}
	return fmt.Sprintf("Bear with us while we connect you to your advisor, %s.", name)
}

// ConnectingExpert is the reply once an expert of the area labelled label,
// named name ("" for a neutral wording), has been chosen.
func ConnectingExpert(name, label string) string {
	if name == "" {
		return fmt.Sprintf("Bear with us while we connect you to one of our %s experts.", label)
	}
	return fmt.Sprintf("Bear with us while we connect you to %s, our %s expert.", name, label)
}
