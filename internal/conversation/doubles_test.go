package conversation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/inmem"
	"github.com/experthub/experthub/internal/taskqueue"
)

// Small in-memory doubles of the flow's ports, to test its decisions in
// milliseconds, without HTTP: a Twilio holding conversations, workers and
// Flex tasks in maps, the in-memory stores, a queue that keeps its tasks.
// The end-to-end suites (whole App, fake Twilio, webhooks) are the other
// tests of this package.

// twin is a small Twilio: the Frontline account's conversations and
// workers, and the Flex account's tasks and messages.
type twin struct {
	mu      sync.Mutex
	now     func() time.Time
	seq     int
	convs   map[string]*twinConv
	order   []string                        // worker identities, in the pool's order
	workers map[string]*conversation.Worker // by identity
	names   map[string]string               // display names
	// deactivated are the workers whose Frontline user is deactivated.
	deactivated map[string]bool
	tasks       map[string]conversation.FlexTask
	status      map[string]string // a task's AssignmentStatus by sid ("": pending; "deleted": gone)
	flexMsg     map[string][]conversation.Message
}

type twinConv struct {
	uniqueName   string
	closed       bool
	timers       conversation.Timers
	customerID   string
	handoff      conversation.Handoff
	participants []conversation.Participant
	messages     []conversation.Message
}

func newTwin(now func() time.Time) *twin {
	return &twin{now: now, convs: map[string]*twinConv{}, workers: map[string]*conversation.Worker{},
		names: map[string]string{}, deactivated: map[string]bool{}, tasks: map[string]conversation.FlexTask{}, status: map[string]string{}, flexMsg: map[string][]conversation.Message{}}
}

func (t *twin) sid(prefix string) string {
	t.seq++
	return fmt.Sprintf("%s%032d", prefix, t.seq)
}

func (t *twin) conv(sid string) (*twinConv, error) {
	c, ok := t.convs[sid]
	if !ok {
		return nil, fmt.Errorf("conversation %s: %w", sid, conversation.ErrNotFound)
	}
	return c, nil
}

// open is conv unless it is closed: Twilio adds nothing to a closed
// conversation.
func (t *twin) open(sid string) (*twinConv, error) {
	c, err := t.conv(sid)
	if err == nil && c.closed {
		return nil, fmt.Errorf("conversation %s: %w", sid, conversation.ErrClosed)
	}
	return c, err
}

// addWorker adds an available (or not) worker of the pool, idle since
// idle, with areas.
func (t *twin) addWorker(identity string, available bool, idle time.Time, areas ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.workers[identity] = &conversation.Worker{Identity: identity, SID: t.sid("WK"), Available: available, Described: true,
		Areas: areas, LastAccepted: idle}
	t.order = append(t.order, identity)
}

// deactivate deactivates the worker's Frontline user.
func (t *twin) deactivate(identity string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.workers[identity].Deactivated = true
}

// close closes the conversation: Twilio takes nothing in it any more.
func (t *twin) close(conv string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.convs[conv].closed = true
}

// removeWorker removes the worker from the conversation, as the
// Frontline app does when they leave it.
func (t *twin) removeWorker(conv, identity string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.convs[conv]
	c.participants = slices.DeleteFunc(c.participants, func(p conversation.Participant) bool { return p.Identity == identity })
}

func (t *twin) setAvailable(identity string, available bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.workers[identity].Available = available
}

// newConversation opens a conversation with the customer at address.
func (t *twin) newConversation(address string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	sid := t.sid("CH")
	t.convs[sid] = &twinConv{participants: []conversation.Participant{{SID: t.sid("MB"), Address: address}}}
	return sid
}

// write adds a message from the conversation's customer.
func (t *twin) write(conv, body string) conversation.Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.convs[conv]
	p := c.participants[0]
	m := conversation.Message{SID: t.sid("IM"), Author: p.Address, Body: body, ParticipantSID: p.SID, Created: t.now()}
	c.messages = append(c.messages, m)
	return m
}

func (t *twin) Participants(_ context.Context, conv string) ([]conversation.Participant, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.conv(conv)
	if err != nil {
		return nil, err
	}
	return slices.Clone(c.participants), nil
}

func (t *twin) Participant(_ context.Context, conv, sid string) (conversation.Participant, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.conv(conv)
	if err != nil {
		return conversation.Participant{}, err
	}
	for _, p := range c.participants {
		if p.SID == sid {
			return p, nil
		}
	}
	return conversation.Participant{}, conversation.ErrNotFound
}

