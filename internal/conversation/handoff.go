package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/handoff"
	"github.com/experthub/experthub/internal/httpjson"
	"github.com/experthub/experthub/internal/ledger"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/twilio"
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

// Conversations is the REST API the handoff drives in the Frontline
// account, besides Twilio (internal/twilio.Client).
type Conversations interface {
	CreateConversation(ctx context.Context, messagingService, uniqueName, friendlyName, attributes string) (twilio.Conversation, error)
	FetchConversation(ctx context.Context, sidOrUniqueName string) (twilio.Conversation, error)
	UpdateConversationAttributes(ctx context.Context, sid, attributesJSON string) error
	AddCustomerParticipant(ctx context.Context, conversationSID, address, proxy, attributes string) (twilio.Participant, error)
	ParticipantConversations(ctx context.Context, address string) ([]twilio.ParticipantConversation, error)
}

// Flex is the REST API of the Flex account (internal/twilio.Client with
// the Flex credentials).
type Flex interface {
	RecentMessages(ctx context.Context, conversationSID string, n int) ([]twilio.Message, error)
	CreateTask(ctx context.Context, workspace, workflow, channel, attributesJSON string, timeout time.Duration) (twilio.Task, error)
	FindTasks(ctx context.Context, workspace, expression string) ([]twilio.Task, error)
}

// Directory finds customers by id or address (crm.Service).
type Directory interface {
	Customer(ctx context.Context, id string) (crm.Customer, error)
	CustomerByAddress(ctx context.Context, address string) (crm.Customer, error)
}

// ContactCenter configures both directions of the handoff with Flex. The
// zero value is no contact center.
type ContactCenter struct {
	// Workspace and Workflow are the Flex account's TaskRouter workspace
	// and the workflow routing Expert Hub's tasks.
	Workspace string
	Workflow  string
	// MessagingService creates the Frontline conversation of a customer
	// Flex hands over; Proxy chooses our number for them, as the outgoing
	// callback does (frontline.ProxyNumbers.For).
	MessagingService string
	Proxy            func(channel, address string) string
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
}

// enabled reports whether a contact center is configured.
func (c ContactCenter) enabled() bool { return c.Workspace != "" }

// MaxHandoffBody bounds a handoff request's body: a request is a few
// short fields and a summary of at most 1,600 characters.
const MaxHandoffBody = 64 << 10

// Bounds of a handoff request: Twilio's own limits where they apply.
const (
	maxHandoffID = 128
	// maxCopied bounds the Flex messages copied into the context.
	maxCopied = 20
	// defaultCopied is how many are copied when the caller names a Flex
	// conversation without a count.
	defaultCopied = 5
	maxSummary    = twilio.MaxMessageBody
	maxField      = 256
	// maxCopiedChars bounds one copied message in the notes, so that
	// several fit (handoff.MaxNote).
	maxCopiedChars = 280
)

var handoffIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)

// handoffRequest is a validated handoff call.
type handoffRequest struct {
	ID       string
	Customer string // CRM customer_id
	Address  string // or the customer's address, normalised (channelAddress)
	Worker   string // optional: the expert's identity
	Area     string // optional: an expertise area
	Summary  string
	FlexConv string // optional: the Flex conversation to copy from
	Copy     int
}

// errBadRequest is returned when a handoff request is malformed; its
// message is the answer's.
var errBadRequest = errors.New("bad handoff request")

// ErrHandoffTooLarge says a handoff request's body is over
// MaxHandoffBody: the answer's message, with status 413.
var ErrHandoffTooLarge = fmt.Errorf("the body is larger than %d bytes", MaxHandoffBody)

// errTooLarge is ErrHandoffTooLarge as readHandoff returns it.
var errTooLarge = fmt.Errorf("%w: %w", errBadRequest, ErrHandoffTooLarge)

