package fsstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
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
// once (one batched read) and decides with assign.Decide. It then writes
// the claim, the chosen worker's record and the customer's last worker in
// one transaction whose writes are guarded by preconditions on two
// documents only: the conversation's claim and that worker's record must
// still be as read (same update time, or still missing). A rival that
// committed in between fails the precondition, so two claims can never
// both take a conversation, nor both take one worker from the same state.
//
// A claim that loses re-reads only the conversation, the worker it lost
// and the front of its ranking (about twice the window it chooses from
// next): enough to learn who was taken where it will choose, without
// reading the whole pool again. Each worker seen taken
// widens the random choice (assign.Request.Spread), which is what the
// package assign documentation's guarantee rests on: strictly the longest
// idle when uncontended, one of the 2N−1 longest idle among N concurrent
// claims. A claim makes at most maxClaimAttempts attempts, then fails
// with assign.ErrContended.
//
// The reads are outside the transaction on purpose: reads inside a
// Firestore transaction take locks, and N claims that all read the same
// pool's records would deadlock each other and be retried with the
// client's back-off, which starts at a second, longer than a webhook can
// wait. For the same reason a transaction is attempted once
// (firestore.MaxAttempts(1)): an aborted commit is a lost race like any
// other, and the claim decides again from what it re-reads.
//
// The reads of concurrent claims in one process are merged (see
// batchReader): a burst of N claims over one pool of P workers reads
// the pool a few times per process, not N times.
//
// Every Firestore call of a claim is bounded (see call): the client
// retries an unreachable backend until its context ends, and a claim
// must instead fail while its caller still has time to answer (and its
// queue to retry later).
type Assignments struct {
	client  *firestore.Client
	convs   *firestore.CollectionRef
	workers *firestore.CollectionRef
	last    *firestore.CollectionRef

	reads *batchReader

	// claimed, when set, is told how many attempts each claim took.
	claimed func(attempts int)
}

// maxClaimAttempts bounds the transactions of one claim. A burst of 200
// claims for 200 workers settles in about a dozen attempts per claim at
// most (see BenchmarkClaimBurst); the bound leaves room for unlucky
// ones and still fails a claim that cannot win in reasonable time.
const maxClaimAttempts = 40

// NewAssignments returns the store in client's database.
func NewAssignments(client *firestore.Client) *Assignments {
	return &Assignments{
		client:  client,
		convs:   client.Collection(AssignmentsCollection),
		workers: client.Collection(WorkersCollection),
		last:    client.Collection(LastWorkerCollection),
		reads:   &batchReader{client: client},
	}
}

