package conversation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/handoff"
	"github.com/experthub/experthub/internal/ledger"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/taskqueue"
)

// The handoff function: a Flex contact center (another Twilio account)
// hands a customer to an onsite expert. The caller is authenticated
// before this code runs (see app). The answer names the conversation at
// once; noting the context, adding the expert and greeting the customer
// is a job of the conversation-work queue, done inline first, like a bot
// turn.
//
// A caller is authorised for exactly what it names: the address must be
// one of the customer's CRM channels, and a handoff id, once accepted,
// belongs to its customer (handoff.Binding). The agent's summary and
// the copied Flex messages go where only workers see them, the
// customer's details in the CRM callback (handoff.Note): Twilio delivers
// every message of a conversation to the customer's phone.

// Handoffs is what the contact center's handoff does in Frontline,
// besides Conversations.
type Handoffs interface {
	// Conversation returns the conversation sid or unique name is.
	Conversation(ctx context.Context, sidOrUniqueName string) (Conversation, error)
	// MarkHandoff merges h into the conversation's attributes, unless
	// they say the same already (or cannot hold it: logged).
	MarkHandoff(ctx context.Context, conv string, h Handoff) error
	// OpenConversation returns the customer's conversation that is not
	// closed, or "".
	OpenConversation(ctx context.Context, address string) (string, error)
	// CreateConversation creates the conversation named uniqueName (safe
	// to repeat: the one named so is returned), for customer c, named
	// name.
	CreateConversation(ctx context.Context, uniqueName, name string, c crm.Customer) (string, error)
	// AddCustomer adds the customer c at address, reached from our number
	// proxy; ErrExists when the address and proxy are in an active
	// conversation.
	AddCustomer(ctx context.Context, conv, address, proxy string, c crm.Customer) error
	// Close closes the conversation (final); one closed already is no
	// error.
	Close(ctx context.Context, conv string) error
}

// Flex is what the bot's route does in the Flex account.
type Flex interface {
	RecentMessages(ctx context.Context, conv string, n int) ([]Message, error)
	// OpenTask returns the open task handing Frontline conversation conv
	// to Flex, if there is one.
	OpenTask(ctx context.Context, conv string) (Task, bool, error)
	// CreateTask creates a task for Expert Hub's workflow; the error
	// wraps ErrUnclear when it may have been created nonetheless.
	CreateTask(ctx context.Context, t FlexTask) (Task, error)
	// Task returns the task sid; ErrNotFound once it is deleted.
	Task(ctx context.Context, sid string) (Task, error)
}

// Directory finds customers by id or address (crm.Service).
type Directory interface {
	Customer(ctx context.Context, id string) (crm.Customer, error)
	CustomerByAddress(ctx context.Context, address string) (crm.Customer, error)
}

// ContactCenter configures both directions of the handoff with Flex (see
// Deps.Flex).
type ContactCenter struct {
	// Proxy chooses our number for a customer Flex hands over, as the
	// outgoing callback does (frontline.ProxyNumbers.For).
	Proxy func(channel, address string) string
	// Keywords ask the bot for the contact center (lower-case).
	Keywords []string
	// After hands a customer to Flex once they have waited longer than
	// this for an expert; zero never.
	After time.Duration
	// Region is DEFAULT_REGION: the country of a national number in a
	// handoff's address or a CRM channel.
	Region string
	// Message is what a handed-over customer is told (HANDOFF_MESSAGE,
	// see bot.HandoffMessage); empty: bot.DefaultHandoffMessage.
	Message string
	// Opener returns the approved WhatsApp template that opens a
	// handoff to customer c outside WhatsApp's 24-hour window (ok false:
	// none); nil: none.
	Opener func(ctx context.Context, c crm.Customer) (o Opener, ok bool, err error)
	// Closing is the last message a customer gets when the contact
	// center completes their task, before their conversation closes
	// (CONTACT_CENTER_CLOSING_MESSAGE); empty: none.
	Closing string
}

// HandoffRequest is a validated handoff call: the edge decodes and
// checks the request's form (see app), the flow what it names.
type HandoffRequest struct {
	ID       string
	Customer string // CRM customer_id
	Address  string // or the customer's address (crm.ChannelAddress's form)
	Worker   string // optional: the expert's identity, lower-case
	Area     string // optional: an expertise area, lower-case
	Summary  string
	FlexConv string // optional: the Flex conversation to copy from
	Copy     int    // how many of its latest messages to copy
	// Agent is the Flex user handing over (their login, from their
	// token); "" for a server caller.
	Agent string
}