// readHandoff reads the request: a form (signed by Twilio, or sent with
// the bearer secret) or a JSON object with the same keys. region is
// DEFAULT_REGION.
func readHandoff(r *http.Request, region string) (handoffRequest, error) {
	var values url.Values
	switch ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); {
	case ct == "application/json":
		v, err := readJSON(r)
		if err != nil {
			return handoffRequest{}, err
		}
		values = v
	case ct == "application/x-www-form-urlencoded" && r.PostForm != nil:
		values = r.PostForm // a signed form, read by webhook.Verifier
	case ct == "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			if tooLarge(err) {
				return handoffRequest{}, errTooLarge
			}
			return handoffRequest{}, fmt.Errorf("%w: malformed form body: %s", errBadRequest, clipText(err.Error(), maxField))
		}
		values = r.PostForm
	default:
		return handoffRequest{}, fmt.Errorf("%w: send application/x-www-form-urlencoded or application/json", errBadRequest)
	}
	return parseHandoff(values, region)
}

// readJSON reads a JSON object of strings and numbers.
func readJSON(r *http.Request) (url.Values, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxHandoffBody+1))
	switch {
	case tooLarge(err) || len(b) > MaxHandoffBody:
		return nil, errTooLarge
	case err != nil:
		return nil, fmt.Errorf("%w: unreadable body", errBadRequest)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("%w: the body must be a JSON object", errBadRequest)
		}
		return nil, fmt.Errorf("%w: the body is not valid JSON: %s", errBadRequest, clipText(err.Error(), maxField))
	}
	values := url.Values{}
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			values.Set(k, v)
		case float64:
			values.Set(k, strconv.FormatFloat(v, 'f', -1, 64))
		case nil:
		default:
			return nil, fmt.Errorf("%w: %s must be a string or a number", errBadRequest, clipText(k, 64))
		}
	}
	return values, nil
}

// tooLarge reports whether err is http.MaxBytesReader's: the body is
// over the bound the gate set.
func tooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

// channelAddress returns a handoff's address in the form it is bound and
// compared in: "+E.164" for SMS, "whatsapp:+E.164" for WhatsApp, a
// national number read as one of region (crm.Localize). It reports
// false for anything else: another channel ("messenger:…"), an e-mail,
// a chat identity, a number that is not one.
func channelAddress(raw, region string) (string, bool) {
	s := strings.TrimSpace(raw)
	wa := crm.IsWhatsApp(s)
	if wa {
		s = strings.TrimSpace(s[len("whatsapp:"):])
	}
	if s == "" || strings.Contains(s, ":") {
		return "", false
	}
	a, err := crm.NormalizeAddress(crm.Localize(s, region))
	if err != nil || !strings.HasPrefix(a, "+") {
		return "", false
	}
	if wa {
		a = "whatsapp:" + a
	}
	return a, true
}

// parseHandoff validates a handoff's parameters.
func parseHandoff(v url.Values, region string) (handoffRequest, error) {
	req := handoffRequest{
		ID:       get(v, "handoff_id"),
		Customer: get(v, "customer_id"),
		Address:  get(v, "address"),
		Worker:   strings.ToLower(get(v, "worker")),
		Area:     strings.ToLower(get(v, "area")),
		Summary:  get(v, "summary"),
		FlexConv: get(v, "flex_conversation_sid"),
	}
	var problems []string
	switch {
	case req.ID == "":
		problems = append(problems, "handoff_id is required (an id you choose; a retry with the same id does nothing twice)")
	case len(req.ID) > maxHandoffID || !handoffIDPattern.MatchString(req.ID):
		problems = append(problems, fmt.Sprintf("handoff_id must be 1 to %d letters, digits, '.', '_', ':' or '-'", maxHandoffID))
	}
	if req.Customer == "" && req.Address == "" {
		problems = append(problems, "customer_id or address is required")
	}
	for name, s := range map[string]string{"customer_id": req.Customer, "address": req.Address, "worker": req.Worker, "area": req.Area} {
		if len(s) > maxField {
			problems = append(problems, fmt.Sprintf("%s has more than %d characters", name, maxField))
		}
	}
	if req.Address != "" && len(req.Address) <= maxField {
		a, ok := channelAddress(req.Address, region)
		if !ok {
			problems = append(problems, "address must be an SMS number (E.164, e.g. +447700900123) or whatsapp:<number>")
		}
		req.Address = a
	}
	if twilio.Chars(req.Summary) > maxSummary {
		problems = append(problems, fmt.Sprintf("summary has more than %d characters", maxSummary))
	}
	if req.FlexConv != "" && !isSID(req.FlexConv, "CH") {
		problems = append(problems, "flex_conversation_sid must be a conversation SID (CH…)")
	}
	if s := get(v, "message_count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxCopied {
			problems = append(problems, fmt.Sprintf("message_count must be 0 to %d", maxCopied))
		}
		req.Copy = n
	} else if req.FlexConv != "" {
		req.Copy = defaultCopied
	}
	if len(problems) > 0 {
		return req, fmt.Errorf("%w: %s", errBadRequest, strings.Join(problems, "; "))
	}
	return req, nil
}

