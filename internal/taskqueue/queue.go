// Package taskqueue is Expert Hub's durable work: a Task put on a Queue is
// delivered at least once, later, to a Consumer, even if the process that
// enqueued it dies. Work that Twilio will not redeliver (a bot turn, the
// welcome, participant enrichment) is done inline at once and also
// enqueued, under a name that de-duplicates it, to finish what the inline
// attempt left undone (see Runner).
//
// The queue in production is Google Cloud Tasks (package cloudtasks),
// delivering over HTTP to Consumer behind gcpauth.Require; local runs use
// LocalQueue, which calls the Consumer in-process with the same headers.
// Both share the queue semantics of package engine.
package taskqueue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Task is a unit of durable work.
type Task struct {
	// Name identifies the task: while a task of that name is pending, and
	// for a de-duplication window after it was executed or deleted,
	// another task of that name is not created. Make it with TaskID.
	Name string
	// Body is the JSON document the consumer receives.
	Body []byte
	// At is the earliest dispatch; zero means now.
	At time.Time
}

// Limits of a Cloud Tasks task
// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks#Task.FIELDS.name,
// https://cloud.google.com/tasks/docs/quotas).
const (
	// MaxNameLen is the longest task ID.
	MaxNameLen = 500
	// MaxBodyLen bounds a body. The quotas page allows a task of 1 MB,
	// but CreateTask's reference says 100 KB
	// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks/create):
	// keep to the stricter, leaving 4 KB for the URL, headers and names.
	MaxBodyLen = 96 << 10
)

// ErrInvalidTask is returned by Enqueue for a task whose name is not a
// valid task ID or whose body is too large.
var ErrInvalidTask = errors.New("taskqueue: invalid task")

// Validate checks the task against what Cloud Tasks accepts.
func (t Task) Validate() error {
	switch {
	case t.Name == "":
		return fmt.Errorf("%w: no name", ErrInvalidTask)
	case len(t.Name) > MaxNameLen:
		return fmt.Errorf("%w: name longer than %d characters", ErrInvalidTask, MaxNameLen)
	case !validName(t.Name):
		return fmt.Errorf("%w: name %q has characters other than [A-Za-z0-9_-]", ErrInvalidTask, t.Name)
	case len(t.Body) > MaxBodyLen:
		return fmt.Errorf("%w: body of %d bytes, more than %d", ErrInvalidTask, len(t.Body), MaxBodyLen)
	}
	return nil
}

func validName(s string) bool {
	for i := range len(s) {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// Queue puts tasks to be delivered at least once.
type Queue interface {
	// Enqueue schedules t. A task of the same name that is pending, or
	// was executed or deleted within the de-duplication window, means the
	// work is already taken care of: Enqueue returns nil and creates
	// nothing. An invalid task fails with ErrInvalidTask.
	Enqueue(ctx context.Context, t Task) error
	// Delete drops the task of that name, whose work is done: it is not
	// delivered (an attempt in flight runs on) and its name stays
	// reserved for the de-duplication window. A task that already ran,
	// or does not exist, is no error.
	Delete(ctx context.Context, name string) error
}

// TaskID makes a task ID from parts, such as "turn" and a MessageSid:
// "turn-IM0123…". Letters and digits are kept; any other byte is escaped
// as "_" and two hex digits, and parts are joined by "-", so distinct
// parts make distinct IDs. An ID longer than MaxNameLen keeps its start
// and ends with "__" and the SHA-256 of the whole, which no unhashed ID
// contains.
//
// Cloud Tasks recommends against sequential IDs or sequential prefixes,
// such as timestamps, which raise its latency
// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks/create):
// lead with a constant kind and follow with a random ID such as a Twilio
// SID, never with a time.
func TaskID(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('-')
		}
		for j := range len(p) {
			if c := p[j]; isAlnum(c) {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "_%02X", c)
			}
		}
	}
	id := b.String()
	if len(id) <= MaxNameLen {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	h := hex.EncodeToString(sum[:])
	return id[:MaxNameLen-2-len(h)] + "__" + h
}