// Why a handoff is refused; Refusal errors match one of these (errors.Is)
// and say why in their message.
var (
	// ErrUnknownCustomer: no customer has the customer_id or address.
	ErrUnknownCustomer = errors.New("unknown customer")
	// ErrNotTheirs: what the request names does not fit the customer (an
	// address that is not theirs, no number to reach them at) or is no
	// expert.
	ErrNotTheirs = errors.New("does not fit")
	// ErrHandoffTaken: the handoff id was accepted for another customer,
	// address, expert or area.
	ErrHandoffTaken = errors.New("handoff id taken")
	// ErrOutsideWindow: the customer is on WhatsApp, has not written for
	// 24 hours, and no approved template can open the conversation.
	ErrOutsideWindow = errors.New("outside the WhatsApp window")
	// ErrUnavailable: the CRM, Twilio or a store did not answer; the same
	// request may succeed later.
	ErrUnavailable = errors.New("unavailable")
)

// refusal is a refused handoff: why (one of the errors above) and the
// message answering it.
type refusal struct {
	why error
	msg string
}

func (r refusal) Error() string        { return r.msg }
func (r refusal) Is(target error) bool { return target == r.why }

func refuse(why error, msg string) error { return refusal{why, msg} }

// HandOver runs the handoff function: it checks what req names and opens
// the customer's conversation, then noting the context, adding the expert
// and greeting the customer is a job of the conversation-work queue,
// done inline first. It returns the conversation and what became of the
// job, or why the handoff is refused.
func (f *Flow) HandOver(ctx context.Context, req HandoffRequest) (string, taskqueue.Outcome, error) {
	conv, err := f.handoffOpen(ctx, req)
	if err != nil {
		return "", 0, err
	}
	j := f.job(kindHandoff, map[string]string{
		"ConversationSid": conv.conversation, "HandoffId": req.ID, "CustomerId": conv.customer, "Worker": req.Worker, "Area": req.Area,
		"Summary": req.Summary, "FlexConversationSid": req.FlexConv, "MessageCount": strconv.Itoa(req.Copy), "Agent": req.Agent,
		"Opener": conv.opener.Text, "OpenerContentSid": conv.opener.Content.SID, "OpenerContentVariables": conv.opener.Content.Variables,
	})
	return conv.conversation, f.work.Accept(ctx, j), nil
}

// handoffJob is a handoff job's parameters.
type handoffJob struct {
	conv, id, customer, worker, area string
	summary, flexConv, agent         string
	copy                             int
	// opener is the approved template the customer gets instead of the
	// handoff message, outside WhatsApp's window; zero: the message.
	opener Opener
}

func handoffJobOf(j taskqueue.Job) handoffJob {
	p := j.Params
	n, _ := strconv.Atoi(p["MessageCount"])
	return handoffJob{
		conv: p["ConversationSid"], id: p["HandoffId"], customer: p["CustomerId"], worker: p["Worker"], area: p["Area"],
		summary: p["Summary"], flexConv: p["FlexConversationSid"], agent: p["Agent"], copy: n,
		opener: Opener{Text: p["Opener"], Content: Content{SID: p["OpenerContentSid"], Variables: p["OpenerContentVariables"]}},
	}
}

// opened is a handoff's customer and conversation.
type opened struct {
	customer     string // CRM customer_id
	conversation string // ConversationSid
	opener       Opener // see handoffJob.opener
}

