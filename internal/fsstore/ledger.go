package fsstore

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/experthub/experthub/internal/ledger"
)

// Ledger keeps webhook work records (see package ledger) in
// LedgerCollection, one document per key. Each change is a
// read-modify-write guarded by a precondition (document still missing, or
// unchanged since read), retried when another delivery of the same key
// changed it first.
type Ledger struct {
	col *firestore.CollectionRef
}

// NewLedger returns the ledger in client's database.
func NewLedger(client *firestore.Client) *Ledger {
	return &Ledger{col: client.Collection(LedgerCollection)}
}

type ledgerDoc struct {
	Attempts   int       `firestore:"attempts"`
	LeaseUntil time.Time `firestore:"lease_until"`
	Done       bool      `firestore:"done"`
	Updated    time.Time `firestore:"updated"`
	ExpireAt   time.Time `firestore:"expire_at"`
}

// opTimeout bounds one ledger operation or claim read, and is the least a
// claim's own calls get (see call). The Firestore client
// retries an unreachable backend until its context ends; a webhook must
// instead learn quickly that the store is down and carry on without it
// (the flow then checks Twilio before each step), leaving the rest of its
// deadline for Twilio.
const opTimeout = time.Second

// Begin starts a delivery's attempt on key.
func (l *Ledger) Begin(ctx context.Context, key string, now time.Time, lease time.Duration) (ledger.Attempt, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	var a ledger.Attempt
	err := l.update(ctx, key, func(rec ledger.Record, exists bool) (ledger.Record, bool) {
		var next ledger.Record
		var write bool
		next, a, write = ledger.Begin(key, rec, exists, now, lease)
		return next, write
	})
	if err != nil {
		return ledger.Attempt{}, fmt.Errorf("ledger begin %s: %w", key, err)
	}
	return a, nil
}

// Finish marks a's work done.
func (l *Ledger) Finish(ctx context.Context, a ledger.Attempt, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	err := l.update(ctx, a.Key, func(rec ledger.Record, _ bool) (ledger.Record, bool) {
		return ledger.Finish(rec, now), true
	})
	if err != nil {
		return fmt.Errorf("ledger finish %s: %w", a.Key, err)
	}
	return nil
}

// Release ends a's lease at at if it still holds it (ledger.Release).
func (l *Ledger) Release(ctx context.Context, a ledger.Attempt, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	err := l.update(ctx, a.Key, func(rec ledger.Record, exists bool) (ledger.Record, bool) {
		if !exists {
			return rec, false
		}
		return ledger.Release(rec, a, at)
	})
	if err != nil {
		return fmt.Errorf("ledger release %s: %w", a.Key, err)
	}
	return nil
}

// update applies change to key's record until it sticks.
func (l *Ledger) update(ctx context.Context, key string, change func(ledger.Record, bool) (ledger.Record, bool)) error {
	ref, err := docRef(l.col, key)
	if err != nil {
		return err
	}
	return retryLostRace(ctx, 0, func() (bool, error) {
		snap, err := ref.Get(ctx)
		if err != nil && status.Code(err) != codes.NotFound {
			return true, err
		}
		var d ledgerDoc
		exists := snap != nil && snap.Exists()
		if exists {
			if err := snap.DataTo(&d); err != nil {
				return true, err
			}
		}
		rec := ledger.Record{Attempts: d.Attempts, LeaseUntil: d.LeaseUntil, Done: d.Done, Updated: d.Updated}
		next, write := change(rec, exists)
		if !write {
			return true, nil
		}
		doc := ledgerDoc{
			Attempts: next.Attempts, LeaseUntil: next.LeaseUntil, Done: next.Done, Updated: next.Updated,
			ExpireAt: next.Updated.Add(ledger.Retention),
		}
		if exists {
			ups, _ := updates(doc)
			_, err = ref.Update(ctx, ups, firestore.LastUpdateTime(snap.UpdateTime))
		} else {
			_, err = ref.Create(ctx, doc)
		}
		return false, err
	})
}
