package inmem

import (
	"context"
	"sync"
	"time"

	"github.com/experthub/experthub/internal/ledger"
)

// pruneEvery is how many Begins pass between sweeps of old records.
const pruneEvery = 1024

// Ledger keeps webhook work records in memory (see package ledger). It is
// safe for concurrent use.
type Ledger struct {
	mu      sync.Mutex
	records map[string]ledger.Record
	begins  int
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{records: make(map[string]ledger.Record)}
}

// Begin starts a delivery's attempt on key.
func (l *Ledger) Begin(_ context.Context, key string, now time.Time, lease time.Duration) (ledger.Attempt, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.begins++
	if l.begins%pruneEvery == 0 {
		l.prune(now)
	}
	rec, ok := l.records[key]
	next, a, write := ledger.Begin(key, rec, ok, now, lease)
	if write {
		l.records[key] = next
	}
	return a, nil
}

// Finish marks a's work done.
func (l *Ledger) Finish(_ context.Context, a ledger.Attempt, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records[a.Key] = ledger.Finish(l.records[a.Key], now)
	return nil
}

// Release ends a's lease at at if it still holds it (ledger.Release).
func (l *Ledger) Release(_ context.Context, a ledger.Attempt, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	rec, ok := l.records[a.Key]
	if !ok {
		return nil
	}
	if next, ok := ledger.Release(rec, a, at); ok {
		l.records[a.Key] = next
	}
	return nil
}

// Len returns how many records the ledger holds.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.records)
}

// prune drops records older than ledger.Retention. Callers hold l.mu.
func (l *Ledger) prune(now time.Time) {
	for k, r := range l.records {
		if now.Sub(r.Updated) > ledger.Retention {
			delete(l.records, k)
		}
	}
}