// handoffOpen checks what req names, in order — the customer and their
// address, the expert, the handoff id's binding, WhatsApp's window — and
// returns the conversation to hand the customer over in, or why not (a
// refusal). Nothing is created in Twilio before every check has passed.
func (f *Flow) handoffOpen(ctx context.Context, req HandoffRequest) (opened, error) {
	c, address, err := f.handoffCustomer(ctx, req)
	if err != nil {
		return opened{}, err
	}
	if req.Worker != "" {
		wk, err := f.workers.Find(ctx, req.Worker)
		switch {
		case err != nil:
			f.log.WarnContext(ctx, "handoff: worker lookup failed", "handoff_id", req.ID, "err", err)
			return opened{}, refuse(ErrUnavailable, "Twilio did not answer; retry with the same handoff_id")
		case wk.SID == "":
			return opened{}, refuse(ErrNotTheirs, "worker "+strconv.Quote(handoff.Clip(req.Worker, 64))+" is not a Frontline worker")
		case wk.Deactivated:
			return opened{}, refuse(ErrNotTheirs, "worker "+strconv.Quote(handoff.Clip(req.Worker, 64))+" is deactivated in Frontline")
		}
	}
	b := handoff.Binding{ID: req.ID, Customer: c.ID, Address: address, Worker: req.Worker, Area: req.Area, At: f.now()}
	switch err := f.bind(ctx, b); {
	case errors.Is(err, ErrHandoffTaken):
		return opened{}, err
	case err != nil:
		f.log.WarnContext(ctx, "handoff: the binding could not be checked", "handoff_id", req.ID, "err", err)
		return opened{}, refuse(ErrUnavailable, "the handoff could not be recorded; retry with the same handoff_id")
	}
	// After the binding: a request naming another customer is refused
	// before anything of this one is read.
	// The customer's open conversation, read once: WhatsApp's window is
	// read in it, and the handoff reuses it.
	open, openErr := f.handoffs.OpenConversation(ctx, address)
	opener, err := f.whatsAppOpener(ctx, req.ID, c, address, open, openErr)
	if err != nil {
		return opened{}, err
	}
	conv, err := f.handoffConversation(ctx, req.ID, c, address, open, openErr)
	if err != nil {
		f.log.ErrorContext(ctx, "handoff: no conversation for the customer", "handoff_id", req.ID, "err", err)
		return opened{}, refuse(ErrUnavailable, "the conversation could not be opened; retry with the same handoff_id")
	}
	return opened{customer: c.ID, conversation: conv, opener: opener}, nil
}

// bind binds the handoff id to b's customer, address and expert, or
// finds it bound: a request binding it as before is a retry; any other
// is refused (ErrHandoffTaken) before anything else is read. An id not
// bound yet — new, or its binding lost — must not name a conversation
// that holds another customer (handoff-<id>, which Twilio keeps).
func (f *Flow) bind(ctx context.Context, b handoff.Binding) error {
	if f.bindings == nil {
		return errors.New("no store for handoff bindings")
	}
	stored, err := f.bindings.Binding(ctx, b.ID)
	if errors.Is(err, handoff.ErrNotFound) {
		if err := f.conversationIsTheirs(ctx, b); err != nil {
			return err
		}
		stored, err = f.bindings.Bind(ctx, b)
	}
	if err != nil {
		return err
	}
	switch stored.Conflict(b) {
	case "customer":
		return taken(b.ID, "customer")
	case "expert":
		return taken(b.ID, "expert or area")
	}
	return nil
}

// taken is the answer to a request naming another what than the one its
// handoff id was accepted for.
func taken(id, what string) error {
	return refuse(ErrHandoffTaken, fmt.Sprintf("%s: handoff_id %s was used for another %s", ErrHandoffTaken, strconv.Quote(id), what))
}

// conversationIsTheirs returns ErrHandoffTaken when the conversation the
// handoff id names holds, or was opened for, another customer than b's.
func (f *Flow) conversationIsTheirs(ctx context.Context, b handoff.Binding) error {
	conv, err := f.handoffs.Conversation(ctx, handoffConversationName(b.ID))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if conv.CustomerID != "" && conv.CustomerID != b.Customer {
		return taken(b.ID, "customer")
	}
	ps, err := f.convs.Participants(ctx, conv.SID)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.Identity != "" || p.Address == "" {
			continue
		}
		if a, ok := crm.ChannelAddress(p.Address, f.cc.Region); !ok || a != b.Address {
			return taken(b.ID, "customer")
		}
	}
	return nil
}

// handoffConversationName is the unique name of the conversation a
// handoff opens: it makes the creation safe to repeat.
func handoffConversationName(id string) string { return "handoff-" + id }

// handoffCustomer finds the customer of req in the CRM cache and the
// address to reach them at, normalised (crm.ChannelAddress). An address
// sent with a customer_id must be one of that customer's channels; one
// sent alone must be some customer's.
func (f *Flow) handoffCustomer(ctx context.Context, req HandoffRequest) (crm.Customer, string, error) {
	if f.directory == nil {
		return crm.Customer{}, "", refuse(ErrUnavailable, "no customer directory")
	}
	var (
		c   crm.Customer
		err error
	)
	if req.Customer != "" {
		c, err = f.directory.Customer(ctx, req.Customer)
	} else {
		c, err = f.directory.CustomerByAddress(ctx, req.Address)
	}
	switch {
	case errors.Is(err, crm.ErrNotFound):
		return c, "", refuse(ErrUnknownCustomer, "unknown customer: no customer in the CRM has this customer_id or address")
	case err != nil:
		return c, "", refuse(ErrUnavailable, "the CRM did not answer: "+err.Error())
	}
	if req.Address != "" {
		if !c.HasNumber(req.Address, f.cc.Region) {
			return c, "", refuse(ErrNotTheirs, fmt.Sprintf("address is not one of the channels of customer %s in the CRM", strconv.Quote(handoff.Clip(c.ID, 64))))
		}
		return c, req.Address, nil
	}
	if a, ok := c.MessagingAddress(f.cc.Region); ok {
		return c, a, nil
	}
	return c, "", refuse(ErrNotTheirs, "the customer has no SMS or WhatsApp number in the CRM")
}