// Handoff is the handoff function. Its caller must be authenticated.
func (f *Flow) Handoff() http.Handler { return http.HandlerFunc(f.handoff) }

// handoffAnswer is the handoff function's answer.
type handoffAnswer struct {
	HandoffID    string `json:"handoff_id"`
	Conversation string `json:"conversation_sid"`
	// Status is "done" when the expert and the context are in, "queued"
	// when the queue finishes the job.
	Status string `json:"status"`
}

func (f *Flow) handoff(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(w, http.StatusMethodNotAllowed, "method not allowed: POST")
		return
	}
	req, err := readHandoff(r, f.cc.Region)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		f.log.WarnContext(ctx, "handoff refused: bad request", "status", status, "err", err)
		fail(w, status, strings.TrimPrefix(err.Error(), errBadRequest.Error()+": "))
		return
	}
	conv, status, err := f.handoffOpen(ctx, req)
	if err != nil {
		f.log.WarnContext(ctx, "handoff refused", "handoff_id", req.ID, "status", status, "err", err)
		fail(w, status, err.Error())
		return
	}
	j := taskqueue.Job{Kind: kindHandoff, Received: f.now(), Params: map[string]string{
		"ConversationSid": conv.conversation, "HandoffId": req.ID, "CustomerId": conv.customer, "Worker": req.Worker, "Area": req.Area,
		"Summary": req.Summary, "FlexConversationSid": req.FlexConv, "MessageCount": strconv.Itoa(req.Copy),
	}}
	ans := handoffAnswer{HandoffID: req.ID, Conversation: conv.conversation, Status: "done"}
	code := f.work.Accept(ctx, j).HTTPStatus()
	switch code {
	case http.StatusOK:
	case http.StatusAccepted:
		ans.Status = "queued"
	default:
		fail(w, code, "the handoff could not be done nor queued; retry with the same handoff_id")
		return
	}
	f.log.InfoContext(ctx, "handoff from the contact center", "handoff_id", req.ID, "conversation", conv.conversation, "status", ans.Status)
	httpjson.Write(w, code, ans)
}

// opened is a handoff's customer and conversation.
type opened struct {
	customer     string // CRM customer_id
	conversation string // ConversationSid
}

// errHandoffTaken is returned when a handoff id was accepted for another
// customer, address, expert or area.
var errHandoffTaken = errors.New("handoff id taken")

// handoffOpen checks what req names, in order — the customer and their
// address, the expert, the handoff id's binding — and returns the
// conversation to hand the customer over in, or the status to answer
// and why. Nothing is created before every check has passed.
func (f *Flow) handoffOpen(ctx context.Context, req handoffRequest) (opened, int, error) {
	c, address, status, err := f.handoffCustomer(ctx, req)
	if err != nil {
		return opened{}, status, err
	}
	if req.Worker != "" {
		wk, err := f.findWorker(ctx, req.Worker)
		switch {
		case err != nil:
			f.log.WarnContext(ctx, "handoff: worker lookup failed", "handoff_id", req.ID, "err", err)
			return opened{}, http.StatusServiceUnavailable, errors.New("Twilio did not answer; retry with the same handoff_id")
		case wk.SID == "":
			return opened{}, http.StatusUnprocessableEntity, errors.New("worker " + strconv.Quote(clipText(req.Worker, 64)) + " is not a Frontline worker")
		}
	}
	b := handoff.Binding{ID: req.ID, Customer: c.ID, Address: address, Worker: req.Worker, Area: req.Area, At: f.now()}
	switch err := f.bind(ctx, b); {
	case errors.Is(err, errHandoffTaken):
		return opened{}, http.StatusConflict, err
	case err != nil:
		f.log.WarnContext(ctx, "handoff: the binding could not be checked", "handoff_id", req.ID, "err", err)
		return opened{}, http.StatusServiceUnavailable, errors.New("the handoff could not be recorded; retry with the same handoff_id")
	}
	conv, err := f.handoffConversation(ctx, req.ID, c, address)
	if err != nil {
		f.log.ErrorContext(ctx, "handoff: no conversation for the customer", "handoff_id", req.ID, "err", err)
		return opened{}, http.StatusServiceUnavailable, errors.New("the conversation could not be opened; retry with the same handoff_id")
	}
	return opened{customer: c.ID, conversation: conv}, 0, nil
}