type assignmentDoc struct {
	Worker    string    `firestore:"worker"`
	WorkerSID string    `firestore:"worker_sid"`
	Claimant  string    `firestore:"claimant"`
	ClaimedAt time.Time `firestore:"claimed_at"`
	Address   string    `firestore:"address,omitempty"`
	ExpireAt  time.Time `firestore:"expire_at"`
	// Closed marks the claim of a closed conversation (CloseConversation).
	Closed bool `firestore:"closed,omitempty"`
	// Released marks the claim of a worker who left (Release).
	Released bool `firestore:"released,omitempty"`
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

// Claim claims req.Conversation (see assign.Decide and Assignments).
func (s *Assignments) Claim(ctx context.Context, req assign.Request) (assign.Assignment, error) {
	// Firestore keeps microseconds: what Claim returns is what a later
	// read returns.
	req.Now = req.Now.Truncate(time.Microsecond)
	req.Spread = 0
	c, err := s.newClaim(req)
	if err != nil {
		return assign.Assignment{}, err
	}
	if err := c.read(ctx, c.refs); err != nil {
		return assign.Assignment{}, fmt.Errorf("claim %s: %w", req.Conversation, err)
	}
	for attempt := 1; attempt <= maxClaimAttempts; attempt++ {
		cur, ok, err := decodeAssignment(req.Conversation, c.conv)
		if err != nil {
			return assign.Assignment{}, err
		}
		c.req.Spread = len(c.taken)
		a, isNew, err := assign.Decide(c.req, cur, ok, c.lastAssigned)
		if err != nil {
			return assign.Assignment{}, fmt.Errorf("claim %s: %w", req.Conversation, err)
		}
		if !isNew {
			s.observe(attempt)
			return a, nil
		}
		err = c.commit(ctx, a)
		if err == nil {
			s.observe(attempt)
			return a, nil
		}
		if !lostRace(err) {
			return assign.Assignment{}, fmt.Errorf("claim %s: %w", req.Conversation, err)
		}
		if err := c.reread(ctx, err, a.WorkerSID); err != nil {
			return assign.Assignment{}, fmt.Errorf("claim %s: %w", req.Conversation, err)
		}
	}
	return assign.Assignment{}, fmt.Errorf("claim %s: %d attempts lost: %w", req.Conversation, maxClaimAttempts, assign.ErrContended)
}

func (s *Assignments) observe(attempts int) {
	if s.claimed != nil {
		s.claimed(attempts)
	}
}

// claim is one claim's view of the store: the freshest snapshots it read.
type claim struct {
	s       *Assignments
	req     assign.Request
	convRef *firestore.DocumentRef
	// refs are the conversation's then every candidate's document.
	refs    []*firestore.DocumentRef
	workers map[string]*firestore.DocumentRef // by SID
	sids    map[string]string                 // by document path
	conv    *firestore.DocumentSnapshot
	snaps   map[string]*firestore.DocumentSnapshot // by SID
	last    map[string]time.Time                   // by SID, from snaps
	// taken are the candidates whose record changed since the claim
	// first read it: taken by concurrent claims.
	taken map[string]bool
}

func (s *Assignments) newClaim(req assign.Request) (*claim, error) {
	convRef, err := docRef(s.convs, req.Conversation)
	if err != nil {
		return nil, err
	}
	c := &claim{
		s: s, req: req, convRef: convRef, refs: []*firestore.DocumentRef{convRef},
		workers: map[string]*firestore.DocumentRef{},
		sids:    map[string]string{},
		snaps:   map[string]*firestore.DocumentSnapshot{},
		last:    map[string]time.Time{},
		taken:   map[string]bool{},
	}
	for _, cand := range req.Candidates {
		if _, dup := c.workers[cand.SID]; dup {
			continue
		}
		ref, err := docRef(s.workers, cand.SID)
		if err != nil {
			return nil, err
		}
		c.workers[cand.SID], c.sids[ref.Path] = ref, cand.SID
		c.refs = append(c.refs, ref)
	}
	return c, nil
}

func (c *claim) lastAssigned(sid string) time.Time { return c.last[sid] }

// read reads refs (the conversation's document first) and keeps what it
// learns, noting the candidates taken since the claim's first read.
func (c *claim) read(ctx context.Context, refs []*firestore.DocumentRef) error {
	var snaps []*firestore.DocumentSnapshot
	err := call(ctx, func(ctx context.Context) (err error) {
		snaps, err = c.s.reads.getAll(ctx, refs)
		return err
	})
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	c.conv = snaps[0]
	for _, snap := range snaps[1:] {
		sid := c.sids[snap.Ref.Path]
		if prev, seen := c.snaps[sid]; seen && changed(prev, snap) {
			c.taken[sid] = true
		}
		var d workerDoc
		if snap.Exists() {
			if err := snap.DataTo(&d); err != nil {
				return fmt.Errorf("worker %s: %w", sid, err)
			}
		}
		c.snaps[sid], c.last[sid] = snap, d.LastAssigned
	}
	return nil
}

// reread reads again, after a commit lost to lost, what the claim needs
// to decide again: the conversation, the worker it tried and the front of
// its ranking.
func (c *claim) reread(ctx context.Context, lost error, tried string) error {
	if status.Code(lost) == codes.Aborted {
		// Contention without a winner yet: let the rivals through.
		if err := pause(ctx, len(c.taken)); err != nil {
			return err
		}
	}
	refs := []*firestore.DocumentRef{c.convRef, c.workers[tried]}
	seen := map[string]bool{tried: true}
	front := assign.Rank(c.req.Candidates, c.lastAssigned)
	// The next choice is among the first Spread+1 of the ranking, and
	// Spread is about to grow by the workers this read finds taken: read
	// twice the window, plus the worker just lost and one more.
	for _, cand := range front[:min(len(front), 2*len(c.taken)+3)] {
		if !seen[cand.SID] {
			seen[cand.SID] = true
			refs = append(refs, c.workers[cand.SID])
		}
	}
	return c.read(ctx, refs)
}

// commit records a in one transaction, guarded by the conversation's and
// the worker's documents as the claim last read them.
func (c *claim) commit(ctx context.Context, a assign.Assignment) error {
	return call(ctx, func(ctx context.Context) error {
		return c.s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			return c.write(tx, a)
		}, firestore.MaxAttempts(1))
	})
}