// handoffConversation returns the customer's open Frontline conversation
// (open, as read with openErr), or opens one. Twilio lets an address and our number be in one active
// conversation only, so the customer's open conversation is reused; a new
// one carries the handoff's unique name, which makes its creation safe to
// repeat, and the customer's id, which a later request checks
// (conversationIsTheirs).
func (f *Flow) handoffConversation(ctx context.Context, id string, c crm.Customer, address, open string, openErr error) (string, error) {
	if open != "" || openErr != nil {
		return open, openErr
	}
	proxy := ""
	if f.cc.Proxy != nil {
		channel := "sms"
		if crm.IsWhatsApp(address) {
			channel = "whatsapp"
		}
		proxy = f.cc.Proxy(channel, address)
	}
	if proxy == "" {
		return "", errors.New("no proxy number fits the customer: set FRONTLINE_PROXY_NUMBER or FRONTLINE_PROXY_NUMBER_<CC>")
	}
	name := c.DisplayName
	if name == "" {
		name = logging.Mask(address)
	}
	conv, err := f.handoffs.CreateConversation(ctx, handoffConversationName(id), name, c)
	if err != nil {
		return "", err
	}
	if err := f.handoffs.AddCustomer(ctx, conv, address, proxy, c); err != nil {
		if errors.Is(err, ErrExists) {
			// An earlier attempt added them, or the customer wrote in
			// meanwhile: their open conversation is the one.
			if sid, lerr := f.handoffs.OpenConversation(ctx, address); sid != "" || lerr != nil {
				return sid, lerr
			}
		}
		return "", err
	}
	return conv, nil
}

// handoffKey is the claimant and the mark of a handoff's work.
func handoffKey(id string) string { return "handoff:" + id }

// handoffIn runs a handoff job: it notes the contact center's context
// beside the customer (where only workers see it), claims the expert,
// tells the customer who will continue with them in a message marked
// with the handoff id and promising the expert, adds the expert, and
// marks the conversation handed over. Every step looks first at what is
// there, so N deliveries make one note, one message and one expert.
func (f *Flow) handoffIn(ctx context.Context, p handoffJob) error {
	conv, id := p.conv, p.id
	key := handoffKey(id)
	a := f.work.Begin(ctx, key, f.work.LeaseFor(ctx))
	if a.Outcome == ledger.Done {
		return nil
	}
	err := f.exclusive(ctx, conv, func(ctx context.Context) error {
		var h history
		g, gctx := errgroup.WithContext(ctx)
		f.readHistory(gctx, g, conv, &h)
		if err := g.Wait(); err != nil {
			return err
		}
		if h.answered(key) {
			if err := f.keepPromise(ctx, conv, key, &h); err != nil {
				return err
			}
			return f.markHandoff(ctx, conv, Handoff{From: flexHandoff, ID: id, Agent: p.agent})
		}
		// The note first: the expert sees it when they join.
		if err := f.noteHandoff(ctx, p); err != nil {
			return err
		}
		worker, err := f.handoffWorker(ctx, conv, key, p.worker, p.area, &h)
		if err != nil {
			return err
		}
		if err := f.greetHandedOver(ctx, conv, p.opener, mark{InReplyTo: key, Connect: worker}); err != nil {
			return err
		}
		if worker != "" {
			if err := f.addWorker(ctx, conv, worker, h.participants); err != nil {
				return err
			}
		}
		return f.markHandoff(ctx, conv, Handoff{From: flexHandoff, ID: id, Agent: p.agent})
	})
	if err == nil && a.Owns() {
		f.work.Finish(ctx, a)
	} else {
		f.work.Release(ctx, a)
	}
	return err
}

// greetHandedOver posts the one message a handed-over customer gets: the
// opener outside WhatsApp's window, else the handoff message naming the
// expert named by mk.
func (f *Flow) greetHandedOver(ctx context.Context, conv string, o Opener, mk mark) error {
	if o.Content.SID != "" {
		taskqueue.AfterQueued(ctx)
		return f.convs.PostContent(ctx, conv, systemAuthor, o.Content, mk.String(), postedWith(mk))
	}
	text := o.Text
	if text == "" {
		text = bot.HandoffMessage(f.cc.Message, f.workers.Name(ctx, mk.Connect))
	}
	return f.post(ctx, conv, text, mk)
}

