package fsstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/experthub/experthub/internal/assign"
)

// Collections of the conversation flow's records (see Assignments and
// Ledger). Their documents carry an expire_at field for a TTL policy:
//
//	gcloud firestore fields ttls update expire_at --collection-group=experthub_assignments --enable-ttl
//	gcloud firestore fields ttls update expire_at --collection-group=experthub_ledger --enable-ttl
const (
	AssignmentsCollection = "experthub_assignments"
	WorkersCollection     = "experthub_workers"
	LastWorkerCollection  = "experthub_last_worker"
	LedgerCollection      = "experthub_ledger"
)

// assignmentRetention is how long a conversation's claim is kept: long
// after its worker joined, the participants say who is in it.
const assignmentRetention = 30 * 24 * time.Hour

// Assignments is the Firestore assignment store: one document per
// conversation claim (AssignmentsCollection, id = ConversationSid), per
// worker's last assignment (WorkersCollection, id = worker SID) and per
// customer's last worker (LastWorkerCollection, id = normalised address).
//
// A claim reads the conversation's claim and every candidate's record
// (one batched read), decides with assign.Decide, and writes the claim,
// the chosen worker's record and the customer's last worker in one
// transaction whose writes are guarded by preconditions: each document
// must still be as read (same update time, or still missing). A rival
// claim that committed in between fails the precondition, and the claim
// reads again and decides again. Two claims can therefore never both
// take a conversation, nor both take the same worker as "longest idle"
// from the same state.
//
// The reads are outside the transaction on purpose: reads inside a
// Firestore transaction take locks, and N claims that all read the same
// pool's records would deadlock each other and be retried with the
// client's back-off, which starts at a second — longer than a webhook
// can wait. Preconditions fail fast and the retry here waits milliseconds.
type Assignments struct {
	client  *firestore.Client
	convs   *firestore.CollectionRef
	workers *firestore.CollectionRef
	last    *firestore.CollectionRef
}

// NewAssignments returns the store in client's database.
func NewAssignments(client *firestore.Client) *Assignments {
	return &Assignments{
		client:  client,
		convs:   client.Collection(AssignmentsCollection),
		workers: client.Collection(WorkersCollection),
		last:    client.Collection(LastWorkerCollection),
	}
}

type assignmentDoc struct {
	Worker    string    `firestore:"worker"`
	WorkerSID string    `firestore:"worker_sid"`
	Claimant  string    `firestore:"claimant"`
	ClaimedAt time.Time `firestore:"claimed_at"`
	Address   string    `firestore:"address,omitempty"`
	ExpireAt  time.Time `firestore:"expire_at"`
}

type workerDoc struct {
	Identity     string    `firestore:"identity"`
	LastAssigned time.Time `firestore:"last_assigned"`
	Conversation string    `firestore:"conversation"`
}

type lastWorkerDoc struct {
	Worker string    `firestore:"worker"`
	At     time.Time `firestore:"at"`
}

// Claim claims req.Conversation (see assign.Decide).
func (s *Assignments) Claim(ctx context.Context, req assign.Request) (assign.Assignment, error) {
	// No opTimeout: a contended transaction retries and legitimately takes
	// longer than one read; the handler's deadline bounds it.
	// Firestore keeps microseconds: what Claim returns is what a later
	// read returns.
	req.Now = req.Now.Truncate(time.Microsecond)
	convRef, err := s.doc(s.convs, req.Conversation)
	if err != nil {
		return assign.Assignment{}, err
	}
	refs := []*firestore.DocumentRef{convRef}
	index := map[string]int{} // worker SID → position in refs
	for _, c := range req.Candidates {
		if _, dup := index[c.SID]; dup {
			continue
		}
		ref, err := s.doc(s.workers, c.SID)
		if err != nil {
			return assign.Assignment{}, err
		}
		index[c.SID] = len(refs)
		refs = append(refs, ref)
	}
	for attempt := 0; ; attempt++ {
		snaps, err := s.client.GetAll(ctx, refs)
		if err != nil {
			return assign.Assignment{}, fmt.Errorf("claim %s: %w", req.Conversation, err)
		}
		cur, ok, err := decodeAssignment(req.Conversation, snaps[0])
		if err != nil {
			return assign.Assignment{}, err
		}
		lastAssigned := func(sid string) time.Time {
			var d workerDoc
			if i, ok := index[sid]; ok && snaps[i].Exists() && snaps[i].DataTo(&d) == nil {
				return d.LastAssigned
			}
			return time.Time{}
		}
		req.Spread = attempt
		a, isNew, err := assign.Decide(req, cur, ok, lastAssigned)
		if err != nil {
			return assign.Assignment{}, fmt.Errorf("claim %s: %w", req.Conversation, err)
		}
		if !isNew {
			return a, nil
		}
		err = s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			conv := assignmentDoc{
				Worker: a.Worker, WorkerSID: a.WorkerSID, Claimant: a.Claimant, ClaimedAt: a.ClaimedAt,
				Address: req.Address, ExpireAt: a.ClaimedAt.Add(assignmentRetention),
			}
			if err := writeIfUnchanged(tx, snaps[0], conv); err != nil {
				return err
			}
			w := workerDoc{Identity: a.Worker, LastAssigned: a.ClaimedAt, Conversation: a.Conversation}
			ws := snaps[index[a.WorkerSID]]
			if len(index) == 1 {
				// A worker asked for by name is no choice among others:
				// only the conversation needs guarding, and conversations
				// asking for one worker at once must not queue on it.
				err = tx.Set(ws.Ref, w)
			} else {
				err = writeIfUnchanged(tx, ws, w)
			}
			if err != nil {
				return err
			}
			if req.Address == "" {
				return nil
			}
			ref, err := s.doc(s.last, req.Address)
			if err != nil {
				return err
			}
			return tx.Set(ref, lastWorkerDoc{Worker: a.Worker, At: a.ClaimedAt})
		})
		if err == nil {
			return a, nil
		}
		if !lostRace(err) {
			return assign.Assignment{}, fmt.Errorf("claim %s: %w", req.Conversation, err)
		}
		if err := pause(ctx, attempt); err != nil {
			return assign.Assignment{}, fmt.Errorf("claim %s: %w", req.Conversation, err)
		}
	}
}