// write adds a's writes to tx.
func (c *claim) write(tx *firestore.Transaction, a assign.Assignment) error {
	conv := assignmentDoc{
		Worker: a.Worker, WorkerSID: a.WorkerSID, Claimant: a.Claimant, ClaimedAt: a.ClaimedAt,
		Address: c.req.Address, ExpireAt: a.ClaimedAt.Add(assignmentRetention),
	}
	if err := writeIfUnchanged(tx, c.conv, conv); err != nil {
		return err
	}
	w := workerDoc{Identity: a.Worker, LastAssigned: a.ClaimedAt, Conversation: a.Conversation}
	ws := c.snaps[a.WorkerSID]
	var err error
	if len(c.workers) == 1 {
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
	if c.req.Address == "" {
		return nil
	}
	ref, err := docRef(c.s.last, c.req.Address)
	if err != nil {
		return err
	}
	return tx.Set(ref, lastWorkerDoc{Worker: a.Worker, At: a.ClaimedAt})
}

// Bounds of one Firestore call of a claim (see call).
const (
	minCallTimeout = opTimeout
	maxCallTimeout = 10 * time.Second
)

// call runs f, one Firestore call of a claim, within half the time ctx
// has left (minCallTimeout at least, maxCallTimeout at most): the client
// retries an unreachable backend until its context ends, and the caller
// must keep time to answer, and its queue to retry later.
func call(ctx context.Context, f func(context.Context) error) error {
	d := maxCallTimeout
	if deadline, ok := ctx.Deadline(); ok {
		d = min(max(time.Until(deadline)/2, minCallTimeout), maxCallTimeout)
	}
	fctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := f(fctx)
	// A shared batch read ends at the same deadline as fctx and may
	// report it a moment before fctx does.
	timedOut := fctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded
	if err != nil && ctx.Err() == nil && timedOut {
		return fmt.Errorf("firestore did not answer within %v: %w", d.Round(time.Millisecond), err)
	}
	return err
}

// maxBatchDocs bounds the documents of one batched read.
const maxBatchDocs = 500

// batchReader reads documents for the claims of one process, merging
// the reads of concurrent claims into one batched get: a burst of claims
// over one pool reads the pool's records a few times instead of once per
// claim. A read joins a batch sent after it was asked for, never one
// already sent, so it sees every write that preceded it, as its own get
// would.
//
// It sends one batch at a time: the reads that arrive meanwhile make the
// next one bigger. Sending several at once did not help: a burst is
// bound by the backend's work, which merging reduces and splitting does
// not (BenchmarkClaimBurst on the emulator was no faster with 2 or 4).
type batchReader struct {
	client *firestore.Client
	// sent, when set, is told the documents of each batch sent.
	sent func(docs int)

	mu      sync.Mutex
	queue   []*readRequest
	sending bool
}

type readRequest struct {
	refs     []*firestore.DocumentRef
	deadline time.Time
	snaps    []*firestore.DocumentSnapshot // in refs' order
	err      error
	done     chan struct{}
}

// getAll reads refs, as firestore.Client.GetAll does.
func (r *batchReader) getAll(ctx context.Context, refs []*firestore.DocumentRef) ([]*firestore.DocumentSnapshot, error) {
	req := &readRequest{refs: refs, done: make(chan struct{})}
	if d, ok := ctx.Deadline(); ok {
		req.deadline = d
	} else {
		req.deadline = time.Now().Add(maxCallTimeout)
	}
	r.mu.Lock()
	r.queue = append(r.queue, req)
	start := !r.sending
	r.sending = true
	r.mu.Unlock()
	if start {
		go r.send()
	}
	select {
	case <-req.done:
		return req.snaps, req.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// send sends the queued reads, a batch at a time, until none is left. A
// batch takes reads while the documents they name together, each counted
// once, stay within maxBatchDocs: the claims of a burst read the same
// pool, so a batch serves many of them.
func (r *batchReader) send() {
	for {
		r.mu.Lock()
		batch, docs := r.queue, map[string]bool{}
		for i, req := range r.queue {
			for _, ref := range req.refs {
				docs[ref.Path] = true
			}
			if i > 0 && len(docs) > maxBatchDocs {
				batch = r.queue[:i]
				break
			}
		}
		r.queue = r.queue[len(batch):]
		if len(batch) == 0 {
			r.sending = false
		}
		r.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		r.read(batch)
	}
}

func (r *batchReader) read(batch []*readRequest) {
	var (
		refs     []*firestore.DocumentRef
		deadline time.Time
	)
	byPath := map[string]*firestore.DocumentSnapshot{}
	for _, req := range batch {
		if req.deadline.After(deadline) {
			deadline = req.deadline
		}
		for _, ref := range req.refs {
			if _, dup := byPath[ref.Path]; !dup {
				byPath[ref.Path] = nil
				refs = append(refs, ref)
			}
		}
	}
	if r.sent != nil {
		r.sent(len(refs))
	}
	// The batch serves claims with different deadlines: it lasts as
	// long as the latest, and each claim stops waiting at its own.
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	snaps, err := r.client.GetAll(ctx, refs)
	for i, snap := range snaps {
		byPath[refs[i].Path] = snap
	}
	for _, req := range batch {
		if req.err = err; err == nil {
			req.snaps = make([]*firestore.DocumentSnapshot, len(req.refs))
			for i, ref := range req.refs {
				req.snaps[i] = byPath[ref.Path]
			}
		}
		close(req.done)
	}
}

// changed reports whether a document differs between two reads.
func changed(a, b *firestore.DocumentSnapshot) bool {
	if a.Exists() != b.Exists() {
		return true
	}
	return a.Exists() && !a.UpdateTime.Equal(b.UpdateTime)
}

// Assignment returns the conversation's assignment, or assign.ErrNotFound.
func (s *Assignments) Assignment(ctx context.Context, conversation string) (assign.Assignment, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	ref, err := docRef(s.convs, conversation)
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

// Release marks the conversation's claim released when it is worker's
// (ignoring case): worker left (see assign, "Ending a claim"). The
// customer's last worker stays. A claim racing with it either commits
// first, and is released, or finds the document changed (its
// precondition fails) and decides again on the released one.
func (s *Assignments) Release(ctx context.Context, conversation, worker string) error {
	ref, err := docRef(s.convs, conversation)
	if err != nil {
		return err
	}
	err = call(ctx, func(ctx context.Context) error {
		return s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			snap, err := tx.Get(ref)
			if status.Code(err) == codes.NotFound {
				return nil
			}
			if err != nil {
				return err
			}
			a, ok, err := decodeAssignment(conversation, snap)
			if err != nil || !ok || a.Closed || !strings.EqualFold(a.Worker, worker) {
				return err
			}
			return tx.Update(ref, []firestore.Update{{Path: "released", Value: true}})
		})
	})
	if err != nil {
		return fmt.Errorf("release %s: %w", conversation, err)
	}
	return nil
}

// CloseConversation marks the conversation's claim closed (creating it
// when there is none), which no later claim replaces (assign.Decide): a
// claim racing with it finds the document changed, and decides again on
// the closed one. The mark expires as claims do.
func (s *Assignments) CloseConversation(ctx context.Context, conversation string, at time.Time) error {
	ref, err := docRef(s.convs, conversation)
	if err != nil {
		return err
	}
	err = call(ctx, func(ctx context.Context) error {
		_, err := ref.Set(ctx, map[string]any{"closed": true, "expire_at": at.Add(assignmentRetention)}, firestore.MergeAll)
		return err
	})
	if err != nil {
		return fmt.Errorf("close %s: %w", conversation, err)
	}
	return nil
}

// LastWorker returns the identity of the worker the customer at address
// was last assigned, or assign.ErrNotFound.
func (s *Assignments) LastWorker(ctx context.Context, address string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	ref, err := docRef(s.last, address)
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
		Closed:       d.Closed,
		Released:     d.Released,
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
			{Path: "closed", Value: d.Closed}, {Path: "released", Value: d.Released},
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

// retryLostRace calls try until it is done, pausing between attempts;
// attempt numbers the first (pause backs off with it). try returns the
// error of its guarded write, tried again while it is a lost race, or,
// with stop, a result to return as is.
func retryLostRace(ctx context.Context, attempt int, try func() (stop bool, err error)) error {
	for ; ; attempt++ {
		stop, err := try()
		if stop || err == nil || !lostRace(err) {
			return err
		}
		if err := pause(ctx, attempt); err != nil {
			return err
		}
	}
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
