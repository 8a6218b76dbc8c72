// Package ledger keeps webhook work from being done twice or left half
// done. Each piece of work has a key (a message SID, a conversation SID);
// the first delivery takes a lease on it, a retry while the lease runs
// stands back, a retry after the lease ran out (the first attempt died)
// takes over and checks what was already done before finishing, and a
// retry after the work finished does nothing.
//
// The rules live here; stores (internal/inmem, internal/fsstore) apply
// them atomically to one record per key.
package ledger

import "time"

// Retention is how long stores keep a record: far longer than any retry.
const Retention = 7 * 24 * time.Hour

// Outcome tells a delivery what to do.
type Outcome int

const (
	// Fresh: nobody tried before; do the work.
	Fresh Outcome = iota
	// Resume: an earlier attempt died or gave up; check what it did, then
	// finish the work.
	Resume
	// Busy: another attempt holds the lease; stand back.
	Busy
	// Done: the work is finished; do nothing.
	Done
)

func (o Outcome) String() string {
	switch o {
	case Fresh:
		return "fresh"
	case Resume:
		return "resume"
	case Busy:
		return "busy"
	case Done:
		return "done"
	}
	return "unknown"
}

// Record is the stored state of one key.
type Record struct {
	// Attempts counts the attempts that took the lease. It fences: only
	// the latest attempt may release the lease.
	Attempts int
	// LeaseUntil is when the current attempt's lease ends: at its
	// deadline and a grace, or earlier once it released the lease.
	LeaseUntil time.Time
	Done       bool
	Updated    time.Time
}

// Attempt is one delivery's standing on a key.
type Attempt struct {
	Key string
	// N is the attempt's number, Record.Attempts once it took the lease;
	// 0 for an attempt that did not.
	N       int
	Outcome Outcome
}

// Owns reports whether the attempt holds the lease and must do the work.
func (a Attempt) Owns() bool { return a.Outcome == Fresh || a.Outcome == Resume }

// Begin applies a delivery of key to its record (exists false when there
// is none). It returns the record to store, whether it changed (write),
// and the delivery's attempt.
func Begin(key string, rec Record, exists bool, now time.Time, lease time.Duration) (next Record, a Attempt, write bool) {
	// Only an attempt that takes the lease gets a number: N 0 matches no
	// record, so a delivery that stood back cannot release another's lease.
	a = Attempt{Key: key}
	switch {
	case rec.Done:
		a.Outcome = Done
		return rec, a, false
	case exists && now.Before(rec.LeaseUntil):
		a.Outcome = Busy
		return rec, a, false
	case exists && rec.Attempts > 0:
		a.Outcome = Resume
	default:
		a.Outcome = Fresh
	}
	next = Record{Attempts: rec.Attempts + 1, LeaseUntil: now.Add(lease), Updated: now}
	a.N = next.Attempts
	return next, a, true
}

// Finish marks the work done. Any attempt may: the work is done whoever
// did it.
func Finish(rec Record, now time.Time) Record {
	rec.Done = true
	rec.LeaseUntil = time.Time{}
	rec.Updated = now
	return rec
}

// Release ends a's lease at at, if that is earlier than it would end:
// at the release itself after a clear failure, so that a retry may
// resume at once, or a grace later after a failure that may leave
// requests in flight (Twilio may carry out a request a moment after the
// attempt gave up on it, and the next attempt must read what it did). ok
// is false when a no longer holds the lease (another attempt took over,
// or the work is done): the record must stay as it is.
func Release(rec Record, a Attempt, at time.Time) (next Record, ok bool) {
	if rec.Done || rec.Attempts != a.N {
		return rec, false
	}
	if at.Before(rec.LeaseUntil) {
		rec.LeaseUntil = at
	}
	rec.Updated = at
	return rec, true
}
