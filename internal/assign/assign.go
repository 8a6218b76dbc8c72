// Package assign decides which Frontline worker takes a conversation. A
// store records the decision atomically (a claim on the conversation and
// the worker's last assignment, together), so that two messages racing in
// one conversation add one worker and N conversations asking for "any
// agent" at once get N different workers. The rules live here, once; the
// stores (internal/inmem, internal/fsstore) only make them atomic.
//
// # Longest idle, under contention
//
// A claim takes the worker idle longest (Pick). A store that serialises
// claims (a mutex) can keep that rule strictly. A store that cannot lock
// the whole pool (Firestore) reads it once, tries a worker, and learns
// only when it commits that a concurrent claim took that worker first.
// Such a store counts the candidates it has seen taken since it read the
// pool and passes the count as Request.Spread; Decide then takes, at
// random, one of the Spread+1 longest idle still free. The guarantee:
//
//   - a claim that no concurrent claim got in the way of takes strictly
//     the longest idle;
//   - with N claims running at once, each takes one of the 2N−1 longest
//     idle as they were when it read the pool: the Spread (at most N−1)
//     workers ahead of it that were taken, plus a window of Spread+1.
//     (A worker just taken ranks after every free one as long as the
//     claims' clocks, Request.Now, agree within the workers' idle times.)
//   - the window never holds a worker assigned since the customer asked
//     (Request.Asked): those went to the customers asking at the same
//     time. However long a burst's claims take — a turn the queue
//     finishes runs seconds after its customer asked — a claim does not
//     give a worker a second conversation while a worker it could take
//     has none from the burst. Only when every candidate was assigned
//     since does it take the longest idle of them, as an uncontended
//     claim would.
//
// Growing the window with the contention seen is what lets a burst
// settle: N claims that all chased the longest idle would take turns,
// one per round of attempts; spread over the free front of the pool they
// settle in O(log N) rounds.
package assign

import (
	"errors"
	"math/rand/v2"
	"slices"
	"time"
)

var (
	// ErrNotFound is returned when the conversation has no assignment, or
	// the customer no last worker.
	ErrNotFound = errors.New("assign: not found")
	// ErrNoCandidate is returned when a claim has no worker to choose from.
	ErrNoCandidate = errors.New("assign: no candidate")
	// ErrContended is returned when a claim lost the race for a worker
	// more times than its store allows. Nothing was claimed: retrying
	// later is safe.
	ErrContended = errors.New("assign: contended")
)

// Candidate is a worker who could take a conversation.
type Candidate struct {
	// Identity is the worker's Frontline identity (its TaskRouter
	// friendly_name); SID its TaskRouter SID, the key of its record.
	Identity string
	SID      string
	// LastAccepted is the worker's lastAcceptedTaskTime as TaskRouter
	// knows it; zero when unknown (list results may omit attributes).
	LastAccepted time.Time
}

// Request claims a conversation for one of Candidates.
type Request struct {
	Conversation string
	// Claimant names the work claiming: a message SID, or the routing
	// callback. The same claimant claiming again gets its own claim back,
	// which is what makes a retried webhook safe.
	Claimant string
	// Address is the customer's normalised address, remembered as having
	// last spoken with the chosen worker; empty to remember nothing.
	Address    string
	Candidates []Candidate
	Now        time.Time
	// TTL is how long a claim keeps other claimants out. Past it, a
	// conversation whose worker never joined (the claimant died) can be
	// claimed again; a worker who did join is seen in the participants
	// before anyone claims.
	TTL time.Duration
	// Spread is set by a store that cannot serialise claims (see the
	// package documentation): how many candidates this claim has seen
	// taken by concurrent claims since it read the pool. The claim then
	// takes at random one of the Spread+1 longest idle (none assigned
	// since Asked), so that claims racing for one pool stop chasing the
	// same worker. Zero takes strictly the longest idle.
	Spread int
	// Asked is when the customer asked for a worker (the webhook that
	// started the work); zero means Now. A spread claim leaves out every
	// worker assigned since, less the TTL for the clocks of other
	// instances: the workers concurrent claims took.
	Asked time.Time
}