func (t *twin) RecentMessages(_ context.Context, conv string, n int) ([]conversation.Message, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ms, ok := t.flexMsg[conv]; ok {
		return slices.Clone(ms[max(0, len(ms)-n):]), nil
	}
	c, err := t.conv(conv)
	if err != nil {
		return nil, err
	}
	return slices.Clone(c.messages[max(0, len(c.messages)-n):]), nil
}

func (t *twin) Post(_ context.Context, conv, author, body, attributes string, _ func(conversation.Message) bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.open(conv)
	if err != nil {
		return err
	}
	if c.closed {
		return fmt.Errorf("conversation %s is closed: %w", conv, conversation.ErrRefused)
	}
	c.messages = append(c.messages, conversation.Message{SID: t.sid("IM"), Author: author, Body: body, Attributes: attributes, Created: t.now()})
	return nil
}

func (t *twin) PostContent(ctx context.Context, conv, author string, c conversation.Content, attributes string, mine func(conversation.Message) bool) error {
	return t.Post(ctx, conv, author, "content:"+c.SID+" "+c.Variables, attributes, mine)
}

func (t *twin) AddWorker(_ context.Context, conv, identity string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.open(conv)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(c.participants, func(p conversation.Participant) bool { return p.Identity == identity }) {
		return conversation.ErrExists
	}
	c.participants = append(c.participants, conversation.Participant{SID: t.sid("MB"), Identity: identity})
	return nil
}

func (t *twin) DescribeCustomer(_ context.Context, conv string, p conversation.Participant, cu crm.Customer) ([]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.conv(conv)
	if err != nil {
		return nil, err
	}
	for i := range c.participants {
		if c.participants[i].SID == p.SID && c.participants[i].Attributes == "" {
			c.participants[i].Attributes = `{"customer_id":"` + cu.ID + `"}`
		}
	}
	return nil, nil
}

func (t *twin) SetTimers(_ context.Context, conv string, tm conversation.Timers) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.open(conv)
	if err != nil {
		return err
	}
	c.timers = tm
	return nil
}

func (t *twin) Available(context.Context, time.Time) ([]conversation.Worker, error) {
	ws, err := t.Pool(context.Background())
	return slices.DeleteFunc(ws, func(w conversation.Worker) bool { return !w.Available }), err
}

func (t *twin) Pool(context.Context) ([]conversation.Worker, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []conversation.Worker
	for _, id := range t.order {
		if w, ok := t.workers[id]; ok {
			out = append(out, *w)
		}
	}
	return out, nil
}

func (t *twin) Find(_ context.Context, identity string) (conversation.Worker, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if w, ok := t.workers[identity]; ok {
		return *w, nil
	}
	return conversation.Worker{}, nil
}

func (t *twin) Fetch(_ context.Context, sid string) (conversation.Worker, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range t.workers {
		if w.SID == sid {
			return *w, nil
		}
	}
	return conversation.Worker{}, conversation.ErrNotFound
}

func (t *twin) RecordAccepted(_ context.Context, sid string, at time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range t.workers {
		if w.SID == sid && at.After(w.LastAccepted) {
			w.LastAccepted = at
		}
	}
	return nil
}

func (t *twin) Name(_ context.Context, identity string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.names[identity]
}

func (t *twin) NameKnownBefore(ctx context.Context, identity string, _ time.Time) string {
	return t.Name(ctx, identity)
}

func (t *twin) PrefetchName(context.Context, string) {}

func (t *twin) Deactivated(identity string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.deactivated[identity]
}

func (t *twin) Conversation(_ context.Context, sidOrUniqueName string) (conversation.Conversation, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for sid, c := range t.convs {
		if sid == sidOrUniqueName || c.uniqueName == sidOrUniqueName && c.uniqueName != "" {
			return conversation.Conversation{SID: sid, CustomerID: c.customerID, Handoff: c.handoff, Closed: c.closed}, nil
		}
	}
	return conversation.Conversation{}, conversation.ErrNotFound
}

func (t *twin) MarkHandoff(_ context.Context, conv string, h conversation.Handoff) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.conv(conv)
	if err != nil {
		return err
	}
	c.handoff = h
	return nil
}

func (t *twin) OpenConversation(_ context.Context, address string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for sid, c := range t.convs {
		if !c.closed && slices.ContainsFunc(c.participants, func(p conversation.Participant) bool { return p.Address == address }) {
			return sid, nil
		}
	}
	return "", nil
}

