package conversation

import (
	"context"
	"encoding/json"
	"slices"

	"golang.org/x/sync/errgroup"
)

// recentWindow is how many of a conversation's latest messages an attempt
// reads to learn what was already done: one page of Twilio's list. The
// bot only works while no worker is in the conversation, which is its
// first few messages; a conversation with more messages than this is past
// the bot, and an old webhook replayed into it finds nothing to do.
const recentWindow = 50

// mark is what the bot writes into the attributes of its messages, so that
// any later attempt — a retry, a replay, after our own records are lost —
// reads from Twilio what was already done.
type mark struct {
	// InReplyTo is the message the bot answered, or the conversation SID
	// for the welcome.
	InReplyTo string `json:"in_reply_to"`
	// Connect is the worker the message promised the customer; the worker
	// must join, or a correction follow.
	Connect string `json:"connect,omitempty"`
	// Correction is set on the message that takes back a promise.
	Correction bool `json:"correction,omitempty"`
	// Handoff is set on the message telling the customer the bot handed
	// them to the contact center ("flex"): the bot is silent after it.
	Handoff string `json:"handoff,omitempty"`
	// Notice names a message about the customer's place in the waiting
	// line: their place (noticePlace, with Place) or the overdue notice
	// (noticeOverdue).
	Notice string `json:"notice,omitempty"`
	// Place is the place in line a noticePlace message told (1 is next):
	// for staff and tests, nothing reads it back.
	Place int `json:"place,omitempty"`
	// Offer is the advisor the message offered to wait for (the advisor
	// was away): the customer's next message answers the offer.
	Offer string `json:"offer,omitempty"`
}

func (m mark) String() string {
	b, _ := json.Marshal(m)
	return string(b)
}

// readMark returns the bot's mark in message attributes.
func readMark(attributes string) (mark, bool) {
	var obj map[string]any
	if json.Unmarshal([]byte(attributes), &obj) != nil {
		return mark{}, false
	}
	var m mark
	m.InReplyTo, _ = obj["in_reply_to"].(string)
	m.Connect, _ = obj["connect"].(string)
	m.Correction, _ = obj["correction"].(bool)
	m.Handoff, _ = obj["handoff"].(string)
	m.Notice, _ = obj["notice"].(string)
	m.Offer, _ = obj["offer"].(string)
	return m, m.InReplyTo != ""
}

// history is what Twilio shows of a conversation: the source of truth for
// what the bot already did.
type history struct {
	participants []Participant
	// messages are the latest recentWindow messages, oldest first.
	messages []Message
}

// readHistory adds to g the reads of what Twilio shows of conv into h.
func (f *Flow) readHistory(ctx context.Context, g *errgroup.Group, conv string, h *history) {
	g.Go(func() (err error) {
		h.participants, err = f.convs.Participants(ctx, conv)
		return err
	})
	g.Go(func() (err error) {
		h.messages, err = f.convs.RecentMessages(ctx, conv, recentWindow)
		return err
	})
}

// full reports whether the conversation may have messages before the
// window.
func (h history) full() bool { return len(h.messages) >= recentWindow }

// replies returns the bot's messages answering sid, oldest first.
func (h history) replies(sid string) []mark {
	var out []mark
	for _, m := range h.messages {
		if m.Author != systemAuthor {
			continue
		}
		if mk, ok := readMark(m.Attributes); ok && mk.InReplyTo == sid {
			out = append(out, mk)
		}
	}
	return out
}

// answered reports whether the bot answered sid.
func (h history) answered(sid string) bool { return len(h.replies(sid)) > 0 }

// promise returns the worker the bot's answer to sid promised, when no
// correction took it back.
func (h history) promise(sid string) (string, bool) {
	worker := ""
	for _, mk := range h.replies(sid) {
		switch {
		case mk.Correction:
			worker = ""
		case mk.Connect != "":
			worker = mk.Connect
		}
	}
	return worker, worker != ""
}

// openPromise returns the newest promise of a worker (the bot's message
// answering sid, marked with the worker) that is still to be kept: not
// taken back, the worker not in the conversation, and no worker has
// written since (one who joined and left fulfilled it). An attempt whose
// add failed unclearly leaves such a promise to the queue; a turn for a
// later message keeps it rather than claim the conversation again.
func (h history) openPromise() (sid, worker string, ok bool) {
	corrected := map[string]bool{}
	for i := len(h.messages) - 1; i >= 0; i-- {
		m := h.messages[i]
		if m.Author != systemAuthor {
			if m.Author != "" && !h.fromCustomer(m) {
				return "", "", false // a worker wrote after any promise
			}
			continue
		}
		mk, marked := readMark(m.Attributes)
		switch {
		case !marked:
		case mk.Correction:
			corrected[mk.InReplyTo] = true
		case mk.Connect != "" && !corrected[mk.InReplyTo]:
			if h.hasParticipant(mk.Connect) {
				return "", "", false
			}
			return mk.InReplyTo, mk.Connect, true
		}
	}
	return "", "", false
}

// openOffer returns the advisor whom the bot's latest message before sid
// offered to wait for, if it did: sid answers that offer.
func (h history) openOffer(sid string) string {
	at := slices.IndexFunc(h.messages, func(m Message) bool { return m.SID == sid })
	for i := at - 1; i >= 0; i-- {
		if m := h.messages[i]; m.Author == systemAuthor {
			mk, _ := readMark(m.Attributes)
			return mk.Offer
		}
	}
	return ""
}

// hasParticipant reports whether identity is in the conversation.
func (h history) hasParticipant(identity string) bool {
	return slices.ContainsFunc(h.participants, func(p Participant) bool { return p.Identity == identity })
}

// hasWorker reports whether a chat user (a Frontline worker) is in the
// conversation.
func (h history) hasWorker() bool {
	return slices.ContainsFunc(h.participants, func(p Participant) bool { return p.Identity != "" })
}

// customer returns the SMS/WhatsApp participant, or nil.
func (h history) customer() *Participant {
	for i := range h.participants {
		if p := &h.participants[i]; p.Identity == "" && p.Address != "" {
			return p
		}
	}
	return nil
}

// pending returns, oldest first, the customer's messages up to and
// including target that still wait for the bot: those after the last
// message the bot or a worker wrote before target, with no answer yet.
// Handling them in this order answers a conversation's messages in the
// order Twilio published them, whichever delivery arrives first. It is
// empty when target is not in the window (an old message, or one Twilio
// no longer has).
func (h history) pending(target string) []Message {
	at := slices.IndexFunc(h.messages, func(m Message) bool { return m.SID == target })
	if at < 0 {
		return nil
	}
	start := 0
	for i := at - 1; i >= 0; i-- {
		if !h.fromCustomer(h.messages[i]) {
			start = i + 1
			break
		}
	}
	var out []Message
	for _, m := range h.messages[start : at+1] {
		if h.fromCustomer(m) && !h.answered(m.SID) {
			out = append(out, m)
		}
	}
	return out
}

// fromCustomer reports whether m was written by the conversation's
// SMS/WhatsApp participant.
func (h history) fromCustomer(m Message) bool {
	if m.Author == systemAuthor || m.Author == "" {
		return false
	}
	for _, p := range h.participants {
		if (m.ParticipantSID != "" && p.SID == m.ParticipantSID) || (m.ParticipantSID == "" && p.Address != "" && p.Address == m.Author) {
			return p.Identity == "" && p.Address != ""
		}
	}
	return false
}
