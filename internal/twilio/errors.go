package twilio

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/twilio/twilio-go/client"
)

// Twilio error codes the client maps to sentinels.
const (
	CodeNotFound           = 20404
	CodePreconditionFailed = 20412
	CodeTooManyRequests    = 20429
	CodeParticipantExists  = 50433
	// CodeBindingInUse: the address/proxy pair is already in an active
	// conversation (https://www.twilio.com/docs/api/errors/50416).
	CodeBindingInUse = 50416
	// CodeUniqueNameExists: a conversation already has the unique name.
	// The code is not confirmed by Twilio's documentation we could read,
	// so CreateConversation also takes any 409 for it.
	CodeUniqueNameExists = 50353
	// CodeConversationClosed: the conversation is closed and takes no
	// update (https://www.twilio.com/docs/api/errors/50377); taken to
	// refuse new messages and participants too.
	CodeConversationClosed = 50377
)

var (
	// ErrNotFound is returned when the conversation, participant or worker
	// does not exist (HTTP 404, code 20404).
	ErrNotFound = errors.New("twilio: not found")
	// ErrParticipantExists is returned when the identity is already a
	// participant of the conversation (HTTP 409, code 50433). Adding a
	// worker twice is harmless, so callers usually treat it as success.
	ErrParticipantExists = errors.New("twilio: participant already exists")
	// ErrPreconditionFailed is returned when a worker's ETag no longer
	// matches If-Match (HTTP 412, code 20412); re-fetch, merge and try
	// again.
	ErrPreconditionFailed = errors.New("twilio: precondition failed")
	// ErrWorkerNotFound is returned when no worker has the friendly name
	// looked up.
	ErrWorkerNotFound = errors.New("twilio: worker not found")
	// ErrUnclear is wrapped by the error of a create (PostMessage and
	// the other posts, AddParticipant, CreateTask, CreateConversation)
	// that may have taken effect nonetheless: no answer came, Twilio
	// answered 5xx, or its success could not be read. A 4xx is a clear
	// refusal and does not wrap it.
	ErrUnclear = errors.New("twilio: outcome unclear")
	// ErrBindingInUse is returned when a customer's address and proxy
	// number are already in an active conversation (code 50416).
	ErrBindingInUse = errors.New("twilio: address and proxy already in an active conversation")
	// ErrConversationClosed is returned when the conversation is closed
	// (code 50377): nothing can be added to it any more.
	ErrConversationClosed = errors.New("twilio: conversation closed")
)

// hasCode reports whether err is a Twilio error answer with code.
func hasCode(err error, code int) bool {
	var te *client.TwilioRestError
	return errors.As(err, &te) && te.Code == code
}

// wrap names the operation and adds the sentinel matching a Twilio error,
// keeping the *client.TwilioRestError reachable with errors.As.
func wrap(op string, err error) error {
	var te *client.TwilioRestError
	if errors.As(err, &te) {
		switch {
		case te.Code == CodeBindingInUse:
			return fmt.Errorf("%s: %w: %w", op, ErrBindingInUse, err)
		case te.Status == http.StatusConflict && te.Code == CodeParticipantExists:
			return fmt.Errorf("%s: %w: %w", op, ErrParticipantExists, err)
		case te.Code == CodeConversationClosed:
			return fmt.Errorf("%s: %w: %w", op, ErrConversationClosed, err)
		case te.Status == http.StatusPreconditionFailed:
			return fmt.Errorf("%s: %w: %w", op, ErrPreconditionFailed, err)
		case te.Status == http.StatusNotFound:
			return fmt.Errorf("%s: %w: %w", op, ErrNotFound, err)
		case te.Status == http.StatusUnauthorized:
			return fmt.Errorf("%s: %w: %w", op, ErrUnauthorized, err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// IsRefusal reports whether err is Twilio's clear refusal of a request: a
// 4xx answer, after which the request had no effect. Any other failure —
// no answer, a timeout, a 5xx — may have had its effect, or still will.
func IsRefusal(err error) bool {
	var te *client.TwilioRestError
	return errors.As(err, &te) && te.Status >= 400 && te.Status < 500
}
