package conversation

import (
	"errors"
	"time"
)

// The flow's own view of what Twilio holds: only the fields its
// decisions read. An adapter at the edge (package twilioflow) converts
// Twilio's resources into these and maps Twilio's errors onto the ones
// below.

// Worker is a Frontline worker: a TaskRouter worker named after the
// identity the Frontline app signs in with.
type Worker struct {
	Identity  string
	SID       string
	Available bool
	// Described reports that Areas and LastAccepted were read: a list of
	// workers may leave their attributes out.
	Described bool
	// Areas are the worker's expertise areas, lower-case.
	Areas []string
	// LastAccepted is TaskRouter's lastAcceptedTaskTime; zero: unknown.
	LastAccepted time.Time
	// Deactivated reports that the worker's Frontline user is
	// deactivated: they left, and no customer is routed to them.
	Deactivated bool
}

// gone reports whether w may not take customers: not a Frontline worker
// (a zero Worker), or deactivated.
func (w Worker) gone() bool { return w.SID == "" || w.Deactivated }

// Participant is a participant of a conversation: a worker (Identity) or
// the SMS/WhatsApp customer (Address).
type Participant struct {
	SID      string
	Identity string
	Address  string
	// Attributes are the participant's attributes as Twilio keeps them:
	// the flow only hands them back (Conversations.DescribeCustomer).
	Attributes string
}

// Message is a message of a conversation.
type Message struct {
	SID    string
	Author string
	Body   string
	// ParticipantSID is the author's participant; empty for messages
	// posted by REST (the bot's).
	ParticipantSID string
	// Attributes are the message's attributes, JSON: the bot's messages
	// carry their mark.
	Attributes string
	Created    time.Time
}

// Conversation is a Frontline conversation, as the contact-center
// handoff reads it.
type Conversation struct {
	SID string
	// CustomerID is the customer_id the conversation was opened for; ""
	// when none.
	CustomerID string
	// Handoff is where the conversation went; zero: nowhere.
	Handoff Handoff
	// Closed reports that the conversation is closed: final, it takes
	// no message.
	Closed bool
}

// Handoff says where a conversation went (its "handoff" attribute, which
// the Frontline app and later attempts read).
type Handoff struct {
	// From is set when the contact center handed the customer over here
	// (flexHandoff), with ID its handoff id and Agent the Flex user who
	// did (their login; "" for a server caller).
	From, ID, Agent string
	// To is set when the bot handed the customer to the contact center
	// (flexHandoff), with TaskSID the Flex task.
	To, TaskSID string
	// At is when, RFC 3339.
	At string
}

// Timers are a conversation's state timers: after how long without a
// message Twilio makes it inactive, then closes it. Zero: not set.
type Timers struct {
	Inactive, Closed time.Duration
}

// Task is a Flex TaskRouter task.
type Task struct {
	SID string
	// Status is TaskRouter's AssignmentStatus: pending, reserved,
	// assigned, wrapping, completed or canceled.
	Status string
}

// FlexTask is what a task handing a customer to Flex carries.
type FlexTask struct {
	// Conversation is the Frontline conversation (frontline_conversation_sid).
	Conversation string
	// Address, CustomerID and Name are the customer's; the last two
	// empty when the CRM does not know them.
	Address, CustomerID, Name string
	// Transcript is the conversation so far, bounded.
	Transcript string
}

// Errors the ports return, wrapped: the adapter maps Twilio's errors
// onto them.
var (
	// ErrNotFound: what the request names does not exist (the
	// conversation is gone, say). Work that meets it can never be done.
	ErrNotFound = errors.New("conversation: not found")
	// ErrExists: the participant is in the conversation already, or the
	// address is in another active conversation with our number.
	ErrExists = errors.New("conversation: already there")
	// ErrUnclear: a create that may have happened nonetheless (no answer,
	// a 5xx): look before doing it again.
	ErrUnclear = errors.New("conversation: outcome unclear")
	// ErrClosed: the conversation is closed; Twilio takes nothing in it
	// any more. Work that meets it has nothing left to do.
	ErrClosed = errors.New("conversation: closed")
	// ErrRefused: Twilio refused the request clearly (a 4xx): nothing of
	// it is in flight.
	ErrRefused = errors.New("conversation: refused")
)