// bind binds the handoff id to b's customer, address and expert, or
// finds it bound: a request binding it as before is a retry; any other
// is refused (errHandoffTaken) before anything else is read. An id not
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
	return fmt.Errorf("%w: handoff_id %s was used for another %s", errHandoffTaken, strconv.Quote(id), what)
}

// conversationIsTheirs returns errHandoffTaken when the conversation the
// handoff id names holds, or was opened for, another customer than b's.
func (f *Flow) conversationIsTheirs(ctx context.Context, b handoff.Binding) error {
	conv, err := f.convs.FetchConversation(ctx, handoffConversationName(b.ID))
	if errors.Is(err, twilio.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m, err := parseObject(conv.Attributes); err == nil {
		if id, ok := m["customer_id"].(string); ok && id != b.Customer {
			return taken(b.ID, "customer")
		}
	}
	ps, err := f.twilio.ListParticipants(ctx, conv.SID)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.Identity != "" || p.Address == "" {
			continue
		}
		if a, ok := channelAddress(p.Address, f.cc.Region); !ok || a != b.Address {
			return taken(b.ID, "customer")
		}
	}
	return nil
}

// handoffConversationName is the unique name of the conversation a
// handoff opens: it makes the creation safe to repeat.
func handoffConversationName(id string) string { return "handoff-" + id }

// handoffCustomer finds the customer of req in the CRM cache and the
// address to reach them at, normalised (channelAddress). An address sent
// with a customer_id must be one of that customer's channels; one sent
// alone must be some customer's. It returns the status to answer on
// failure.
func (f *Flow) handoffCustomer(ctx context.Context, req handoffRequest) (crm.Customer, string, int, error) {
	if f.directory == nil {
		return crm.Customer{}, "", http.StatusServiceUnavailable, errors.New("no customer directory")
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
		return c, "", http.StatusNotFound, errors.New("unknown customer: no customer in the CRM has this customer_id or address")
	case err != nil:
		return c, "", http.StatusServiceUnavailable, fmt.Errorf("the CRM did not answer: %w", err)
	}
	if req.Address != "" {
		if !f.hasNumber(c, req.Address) {
			return c, "", http.StatusUnprocessableEntity, fmt.Errorf("address is not one of the channels of customer %s in the CRM", strconv.Quote(clipText(c.ID, 64)))
		}
		return c, req.Address, 0, nil
	}
	for _, ch := range c.Channels {
		t := strings.ToLower(ch.Type)
		if t != "sms" && t != "whatsapp" {
			continue
		}
		v := ch.Value
		if t == "whatsapp" && !crm.IsWhatsApp(v) {
			v = "whatsapp:" + v
		}
		if a, ok := channelAddress(v, f.cc.Region); ok {
			return c, a, 0, nil
		}
	}
	return c, "", http.StatusUnprocessableEntity, errors.New("the customer has no SMS or WhatsApp number in the CRM")
}

// hasNumber reports whether address (channelAddress's form) is the phone
// number of one of c's channels, read as the sync reads them
// (crm.Localize with DEFAULT_REGION, crm.NormalizeAddress). The channel
// (SMS or WhatsApp) may differ: the number is the customer's.
func (f *Flow) hasNumber(c crm.Customer, address string) bool {
	number := strings.TrimPrefix(address, "whatsapp:")
	for _, ch := range c.Channels {
		if a, err := crm.NormalizeAddress(crm.Localize(ch.Value, f.cc.Region)); err == nil && a == number {
			return true
		}
	}
	return false
}

