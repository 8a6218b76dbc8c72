package fsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/experthub/experthub/internal/handoff"
)

// ToFlexCollection holds the conversations the bot handed to Flex whose
// task is not settled (id = ConversationSid): expire_at is
// handoff.ToFlexRetention after the handoff. Listing reads it in "at"
// order (a single-field index): it holds the handoffs of the last hours,
// tens, not thousands.
const ToFlexCollection = "experthub_flex_handoffs"

type toFlexDoc struct {
	Task     string    `firestore:"task_sid"`
	At       time.Time `firestore:"at"`
	Accepted bool      `firestore:"accepted"`
	ExpireAt time.Time `firestore:"expire_at"`
}

// Track records t (see handoff.OpenHandoffs): one write replacing the
// conversation's document.
func (s *Handoffs) Track(ctx context.Context, t handoff.ToFlex) error {
	ref, err := docRef(s.toFlex, t.Conversation)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, handoffTimeout)
	defer cancel()
	at := t.At.Truncate(time.Microsecond)
	_, err = ref.Set(ctx, toFlexDoc{Task: t.Task, At: at, Accepted: t.Accepted, ExpireAt: at.Add(handoff.ToFlexRetention)})
	if err != nil {
		return fmt.Errorf("track handoff of %s: %w", t.Conversation, err)
	}
	return nil
}

// MarkAccepted marks the conversation's record accepted if it names task
// (no write when it already is).
func (s *Handoffs) MarkAccepted(ctx context.Context, conv, task string) error {
	already := func(d toFlexDoc) bool { return d.Accepted }
	return s.changeToFlex(ctx, conv, task, already, func(ref *firestore.DocumentRef, pre firestore.Precondition) error {
		_, err := ref.Update(ctx, []firestore.Update{{Path: "accepted", Value: true}}, pre)
		return err
	})
}

// Untrack removes the conversation's record if it names task.
func (s *Handoffs) Untrack(ctx context.Context, conv, task string) error {
	return s.changeToFlex(ctx, conv, task, nil, func(ref *firestore.DocumentRef, pre firestore.Precondition) error {
		_, err := ref.Delete(ctx, pre)
		return err
	})
}

// changeToFlex applies change to the conversation's record if it names
// task and skip (if not nil) does not hold of it, guarded by a
// precondition (unchanged since read) and retried when another writer
// was first: a new handoff of the conversation tracked meanwhile is
// never undone.
func (s *Handoffs) changeToFlex(ctx context.Context, conv, task string, skip func(toFlexDoc) bool, change func(*firestore.DocumentRef, firestore.Precondition) error) error {
	ref, err := docRef(s.toFlex, conv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, handoffTimeout)
	defer cancel()
	err = retryLostRace(ctx, 0, func() (bool, error) {
		snap, err := ref.Get(ctx)
		if status.Code(err) == codes.NotFound {
			return true, nil
		}
		if err != nil {
			return true, err
		}
		var d toFlexDoc
		if err := snap.DataTo(&d); err != nil {
			return true, err
		}
		if d.Task != task || (skip != nil && skip(d)) {
			return true, nil
		}
		err = change(ref, firestore.LastUpdateTime(snap.UpdateTime))
		if status.Code(err) == codes.NotFound {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		return fmt.Errorf("handoff of %s: %w", conv, err)
	}
	return nil
}

// Tracked returns up to limit records, oldest first.
func (s *Handoffs) Tracked(ctx context.Context, limit int) ([]handoff.ToFlex, error) {
	ctx, cancel := context.WithTimeout(ctx, handoffTimeout)
	defer cancel()
	q := s.toFlex.OrderBy("at", firestore.Asc)
	if limit > 0 {
		q = q.Limit(limit)
	}
	it := q.Documents(ctx)
	defer it.Stop()
	var out []handoff.ToFlex
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("handoffs to Flex: %w", err)
		}
		var d toFlexDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("handoff of %s: %w", snap.Ref.ID, err)
		}
		out = append(out, handoff.ToFlex{Conversation: unescape(snap.Ref.ID), Task: d.Task, At: d.At, Accepted: d.Accepted})
	}
}
