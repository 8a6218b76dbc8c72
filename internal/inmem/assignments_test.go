package inmem_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/assign/assigntest"
	"github.com/experthub/experthub/internal/inmem"
	"github.com/experthub/experthub/internal/ledger"
	"github.com/experthub/experthub/internal/ledger/ledgertest"
)

func TestAssignments(t *testing.T) {
	assigntest.TestStore(t, func(*testing.T) assigntest.Store { return inmem.NewAssignments() })
}

// TestAssignmentsBurst: 200 conversations ask for an agent at once, with
// 200 workers available.
func TestAssignmentsBurst(t *testing.T) {
	assigntest.TestBurst(t, []assigntest.Store{inmem.NewAssignments()}, 200, 200)
}

func TestLedger(t *testing.T) {
	ledgertest.TestStore(t, func(*testing.T) ledgertest.Store { return inmem.NewLedger() })
}

func TestLedgerPrunesOldRecords(t *testing.T) {
	l := inmem.NewLedger()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for i := range 1023 {
		if _, err := l.Begin(t.Context(), fmt.Sprint("old", i), t0, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// The 1024th Begin comes after the retention and sweeps the rest.
	if _, err := l.Begin(t.Context(), "new", t0.Add(ledger.Retention+time.Hour), time.Second); err != nil {
		t.Fatal(err)
	}
	if n := l.Len(); n != 1 {
		t.Errorf("Len() = %d after the sweep, want 1", n)
	}
}