// handoffConversation returns the customer's open Frontline conversation,
// or opens one. Twilio lets an address and our number be in one active
// conversation only, so the customer's open conversation is reused; a new
// one carries the handoff's unique name, which makes its creation safe to
// repeat, and the customer's id, which a later request checks
// (conversationIsTheirs).
func (f *Flow) handoffConversation(ctx context.Context, id string, c crm.Customer, address string) (string, error) {
	if sid, err := f.openConversation(ctx, address); sid != "" || err != nil {
		return sid, err
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
	// A long avatar URL is left out before the customer's id and name,
	// as for a conversation the customer starts: Twilio refuses
	// attributes over its limits.
	convAttrs, _, err := mergeWithin(map[string]any{}, map[string]string{"customer_id": c.ID, "avatar": c.Avatar},
		[]string{"avatar"}, twilio.MaxConversationAttributes)
	if err != nil {
		return "", err
	}
	conv, err := f.convs.CreateConversation(ctx, f.cc.MessagingService, handoffConversationName(id), name, convAttrs)
	if err != nil {
		return "", err
	}
	attrs, _, err := mergeWithin(map[string]any{}, map[string]string{
		"customer_id":  c.ID,
		"display_name": twilio.Truncate(c.DisplayName, twilio.MaxFriendlyName),
		"avatar":       c.Avatar,
	}, []string{"avatar", "display_name"}, twilio.MaxParticipantAttributes)
	if err != nil {
		return "", err
	}
	if _, err := f.convs.AddCustomerParticipant(ctx, conv.SID, address, proxy, attrs); err != nil {
		if errors.Is(err, twilio.ErrBindingInUse) {
			// An earlier attempt added them, or the customer wrote in
			// meanwhile: their open conversation is the one.
			if sid, lerr := f.openConversation(ctx, address); sid != "" || lerr != nil {
				return sid, lerr
			}
		}
		return "", err
	}
	return conv.SID, nil
}

// openConversation returns the customer's conversation that is not
// closed, or "".
func (f *Flow) openConversation(ctx context.Context, address string) (string, error) {
	pcs, err := f.convs.ParticipantConversations(ctx, address)
	if err != nil {
		return "", err
	}
	for _, pc := range pcs {
		if pc.State != "closed" {
			return pc.ConversationSID, nil
		}
	}
	return "", nil
}

// handoffKey is the claimant and the mark of a handoff's work.
func handoffKey(id string) string { return "handoff:" + id }

// handoffIn runs a handoff job: it notes the contact center's context
// beside the customer (where only workers see it), claims the expert,
// tells the customer who will continue with them in a message marked
// with the handoff id and promising the expert, adds the expert, and
// marks the conversation handed over. Every step looks first at what is
// there, so N deliveries make one note, one message and one expert.
func (f *Flow) handoffIn(ctx context.Context, p url.Values) error {
	conv, id := get(p, "ConversationSid"), get(p, "HandoffId")
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
			return f.markHandoff(ctx, conv, map[string]any{"from": "flex", "handoff_id": id})
		}
		// The note first: the expert sees it when they join.
		if err := f.noteHandoff(ctx, p); err != nil {
			return err
		}
		worker, err := f.handoffWorker(ctx, conv, key, get(p, "Worker"), get(p, "Area"), &h)
		if err != nil {
			return err
		}
		text := bot.HandoffMessage(f.cc.Message, f.displayName(ctx, worker))
		if err := f.post(ctx, conv, text, mark{InReplyTo: key, Connect: worker}); err != nil {
			return err
		}
		if worker != "" {
			if err := f.addWorker(ctx, conv, worker, h.participants); err != nil {
				return err
			}
		}
		return f.markHandoff(ctx, conv, map[string]any{"from": "flex", "handoff_id": id})
	})
	if err == nil && a.Owns() {
		f.work.Finish(ctx, a)
	} else {
		f.work.Release(ctx, a)
	}
	return err
}