// Assignment is a conversation's claimed worker.
type Assignment struct {
	Conversation string
	Worker       string // Frontline identity
	WorkerSID    string
	Claimant     string
	ClaimedAt    time.Time
	// Closed reports that the conversation is closed for good: its claim
	// stands against every claimant (see Decide), so that work still
	// queued for it claims no worker.
	Closed bool
	// Released reports that Worker left the conversation: the claim
	// keeps nobody out, and only says who left.
	Released bool
}

// Ending a claim
//
// A claim outlives its work: once its worker joined, the participants say
// who is in the conversation. It ends two ways, and neither forgets the
// customer's last worker, whom the routing policy's "last" step reads:
//
//   - Release: the worker left the conversation. The claim stays as a
//     released one, naming who left (a promise of that worker is kept),
//     and the next claim of the conversation is decided as a first one.
//   - CloseConversation: the conversation is closed (Twilio will not take
//     a message in it again). The claim is replaced by a closed one that
//     Decide keeps against every claimant.

// Decide applies req to what a store holds: current is the conversation's
// assignment (ok false when it has none) and lastAssigned tells when the
// store last gave a worker (by SID) a conversation, zero for never. It
// returns the assignment that stands and whether it is new, in which case
// the store must record it, the worker's last assignment at req.Now and,
// with req.Address, the customer's last worker — all or nothing.
//
// An existing claim stands when the conversation is closed, or when it is
// not released and is the claimant's own or still within req.TTL: the
// caller compares Claimant to learn whether it won.
func Decide(req Request, current Assignment, ok bool, lastAssigned func(sid string) time.Time) (Assignment, bool, error) {
	held := !current.Released && (current.Claimant == req.Claimant || req.Now.Sub(current.ClaimedAt) < req.TTL)
	if ok && (current.Closed || held) {
		return current, false, nil
	}
	c, found := Pick(req.Candidates, lastAssigned)
	if !found {
		return Assignment{}, false, ErrNoCandidate
	}
	if req.Spread > 0 {
		// Spread over the longest idle, leaving out anyone assigned
		// since the customer asked (the claims this one races with
		// took them, however long ago that is by now) and, while anyone
		// was never assigned, everyone who was.
		window := Rank(req.Candidates, lastAssigned)[:min(req.Spread+1, len(req.Candidates))]
		since := req.Now
		if !req.Asked.IsZero() && req.Asked.Before(since) {
			since = req.Asked
		}
		recent := since.Add(-req.TTL)
		never := lastOf(window[0], lastAssigned).IsZero()
		n := 0
		for n < len(window) {
			last := lastOf(window[n], lastAssigned)
			if !last.Before(recent) || never && !last.IsZero() {
				break
			}
			n++
		}
		if n > 0 {
			c = window[rand.N(n)]
		}
	}
	return Assignment{
		Conversation: req.Conversation,
		Worker:       c.Identity,
		WorkerSID:    c.SID,
		Claimant:     req.Claimant,
		ClaimedAt:    req.Now,
	}, true, nil
}

// Pick returns the candidate idle longest: the one whose last assignment
// is oldest, never-assigned first, ties going to the earlier candidate.
// A worker's last assignment is the later of TaskRouter's
// lastAcceptedTaskTime and lastAssigned (the store's record, which is
// written in the claim itself and so never lags behind a concurrent
// claim).
func Pick(cands []Candidate, lastAssigned func(sid string) time.Time) (Candidate, bool) {
	var (
		best     Candidate
		bestLast time.Time
		found    bool
	)
	for _, c := range cands {
		if last := lastOf(c, lastAssigned); !found || last.Before(bestLast) {
			best, bestLast, found = c, last, true
		}
	}
	return best, found
}

// Rank returns cands from the longest idle to the most recently assigned,
// in Pick's order: Pick returns the first.
func Rank(cands []Candidate, lastAssigned func(sid string) time.Time) []Candidate {
	out := slices.Clone(cands)
	slices.SortStableFunc(out, func(a, b Candidate) int {
		return lastOf(a, lastAssigned).Compare(lastOf(b, lastAssigned))
	})
	return out
}

func lastOf(c Candidate, lastAssigned func(sid string) time.Time) time.Time {
	last := c.LastAccepted
	if lastAssigned != nil {
		if t := lastAssigned(c.SID); t.After(last) {
			last = t
		}
	}
	return last
}