func (t *twin) CreateConversation(_ context.Context, uniqueName, _ string, cu crm.Customer) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for sid, c := range t.convs {
		if c.uniqueName == uniqueName {
			return sid, nil
		}
	}
	sid := t.sid("CH")
	t.convs[sid] = &twinConv{uniqueName: uniqueName, customerID: cu.ID}
	return sid, nil
}

func (t *twin) AddCustomer(_ context.Context, conv, address, _ string, _ crm.Customer) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.conv(conv)
	if err != nil {
		return err
	}
	c.participants = append([]conversation.Participant{{SID: t.sid("MB"), Address: address}}, c.participants...)
	return nil
}

func (t *twin) Close(_ context.Context, conv string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.conv(conv)
	if err != nil {
		return err
	}
	c.closed = true
	return nil
}

// taskSID is the sid of conv's latest task: one per conversation and
// handoff, numbered.
func (t *twin) taskSID(conv string) string {
	for n := 1; ; n++ {
		sid := fmt.Sprintf("WT%d%s", n, conv)
		if _, ok := t.status[sid]; !ok {
			return fmt.Sprintf("WT%d%s", n-1, conv)
		}
	}
}

func (t *twin) OpenTask(_ context.Context, conv string) (conversation.Task, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.tasks[conv]; ok {
		sid := t.taskSID(conv)
		if s := t.status[sid]; s != "completed" && s != "canceled" && s != "deleted" {
			return conversation.Task{SID: sid, Status: s}, true, nil
		}
	}
	return conversation.Task{}, false, nil
}

func (t *twin) CreateTask(_ context.Context, task conversation.FlexTask) (conversation.Task, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tasks[task.Conversation] = task
	last := t.taskSID(task.Conversation)
	n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(last, "WT"), task.Conversation))
	sid := fmt.Sprintf("WT%d%s", n+1, task.Conversation)
	t.status[sid] = "pending"
	return conversation.Task{SID: sid, Status: "pending"}, nil
}

func (t *twin) Task(_ context.Context, sid string) (conversation.Task, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.status[sid]
	if !ok || s == "deleted" {
		return conversation.Task{}, fmt.Errorf("task %s: %w", sid, conversation.ErrNotFound)
	}
	return conversation.Task{SID: sid, Status: s}, nil
}

// setTask moves the task sid to status, as Flex would.
func (t *twin) setTask(sid, status string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.status[sid] = status
}

// closed reports whether conv is closed.
func (t *twin) closed(conv string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.convs[conv].closed
}

// marked is the conversation as a test reads it: a message promising a
// worker as "{connect: worker}", one offering to wait for one as
// "{offer: worker}", one about the waiting line as "{notice place}", one
// handing over to Flex as "{handoff}", others as "author: body", the
// customer as "C".
func (t *twin) marked(conv string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, m := range t.convs[conv].messages {
		var mk struct{ Connect, Offer, Notice, Handoff string }
		_ = json.Unmarshal([]byte(m.Attributes), &mk)
		switch {
		case m.Author != "system":
			out = append(out, "C: "+m.Body)
		case mk.Connect != "":
			out = append(out, "{connect: "+mk.Connect+"}")
		case mk.Offer != "":
			out = append(out, "{offer: "+mk.Offer+"}")
		case mk.Notice != "":
			out = append(out, "{notice "+mk.Notice+"}")
		case mk.Handoff != "":
			out = append(out, "{handoff "+mk.Handoff+"}")
		default:
			out = append(out, "system: "+m.Body)
		}
	}
	return out
}

// workersIn returns the identities of the conversation's workers.
func (t *twin) workersIn(conv string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, p := range t.convs[conv].participants {
		if p.Identity != "" {
			out = append(out, p.Identity)
		}
	}
	return out
}

// taskQueue keeps the tasks queued.
type taskQueue struct {
	mu    sync.Mutex
	tasks map[string]taskqueue.Task
}

func (q *taskQueue) Enqueue(_ context.Context, t taskqueue.Task) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.tasks == nil {
		q.tasks = map[string]taskqueue.Task{}
	}
	q.tasks[t.Name] = t
	return nil
}

func (q *taskQueue) Delete(_ context.Context, name string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.tasks, name)
	return nil
}