// noteHandoff adds the handoff's context to the customer's notes,
// shown in their details in the CRM callback. A note is kept once per
// handoff id, so a retry adds nothing.
func (f *Flow) noteHandoff(ctx context.Context, p url.Values) error {
	customer, id := get(p, "CustomerId"), get(p, "HandoffId")
	if f.notes == nil || customer == "" {
		f.log.WarnContext(ctx, "handoff: the contact center's context is not noted (no notes store, or a job without customer)", "handoff_id", id)
		return nil
	}
	text := f.handoffContext(ctx, get(p, "Summary"), get(p, "FlexConversationSid"), get(p, "MessageCount"))
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
		w, err := f.findWorker(ctx, named)
		if err != nil {
			return "", err
		}
		if w.SID == "" {
			return "", fmt.Errorf("%w: %s is no longer a Frontline worker", errNoExpert, named)
		}
		cands = []assign.Candidate{candidate(w)}
	case h.hasWorker():
		return "", nil // the customer's expert is there already
	default:
		in := lookups{named: map[string]twilio.Worker{}}
		// Whom the customer would wait for is not used: the handoff job
		// is retried (errNoExpert) until an expert is free, rather than
		// putting the customer in the waiting line.
		all, _, _, err := f.candidates(ctx, bot.Decision{Route: bot.RouteAgent}, &in)
		if err != nil {
			return "", err
		}
		byIdentity := map[string]twilio.Worker{}
		for _, w := range in.pool {
			byIdentity[w.Identity] = w
		}
		for _, c := range all {
			if w, ok := byIdentity[c.Identity]; area == "" || ok && workerHasArea(w, area) {
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

// handoffContext is the context of a handover, for the customer's
// notes: the agent's summary and the Flex conversation's last messages,
// attributed, cleaned (handoff.Clean: phone numbers masked, control and
// bidi characters removed) and bounded.
func (f *Flow) handoffContext(ctx context.Context, summary, flexConv, count string) string {
	n, _ := strconv.Atoi(count)
	lines := []string{handoff.Clean(summary)}
	if flexConv != "" && n > 0 && f.flex != nil {
		ms, err := f.flex.RecentMessages(ctx, flexConv, n)
		if err != nil {
			f.log.WarnContext(ctx, "handoff: the Flex conversation's messages could not be read; noting the summary only", "flex_conversation", flexConv, "err", err)
		}
		for _, m := range ms {
			line := attribution(m.Author) + ": " + handoff.OneLine(m.Body)
			lines = append(lines, twilio.Truncate(line, maxCopiedChars))
		}
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// attribution names a copied message's author, a phone number masked.
func attribution(author string) string {
	if author = handoff.OneLine(author); author == "" {
		return "system"
	}
	return twilio.Truncate(author, 64)
}

// markHandoff merges handoff into the conversation's attributes, where
// the Frontline app and later attempts see where the conversation went.
func (f *Flow) markHandoff(ctx context.Context, conv string, handoff map[string]any) error {
	c, err := f.convs.FetchConversation(ctx, conv)
	if err != nil {
		return err
	}
	m, err := parseObject(c.Attributes)
	if err != nil {
		f.log.WarnContext(ctx, "conversation attributes are not JSON; not marking the handoff", "conversation", conv, "err", err)
		return nil
	}
	if old, ok := m["handoff"].(map[string]any); ok && old["handoff_id"] == handoff["handoff_id"] && old["to"] == handoff["to"] && old["task_sid"] == handoff["task_sid"] {
		return nil
	}
	handoff["at"] = f.now().UTC().Format(time.RFC3339)
	m["handoff"] = handoff
	s, err := encode(m)
	if err != nil {
		return err
	}
	if len(s) > twilio.MaxConversationAttributes {
		f.log.WarnContext(ctx, "conversation attributes full; not marking the handoff", "conversation", conv)
		return nil
	}
	return f.convs.UpdateConversationAttributes(ctx, conv, s)
}

// clipText cuts s for an answer or a log line.
func clipText(s string, n int) string { return twilio.Truncate(s, n) }