// Assignment returns the conversation's assignment, or assign.ErrNotFound.
func (s *Assignments) Assignment(ctx context.Context, conversation string) (assign.Assignment, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	ref, err := s.doc(s.convs, conversation)
	if err != nil {
		return assign.Assignment{}, err
	}
	snap, err := ref.Get(ctx)
	if err != nil && status.Code(err) != codes.NotFound {
		return assign.Assignment{}, fmt.Errorf("assignment of %s: %w", conversation, err)
	}
	a, ok, err := decodeAssignment(conversation, snap)
	if err != nil {
		return assign.Assignment{}, err
	}
	if !ok {
		return assign.Assignment{}, fmt.Errorf("assignment of %s: %w", conversation, assign.ErrNotFound)
	}
	return a, nil
}

// LastWorker returns the identity of the worker the customer at address
// was last assigned, or assign.ErrNotFound.
func (s *Assignments) LastWorker(ctx context.Context, address string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	ref, err := s.doc(s.last, address)
	if err != nil {
		return "", err
	}
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return "", fmt.Errorf("last worker: %w", assign.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("last worker: %w", err)
	}
	var d lastWorkerDoc
	if err := snap.DataTo(&d); err != nil {
		return "", fmt.Errorf("last worker: %w", err)
	}
	return d.Worker, nil
}

func (s *Assignments) doc(col *firestore.CollectionRef, key string) (*firestore.DocumentRef, error) {
	id, ok := DocID(key)
	if !ok {
		return nil, fmt.Errorf("firestore: %q cannot be a document id", key)
	}
	return col.Doc(id), nil
}

func decodeAssignment(conversation string, snap *firestore.DocumentSnapshot) (assign.Assignment, bool, error) {
	if snap == nil || !snap.Exists() {
		return assign.Assignment{}, false, nil
	}
	var d assignmentDoc
	if err := snap.DataTo(&d); err != nil {
		return assign.Assignment{}, false, fmt.Errorf("assignment of %s: %w", conversation, err)
	}
	return assign.Assignment{
		Conversation: conversation,
		Worker:       d.Worker,
		WorkerSID:    d.WorkerSID,
		Claimant:     d.Claimant,
		ClaimedAt:    d.ClaimedAt,
	}, true, nil
}

// writeIfUnchanged writes data over the document snap was read from, in
// tx, only if the document is still as read: still missing, or with the
// same update time.
func writeIfUnchanged(tx *firestore.Transaction, snap *firestore.DocumentSnapshot, data any) error {
	if !snap.Exists() {
		return tx.Create(snap.Ref, data)
	}
	ups, err := updates(data)
	if err != nil {
		return err
	}
	return tx.Update(snap.Ref, ups, firestore.LastUpdateTime(snap.UpdateTime))
}

// updates lists every field of a document struct as an update, so that
// Update (which takes preconditions, unlike Set) replaces the document.
func updates(data any) ([]firestore.Update, error) {
	switch d := data.(type) {
	case assignmentDoc:
		return []firestore.Update{
			{Path: "worker", Value: d.Worker}, {Path: "worker_sid", Value: d.WorkerSID},
			{Path: "claimant", Value: d.Claimant}, {Path: "claimed_at", Value: d.ClaimedAt},
			{Path: "address", Value: d.Address}, {Path: "expire_at", Value: d.ExpireAt},
		}, nil
	case workerDoc:
		return []firestore.Update{
			{Path: "identity", Value: d.Identity}, {Path: "last_assigned", Value: d.LastAssigned},
			{Path: "conversation", Value: d.Conversation},
		}, nil
	case ledgerDoc:
		return []firestore.Update{
			{Path: "attempts", Value: d.Attempts}, {Path: "lease_until", Value: d.LeaseUntil},
			{Path: "done", Value: d.Done}, {Path: "updated", Value: d.Updated},
			{Path: "expire_at", Value: d.ExpireAt},
		}, nil
	}
	return nil, fmt.Errorf("firestore: no updates for %T", data)
}

// lostRace reports whether a conditional write failed because another
// writer got there first.
func lostRace(err error) bool {
	switch status.Code(err) {
	case codes.FailedPrecondition, codes.AlreadyExists, codes.Aborted:
		return true
	}
	return false
}

// pause waits a few milliseconds, more after each lost race, with jitter
// so that racing writers spread out; it ends early with ctx.
func pause(ctx context.Context, attempt int) error {
	base := time.Millisecond << min(attempt, 4)
	t := time.NewTimer(rand.N(base + time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