// deliver hands every queued task to flow's consumer, as the queue
// would, and forgets it.
func (q *taskQueue) deliver(t *testing.T, ctx context.Context, flow *conversation.Flow) {
	t.Helper()
	q.mu.Lock()
	tasks := q.tasks
	q.tasks = nil
	q.mu.Unlock()
	for _, task := range tasks {
		if err := flow.Consume(ctx, taskqueue.Delivery{Name: task.Name, Body: task.Body}); err != nil {
			t.Errorf("delivery of %s: %v", task.Name, err)
		}
	}
}

// directory is a CRM of a few customers.
type directory []crm.Customer

func (d directory) CustomerByAddress(_ context.Context, address string) (crm.Customer, error) {
	want, _ := crm.NormalizeAddress(address)
	for _, c := range d {
		for _, ch := range c.Channels {
			if a, err := crm.NormalizeAddress(ch.Value); err == nil && a == want {
				return c, nil
			}
		}
	}
	return crm.Customer{}, crm.ErrNotFound
}

func (d directory) Customer(_ context.Context, id string) (crm.Customer, error) {
	for _, c := range d {
		if c.ID == id {
			return c, nil
		}
	}
	return crm.Customer{}, crm.ErrNotFound
}

// unit is a Flow built on the doubles, with a clock the test moves.
type unit struct {
	t        *testing.T
	flow     *conversation.Flow
	queue    *taskQueue
	twilio   *twin
	line     *inmem.Line
	handoffs *inmem.Handoffs
	logs     *bytes.Buffer // read once the flow is done: only the flow writes it
	mu       sync.Mutex
	clock    time.Time
}

// unitOptions adjust a unit's Flow.
type unitOptions struct {
	cfg       conversation.Config
	customers directory
	crm       conversation.Customers // instead of customers
	flex      bool
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func newUnit(t *testing.T, o unitOptions) *unit {
	t.Helper()
	u := &unit{t: t, clock: t0, line: inmem.NewLine(), handoffs: inmem.NewHandoffs(), logs: &bytes.Buffer{}, queue: &taskQueue{}}
	u.twilio = newTwin(u.now)
	deps := conversation.Deps{
		Conversations: u.twilio, Workers: u.twilio, Handoffs: u.twilio,
		Customers: o.customers, Directory: o.customers,
		Ledger: inmem.NewLedger(), Assignments: inmem.NewAssignments(), Queue: u.queue,
		Line: u.line, Bindings: u.handoffs, Notes: u.handoffs, Open: u.handoffs,
		Logger: slog.New(slog.NewTextHandler(u.logs, nil)), Now: u.now,
	}
	if o.crm != nil {
		deps.Customers = o.crm
	}
	if o.flex {
		deps.Flex = u.twilio
	}
	u.flow = conversation.New(o.cfg, deps)
	return u
}

func (u *unit) now() time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.clock
}

// advance moves the clock past the claims' lease, as time between two
// texts does.
func (u *unit) advance(d time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clock = u.clock.Add(d)
}

func (u *unit) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	u.t.Cleanup(cancel)
	return ctx
}

// open opens a conversation with the customer at address and welcomes
// them, as Frontline's routing callback does.
func (u *unit) open(address string) string {
	u.t.Helper()
	conv := u.twilio.newConversation(address)
	if o := u.flow.Welcome(u.ctx(), conv, address); o != taskqueue.Done {
		u.t.Fatalf("welcome: %v", o)
	}
	return conv
}

// text plays the customer of conv writing body, and the bot's turn.
func (u *unit) text(conv, body string) {
	u.t.Helper()
	m := u.twilio.write(conv, body)
	u.advance(time.Minute)
	in := conversation.Inbound{Conversation: conv, Message: m.SID, Author: m.Author, Body: body}
	if o := u.flow.MessageAdded(u.ctx(), in); o != taskqueue.Done {
		u.t.Fatalf("turn on %q: %v", body, o)
	}
}

// tail is the conversation's transcript (twin.marked) after the welcome.
func (u *unit) tail(conv string) []string {
	got := u.twilio.marked(conv)
	if len(got) > 0 && got[0] == "system: "+bot.DefaultWelcome {
		return got[1:]
	}
	return got
}

// idle returns a time n hours before t0: a worker idle since then.
func idle(n int) time.Time { return t0.Add(-time.Duration(n) * time.Hour) }

// areas are the expertise areas the unit tests configure.
var areas = bot.Areas{{Key: "watches", Label: "Watches"}, {Key: "bridal", Label: "Bridal"}}