// noteHandoff adds the handoff's context to the customer's notes,
// shown in their details in the CRM callback. A note is kept once per
// handoff id, so a retry adds nothing.
func (f *Flow) noteHandoff(ctx context.Context, p handoffJob) error {
	customer, id := p.customer, p.id
	if f.notes == nil || customer == "" {
		f.log.WarnContext(ctx, "handoff: the contact center's context is not noted (no notes store, or a job without customer)", "handoff_id", id)
		return nil
	}
	text := f.handoffContext(ctx, p.summary, p.flexConv, p.copy)
	return f.notes.AddNote(ctx, customer, handoff.Note{HandoffID: id, At: f.now(), Text: text})
}

// errNoExpert is returned when a handoff finds no expert to take the
// customer: the queue tries again until one is available.
var errNoExpert = errors.New("conversation: no expert available for the handoff")

// handoffWorker returns the expert who takes a handed-over customer: the
// one named, else one already in the conversation, else the longest idle
// available (of the area, when one is asked), through the conversation's
// claim.
func (f *Flow) handoffWorker(ctx context.Context, conv, key, named, area string, h *history) (string, error) {
	var cands []assign.Candidate
	switch {
	case named != "":
		if h.hasParticipant(named) {
			return named, nil
		}
		w, err := f.workers.Find(ctx, named)
		if err != nil {
			return "", err
		}
		if w.gone() {
			return "", fmt.Errorf("%w: %s is no longer an active Frontline worker", errNoExpert, named)
		}
		cands = []assign.Candidate{candidate(w)}
	case h.hasWorker():
		return "", nil // the customer's expert is there already
	default:
		in := lookups{named: map[string]Worker{}}
		// Whom the customer would wait for is not used: the handoff job
		// is retried (errNoExpert) until an expert is free, rather than
		// putting the customer in the waiting line.
		all, _, _, err := f.candidates(ctx, bot.Decision{Route: bot.RouteAgent}, &in)
		if err != nil {
			return "", err
		}
		inArea := map[string]bool{}
		if area != "" {
			ws, err := f.areaCandidates(ctx, area, in.pool)
			if err != nil {
				return "", err
			}
			for _, w := range ws {
				inArea[w.Identity] = true
			}
		}
		for _, c := range all {
			if area == "" || inArea[c.Identity] {
				cands = append(cands, c)
			}
		}
		if len(cands) == 0 {
			return "", fmt.Errorf("%w (area %q)", errNoExpert, area)
		}
	}
	claimed, err := f.claim(ctx, conv, key, h.customer(), cands)
	if err != nil {
		return "", err
	}
	if claimed.Claimant != key {
		// Another piece of work brings its expert in right now.
		return "", nil
	}
	return claimed.Worker, nil
}

// maxCopiedChars bounds one copied message in the notes, so that several
// fit (handoff.MaxNote).
const maxCopiedChars = 280

// handoffContext is the context of a handover, for the customer's
// notes: the agent's summary and the Flex conversation's last messages,
// attributed, cleaned (handoff.Clean: phone numbers masked, control and
// bidi characters removed) and bounded.
func (f *Flow) handoffContext(ctx context.Context, summary, flexConv string, n int) string {
	lines := []string{handoff.Clean(summary)}
	if flexConv != "" && n > 0 && f.flex != nil {
		ms, err := f.flex.RecentMessages(ctx, flexConv, n)
		if err != nil {
			f.log.WarnContext(ctx, "handoff: the Flex conversation's messages could not be read; noting the summary only", "flex_conversation", flexConv, "err", err)
		}
		for _, m := range ms {
			line := attribution(m.Author) + ": " + handoff.OneLine(m.Body)
			lines = append(lines, handoff.Clip(line, maxCopiedChars))
		}
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// attribution names a copied message's author, a phone number masked.
func attribution(author string) string {
	if author = handoff.OneLine(author); author == "" {
		return "system"
	}
	return handoff.Clip(author, 64)
}

// markHandoff merges h into the conversation's attributes, where the
// Frontline app and later attempts see where the conversation went.
func (f *Flow) markHandoff(ctx context.Context, conv string, h Handoff) error {
	h.At = f.now().UTC().Format(time.RFC3339)
	return f.handoffs.MarkHandoff(ctx, conv, h)
}
